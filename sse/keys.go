package sse

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/sys/cpu"
)

// FormatVersion is the version of the object format (docs/format.md).
const FormatVersion byte = 1

// Mode is the server-side encryption mode of an object.
type Mode byte

const (
	ModeNone   Mode = 0 // only in parsed requests: no SSE headers sent
	ModeSSES3  Mode = 1
	ModeSSEKMS Mode = 2
	ModeSSEC   Mode = 3
)

func (m Mode) String() string {
	switch m {
	case ModeNone:
		return "none"
	case ModeSSES3:
		return "SSE-S3"
	case ModeSSEKMS:
		return "SSE-KMS"
	case ModeSSEC:
		return "SSE-C"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

func (m Mode) valid() bool { return m >= ModeSSES3 && m <= ModeSSEC }

// Suite is a DARE cipher suite id (the sio constants).
type Suite byte

const (
	SuiteAES256GCM        Suite = 0 // sio.AES_256_GCM
	SuiteChaCha20Poly1305 Suite = 1 // sio.CHACHA20_POLY1305
)

// DefaultSuite is AES-256-GCM when the CPU accelerates it, else
// ChaCha20-Poly1305 (constant time and fast in software). The suite is
// recorded per object, so either decrypts everywhere.
//
// In FIPS 140-3 mode (GODEBUG=fips140=on or only) it is always
// AES-256-GCM: ChaCha20-Poly1305 is not an approved algorithm, so no new
// object may use it. Objects written with it before still decrypt
// (docs/security.md, "FIPS mode").
func DefaultSuite() Suite {
	return defaultSuite(fips140.Enabled())
}

func defaultSuite(fips bool) Suite {
	switch {
	case fips,
		cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ,
		cpu.ARM64.HasAES && cpu.ARM64.HasPMULL,
		runtime.GOARCH == "s390x":
		return SuiteAES256GCM
	}
	return SuiteChaCha20Poly1305
}

func (s Suite) valid() bool { return s == SuiteAES256GCM || s == SuiteChaCha20Poly1305 }

// KeySize is the size of object keys, KEKs and SSE-C customer keys.
const KeySize = 32

// ObjectKey is an object's data encryption key (DEK). Its String and
// GoString methods never print the key.
type ObjectKey [KeySize]byte

func (ObjectKey) String() string   { return "sse.ObjectKey(redacted)" }
func (ObjectKey) GoString() string { return "sse.ObjectKey(redacted)" }

// NewObjectKey returns a fresh random object key from crypto/rand.
func NewObjectKey() (ObjectKey, error) { return newObjectKey(rand.Reader) }

func newObjectKey(rnd io.Reader) (ObjectKey, error) {
	var k ObjectKey
	if _, err := io.ReadFull(rnd, k[:]); err != nil {
		return ObjectKey{}, fmt.Errorf("sse: generating object key: %w", err)
	}
	return k, nil
}

// SealedKeySize is nonce(12) + ciphertext(32) + tag(16).
const SealedKeySize = 12 + KeySize + 16

// SealedKey is an object key encrypted under a KEK (docs/format.md, 2).
type SealedKey [SealedKeySize]byte

// Domain-separation labels; changing any of them is a format change.
const (
	labelBody     = "ssegate/v1 body"
	labelMeta     = "ssegate/v1 meta"
	labelMetaMAC  = "ssegate/v1 meta mac"
	labelSeal     = "ssegate/v1 seal"
	labelSSECKEK  = "ssegate/v1 sse-c kek"
	labelSSECHash = "ssegate/v1 sse-c check"
)

// Seal encrypts dek under kek (32 bytes) with AES-256-GCM, binding the
// format version, mode, bucket and object name as AAD so the result only
// unseals for that object.
func Seal(kek []byte, dek ObjectKey, mode Mode, bucket, object string) (SealedKey, error) {
	return sealWith(rand.Reader, kek, dek, mode, bucket, object)
}

func sealWith(rnd io.Reader, kek []byte, dek ObjectKey, mode Mode, bucket, object string) (SealedKey, error) {
	var sk SealedKey
	aead, err := newKEKCipher(kek)
	if err != nil {
		return sk, err
	}
	if !mode.valid() {
		return sk, fmt.Errorf("sse: seal: invalid mode %v", mode)
	}
	nonce := sk[:12]
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return sk, fmt.Errorf("sse: seal: nonce: %w", err)
	}
	aead.Seal(sk[12:12], nonce, dek[:], sealAAD(mode, bucket, object))
	return sk, nil
}

// Unseal reverses Seal. A wrong KEK, a modified sealed key, or a different
// mode, bucket or object name all give ErrTampered: they are
// indistinguishable by design. (SSE-C callers detect a wrong customer key
// earlier, with CheckSSECKey.)
func Unseal(kek []byte, sk SealedKey, mode Mode, bucket, object string) (ObjectKey, error) {
	var dek ObjectKey
	aead, err := newKEKCipher(kek)
	if err != nil {
		return dek, err
	}
	if _, err := aead.Open(dek[:0], sk[:12], sk[12:], sealAAD(mode, bucket, object)); err != nil {
		return ObjectKey{}, ErrTampered
	}
	return dek, nil
}

func newKEKCipher(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KeySize {
		return nil, errors.New("sse: key-encryption key must be 32 bytes")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealAAD(mode Mode, bucket, object string) []byte {
	aad := make([]byte, 0, len(labelSeal)+2+8+len(bucket)+len(object))
	aad = append(aad, labelSeal...)
	aad = append(aad, FormatVersion, byte(mode))
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(bucket)))
	aad = append(aad, bucket...)
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(object)))
	aad = append(aad, object...)
	return aad
}

// partKey derives the DARE key of part n (0 for a single-part object).
func partKey(dek ObjectKey, part int) []byte {
	mac := hmac.New(sha256.New, dek[:])
	mac.Write([]byte(labelBody))
	mac.Write(binary.BigEndian.AppendUint32(nil, uint32(part)))
	return mac.Sum(nil)
}

// metaKey derives the key of the metadata MAC.
func metaKey(dek ObjectKey) []byte {
	mac := hmac.New(sha256.New, dek[:])
	mac.Write([]byte(labelMeta))
	return mac.Sum(nil)
}

// SSECSaltSize is the size of the per-object SSE-C salt.
const SSECSaltSize = 16

// NewSSECSalt returns a fresh random SSE-C salt.
func NewSSECSalt() ([]byte, error) {
	salt := make([]byte, SSECSaltSize)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return nil, fmt.Errorf("sse: generating salt: %w", err)
	}
	return salt, nil
}

// DeriveSSECKEK derives the KEK that seals an SSE-C object's key from the
// customer key and the object's salt. No slow KDF: customer keys are
// 256-bit keys, not passwords.
func DeriveSSECKEK(customerKey [32]byte, salt []byte) []byte {
	return hmacLabel(customerKey[:], labelSSECKEK, salt)
}

// SSECKeyHash is the stored check value of a customer key. It is separated
// from the KEK by its label, so storing it reveals nothing about the KEK.
func SSECKeyHash(customerKey [32]byte, salt []byte) []byte {
	return hmacLabel(customerKey[:], labelSSECHash, salt)
}

// CheckSSECKey compares, in constant time, the hash of customerKey with the
// stored hash; ErrKeyMismatch if they differ (403 AccessDenied).
func CheckSSECKey(customerKey [32]byte, salt, storedHash []byte) error {
	if subtle.ConstantTimeCompare(SSECKeyHash(customerKey, salt), storedHash) != 1 {
		return ErrKeyMismatch
	}
	return nil
}

func hmacLabel(key []byte, label string, data []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(label))
	mac.Write(data)
	return mac.Sum(nil)
}
