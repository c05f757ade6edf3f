package sigv4_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/gateway/sigv4/sigv4test"
)

const (
	testAK     = "AKIAIOSFODNN7EXAMPLE"
	testSK     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
)

var (
	testNow   = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	testCreds = sigv4.CredentialsFunc(func(ak string) (string, bool) {
		if ak == testAK {
			return testSK, true
		}
		return "", false
	})
)

func signer() sigv4test.Signer {
	return sigv4test.Signer{AccessKey: testAK, SecretKey: testSK, Region: testRegion, Service: "s3", Time: testNow}
}

func opts() sigv4.Options {
	return sigv4.Options{Region: testRegion, Services: []string{"s3"}, Now: func() time.Time { return testNow }}
}

func newReq(t testing.TB, method, target string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, "http://gw.example:9000"+target, nil)
	return r
}

func mustVerify(t testing.TB, r *http.Request, o sigv4.Options) *sigv4.Result {
	t.Helper()
	res, err := sigv4.Verify(r, testCreds, o)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func TestHeaderSignedRequestsVerify(t *testing.T) {
	paths := []string{
		"/bucket/key",
		"/bucket/a%20b",
		"/bucket/a%2Bb",
		"/bucket/a+b",
		"/bucket/tilde~x",
		"/bucket/%E2%82%ACuro/%C3%A9",
		"/bucket//double//slash",
		"/bucket/dir/",
		"/",
		"/bucket?list-type=2&prefix=a%20b&delimiter=%2F",
		"/bucket?uploads",
		"/bucket/k?partNumber=1&uploadId=abc%2Bdef",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			r := newReq(t, http.MethodPut, p)
			r.Header.Set("X-Amz-Meta-Color", "  blue   and  green ")
			r.Header.Add("X-Amz-Meta-Multi", "a")
			r.Header.Add("X-Amz-Meta-Multi", "b")
			signer().Sign(r, []byte("hello"), "")
			res := mustVerify(t, r, opts())
			if res.AccessKey != testAK || res.Region != testRegion || res.Service != "s3" || res.Presigned {
				t.Fatalf("unexpected result %v", res)
			}
			pr, err := sigv4.NewPayloadReader(r, res)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(pr)
			if err != nil || string(b) != "hello" {
				t.Fatalf("body %q, %v", b, err)
			}
		})
	}
}

func TestPresignedRequestsVerify(t *testing.T) {
	r := newReq(t, http.MethodGet, "/bucket/some%20key?versionId=x")
	signer().Presign(r, 3600)
	res := mustVerify(t, r, opts())
	if !res.Presigned || res.PayloadHash != sigv4.UnsignedPayload {
		t.Fatalf("got %v", res)
	}
}

func TestVerifyRejects(t *testing.T) {
	type tc struct {
		name  string
		build func(t *testing.T) *http.Request
		opts  func(*sigv4.Options)
		want  error
	}
	signed := func(mut func(r *http.Request), after func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodPut, "/bucket/key?tagging")
			r.Header.Set("X-Amz-Meta-A", "1")
			if mut != nil {
				mut(r)
			}
			signer().Sign(r, []byte("body"), "")
			if after != nil {
				after(r)
			}
			return r
		}
	}
	presigned := func(s sigv4test.Signer, expires int64, after func(r *http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			r := newReq(t, http.MethodGet, "/bucket/key")
			s.Presign(r, expires)
			if after != nil {
				after(r)
			}
			return r
		}
	}
	withSigner := func(mod func(*sigv4test.Signer)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			s := signer()
			mod(&s)
			r := newReq(t, http.MethodGet, "/bucket/key")
			s.Sign(r, nil, "")
			return r
		}
	}
	setNow := func(d time.Duration) func(*sigv4.Options) {
		return func(o *sigv4.Options) { o.Now = func() time.Time { return testNow.Add(d) } }
	}
	cases := []tc{
		{"anonymous", func(t *testing.T) *http.Request { return newReq(t, "GET", "/bucket/key") }, nil, sigv4.ErrMissingAuth},
		{"wrong secret", withSigner(func(s *sigv4test.Signer) { s.SecretKey = "wrong" }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"unknown access key", withSigner(func(s *sigv4test.Signer) { s.AccessKey = "AKIDUNKNOWN" }), nil, sigv4.ErrInvalidAccessKeyID},
		{"wrong region", withSigner(func(s *sigv4test.Signer) { s.Region = "eu-west-1" }), nil, sigv4.ErrInvalidRegion},
		{"wrong service", withSigner(func(s *sigv4test.Signer) { s.Service = "kms" }), nil, sigv4.ErrAuthorizationHeaderMalformed},
		{"clock 15m1s ahead of server", signed(nil, nil), setNow(-15*time.Minute - time.Second), sigv4.ErrRequestTimeTooSkewed},
		{"clock 15m1s behind server", signed(nil, nil), setNow(15*time.Minute + time.Second), sigv4.ErrRequestTimeTooSkewed},
		{"header tampered after signing", signed(nil, func(r *http.Request) { r.Header.Set("X-Amz-Meta-A", "2") }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"unsigned x-amz header added", signed(nil, func(r *http.Request) { r.Header.Set("X-Amz-Server-Side-Encryption", "AES256") }), nil, sigv4.ErrAccessDenied},
		{"signed header removed", signed(nil, func(r *http.Request) { r.Header.Del("X-Amz-Meta-A") }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"query tampered", signed(nil, func(r *http.Request) { r.URL.RawQuery = "acl" }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"path tampered", signed(nil, func(r *http.Request) { r.URL.Path = "/bucket/other"; r.URL.RawPath = "" }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"method tampered", signed(nil, func(r *http.Request) { r.Method = http.MethodDelete }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"host tampered", signed(nil, func(r *http.Request) { r.Host = "evil.example" }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"security token", signed(func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "tok") }, nil), nil, sigv4.ErrInvalidToken},
		{"missing date", signed(nil, func(r *http.Request) { r.Header.Del("X-Amz-Date") }), nil, sigv4.ErrMissingDate},
		{"malformed date", signed(nil, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2026-03-14") }), nil, sigv4.ErrMalformedDate},
		{"date differs from scope", signed(nil, func(r *http.Request) { r.Header.Set("X-Amz-Date", "20260315T120000Z") }), nil, sigv4.ErrAuthorizationHeaderMalformed},
		{"missing content sha256", signed(nil, func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }), nil, sigv4.ErrMissingContentSHA256},
		{"garbage content sha256", signed(nil, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "nothex") }), nil, sigv4.ErrInvalidContentSHA256},
		{"sigv2 header", signed(nil, func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAK+":c2lnbmF0dXJl") }), nil, sigv4.ErrUnsupportedAlgorithm},
		{"sigv4a header", signed(nil, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
		}), nil, sigv4.ErrUnsupportedAlgorithm},
		{"sigv2 query", func(t *testing.T) *http.Request {
			return newReq(t, "GET", "/bucket/key?AWSAccessKeyId="+testAK+"&Expires=1&Signature=x")
		}, nil, sigv4.ErrUnsupportedAlgorithm},
		{"header without signature", signed(nil, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.LastIndex(a, ",")])
		}), nil, sigv4.ErrAuthorizationHeaderMalformed},
		{"bad credential scope", signed(nil, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/aws5_request", 1))
		}), nil, sigv4.ErrAuthorizationHeaderMalformed},
		{"host not signed", signed(nil, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=host;", "SignedHeaders=", 1))
		}), nil, sigv4.ErrAccessDenied},
		{"both header and query auth", signed(nil, func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=abc" }), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign expired", presigned(signer(), 60, nil), setNow(61 * time.Second), sigv4.ErrAccessDenied},
		{"presign not yet valid", presigned(signer(), 60, nil), setNow(-16 * time.Minute), sigv4.ErrAccessDenied},
		{"presign expires over a week", presigned(signer(), 604801, nil), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign expires zero", presigned(signer(), 0, nil), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign expires negative", presigned(signer(), -1, nil), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign query tampered", presigned(signer(), 60, func(r *http.Request) { r.URL.RawQuery += "&versionId=1" }), nil, sigv4.ErrSignatureDoesNotMatch},
		{"presign expires extended", presigned(signer(), 60, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Expires=60", "X-Amz-Expires=6000", 1)
		}), setNow(120 * time.Second), sigv4.ErrSignatureDoesNotMatch},
		{"presign wrong algorithm", presigned(signer(), 60, func(r *http.Request) {
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1)
		}), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign missing signature", presigned(signer(), 60, func(r *http.Request) {
			r.URL.RawQuery = r.URL.RawQuery[:strings.Index(r.URL.RawQuery, "&X-Amz-Signature")]
		}), nil, sigv4.ErrAuthorizationQueryParameters},
		{"presign with security token", presigned(signer(), 60, func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Security-Token=x" }), nil, sigv4.ErrInvalidToken},
		{"presign unsigned x-amz header", presigned(signer(), 60, func(r *http.Request) { r.Header.Set("X-Amz-Meta-Evil", "1") }), nil, sigv4.ErrAccessDenied},
		{"presign wrong secret", presigned(sigv4test.Signer{AccessKey: testAK, SecretKey: "x", Region: testRegion, Service: "s3", Time: testNow}, 60, nil), nil, sigv4.ErrSignatureDoesNotMatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opts()
			if c.opts != nil {
				c.opts(&o)
			}
			res, err := sigv4.Verify(c.build(t), testCreds, o)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v (result %v), want %v", err, res, c.want)
			}
			if sigv4.Message(err) == "" {
				t.Fatalf("error %v has no client message", err)
			}
			if strings.Contains(err.Error(), testSK) {
				t.Fatal("secret in error")
			}
		})
	}
}

func TestSkewBoundaryIsInclusive(t *testing.T) {
	for _, d := range []time.Duration{-15 * time.Minute, 15 * time.Minute} {
		r := newReq(t, "GET", "/b/k")
		signer().Sign(r, nil, "")
		o := opts()
		o.Now = func() time.Time { return testNow.Add(d) }
		mustVerify(t, r, o)
	}
}

func TestPresignValidUntilExactExpiry(t *testing.T) {
	r := newReq(t, "GET", "/b/k")
	signer().Presign(r, 604800)
	o := opts()
	o.Now = func() time.Time { return testNow.Add(604800 * time.Second) }
	mustVerify(t, r, o)
}

func TestSignedPayloadMismatchFailsBeforeEOF(t *testing.T) {
	r := newReq(t, http.MethodPut, "/b/k")
	signer().Sign(r, []byte("original body"), "")
	r.Body = io.NopCloser(strings.NewReader("tampered body"))
	res := mustVerify(t, r, opts())
	pr, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(pr)
	if !errors.Is(err, sigv4.ErrContentSHA256Mismatch) {
		t.Fatalf("got %v, want ErrContentSHA256Mismatch", err)
	}
}

func TestTruncatedSignedPayloadFails(t *testing.T) {
	r := newReq(t, http.MethodPut, "/b/k")
	signer().Sign(r, []byte("original body"), "")
	r.Body = io.NopCloser(strings.NewReader("original"))
	res := mustVerify(t, r, opts())
	pr, _ := sigv4.NewPayloadReader(r, res)
	if _, err := io.ReadAll(pr); !errors.Is(err, sigv4.ErrContentSHA256Mismatch) {
		t.Fatalf("got %v", err)
	}
}

func TestKMSRequestWithoutContentSHA256HashesBody(t *testing.T) {
	s := signer()
	s.Service = "kms"
	body := `{"KeyId":"alias/x"}`
	r := httptest.NewRequest(http.MethodPost, "http://gw.example:9000/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	s.Sign(r, []byte(body), "")
	o := opts()
	o.Services = []string{"kms"}
	res := mustVerify(t, r, o)
	if res.Service != "kms" {
		t.Fatalf("service %q", res.Service)
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != body {
		t.Fatalf("body not restored: %q", b)
	}

	// The same signature over a different body must fail.
	r2 := httptest.NewRequest(http.MethodPost, "http://gw.example:9000/", strings.NewReader(`{"KeyId":"alias/y"}`))
	r2.Header = r.Header.Clone()
	if _, err := sigv4.Verify(r2, testCreds, o); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Fatalf("got %v", err)
	}
}

func TestResultFormattingHidesSigningKey(t *testing.T) {
	r := newReq(t, "GET", "/b/k")
	signer().Sign(r, nil, "")
	res := mustVerify(t, r, opts())
	key := signer().Key()
	for _, s := range []string{res.String(), res.GoString()} {
		if strings.Contains(s, string(key)) || strings.Contains(s, testSK) {
			t.Fatalf("secret material in %q", s)
		}
	}
}

func TestTwoAuthorizationHeadersAreRejected(t *testing.T) {
	r := newReq(t, "GET", "/b/k")
	signer().Sign(r, nil, "")
	r.Header.Add("Authorization", r.Header.Get("Authorization"))
	if _, err := sigv4.Verify(r, testCreds, opts()); !errors.Is(err, sigv4.ErrAuthorizationHeaderMalformed) {
		t.Fatalf("got %v", err)
	}
}

// SigV4 accepts the Date header when X-Amz-Date is absent; the signed
// timestamp is still the ISO 8601 form of that date.
func TestDateHeaderFallback(t *testing.T) {
	r := newReq(t, "GET", "/b/k")
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	r.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
	names := []string{"date", "host", "x-amz-content-sha256"}
	sig := signer().Signature(r, names, sigv4.UnsignedPayload)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20260314/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature="+sig)
	mustVerify(t, r, opts())

	r.Header.Set("Date", testNow.Add(time.Second).Format(http.TimeFormat))
	if _, err := sigv4.Verify(r, testCreds, opts()); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Fatalf("changed Date: %v", err)
	}
}

// A relay that drops the body (Content-Length: 0) of a request signed with
// a payload hash must not produce an empty upload.
func TestEmptiedBodyFailsSignedPayloadHash(t *testing.T) {
	r := newReq(t, http.MethodPut, "/b/k")
	signer().Sign(r, []byte("data"), "")
	r.Body, r.ContentLength = http.NoBody, 0
	res := mustVerify(t, r, opts())
	pr, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(pr); !errors.Is(err, sigv4.ErrContentSHA256Mismatch) {
		t.Fatalf("got %v", err)
	}
}
