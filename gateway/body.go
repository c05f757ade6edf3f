package gateway

import (
	"io"
	"net/http"
	"strings"

	"github.com/ssegate/ssegate/gateway/checksum"
)

// bodyReader streams a request body to the store and is the last line of
// defence for integrity. Below it, gateway/checksum computes the plaintext
// MD5 and the requested x-amz-checksum-* and gateway/sigv4 verifies the
// payload; both report failure only when their input ends. bodyReader
// enforces the declared length and, on reaching it, reads on to that end
// before releasing the final bytes, so any deferred error replaces them.
// A store that stops after exactly size bytes therefore still sees the
// failure, and nothing is stored.
type bodyReader struct {
	v       *checksum.Verifier
	size    int64 // declared plaintext length
	n       int64
	exp     checksum.Expected
	wantMD5 []byte // from Content-MD5, nil if absent
	done    bool
	err     error
}

// newBodyReader reads the integrity headers of r and wraps its (decoded)
// body; size is the decoded content length.
func newBodyReader(r *http.Request, size int64) (*bodyReader, error) {
	exp, err := checksum.FromRequest(r.Header)
	if err != nil {
		return nil, err
	}
	var body io.Reader = r.Body
	if r.Body == nil {
		body = http.NoBody
	}
	var trailer func() http.Header
	if ts, ok := r.Body.(trailerSource); ok {
		trailer = ts.Trailer
	}
	return &bodyReader{v: checksum.NewVerifier(body, exp, trailer), size: size, exp: exp, wantMD5: exp.ContentMD5}, nil
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if rem := b.size - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	var (
		n   int
		err error
	)
	if len(p) > 0 {
		n, err = b.v.Read(p)
	} else {
		err = b.probeEOF()
	}
	b.n += int64(n)
	if err == nil && b.n == b.size {
		err = b.probeEOF()
	}
	if err == io.EOF {
		if b.n != b.size {
			b.err = errIncompleteBody
			return 0, b.err
		}
		b.done = true
		return n, nil
	}
	if err != nil {
		b.err = err
		return 0, err // withhold the final bytes: the store must not commit
	}
	return n, nil
}

// probeEOF reads past the declared length, which drives the verifiers
// below through their end (aws-chunked final chunk, trailer, digests).
// Any byte there means the body is longer than declared.
func (b *bodyReader) probeEOF() error {
	var one [1]byte
	for {
		n, err := b.v.Read(one[:])
		if n > 0 {
			return errIncompleteBody.with("The request body is longer than its declared length.")
		}
		if err != nil {
			return err
		}
	}
}

// MD5 is the plaintext MD5, valid after the body ended cleanly.
func (b *bodyReader) MD5() []byte { return b.v.MD5() }

// algo is the lower-case checksum name ("crc32"), or "" if none.
func (b *bodyReader) algo() string { return strings.ToLower(string(b.exp.Algorithm)) }

// Checksum returns the base64 x-amz-checksum value, valid after the body
// ended cleanly.
func (b *bodyReader) Checksum() string {
	_, v := b.v.Checksum()
	return v
}
