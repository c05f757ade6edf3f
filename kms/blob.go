package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Ciphertext blob layout, versions 1 and 2 (docs/kms.md). They differ
// only in what the 16 key id bytes name: version 1 a UUID key id, version
// 2 a multi-Region key id ("mrk-" and the 16 bytes as 32 lowercase hex).
// The version byte is authenticated with the rest of the header, so a
// blob can't be moved between a UUID key and an mrk key with equal bytes.
const (
	blobVersion1   = 0x01
	blobVersion2   = 0x02
	blobSaltSize   = 16
	blobNonceSize  = 12
	blobHeaderSize = 1 + 16 + 4 + blobSaltSize + blobNonceSize // 49
	blobTagSize    = 16
	minBlobSize    = blobHeaderSize + blobTagSize
	// maxBlobSize is AWS's CiphertextBlob limit; ours are never larger
	// than 4096+65 but we reject anything above what AWS would accept.
	maxBlobSize = 6144
)

// blobHeader is the authenticated, unencrypted part of a ciphertext blob.
type blobHeader struct {
	keyID   uuid.UUID
	mrk     bool // version 2: keyID holds the 16 bytes of an "mrk-" id
	version uint32
	salt    [blobSaltSize]byte
	nonce   [blobNonceSize]byte
}

func (h *blobHeader) marshal() []byte {
	b := make([]byte, blobHeaderSize)
	b[0] = blobVersion1
	if h.mrk {
		b[0] = blobVersion2
	}
	copy(b[1:17], h.keyID[:])
	binary.BigEndian.PutUint32(b[17:21], h.version)
	copy(b[21:37], h.salt[:])
	copy(b[37:49], h.nonce[:])
	return b
}

// parseBlob splits a blob into header and sealed payload. It checks only
// the framing; authenticity is checked by open.
func parseBlob(blob []byte) (blobHeader, []byte, error) {
	var h blobHeader
	if len(blob) < minBlobSize || len(blob) > maxBlobSize || blob[0] != blobVersion1 && blob[0] != blobVersion2 {
		return h, nil, ErrInvalidCiphertext
	}
	h.mrk = blob[0] == blobVersion2
	copy(h.keyID[:], blob[1:17])
	h.version = binary.BigEndian.Uint32(blob[17:21])
	if h.version == 0 {
		return h, nil, ErrInvalidCiphertext
	}
	copy(h.salt[:], blob[21:37])
	copy(h.nonce[:], blob[37:49])
	return h, blob[blobHeaderSize:], nil
}

// id is the key id the header names, in the form key rows use.
func (h *blobHeader) id() string {
	if h.mrk {
		return mrkPrefix + hex.EncodeToString(h.keyID[:])
	}
	return h.keyID.String()
}

// mrkPrefix starts every multi-Region key id (AWS: "mrk-" and 32
// lowercase hex digits).
const mrkPrefix = "mrk-"

// parseKeyID parses a key id as a blob header carries it: a UUID or a
// multi-Region key id. ok is false for anything else.
func parseKeyID(id string) (raw uuid.UUID, mrk bool, ok bool) {
	if rest, isMRK := strings.CutPrefix(id, mrkPrefix); isMRK {
		if len(rest) != 32 || strings.ToLower(rest) != rest {
			return raw, false, false
		}
		if _, err := hex.Decode(raw[:], []byte(rest)); err != nil {
			return raw, false, false
		}
		return raw, true, true
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return raw, false, false
	}
	return u, false, true
}

// canonicalContext encodes an encryption context so that equal maps encode
// equally whatever their order, and different maps never collide
// (length-prefixed, byte-wise sorted keys).
func canonicalContext(ec EncryptionContext) []byte {
	keys := make([]string, 0, len(ec))
	n := 4
	for k, v := range ec {
		keys = append(keys, k)
		n += 8 + len(k) + len(v)
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		v := ec[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// blobAEAD derives the per-blob key. A fresh key per blob means random
// 96-bit nonces never approach GCM's per-key message limit, however many
// blobs one key version produces.
func blobAEAD(material []byte, salt []byte) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, material)
	mac.Write([]byte("ssegate-kms/v1 blob"))
	mac.Write(salt)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("%w: blob cipher", ErrInternal)
	}
	return cipher.NewGCM(block)
}

// sealBlob encrypts plaintext under one key version of a UUID-named key,
// binding ec (blob version 1).
func sealBlob(keyID uuid.UUID, version uint32, material, plaintext []byte, ec EncryptionContext) ([]byte, error) {
	return sealBlobHeader(blobHeader{keyID: keyID, version: version}, material, plaintext, ec)
}

// sealBlobFor seals under the key named id, a UUID (version 1) or a
// multi-Region key id (version 2).
func sealBlobFor(id string, version uint32, material, plaintext []byte, ec EncryptionContext) ([]byte, error) {
	raw, mrk, ok := parseKeyID(id)
	if !ok {
		return nil, fmt.Errorf("%w: key id", ErrInternal)
	}
	return sealBlobHeader(blobHeader{keyID: raw, mrk: mrk, version: version}, material, plaintext, ec)
}

func sealBlobHeader(h blobHeader, material, plaintext []byte, ec EncryptionContext) ([]byte, error) {
	if _, err := rand.Read(h.salt[:]); err != nil {
		return nil, fmt.Errorf("%w: random", ErrInternal)
	}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return nil, fmt.Errorf("%w: random", ErrInternal)
	}
	aead, err := blobAEAD(material, h.salt[:])
	if err != nil {
		return nil, err
	}
	header := h.marshal()
	aad := append(append([]byte{}, header...), canonicalContext(ec)...)
	out := make([]byte, 0, len(header)+len(plaintext)+blobTagSize)
	out = append(out, header...)
	return aead.Seal(out, h.nonce[:], plaintext, aad), nil
}

// openBlob decrypts a blob whose header was parsed by parseBlob. Any
// mismatch (header, payload or context) is ErrInvalidCiphertext.
func openBlob(blob []byte, h blobHeader, material []byte, ec EncryptionContext) ([]byte, error) {
	aead, err := blobAEAD(material, h.salt[:])
	if err != nil {
		return nil, err
	}
	aad := append(append([]byte{}, blob[:blobHeaderSize]...), canonicalContext(ec)...)
	pt, err := aead.Open(nil, h.nonce[:], blob[blobHeaderSize:], aad)
	if err != nil {
		return nil, ErrInvalidCiphertext
	}
	return pt, nil
}
