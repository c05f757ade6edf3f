package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

const (
	testAccessKey = "AKIDGATEWAYTEST"
	testSecretKey = "gateway-test-secret-key-0123456789"
	testRegion    = "us-east-1"
)

type staticCreds map[string]Credential

func (c staticCreds) Lookup(ak string) (Credential, bool) {
	cr, ok := c[ak]
	return cr, ok
}

type testEnv struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
}

// newEnv starts the gateway on an fs store in a temp dir behind an
// httptest server (TLS when tls is set).
func newEnv(t testing.TB, tls bool) *testEnv {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st, tls)
}

// newEnvOn starts the gateway on st.
func newEnvOn(t testing.TB, st store.Store, tls bool) *testEnv {
	t.Helper()
	srv, err := New(Config{Region: testRegion}, Deps{
		Store: st,
		KMS:   newTestCore(t),
		Credentials: staticCreds{testAccessKey: {
			AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ts *httptest.Server
	if tls {
		ts = httptest.NewTLSServer(srv)
	} else {
		ts = httptest.NewServer(srv)
	}
	t.Cleanup(ts.Close)
	return &testEnv{t: t, srv: srv, ts: ts}
}

func (e *testEnv) minio() *minio.Client {
	e.t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(e.ts.URL, "http://"), "https://")
	c, err := minio.New(host, &minio.Options{
		Creds:     miniocreds.NewStaticV4(testAccessKey, testSecretKey, ""),
		Secure:    strings.HasPrefix(e.ts.URL, "https://"),
		Transport: e.ts.Client().Transport,
		Region:    testRegion,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *testEnv) s3() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.ts.URL),
		UsePathStyle: true,
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		HTTPClient:   e.ts.Client(),
	})
}

func (e *testEnv) mkbucket(name string) {
	e.t.Helper()
	if err := e.minio().MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		e.t.Fatalf("make bucket %s: %v", name, err)
	}
}

func (e *testEnv) put(bucket, key string, data []byte) minio.UploadInfo {
	e.t.Helper()
	info, err := e.minio().PutObject(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info
}

// do sends a raw request signed with the test credentials (payload hash
// of body), for the cases no SDK will produce.
func (e *testEnv) do(method, path string, body []byte, hdr map[string]string) *http.Response {
	e.t.Helper()
	req := e.signed(method, path, body, hdr)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e *testEnv) signed(method, path string, body []byte, hdr map[string]string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		payload = v
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey},
		req, payload, "s3", testRegion, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

// s3Err reads an S3 XML error body.
func s3Err(t testing.TB, resp *http.Response) errorResponse {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	var er errorResponse
	if err := xml.Unmarshal(b, &er); err != nil {
		t.Fatalf("status %d: body is not an S3 error: %q", resp.StatusCode, b)
	}
	return er
}

func wantStatusCode(t testing.TB, resp *http.Response, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if resp.Header.Get("x-amz-request-id") == "" {
		t.Errorf("no x-amz-request-id on a %d response", status)
	}
	if code == "" {
		return
	}
	if er := s3Err(t, resp); er.Code != code {
		t.Fatalf("code = %q, want %q (message %q)", er.Code, code, er.Message)
	}
}

func md5hex(b []byte) string {
	h := newMD5()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func randBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func newMD5() interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
} {
	return md5.New()
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func hexSHA256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}
