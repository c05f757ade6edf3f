package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/sse"
)

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestSSEWriteHeaderErrors(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("errs")
	k := newCustomerKey(1)
	other := newCustomerKey(2)
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"SSECWithSSEHeader", merge(k.headers(), map[string]string{sse.HeaderSSE: "AES256"}), 400, "InvalidArgument"},
		{"SSECWithKMSHeader", merge(k.headers(), map[string]string{sse.HeaderSSE: "aws:kms"}), 400, "InvalidArgument"},
		{"KMSKeyIDWithAES256", map[string]string{sse.HeaderSSE: "AES256", sse.HeaderSSEKMSKeyID: "alias/x"}, 400, "InvalidArgument"},
		{"UnknownAlgorithm", map[string]string{sse.HeaderSSE: "AES128"}, 400, "InvalidArgument"},
		{"SSECAlgorithmNotAES256", merge(k.headers(), map[string]string{sse.HeaderSSECAlgorithm: "AES128"}), 400, ""},
		{"SSECKeyMD5Mismatch", merge(k.headers(), map[string]string{sse.HeaderSSECKeyMD5: other.md5b64}), 400, "InvalidArgument"},
		{"SSECKeyTooShort", map[string]string{sse.HeaderSSECAlgorithm: "AES256", sse.HeaderSSECKey: b64(make([]byte, 16)), sse.HeaderSSECKeyMD5: md5b64(make([]byte, 16))}, 400, "InvalidArgument"},
		{"SSECWithoutKey", map[string]string{sse.HeaderSSECAlgorithm: "AES256"}, 400, "InvalidArgument"},
		{"ContextNotBase64", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEContext: "%%%not base64"}, 400, "InvalidArgument"},
		{"ContextNotJSON", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEContext: b64([]byte("not json"))}, 400, "InvalidArgument"},
		{"ContextNotStringMap", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEContext: b64([]byte(`{"a":1}`))}, 400, "InvalidArgument"},
		{"UnknownKMSKey", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEKMSKeyID: "11111111-2222-3333-4444-555555555555"}, 400, "KMS.NotFoundException"},
		{"UnknownKMSAlias", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEKMSKeyID: "alias/nope"}, 400, "KMS.NotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "/errs/" + tc.name
			wantStatusCode(t, e.do(http.MethodPut, key, []byte("secret body"), tc.hdr), tc.status, tc.code)
			// Nothing was stored.
			wantStatusCode(t, e.do(http.MethodHead, key, nil, nil), 404, "")
		})
	}
}

func TestSSECOverPlainHTTPIsRefusedUnlessAllowed(t *testing.T) {
	k := newCustomerKey(1)
	e := newSSEEnv(t, Config{}, nil, false)
	e.mkbucket("plain")
	wantStatusCode(t, e.do(http.MethodPut, "/plain/o", []byte("x"), k.headers()), 400, "InvalidRequest")
	e.put("plain", "sses3", []byte("x"))
	wantStatusCode(t, e.do(http.MethodGet, "/plain/sses3", nil, k.headers()), 400, "InvalidRequest")

	e2 := newSSEEnv(t, Config{AllowInsecureSSEC: true}, nil, false)
	e2.mkbucket("plain")
	wantStatusCode(t, e2.do(http.MethodPut, "/plain/o", []byte("x"), k.headers()), 200, "")
	resp := e2.do(http.MethodGet, "/plain/o", nil, k.headers())
	wantStatusCode(t, resp, 200, "")
	if b, _ := io.ReadAll(resp.Body); string(b) != "x" {
		t.Fatalf("body %q", b)
	}
}

func TestSSECReadRules(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("ssec")
	k, other := newCustomerKey(1), newCustomerKey(2)
	body := []byte("customer-keyed plaintext")
	resp := e.do(http.MethodPut, "/ssec/o", body, k.headers())
	wantStatusCode(t, resp, 200, "")
	assertNoKeyInHeaders(t, resp.Header, k)
	e.put("ssec", "sses3", body)
	for _, tc := range []struct {
		name   string
		path   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"NoKey", "/ssec/o", nil, 400, "InvalidRequest"},
		{"WrongKey", "/ssec/o", other.headers(), 403, "AccessDenied"},
		{"MD5Mismatch", "/ssec/o", merge(k.headers(), map[string]string{sse.HeaderSSECKeyMD5: other.md5b64}), 400, "InvalidArgument"},
		{"SSEHeaderOnGet", "/ssec/o", merge(k.headers(), map[string]string{sse.HeaderSSE: "AES256"}), 400, ""},
		{"SSEHeaderOnGetOfSSES3", "/ssec/sses3", map[string]string{sse.HeaderSSE: "AES256"}, 400, ""},
		{"SSECKeyOnSSES3Object", "/ssec/sses3", k.headers(), 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.do(http.MethodGet, tc.path, nil, tc.hdr), tc.status, tc.code)
			// HEAD answers the same status, without a body.
			hr := e.do(http.MethodHead, tc.path, nil, tc.hdr)
			if hr.StatusCode != tc.status {
				t.Errorf("HEAD status %d, want %d", hr.StatusCode, tc.status)
			}
		})
	}
	resp = e.do(http.MethodGet, "/ssec/o", nil, k.headers())
	wantStatusCode(t, resp, 200, "")
	if got, _ := io.ReadAll(resp.Body); !bytes.Equal(got, body) {
		t.Fatalf("body %q", got)
	}
	if resp.Header.Get(sse.HeaderSSECAlgorithm) != "AES256" || resp.Header.Get(sse.HeaderSSECKeyMD5) != k.md5b64 {
		t.Errorf("GET echo %q/%q", resp.Header.Get(sse.HeaderSSECAlgorithm), resp.Header.Get(sse.HeaderSSECKeyMD5))
	}
	assertNoKeyInHeaders(t, resp.Header, k)
}

func assertNoKeyInHeaders(t testing.TB, h http.Header, k customerKey) {
	t.Helper()
	for name, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, k.b64) || strings.EqualFold(name, sse.HeaderSSECKey) {
				t.Errorf("response header %s carries the customer key", name)
			}
		}
	}
}

func TestSSECMultipartPartWithAnotherKeyIsAccessDenied(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("ssecmpu")
	k, other := newCustomerKey(1), newCustomerKey(2)
	c := e.s3()
	ctx := context.Background()
	m := sseMode{ssec: &k}
	cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("ssecmpu"), Key: aws.String("o")}
	m.applyCreate(cin)
	cout, err := c.CreateMultipartUpload(ctx, cin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mode   sseMode
		status int
		code   string
	}{
		{"OtherKey", sseMode{ssec: &other}, 403, "AccessDenied"},
		{"NoKey", sseMode{}, 400, "InvalidRequest"},
	} {
		pin := &s3.UploadPartInput{Bucket: aws.String("ssecmpu"), Key: aws.String("o"), UploadId: cout.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))}
		tc.mode.applyPart(pin)
		_, err := c.UploadPart(ctx, pin)
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, err, tc.status, tc.code) })
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("ssecmpu"), Key: aws.String("o"), UploadId: cout.UploadId})
	if err != nil || len(lp.Parts) != 0 {
		t.Fatalf("list parts: %v, %d parts, want none stored", err, len(lp.Parts))
	}
}

func TestSSECBlockedByBucketDefaultIsAccessDenied(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("blocked")
	c := e.s3()
	ctx := context.Background()
	_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("blocked"), ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
			BlockedEncryptionTypes:             &types.BlockedEncryptionTypes{EncryptionType: []types.EncryptionType{types.EncryptionTypeSseC}},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	k := newCustomerKey(1)
	wantStatusCode(t, e.do(http.MethodPut, "/blocked/o", []byte("x"), k.headers()), 403, "AccessDenied")
	wantStatusCode(t, e.do(http.MethodPost, "/blocked/o?uploads", nil, k.headers()), 403, "AccessDenied")
	// Other modes still work.
	wantStatusCode(t, e.do(http.MethodPut, "/blocked/o", []byte("x"), nil), 200, "")
}

// KMS key state changes reach S3 clients as AWS passes them through.
func TestSSEKMSKeyStateControlsReadsAndWrites(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("states")
	k := e.kmsKey()
	ctx := context.Background()
	hdr := map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEKMSKeyID: k.KeyID}
	body := []byte("kms-protected plaintext")
	wantStatusCode(t, e.do(http.MethodPut, "/states/o", body, hdr), 200, "")
	readable := func(t *testing.T) {
		t.Helper()
		resp := e.do(http.MethodGet, "/states/o", nil, nil)
		wantStatusCode(t, resp, 200, "")
		if got, _ := io.ReadAll(resp.Body); !bytes.Equal(got, body) {
			t.Fatalf("body %q", got)
		}
		wantStatusCode(t, e.do(http.MethodPut, "/states/o2", body, hdr), 200, "")
	}
	refused := func(t *testing.T, code string) {
		t.Helper()
		wantStatusCode(t, e.do(http.MethodGet, "/states/o", nil, nil), 400, code)
		wantStatusCode(t, e.do(http.MethodPut, "/states/o3", body, hdr), 400, code)
		wantStatusCode(t, e.do(http.MethodPost, "/states/o3?uploads", nil, hdr), 400, code)
	}
	t.Run("Disabled", func(t *testing.T) {
		if err := e.core.DisableKey(ctx, k.KeyID); err != nil {
			t.Fatal(err)
		}
		refused(t, "KMS.DisabledException")
		if err := e.core.EnableKey(ctx, k.KeyID); err != nil {
			t.Fatal(err)
		}
		readable(t)
	})
	t.Run("PendingDeletion", func(t *testing.T) {
		if _, err := e.core.ScheduleKeyDeletion(ctx, k.KeyID, 7); err != nil {
			t.Fatal(err)
		}
		refused(t, "KMS.KMSInvalidStateException")
		if _, err := e.core.CancelKeyDeletion(ctx, k.KeyID); err != nil {
			t.Fatal(err)
		}
		// CancelKeyDeletion leaves the key Disabled, as in AWS.
		refused(t, "KMS.DisabledException")
		if err := e.core.EnableKey(ctx, k.KeyID); err != nil {
			t.Fatal(err)
		}
		readable(t)
	})
}
