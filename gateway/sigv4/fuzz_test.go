package sigv4_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/ssegate/ssegate/gateway/sigv4"
)

func FuzzParseAuthorization(f *testing.F) {
	r := newReq(f, http.MethodGet, "/b/k")
	signer().Sign(r, nil, "")
	f.Add(r.Header.Get("Authorization"))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request,SignedHeaders=host,Signature=00")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-HMAC-SHA256 ,,,=,=")
	f.Fuzz(func(t *testing.T, auth string) {
		r := newReq(t, http.MethodGet, "/b/k")
		signer().Sign(r, nil, "")
		r.Header.Set("Authorization", auth)
		res, err := sigv4.Verify(r, testCreds, opts())
		if err == nil && auth != r.Header.Get("Authorization") {
			// Only a correct signature may pass; the fuzzer cannot forge
			// HMAC-SHA256, so success means it rediscovered the header
			// modulo allowed whitespace.
			if res.AccessKey != testAK {
				t.Fatalf("accepted %q as %v", auth, res)
			}
		}
		if err != nil && sigv4.Message(err) == "" {
			t.Fatalf("error without client message: %v", err)
		}
	})
}

// FuzzChunkedReader feeds arbitrary bodies to each aws-chunked mode: it
// must never panic, never return more than the declared length, and
// never report EOF on a body whose signatures it did not verify.
func FuzzChunkedReader(f *testing.F) {
	r := newReq(f, http.MethodPut, "/b/k")
	signed := signer().SignChunked(r, payload(300), 128, nil)
	res := mustVerify(f, r, opts())
	r2 := newReq(f, http.MethodPut, "/b/k")
	unsigned := signer().SignUnsignedTrailer(r2, payload(300), 128, http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}})
	res2 := mustVerify(f, r2, opts())
	f.Add(signed, false)
	f.Add(unsigned, true)
	f.Add([]byte("0\r\n\r\n"), true)
	f.Add([]byte("ffffffffffffffff\r\n"), true)
	f.Fuzz(func(t *testing.T, body []byte, unsignedMode bool) {
		rs, names := res, []string(nil)
		if unsignedMode {
			rs, names = res2, []string{"x-amz-checksum-crc32"}
		}
		cr := sigv4.NewChunkedReader(bytes.NewReader(body), rs, 300, names)
		got, err := io.ReadAll(io.LimitReader(cr, 1<<20))
		if len(got) > 300 {
			t.Fatalf("decoded %d bytes, declared 300", len(got))
		}
		if err == nil {
			if len(got) != 300 {
				t.Fatalf("EOF after %d bytes", len(got))
			}
			if !unsignedMode && !bytes.Equal(got, payload(300)) {
				t.Fatal("signed mode accepted altered payload")
			}
		}
	})
}
