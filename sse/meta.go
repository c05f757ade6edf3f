package sse

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MetaKey is the backend metadata key of an object's encryption metadata;
// PartMetaKey that of an uploaded part. Both use the reserved prefix.
const (
	MetaKey     = "ssegate"
	PartMetaKey = "ssegate-part"
)

// IsInternalKey reports whether a backend metadata key belongs to ssegate
// (never returned to clients as x-amz-meta-*, never settable by them).
func IsInternalKey(k string) bool {
	k = strings.ToLower(k)
	return k == MetaKey || strings.HasPrefix(k, MetaKey+"-")
}

// Metadata field tags (docs/format.md, 5). Never reuse a number.
const (
	tagMode       = 1
	tagSuite      = 2
	tagSealedKey  = 3
	tagKMSKeyARN  = 4
	tagKMSBlob    = 5
	tagContext    = 6
	tagBucketKey  = 7
	tagSSECSalt   = 8
	tagSSECHash   = 9
	tagSSECKeyMD5 = 10
	tagSize       = 11
	tagETag       = 12
	tagCksumAlgo  = 13
	tagCksum      = 14
	tagCompressed = 15
	tagParts      = 16
)

const macSize = 16

// ObjectMeta is the encryption metadata stored with an object (or with an
// open multipart upload). It is authenticated as a whole by a MAC keyed from
// the object key: SealKey (new objects, copies) or UnsealKey (decoded ones)
// must be called before Encode, and UnsealKey verifies the MAC.
type ObjectMeta struct {
	Mode      Mode
	Suite     Suite
	SealedKey SealedKey

	// SSE-S3 and SSE-KMS: the KMS key (ARN) and the KMS ciphertext blob of
	// the data key that is this object's KEK.
	KMSKeyARN string
	KMSBlob   []byte
	// SSE-KMS: the client's x-amz-server-side-encryption-context exactly as
	// sent (base64 JSON), and the bucket-key flag to echo.
	EncryptionContext string
	BucketKeyEnabled  bool

	// SSE-C: per-object salt, key check value, and the key's MD5 (base64)
	// that S3 echoes in responses.
	SSECSalt    []byte
	SSECKeyHash []byte
	SSECKeyMD5  string

	Size int64 // plaintext size
	// ETag as the client sees it, unquoted: hex MD5 of the plaintext, or
	// "hex-N" for a multipart object. Empty while an upload is open.
	ETag              string
	ChecksumAlgorithm string // e.g. "CRC32C"; empty if none
	Checksum          string // base64 value as echoed in x-amz-checksum-*
	// Compression is set for an object stored compressed (a single-part
	// object only, docs/format.md 8), from Compressor.Compression.
	Compression *Compression
	// Parts is the part table of a multipart object, in object order; nil
	// for a single-part object (which is part 0 of size Size).
	Parts []PartLayout

	raw    []byte // decoded body, for MAC verification
	mac    []byte
	macKey []byte
}

// String never prints key material.
func (m ObjectMeta) String() string {
	return fmt.Sprintf("sse.ObjectMeta{%v size=%d parts=%d}", m.Mode, m.Size, len(m.Parts))
}

// Layout is the object's part layout for PlanRange.
func (m *ObjectMeta) Layout() []PartLayout {
	if len(m.Parts) == 0 {
		return []PartLayout{{Number: 0, PlainSize: m.Size}}
	}
	return m.Parts
}

// PartRange is the plaintext range of the n-th part (1-based ordinal in the
// completed object, as for GET ?partNumber=n); a single-part object has one
// part. ErrInvalidPartNumber otherwise.
func (m *ObjectMeta) PartRange(n int) (offset, length int64, err error) {
	layout := m.Layout()
	if n < 1 || n > len(layout) {
		return 0, 0, ErrInvalidPartNumber
	}
	for _, p := range layout[:n-1] {
		offset += p.PlainSize
	}
	return offset, layout[n-1].PlainSize, nil
}

// SealKey seals dek under kek for bucket/object and keys the metadata MAC
// with dek. Use it for new objects and, after UnsealKey of the source, for
// copies (metadata-only: the body depends on dek and part numbers only).
func (m *ObjectMeta) SealKey(kek []byte, dek ObjectKey, bucket, object string) error {
	return m.sealKeyWith(rand.Reader, kek, dek, bucket, object)
}

func (m *ObjectMeta) sealKeyWith(rnd io.Reader, kek []byte, dek ObjectKey, bucket, object string) error {
	sk, err := sealWith(rnd, kek, dek, m.Mode, bucket, object)
	if err != nil {
		return err
	}
	m.SealedKey = sk
	m.macKey = metaKey(dek)
	return nil
}

// UnsealKey opens the object key with kek and the object's names and, for
// decoded metadata, verifies the metadata MAC. Either failing is
// ErrTampered. (SSE-C callers run CheckSSECKey first to answer a wrong key
// with ErrKeyMismatch.)
func (m *ObjectMeta) UnsealKey(kek []byte, bucket, object string) (ObjectKey, error) {
	dek, err := Unseal(kek, m.SealedKey, m.Mode, bucket, object)
	if err != nil {
		return ObjectKey{}, err
	}
	mk := metaKey(dek)
	if m.raw != nil && !hmac.Equal(m.mac, computeMAC(mk, m.raw)) {
		return ObjectKey{}, ErrTampered
	}
	m.macKey = mk
	return dek, nil
}

// CheckSSECKey checks an SSE-C customer key against this object's stored
// check value: ErrKeyMismatch if wrong.
func (m *ObjectMeta) CheckSSECKey(customerKey [32]byte) error {
	if m.Mode != ModeSSEC {
		return ErrKeyMismatch
	}
	return CheckSSECKey(customerKey, m.SSECSalt, m.SSECKeyHash)
}

func computeMAC(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	io.WriteString(h, labelMetaMAC)
	h.Write(body)
	return h.Sum(nil)[:macSize]
}

// Encode returns the backend metadata entries ({MetaKey: value}).
func (m *ObjectMeta) Encode() (map[string]string, error) {
	if m.macKey == nil {
		return nil, ErrNotSealed
	}
	body, err := m.marshal()
	if err != nil {
		return nil, err
	}
	body = append(body, computeMAC(m.macKey, body)...)
	return map[string]string{MetaKey: encodeValue(body)}, nil
}

func (m *ObjectMeta) marshal() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	w := newTLVWriter()
	w.bytes(tagMode, []byte{byte(m.Mode)})
	w.bytes(tagSuite, []byte{byte(m.Suite)})
	w.bytes(tagSealedKey, m.SealedKey[:])
	w.str(tagKMSKeyARN, m.KMSKeyARN)
	if len(m.KMSBlob) > 0 {
		w.bytes(tagKMSBlob, m.KMSBlob)
	}
	w.str(tagContext, m.EncryptionContext)
	w.flag(tagBucketKey, m.BucketKeyEnabled)
	if m.Mode == ModeSSEC {
		md5b, _ := base64.StdEncoding.DecodeString(m.SSECKeyMD5)
		w.bytes(tagSSECSalt, m.SSECSalt)
		w.bytes(tagSSECHash, m.SSECKeyHash)
		w.bytes(tagSSECKeyMD5, md5b)
	}
	w.uvarint(tagSize, uint64(m.Size))
	if m.ETag != "" {
		e, _ := parseETag(m.ETag)
		w.bytes(tagETag, e)
	}
	w.str(tagCksumAlgo, m.ChecksumAlgorithm)
	w.str(tagCksum, m.Checksum)
	if c := m.Compression; c != nil {
		w.bytes(tagCompressed, binary.AppendUvarint(binary.AppendUvarint(nil, uint64(c.StoredSize)), uint64(c.IndexSize)))
	}
	if len(m.Parts) > 0 {
		w.bytes(tagParts, encodeParts(m.Parts))
	}
	return w.b, nil
}

// validate enforces the invariants both Encode and DecodeObjectMeta rely on.
func (m *ObjectMeta) validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadMetadata, what) }
	if !m.Mode.valid() {
		return bad("mode")
	}
	if !m.Suite.valid() {
		return bad("cipher suite")
	}
	if m.Size < 0 || m.Size > maxObjectSize {
		return bad("size")
	}
	switch m.Mode {
	case ModeSSES3, ModeSSEKMS:
		if len(m.KMSBlob) == 0 || m.KMSKeyARN == "" {
			return bad("missing KMS key")
		}
	case ModeSSEC:
		md5b, err := base64.StdEncoding.DecodeString(m.SSECKeyMD5)
		if len(m.SSECSalt) != SSECSaltSize || len(m.SSECKeyHash) != sha256.Size || err != nil || len(md5b) != md5.Size {
			return bad("SSE-C fields")
		}
	}
	if m.ETag != "" {
		if _, ok := parseETag(m.ETag); !ok {
			return bad("etag")
		}
	}
	if !printable(m.KMSKeyARN) || !printable(m.EncryptionContext) || !printable(m.ChecksumAlgorithm) || !printable(m.Checksum) {
		return bad("non-printable text field")
	}
	if m.Compression != nil && (len(m.Parts) > 0 || !m.Compression.valid(m.Size)) {
		return bad("compression")
	}
	if len(m.Parts) > 0 {
		var sum int64
		prev := 0
		for _, p := range m.Parts {
			if p.Number <= prev || p.Number > 10000 || p.PlainSize < 0 || p.PlainSize > maxPlainSize {
				return bad("part table")
			}
			prev = p.Number
			sum += p.PlainSize
		}
		if sum != m.Size {
			return bad("part sizes do not add up")
		}
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseETag encodes "hex32" or "hex32-N" as 16 bytes (+ uvarint N).
func parseETag(s string) ([]byte, bool) {
	hexPart, count, multi := strings.Cut(s, "-")
	b, err := hex.DecodeString(hexPart)
	if err != nil || len(b) != md5.Size || strings.ToLower(hexPart) != hexPart {
		return nil, false
	}
	if !multi {
		return b, true
	}
	n, err := strconv.ParseUint(count, 10, 16)
	if err != nil || n < 1 || n > 10000 || strconv.FormatUint(n, 10) != count {
		return nil, false
	}
	return binary.AppendUvarint(b, n), true
}

func formatETag(v []byte) (string, bool) {
	if len(v) < md5.Size {
		return "", false
	}
	s := hex.EncodeToString(v[:md5.Size])
	if len(v) == md5.Size {
		return s, true
	}
	n, ok := uvarintValue(v[md5.Size:])
	if !ok || n < 1 || n > 10000 {
		return "", false
	}
	return s + "-" + strconv.FormatUint(n, 10), true
}

// MultipartETag is S3's ETag of a multipart object (unquoted):
// hex(MD5(md5_1 || … || md5_k)) + "-k".
func MultipartETag(partMD5s [][16]byte) string {
	h := md5.New()
	for _, p := range partMD5s {
		h.Write(p[:])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partMD5s))
}

// MACKey returns the key of the metadata MAC of sealed (or unsealed)
// metadata. It is derived one-way from the object key, so it cannot decrypt
// anything; holding it only lets one re-authenticate the metadata. The
// gateway keeps it, sealed, with an open multipart upload so that
// CompleteMultipartUpload can write the final metadata without the SSE-C
// customer key, which S3 clients do not send on Complete.
func (m *ObjectMeta) MACKey() ([]byte, error) {
	if m.macKey == nil {
		return nil, ErrNotSealed
	}
	return append([]byte(nil), m.macKey...), nil
}

// VerifyMAC authenticates decoded metadata with a MAC key from MACKey,
// instead of UnsealKey; ErrTampered if it does not match. Afterwards the
// metadata can be changed and Encoded again.
func (m *ObjectMeta) VerifyMAC(macKey []byte) error {
	if len(macKey) == 0 || (m.raw != nil && !hmac.Equal(m.mac, computeMAC(macKey, m.raw))) {
		return ErrTampered
	}
	m.macKey = append([]byte(nil), macKey...)
	return nil
}
