package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ssegate/ssegate/gateway/sigv4/sigv4test"
)

func (e *testEnv) signer(at time.Time) sigv4test.Signer {
	return sigv4test.Signer{AccessKey: testAccessKey, SecretKey: testSecretKey, Region: testRegion, Service: "s3", Time: at}
}

func (e *testEnv) newReq(method, path string) *http.Request {
	e.t.Helper()
	r, err := http.NewRequest(method, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *testEnv) send(r *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.ts.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func crc32b64(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "obj", []byte("secret data"))
	now := time.Now()
	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
	}{
		{"anonymous", func() *http.Request { return e.newReq("GET", "/bkt/obj") }, 403, "AccessDenied"},
		{"wrong secret", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			s := e.signer(now)
			s.SecretKey = "not-the-secret"
			s.Sign(r, nil, "")
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"unknown access key", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			s := e.signer(now)
			s.AccessKey = "AKIDUNKNOWN"
			s.Sign(r, nil, "")
			return r
		}, 403, "InvalidAccessKeyId"},
		{"skewed clock", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			e.signer(now.Add(-time.Hour)).Sign(r, nil, "")
			return r
		}, 403, "RequestTimeTooSkewed"},
		{"tampered query after signing", func() *http.Request {
			r := e.newReq("GET", "/bkt?list-type=2")
			e.signer(now).Sign(r, nil, "")
			r.URL.RawQuery = "list-type=2&prefix=x"
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"wrong region", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			s := e.signer(now)
			s.Region = "eu-west-1"
			s.Sign(r, nil, "")
			return r
		}, 400, "AuthorizationHeaderMalformed"},
		{"expired presigned URL", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			e.signer(now.Add(-2*time.Hour)).Presign(r, 60)
			return r
		}, 403, "AccessDenied"},
		{"tampered presigned URL", func() *http.Request {
			r := e.newReq("GET", "/bkt/obj")
			e.signer(now).Presign(r, 600)
			r.URL.Path = "/bkt/other"
			return r
		}, 403, "SignatureDoesNotMatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.send(tc.req())
			wantStatusCode(t, resp, tc.status, tc.code)
		})
	}
	t.Run("valid presigned URL", func(t *testing.T) {
		r := e.newReq("GET", "/bkt/obj")
		e.signer(now).Presign(r, 600)
		resp := e.send(r)
		wantStatusCode(t, resp, 200, "")
		if b, _ := io.ReadAll(resp.Body); string(b) != "secret data" {
			t.Fatalf("body %q", b)
		}
	})
}

// A body that fails verification must leave no object behind, even though
// the store had already consumed most of it.
func TestForgedOrCorruptBodiesStoreNothing(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	now := time.Now()
	payload := randBytes(300000, 50)
	cases := []struct {
		name   string
		req    func(r *http.Request)
		status int
		code   string
	}{
		{"payload hash mismatch", func(r *http.Request) {
			e.signer(now).Sign(r, payload, hexSHA256Of([]byte("something else")))
		}, 400, "XAmzContentSHA256Mismatch"},
		{"flipped byte in a signed chunk", func(r *http.Request) {
			body := e.signer(now).SignChunked(r, payload, 65536, nil)
			body[len(body)-200] ^= 1
			setBody(r, body)
		}, 403, "SignatureDoesNotMatch"},
		{"truncated signed chunks", func(r *http.Request) {
			body := e.signer(now).SignChunked(r, payload, 65536, nil)
			setBody(r, body[:len(body)/2])
		}, 400, "IncompleteBody"},
		{"unsigned trailer with wrong crc32", func(r *http.Request) {
			e.signer(now).SignUnsignedTrailer(r, payload, 65536, http.Header{"X-Amz-Checksum-Crc32": {crc32b64([]byte("x"))}})
		}, 400, "BadDigest"},
		{"signed trailer with wrong crc32", func(r *http.Request) {
			e.signer(now).SignChunked(r, payload, 65536, http.Header{"X-Amz-Checksum-Crc32": {crc32b64([]byte("x"))}})
		}, 400, "BadDigest"},
		{"content-md5 mismatch on a signed chunked body", func(r *http.Request) {
			r.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(make([]byte, 16)))
			e.signer(now).SignChunked(r, payload, 65536, nil)
		}, 400, "BadDigest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.newReq("PUT", "/bkt/victim")
			tc.req(r)
			wantStatusCode(t, e.send(r), tc.status, tc.code)
			wantStatusCode(t, e.do("HEAD", "/bkt/victim", nil, nil), 404, "")
		})
	}
	good := []struct {
		name string
		req  func(r *http.Request)
	}{
		{"signed chunks", func(r *http.Request) { e.signer(now).SignChunked(r, payload, 65536, nil) }},
		{"signed chunks with trailer", func(r *http.Request) {
			e.signer(now).SignChunked(r, payload, 65536, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(payload)}})
		}},
		{"unsigned trailer", func(r *http.Request) {
			e.signer(now).SignUnsignedTrailer(r, payload, 8192, http.Header{"X-Amz-Checksum-Crc32": {crc32b64(payload)}})
		}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			r := e.newReq("PUT", "/bkt/good")
			tc.req(r)
			resp := e.send(r)
			wantStatusCode(t, resp, 200, "")
			if resp.Header.Get("ETag") != `"`+md5hex(payload)+`"` {
				t.Fatalf("ETag %s", resp.Header.Get("ETag"))
			}
			g := e.do("GET", "/bkt/good", nil, map[string]string{"x-amz-checksum-mode": "ENABLED"})
			b, _ := io.ReadAll(g.Body)
			if !bytes.Equal(b, payload) || g.Header.Get("Content-Encoding") != "" {
				t.Fatalf("stored body differs or keeps aws-chunked encoding (%q)", g.Header.Get("Content-Encoding"))
			}
		})
	}
}

func setBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}

// An XML body is only acted on once its signed payload hash has been
// checked, although the XML itself ends before the body does.
func TestTamperedXMLBodyIsRefusedBeforeActing(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "keep", []byte("x"))
	signedFor := []byte(`<Delete><Object><Key>other</Key></Object></Delete>`)
	sent := []byte(`<Delete><Object><Key>keep</Key></Object></Delete>`)
	sum := md5Sum(sent)
	r := e.newReq("POST", "/bkt?delete")
	r.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum))
	e.signer(time.Now()).Sign(r, sent, hexSHA256Of(signedFor))
	wantStatusCode(t, e.send(r), 400, "XAmzContentSHA256Mismatch")
	wantStatusCode(t, e.do("HEAD", "/bkt/keep", nil, nil), 200, "")
}

func TestTamperedTaggingBodyIsRefused(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "obj", []byte("x"))
	signedFor := []byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>`)
	sent := []byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>`)
	r := e.newReq("PUT", "/bkt/obj?tagging")
	e.signer(time.Now()).Sign(r, sent, hexSHA256Of(signedFor))
	wantStatusCode(t, e.send(r), 400, "XAmzContentSHA256Mismatch")
	resp := e.do("GET", "/bkt/obj?tagging", nil, nil)
	if b, _ := io.ReadAll(resp.Body); bytes.Contains(b, []byte("<Value>2</Value>")) {
		t.Fatalf("tampered tags applied: %s", b)
	}
}

func TestPresignedPutAndGetWithAWSSDK(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	ps := s3.NewPresignClient(e.s3())
	ctx := context.Background()
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("pre")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(put.Method, put.URL, bytes.NewReader([]byte("presigned body")))
	for k, v := range put.SignedHeader {
		req.Header[k] = v
	}
	wantStatusCode(t, e.send(req), 200, "")
	get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("pre")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "presigned body" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, b)
	}
	// The presigned GET URL does not authorise another key.
	other, _ := http.NewRequest("GET", strings.Replace(get.URL, "/bkt/pre", "/bkt/other", 1), nil)
	wantStatusCode(t, e.send(other), 403, "SignatureDoesNotMatch")
}
