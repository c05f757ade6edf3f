package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store/fs"
)

// sseEnv is a TLS gateway on an fs store whose root the test can walk, with
// the embedded KMS core it uses.
type sseEnv struct {
	*testEnv
	root string
	core *kms.Core
}

// newSSEEnv starts a TLS gateway with cfg on a fresh fs store and KMS core
// (nil core: the default test core).
func newSSEEnv(t testing.TB, cfg Config, core *kms.Core, tls bool) *sseEnv {
	t.Helper()
	root := filepath.Join(t.TempDir(), "store")
	st, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if core == nil {
		core = newTestCore(t)
	}
	if cfg.Region == "" {
		cfg.Region = testRegion
	}
	srv, err := New(cfg, Deps{
		Store: st,
		KMS:   core,
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
	return &sseEnv{testEnv: &testEnv{t: t, srv: srv, ts: ts}, root: root, core: core}
}

// kmsKey creates a customer managed key and returns its metadata.
func (e *sseEnv) kmsKey() kms.KeyMetadata {
	e.t.Helper()
	md, err := e.core.CreateKey(context.Background(), kms.CreateKeyInput{Description: "sse test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return md
}

// alias points alias/<name> at keyID.
func (e *sseEnv) alias(name, keyID string) {
	e.t.Helper()
	if err := e.core.CreateAlias(context.Background(), name, keyID); err != nil {
		e.t.Fatal(err)
	}
}

// keyARN resolves any key reference to the key's ARN.
func (e *sseEnv) keyARN(ref string) string {
	e.t.Helper()
	md, err := e.core.DescribeKey(context.Background(), ref)
	if err != nil {
		e.t.Fatalf("describe %s: %v", ref, err)
	}
	return md.ARN
}

// customerKey is an SSE-C key with its header values.
type customerKey struct {
	raw    []byte
	b64    string
	md5b64 string
}

func newCustomerKey(seed byte) customerKey {
	k := bytes.Repeat([]byte{seed}, 32)
	k[0] ^= 0x5a
	sum := md5.Sum(k)
	return customerKey{raw: k, b64: base64.StdEncoding.EncodeToString(k), md5b64: base64.StdEncoding.EncodeToString(sum[:])}
}

func (k customerKey) headers() map[string]string {
	return map[string]string{
		sse.HeaderSSECAlgorithm: "AES256",
		sse.HeaderSSECKey:       k.b64,
		sse.HeaderSSECKeyMD5:    k.md5b64,
	}
}

// sseMode is one way a client asks for encryption, with what the gateway
// must answer. ssec is set for SSE-C; kmsKey may be any key reference.
type sseMode struct {
	name    string
	sse     types.ServerSideEncryption // "" for SSE-C and for the default
	kmsKey  string
	ssec    *customerKey
	wantSSE string // expected x-amz-server-side-encryption ("" for SSE-C)
	wantARN string // expected key ARN for SSE-KMS
}

func (m sseMode) plainETag() bool { return m.wantSSE == "AES256" }

func (m sseMode) applyPut(in *s3.PutObjectInput) {
	if m.sse != "" {
		in.ServerSideEncryption = m.sse
	}
	if m.kmsKey != "" {
		in.SSEKMSKeyId = aws.String(m.kmsKey)
	}
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func (m sseMode) applyCreate(in *s3.CreateMultipartUploadInput) {
	if m.sse != "" {
		in.ServerSideEncryption = m.sse
	}
	if m.kmsKey != "" {
		in.SSEKMSKeyId = aws.String(m.kmsKey)
	}
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func (m sseMode) applyPart(in *s3.UploadPartInput) {
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func (m sseMode) applyGet(in *s3.GetObjectInput) {
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func (m sseMode) applyHead(in *s3.HeadObjectInput) {
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

// sseFields are the encryption fields every S3 response type carries.
type sseFields struct {
	SSE    types.ServerSideEncryption
	KeyID  *string
	CAlg   *string
	CMD5   *string
	BKey   *bool
	CtxB64 *string
}

// check asserts that a response reports mode m.
func (m sseMode) check(t testing.TB, op string, f sseFields) {
	t.Helper()
	if got := string(f.SSE); got != m.wantSSE {
		t.Errorf("%s: x-amz-server-side-encryption = %q, want %q", op, got, m.wantSSE)
	}
	if m.wantSSE == "aws:kms" {
		if got := aws.ToString(f.KeyID); got != m.wantARN {
			t.Errorf("%s: kms key id = %q, want ARN %q", op, got, m.wantARN)
		}
	} else if f.KeyID != nil {
		t.Errorf("%s: unexpected kms key id %q", op, *f.KeyID)
	}
	if m.ssec != nil {
		if aws.ToString(f.CAlg) != "AES256" || aws.ToString(f.CMD5) != m.ssec.md5b64 {
			t.Errorf("%s: SSE-C echo = %q/%q, want AES256/%q", op, aws.ToString(f.CAlg), aws.ToString(f.CMD5), m.ssec.md5b64)
		}
	} else if f.CAlg != nil || f.CMD5 != nil {
		t.Errorf("%s: SSE-C headers on a non-SSE-C response", op)
	}
}

var (
	hex32       = regexp.MustCompile(`^"[0-9a-f]{32}"$`)
	hex32Suffix = regexp.MustCompile(`^"[0-9a-f]{32}-([0-9]+)"$`)
)

// checkETag asserts a single-PUT ETag: the plaintext MD5 for SSE-S3,
// 32 other hex digits otherwise.
func (m sseMode) checkETag(t testing.TB, op, etag string, body []byte) {
	t.Helper()
	if !hex32.MatchString(etag) {
		t.Fatalf("%s: ETag %s is not a quoted 32-hex value", op, etag)
	}
	plain := `"` + md5hex(body) + `"`
	if m.plainETag() && etag != plain {
		t.Errorf("%s: ETag %s, want plaintext MD5 %s", op, etag, plain)
	}
	if !m.plainETag() && etag == plain {
		t.Errorf("%s: ETag %s is the plaintext MD5 in mode %s", op, etag, m.name)
	}
}

// sdkError returns the S3 error code and HTTP status of an SDK error.
func sdkError(t testing.TB, err error) (string, int) {
	t.Helper()
	if err == nil {
		t.Fatal("request succeeded, want an error")
	}
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func wantAPIError(t testing.TB, err error, status int, code string) {
	t.Helper()
	gotCode, gotStatus := sdkError(t, err)
	if gotStatus != status || (code != "" && gotCode != code) {
		t.Fatalf("error = %d %s, want %d %s (%v)", gotStatus, gotCode, status, code, err)
	}
}

// getAll reads an object with the SDK and returns the body and output.
func getAll(t testing.TB, c *s3.Client, in *s3.GetObjectInput) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("get %s %s: %v", aws.ToString(in.Key), aws.ToString(in.Range), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", aws.ToString(in.Key), err)
	}
	return b, out
}

// rawHeaders returns a header map with m's SSE request headers, for raw
// requests.
func (m sseMode) rawHeaders() map[string]string {
	h := map[string]string{}
	if m.sse != "" {
		h[sse.HeaderSSE] = string(m.sse)
	}
	if m.kmsKey != "" {
		h[sse.HeaderSSEKMSKeyID] = m.kmsKey
	}
	if m.ssec != nil {
		for k, v := range m.ssec.headers() {
			h[k] = v
		}
	}
	return h
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}
