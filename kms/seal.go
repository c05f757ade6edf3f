package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrWrongMasterKey means the master key does not open the keystore.
var ErrWrongMasterKey = errors.New("kms: master key does not open the keystore")

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

const (
	purposeKeyMaterial = "key-material"
	purposeCheck       = "check"
	sealPrefix         = "ssegate-kms/v1"
	sealNonceSize      = 12
)

// sealAAD binds sealed material to the row it belongs to, so sealed bytes
// moved to another key, version or purpose fail to open.
func sealAAD(keyID string, version uint32, purpose string) []byte {
	b := []byte(sealPrefix)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keyID)))
	b = append(b, keyID...)
	b = binary.BigEndian.AppendUint32(b, version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(purpose)))
	return append(b, purpose...)
}

func masterAEAD(master []byte) (cipher.AEAD, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("%w: master key must be %d bytes", ErrValidation, MasterKeySize)
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func seal(master []byte, keyID string, version uint32, purpose string, material []byte) ([]byte, error) {
	aead, err := masterAEAD(master)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, sealNonceSize, sealNonceSize+len(material)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("%w: random", ErrInternal)
	}
	return aead.Seal(nonce, nonce, material, sealAAD(keyID, version, purpose)), nil
}

// errUnseal is deliberately free of detail: which byte failed is no
// business of a log reader.
var errUnseal = errors.New("kms: sealed key material does not open")

func unseal(master []byte, keyID string, version uint32, purpose string, sealed []byte) ([]byte, error) {
	aead, err := masterAEAD(master)
	if err != nil {
		return nil, err
	}
	if len(sealed) < sealNonceSize+aead.Overhead() {
		return nil, errUnseal
	}
	pt, err := aead.Open(nil, sealed[:sealNonceSize], sealed[sealNonceSize:], sealAAD(keyID, version, purpose))
	if err != nil {
		return nil, errUnseal
	}
	return pt, nil
}

// LoadOrCreateMasterKey reads a master key file (32 bytes as hex or
// base64, surrounding whitespace ignored) or, if the file does not exist,
// creates it with 32 random bytes in hex and mode 0600. A file readable by
// group or others is refused: the master key guards every key.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, MasterKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create master key file: %w", err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("write master key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("stat master key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %v: must not be readable by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	return ParseMasterKey(string(raw))
}

// ParseMasterKey decodes a master key given as 64 hex digits or base64 of
// 32 bytes (e.g. from an environment variable).
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == MasterKeySize {
			return k, nil
		}
	}
	// Never echo s: it may be a mistyped key.
	return nil, fmt.Errorf("%w: master key must be 32 bytes as 64 hex digits or base64", ErrValidation)
}
