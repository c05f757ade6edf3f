package checksum

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"net/http"
)

// Verifier passes the decoded plaintext body through while computing its
// MD5 (the gateway needs it for SSE-S3 ETags and multipart parts, unless
// SkipMD5 was called) and the requested checksum.
// When the body ends it compares them with the expectation and returns
// ErrBadDigest or ErrInvalidChecksum from Read instead of io.EOF, so a
// consumer that commits only on a clean EOF never commits a body that
// fails its digest.
type Verifier struct {
	r       io.Reader
	exp     Expected
	trailer func() http.Header
	md5     hash.Hash // nil after SkipMD5
	sum     hash.Hash // nil when no additional checksum
	n       int64
	value   string // computed checksum, base64, after EOF
	md5sum  []byte
	err     error
}

// NewVerifier wraps r. trailer returns the aws-chunked trailer once r has
// reached EOF (e.g. sigv4.PayloadReader.Trailer); it may be nil when
// exp.FromTrailer is false.
func NewVerifier(r io.Reader, exp Expected, trailer func() http.Header) *Verifier {
	v := &Verifier{r: r, exp: exp, trailer: trailer, md5: md5.New()}
	if exp.Algorithm != "" {
		v.sum = exp.Algorithm.New()
	}
	return v
}

// Read reads from the wrapped body.
func (v *Verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	if v.md5 != nil {
		v.md5.Write(p[:n])
	}
	if v.sum != nil {
		v.sum.Write(p[:n])
	}
	if errors.Is(err, io.EOF) {
		if verr := v.finish(); verr != nil {
			v.err = verr
			return 0, verr
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

// SkipMD5 stops computing the body's MD5 when nothing needs it: no
// Content-MD5 to verify, and an ETag that is not an MD5 (SSE-C and
// SSE-KMS objects). MD5 is the costliest pass over a PUT body (slower per
// byte than AES-GCM), so this is the largest saving on their PUTs. It must
// be called before the first Read; MD5 then returns nil.
func (v *Verifier) SkipMD5() {
	if v.exp.ContentMD5 == nil && v.n == 0 {
		v.md5 = nil
	}
}

func (v *Verifier) finish() error {
	if v.md5 != nil {
		v.md5sum = v.md5.Sum(nil)
	}
	if v.exp.ContentMD5 != nil && subtle.ConstantTimeCompare(v.md5sum, v.exp.ContentMD5) != 1 {
		return newErr(ErrBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	if v.sum == nil {
		return nil
	}
	got := v.sum.Sum(nil)
	v.value = base64.StdEncoding.EncodeToString(got)
	want := v.exp.Value
	if v.exp.FromTrailer {
		if v.trailer != nil {
			want = v.trailer().Get(v.exp.Algorithm.Header())
		}
		if want == "" {
			return newErr(ErrInvalidChecksum, "The request is missing the "+v.exp.Algorithm.Header()+" trailer.")
		}
	}
	if want == "" {
		return nil // algorithm only: compute, nothing to compare
	}
	wantRaw, err := v.exp.Algorithm.decodeValue(want)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, wantRaw) != 1 {
		return newErr(ErrBadDigest, "The "+string(v.exp.Algorithm)+" you specified did not match the calculated checksum.")
	}
	return nil
}

// MD5 is the MD5 of the body, valid after Read returned io.EOF.
func (v *Verifier) MD5() []byte {
	if v.err != io.EOF {
		return nil
	}
	return v.md5sum
}

// Checksum is the additional checksum computed over the body (base64, as
// S3 returns it), valid after Read returned io.EOF; "" if none was
// requested.
func (v *Verifier) Checksum() (Algorithm, string) {
	if v.err != io.EOF || v.sum == nil {
		return "", ""
	}
	return v.exp.Algorithm, v.value
}

// Size is the number of bytes read so far.
func (v *Verifier) Size() int64 { return v.n }
