package sigv4_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/ssegate/ssegate/gateway/sigv4"
)

const benchSize = 16 << 20

func benchChunked(b *testing.B, sign func(r *http.Request, data []byte) []byte) {
	r := newReq(b, http.MethodPut, "/b/k")
	data := payload(benchSize)
	body := sign(r, data)
	res := mustVerify(b, r, opts())
	var names []string
	if tr := r.Header.Get("X-Amz-Trailer"); tr != "" {
		names = []string{tr}
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		cr := sigv4.NewChunkedReader(bytes.NewReader(body), res, benchSize, names)
		if _, err := io.CopyBuffer(io.Discard, cr, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedSigned64KiB(b *testing.B) {
	benchChunked(b, func(r *http.Request, d []byte) []byte { return signer().SignChunked(r, d, 64<<10, nil) })
}

func BenchmarkChunkedUnsignedTrailer64KiB(b *testing.B) {
	benchChunked(b, func(r *http.Request, d []byte) []byte {
		return signer().SignUnsignedTrailer(r, d, 64<<10, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}})
	})
}

// BenchmarkPlainCopy is the baseline: copying the same bytes with no
// decoding.
func BenchmarkPlainCopy(b *testing.B) {
	data := payload(benchSize)
	buf := make([]byte, 32<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		io.CopyBuffer(io.Discard, struct{ io.Reader }{bytes.NewReader(data)}, buf)
	}
}

func BenchmarkSignedPayloadSHA256(b *testing.B) {
	data := payload(benchSize)
	r := newReq(b, http.MethodPut, "/b/k")
	signer().Sign(r, data, "")
	res := mustVerify(b, r, opts())
	buf := make([]byte, 32<<10)
	b.SetBytes(benchSize)
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(data))
		pr, _ := sigv4.NewPayloadReader(r, res)
		if _, err := io.CopyBuffer(io.Discard, pr, buf); err != nil {
			b.Fatal(err)
		}
	}
}
