package sse

import (
	"errors"
	"net/http"
	"strconv"
)

// ErrSSEHeaderOnRead: x-amz-server-side-encryption (or its KMS companions)
// sent on GET or HEAD, which S3 refuses. 400 InvalidArgument.
var ErrSSEHeaderOnRead = errors.New("sse: x-amz-server-side-encryption is not allowed on GET or HEAD")

// CheckReadHeaders validates the SSE headers of GetObject and HeadObject:
// only the SSE-C triple is allowed there. It returns the customer key, if
// any (nil when absent).
func CheckReadHeaders(h http.Header) (*CustomerKey, error) {
	for _, name := range []string{HeaderSSE, HeaderSSEKMSKeyID, HeaderSSEContext, HeaderSSEBucketKeyEnabled} {
		if _, ok := headerValue(h, name); ok {
			return nil, ErrSSEHeaderOnRead
		}
	}
	return ParseSSECHeaders(h, false)
}

// SetResponseHeaders echoes the object's encryption as S3 does on PUT, GET,
// HEAD, CopyObject and the multipart operations: the mode (+ KMS key ARN
// and bucket-key flag), or for SSE-C the algorithm and key MD5 — never a
// key. The encryption context is not echoed here: S3 returns it only on
// writes, where the gateway has the request's value.
func (m *ObjectMeta) SetResponseHeaders(h http.Header) {
	switch m.Mode {
	case ModeSSES3:
		h.Set(HeaderSSE, AlgorithmAES256)
	case ModeSSEKMS:
		h.Set(HeaderSSE, AlgorithmKMS)
		h.Set(HeaderSSEKMSKeyID, m.KMSKeyARN)
	case ModeSSEC:
		h.Set(HeaderSSECAlgorithm, AlgorithmAES256)
		h.Set(HeaderSSECKeyMD5, m.SSECKeyMD5)
	}
	if m.BucketKeyEnabled && m.Mode != ModeSSEC {
		h.Set(HeaderSSEBucketKeyEnabled, strconv.FormatBool(true))
	}
}

// StoredSize is the ciphertext size the backend must hold for this object.
// The gateway should compare it with the backend's size: a mismatch means
// the stored body was truncated or extended (ErrTampered).
func (m *ObjectMeta) StoredSize() int64 {
	if m.Compression != nil {
		return EncryptedSize(m.Compression.StoredSize)
	}
	var n int64
	for _, p := range m.Layout() {
		n += EncryptedSize(p.PlainSize)
	}
	return n
}
