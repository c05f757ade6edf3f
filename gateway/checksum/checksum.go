package checksum

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"net/http"
	"strings"

	"github.com/minio/crc64nvme"
)

// Sentinel errors, with the S3 code and status the gateway maps them to.
// Message(err) gives the client-facing text.
var (
	// ErrInvalidDigest: Content-MD5 is not base64 of 16 bytes.
	// 400 InvalidDigest.
	ErrInvalidDigest = errors.New("checksum: invalid Content-MD5")

	// ErrBadDigest: the body does not match Content-MD5 or the
	// x-amz-checksum-* value. 400 BadDigest.
	ErrBadDigest = errors.New("checksum: body does not match the digest")

	// ErrInvalidChecksum: a malformed x-amz-checksum-* value, an unknown
	// x-amz-sdk-checksum-algorithm, several checksum headers at once, a
	// checksum both in a header and in the trailer, or a declared trailer
	// checksum that never arrived. 400 InvalidRequest.
	ErrInvalidChecksum = errors.New("checksum: invalid checksum request")
)

// Error carries a sentinel (Unwrap) and the client-safe message.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string { return e.kind.Error() + ": " + e.msg }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.kind }

// Message is the text for the S3 error body.
func (e *Error) Message() string { return e.msg }

// Message returns the client-facing message of an error from this
// package, or "".
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.msg
	}
	return ""
}

func newErr(kind error, msg string) error { return &Error{kind: kind, msg: msg} }

// Algorithm is an S3 additional-checksum algorithm, named as in
// x-amz-sdk-checksum-algorithm and the ChecksumAlgorithm XML fields.
type Algorithm string

// The algorithms S3 supports.
const (
	CRC32     Algorithm = "CRC32"
	CRC32C    Algorithm = "CRC32C"
	CRC64NVME Algorithm = "CRC64NVME"
	SHA1      Algorithm = "SHA1"
	SHA256    Algorithm = "SHA256"
)

// Algorithms lists every supported algorithm.
var Algorithms = []Algorithm{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ParseAlgorithm parses an algorithm name, case-insensitively.
func ParseAlgorithm(s string) (Algorithm, bool) {
	for _, a := range Algorithms {
		if strings.EqualFold(s, string(a)) {
			return a, true
		}
	}
	return "", false
}

// Header is the header (and trailer) name carrying the checksum, e.g.
// "x-amz-checksum-crc32".
func (a Algorithm) Header() string { return "x-amz-checksum-" + strings.ToLower(string(a)) }

// New returns a hash computing the checksum; Sum gives the big-endian
// bytes that S3 base64-encodes.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32:
		return crc32.NewIEEE()
	case CRC32C:
		return crc32.New(castagnoli)
	case CRC64NVME:
		return crc64nvme.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	}
	return nil
}

// Size is the length of the raw checksum in bytes.
func (a Algorithm) Size() int {
	switch a {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

// decodeValue checks that v is standard base64 of exactly a.Size() bytes.
func (a Algorithm) decodeValue(v string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || len(b) != a.Size() {
		return nil, newErr(ErrInvalidChecksum, "Value for "+a.Header()+" header is invalid.")
	}
	return b, nil
}

// Expected is what a request asks the gateway to verify.
type Expected struct {
	ContentMD5 []byte // decoded Content-MD5; nil if not sent

	// Algorithm is the additional checksum to compute ("" for none). It
	// is set by a value header, a declared trailer, or
	// x-amz-sdk-checksum-algorithm alone (compute and store, nothing to
	// compare).
	Algorithm Algorithm
	Value     string // base64 from the header; "" if none or in the trailer
	// FromTrailer: the value arrives in the aws-chunked trailer under
	// Algorithm.Header().
	FromTrailer bool
}

// FromRequest reads Content-MD5, x-amz-checksum-*, x-amz-trailer and
// x-amz-sdk-checksum-algorithm. x-amz-checksum-mode and
// x-amz-checksum-type are not checksums and are ignored.
func FromRequest(h http.Header) (Expected, error) {
	var e Expected
	if vs, ok := h["Content-Md5"]; ok {
		b, err := base64.StdEncoding.Strict().DecodeString(strings.Join(vs, ""))
		if err != nil || len(b) != md5.Size || len(vs) != 1 {
			return e, newErr(ErrInvalidDigest, "The Content-MD5 you specified was invalid.")
		}
		e.ContentMD5 = b
	}
	multiple := newErr(ErrInvalidChecksum, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	for _, a := range Algorithms {
		vs := h.Values(a.Header())
		if len(vs) == 0 {
			continue
		}
		if e.Algorithm != "" || len(vs) > 1 {
			return e, multiple
		}
		if _, err := a.decodeValue(vs[0]); err != nil {
			return e, err
		}
		e.Algorithm, e.Value = a, vs[0]
	}
	for _, v := range h.Values("X-Amz-Trailer") {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			a, ok := ParseAlgorithm(strings.TrimPrefix(name, "x-amz-checksum-"))
			if !ok || !strings.HasPrefix(name, "x-amz-checksum-") {
				continue
			}
			if e.Algorithm != "" {
				return e, multiple
			}
			e.Algorithm, e.FromTrailer = a, true
		}
	}
	// AWS: "If you individually specify a checksum, Amazon S3 ignores any
	// provided ChecksumAlgorithm parameter." Alone, the algorithm names the
	// checksum to compute and store; AWS documents a 400 for that case but
	// computing it is harmless and kinder to clients.
	if v := h.Get("X-Amz-Sdk-Checksum-Algorithm"); v != "" && e.Algorithm == "" {
		a, ok := ParseAlgorithm(v)
		if !ok {
			return e, newErr(ErrInvalidChecksum, "Value for x-amz-sdk-checksum-algorithm header is invalid.")
		}
		e.Algorithm = a
	}
	return e, nil
}
