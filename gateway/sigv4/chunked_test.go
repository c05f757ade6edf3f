package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/gateway/sigv4/sigv4test"
)

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// readChunked verifies r and reads its decoded body.
func readChunked(t *testing.T, r *http.Request) ([]byte, http.Header, error) {
	t.Helper()
	res := mustVerify(t, r, opts())
	pr, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(pr)
	return b, pr.Trailer(), err
}

func TestChunkedBodiesDecode(t *testing.T) {
	crc := http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}
	for _, n := range []int{0, 1, 65535, 65536, 65537, 3*65536 + 17} {
		data := payload(n)
		modes := map[string]func(r *http.Request){
			"signed":           func(r *http.Request) { signer().SignChunked(r, data, 65536, nil) },
			"signed-trailer":   func(r *http.Request) { signer().SignChunked(r, data, 65536, crc) },
			"unsigned-trailer": func(r *http.Request) { signer().SignUnsignedTrailer(r, data, 65536, crc) },
		}
		for name, sign := range modes {
			t.Run(name, func(t *testing.T) {
				r := newReq(t, http.MethodPut, "/b/k")
				sign(r)
				got, tr, err := readChunked(t, r)
				if err != nil {
					t.Fatalf("n=%d: %v", n, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("n=%d: decoded body differs", n)
				}
				if name != "signed" && tr.Get("x-amz-checksum-crc32") != "AAAAAA==" {
					t.Fatalf("trailer %v", tr)
				}
			})
		}
	}
}

func TestChunkedBodyRejects(t *testing.T) {
	data := payload(200000)
	crc := http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}
	type tc struct {
		name string
		// build signs r and returns the body to send instead (nil: as signed).
		build func(r *http.Request) []byte
		want  error
	}
	signedBody := func(r *http.Request) []byte { return signer().SignChunked(r, data, 65536, nil) }
	cases := []tc{
		{"flipped byte in signed chunk", func(r *http.Request) []byte {
			b := bytes.Clone(signedBody(r))
			b[100000] ^= 1
			return b
		}, sigv4.ErrSignatureDoesNotMatch},
		{"wrong chunk signature", func(r *http.Request) []byte {
			b := string(signedBody(r))
			i := strings.Index(b, "chunk-signature=") + len("chunk-signature=")
			return []byte(b[:i] + strings.Repeat("0", 64) + b[i+64:])
		}, sigv4.ErrSignatureDoesNotMatch},
		{"chunks reordered", func(r *http.Request) []byte {
			d := append(bytes.Repeat([]byte("a"), 65536), bytes.Repeat([]byte("b"), 65536)...)
			r.Header.Set("X-Amz-Decoded-Content-Length", "131072")
			b := signer().SignChunked(r, d, 65536, nil)
			hdr := len("10000;chunk-signature=") + 64 + 2
			one := b[:hdr+65536+2]
			two := b[hdr+65536+2 : 2*(hdr+65536+2)]
			return append(append(append([]byte{}, two...), one...), b[2*(hdr+65536+2):]...)
		}, sigv4.ErrSignatureDoesNotMatch},
		{"truncated stream", func(r *http.Request) []byte { return signedBody(r)[:150000] }, sigv4.ErrIncompleteBody},
		{"final chunk dropped", func(r *http.Request) []byte {
			b := signedBody(r)
			return b[:bytes.LastIndex(b, []byte("0;chunk-signature"))]
		}, sigv4.ErrIncompleteBody},
		{"bad chunk size hex", func(r *http.Request) []byte {
			b := bytes.Clone(signedBody(r))
			copy(b, "1zzzz")
			return b
		}, sigv4.ErrIncompleteBody},
		{"chunk over max size", func(r *http.Request) []byte {
			signedBody(r)
			return []byte("1000001;chunk-signature=" + strings.Repeat("0", 64) + "\r\n")
		}, sigv4.ErrInvalidChunkSize},
		{"missing chunk signature", func(r *http.Request) []byte {
			signedBody(r)
			return []byte("10\r\n0123456789abcdef\r\n")
		}, sigv4.ErrSignatureDoesNotMatch},
		{"missing CRLF after chunk", func(r *http.Request) []byte {
			b := signedBody(r)
			hdr := len("10000;chunk-signature=") + 64 + 2
			return append(append([]byte{}, b[:hdr+65536]...), b[hdr+65536+2:]...)
		}, sigv4.ErrIncompleteBody},
		{"signed trailer tampered", func(r *http.Request) []byte {
			b := signer().SignChunked(r, data, 65536, crc)
			return bytes.Replace(b, []byte("AAAAAA=="), []byte("AAAAAB=="), 1)
		}, sigv4.ErrSignatureDoesNotMatch},
		{"signed trailer missing", func(r *http.Request) []byte {
			b := signer().SignChunked(r, data, 65536, crc)
			return b[:bytes.Index(b, []byte("x-amz-checksum"))]
		}, sigv4.ErrMalformedTrailer},
		{"signed trailer signature missing", func(r *http.Request) []byte {
			b := signer().SignChunked(r, data, 65536, crc)
			return append(b[:bytes.Index(b, []byte("x-amz-trailer-signature"))], "\r\n"...)
		}, sigv4.ErrMalformedTrailer},
		{"unsigned trailer missing", func(r *http.Request) []byte {
			b := signer().SignUnsignedTrailer(r, data, 65536, crc)
			return append(b[:bytes.Index(b, []byte("x-amz-checksum"))], "\r\n"...)
		}, sigv4.ErrMalformedTrailer},
		{"undeclared trailer", func(r *http.Request) []byte {
			b := signer().SignUnsignedTrailer(r, data, 65536, crc)
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-sha1:"), 1)
		}, sigv4.ErrMalformedTrailer},
		{"unsigned chunk truncated", func(r *http.Request) []byte {
			return signer().SignUnsignedTrailer(r, data, 65536, crc)[:1000]
		}, sigv4.ErrIncompleteBody},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newReq(t, http.MethodPut, "/b/k")
			body := c.build(r)
			r.Body = io.NopCloser(bytes.NewReader(body))
			res := mustVerify(t, r, opts())
			pr, err := sigv4.NewPayloadReader(r, res)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(pr)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if pr.Trailer() != nil {
				t.Fatal("trailer exposed after failure")
			}
			// Nothing of a chunk whose signature failed may be released.
			if c.want == sigv4.ErrSignatureDoesNotMatch && !strings.Contains(c.name, "trailer") && len(got)%65536 != 0 {
				t.Fatalf("released %d bytes, not a whole number of verified chunks", len(got))
			}
		})
	}
}

func TestMissingDecodedContentLengthIsRejected(t *testing.T) {
	r := newReq(t, http.MethodPut, "/b/k")
	signer().SignChunked(r, payload(10), 64, nil)
	r.Header.Del("X-Amz-Decoded-Content-Length")
	res, err := sigv4.Verify(r, testCreds, opts())
	if err != nil {
		// Deleting a signed header is itself a signature failure.
		if !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
			t.Fatal(err)
		}
		return
	}
	if _, err := sigv4.NewPayloadReader(r, res); !errors.Is(err, sigv4.ErrMissingDecodedContentLength) {
		t.Fatalf("got %v", err)
	}
}

func TestChunkedReaderWithholdsChunkUntilVerified(t *testing.T) {
	r := newReq(t, http.MethodPut, "/b/k")
	data := payload(100)
	b := signer().SignChunked(r, data, 100, nil)
	b = bytes.Clone(b)
	b[len("64;chunk-signature=")+64+2+50] ^= 0xff
	res := mustVerify(t, r, opts())
	cr := sigv4.NewChunkedReader(bytes.NewReader(b), res, 100, nil)
	n, err := cr.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func TestDecodedLengthMustMatchExactly(t *testing.T) {
	data := payload(1000)
	for _, declared := range []int64{999, 1001, 0} {
		r := newReq(t, http.MethodPut, "/b/k")
		body := signer().SignChunked(r, data, 256, nil)
		res := mustVerify(t, r, opts())
		_, err := io.ReadAll(sigv4.NewChunkedReader(bytes.NewReader(body), res, declared, nil))
		if !errors.Is(err, sigv4.ErrIncompleteBody) {
			t.Fatalf("declared %d: got %v", declared, err)
		}
	}
}

func TestUnsignedTrailerInMinioGoLayoutDecodes(t *testing.T) {
	// minio-go ends trailer lines with "\n" and the block with "\r\n\r\n".
	r := newReq(t, http.MethodPut, "/b/k")
	signer().SignUnsignedTrailer(r, []byte("abc"), 64, http.Header{"X-Amz-Checksum-Crc32c": {"x"}})
	body := "3\r\nabc\r\n0\r\nx-amz-checksum-crc32c:Zm9v\n\r\n\r\n"
	res := mustVerify(t, r, opts())
	cr := sigv4.NewChunkedReader(strings.NewReader(body), res, 3, []string{"x-amz-checksum-crc32c"})
	got, err := io.ReadAll(cr)
	if err != nil || string(got) != "abc" || cr.Trailer().Get("X-Amz-Checksum-Crc32c") != "Zm9v" {
		t.Fatalf("got %q %v %v", got, err, cr.Trailer())
	}
}

var _ = sigv4test.UnsignedChunked
