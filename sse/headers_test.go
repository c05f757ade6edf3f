package sse

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func ssecHeaders(prefix string, key []byte) http.Header {
	sum := md5.Sum(key)
	h := http.Header{}
	h.Set(prefix+"-Algorithm", "AES256")
	h.Set(prefix+"-Key", base64.StdEncoding.EncodeToString(key))
	h.Set(prefix+"-Key-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	return h
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestParsePutHeaders(t *testing.T) {
	key := detBytes("customer", 32)
	ssec := ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key)
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"team":"a","env":"prod"}`))
	withSSE := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name string
		h    http.Header
		mode Mode
		err  error
	}{
		{"none", hdr(), ModeNone, nil},
		{"sse-s3", hdr(HeaderSSE, "AES256"), ModeSSES3, nil},
		{"sse-kms default key", hdr(HeaderSSE, "aws:kms"), ModeSSEKMS, nil},
		{"sse-kms with key and context", hdr(HeaderSSE, "aws:kms", HeaderSSEKMSKeyID, "alias/x", HeaderSSEContext, ctx, HeaderSSEBucketKeyEnabled, "true"), ModeSSEKMS, nil},
		{"sse-c", ssec, ModeSSEC, nil},
		{"unknown algorithm", hdr(HeaderSSE, "AES128"), 0, ErrInvalidSSEAlgorithm},
		{"lower-case algorithm", hdr(HeaderSSE, "aes256"), 0, ErrInvalidSSEAlgorithm},
		{"dsse", hdr(HeaderSSE, "aws:kms:dsse"), 0, ErrDSSENotSupported},
		{"key id with AES256", hdr(HeaderSSE, "AES256", HeaderSSEKMSKeyID, "k"), 0, ErrKMSKeyWithAES256},
		{"key id without sse", hdr(HeaderSSEKMSKeyID, "k"), 0, ErrKMSKeyWithAES256},
		{"context with AES256", hdr(HeaderSSE, "AES256", HeaderSSEContext, ctx), 0, ErrKMSKeyWithAES256},
		{"context not base64", hdr(HeaderSSE, "aws:kms", HeaderSSEContext, "{}}"), 0, ErrInvalidEncryptionContext},
		{"context not object", hdr(HeaderSSE, "aws:kms", HeaderSSEContext, base64.StdEncoding.EncodeToString([]byte(`["a"]`))), 0, ErrInvalidEncryptionContext},
		{"context non-string value", hdr(HeaderSSE, "aws:kms", HeaderSSEContext, base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))), 0, ErrInvalidEncryptionContext},
		{"context null", hdr(HeaderSSE, "aws:kms", HeaderSSEContext, base64.StdEncoding.EncodeToString([]byte(`null`))), 0, ErrInvalidEncryptionContext},
		{"context reserved aws: key", hdr(HeaderSSE, "aws:kms", HeaderSSEContext, base64.StdEncoding.EncodeToString([]byte(`{"aws:s3:arn":"x"}`))), 0, ErrInvalidEncryptionContext},
		{"bucket key not bool", hdr(HeaderSSE, "aws:kms", HeaderSSEBucketKeyEnabled, "yes"), 0, ErrInvalidBucketKeyHeader},
		{"sse-c with sse-s3", withSSE(ssec, HeaderSSE, "AES256"), 0, ErrConflictingSSEHeaders},
		{"sse-c with kms key", withSSE(ssec, HeaderSSEKMSKeyID, "k"), 0, ErrConflictingSSEHeaders},
		{"sse-c wrong algorithm", withSSE(ssec, HeaderSSECAlgorithm, "AES512"), 0, ErrInvalidSSECAlgorithm},
		{"sse-c short key", ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key[:16]), 0, ErrInvalidSSECKey},
		{"sse-c key not base64", withSSE(ssec, HeaderSSECKey, "!!!"), 0, ErrInvalidSSECKey},
		{"sse-c md5 mismatch", withSSE(ssec, HeaderSSECKeyMD5, base64.StdEncoding.EncodeToString(make([]byte, 16))), 0, ErrSSECKeyMD5Mismatch},
		{"sse-c md5 missing", hdr(HeaderSSECAlgorithm, "AES256", HeaderSSECKey, ssec.Get(HeaderSSECKey)), 0, ErrMissingSSECHeaders},
		{"sse-c only key", hdr(HeaderSSECKey, ssec.Get(HeaderSSECKey)), 0, ErrMissingSSECHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := ParsePutHeaders(c.h)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				if strings.Contains(err.Error(), c.h.Get(HeaderSSECKey)) && c.h.Get(HeaderSSECKey) != "" {
					t.Fatal("error message contains the key")
				}
				return
			}
			if req.Mode != c.mode {
				t.Fatalf("mode = %v, want %v", req.Mode, c.mode)
			}
		})
	}
}

func TestParsePutHeadersFields(t *testing.T) {
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"team":"a"}`))
	req, err := ParsePutHeaders(hdr(HeaderSSE, "aws:kms", HeaderSSEKMSKeyID, "alias/x", HeaderSSEContext, ctx, HeaderSSEBucketKeyEnabled, "TRUE"))
	if err != nil {
		t.Fatal(err)
	}
	if req.KMSKeyID != "alias/x" || req.Context != ctx || req.ContextMap["team"] != "a" || req.BucketKeyEnabled == nil || !*req.BucketKeyEnabled {
		t.Fatalf("request %+v", req)
	}
	key := detBytes("customer", 32)
	req, err = ParsePutHeaders(ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key))
	if err != nil || req.CustomerKey == nil || string(req.CustomerKey.Key[:]) != string(key) {
		t.Fatalf("sse-c key not parsed: %v", err)
	}
}

func TestParseSSECHeadersCopySource(t *testing.T) {
	key := detBytes("src", 32)
	h := ssecHeaders("X-Amz-Copy-Source-Server-Side-Encryption-Customer", key)
	ck, err := ParseSSECHeaders(h, true)
	if err != nil || ck == nil || string(ck.Key[:]) != string(key) {
		t.Fatalf("copy-source key: %v", err)
	}
	// The copy-source triple is not the destination's.
	if ck, err := ParseSSECHeaders(h, false); ck != nil || err != nil {
		t.Fatalf("destination parse saw copy-source headers: %v %v", ck, err)
	}
	if ck, err := ParseSSECHeaders(http.Header{}, true); ck != nil || err != nil {
		t.Fatalf("absent: %v %v", ck, err)
	}
}

func TestCheckReadHeaders(t *testing.T) {
	if _, err := CheckReadHeaders(hdr(HeaderSSE, "AES256")); !errors.Is(err, ErrSSEHeaderOnRead) {
		t.Fatalf("SSE header on GET: %v", err)
	}
	if _, err := CheckReadHeaders(hdr(HeaderSSEKMSKeyID, "k")); !errors.Is(err, ErrSSEHeaderOnRead) {
		t.Fatalf("KMS key id on GET: %v", err)
	}
	key := detBytes("k", 32)
	ck, err := CheckReadHeaders(ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key))
	if err != nil || ck == nil {
		t.Fatalf("SSE-C on GET: %v", err)
	}
}

func TestSetResponseHeadersNeverEchoesKeys(t *testing.T) {
	m := ssecMeta()
	h := http.Header{}
	m.SetResponseHeaders(h)
	if h.Get(HeaderSSECAlgorithm) != "AES256" || h.Get(HeaderSSECKeyMD5) != m.SSECKeyMD5 || h.Get(HeaderSSECKey) != "" || h.Get(HeaderSSE) != "" {
		t.Fatalf("SSE-C response headers %v", h)
	}
	k := kmsMeta()
	h = http.Header{}
	k.SetResponseHeaders(h)
	if h.Get(HeaderSSE) != "aws:kms" || h.Get(HeaderSSEKMSKeyID) != k.KMSKeyARN || h.Get(HeaderSSEBucketKeyEnabled) != "true" {
		t.Fatalf("SSE-KMS response headers %v", h)
	}
}

func TestKMSContextBindsObjectOrBucket(t *testing.T) {
	user := map[string]string{"team": "a"}
	c := KMSContext("b", "k/x", false, user)
	if c["aws:s3:arn"] != "arn:aws:s3:::b/k/x" || c["team"] != "a" || len(user) != 1 {
		t.Fatalf("object context %v", c)
	}
	if c := KMSContext("b", "k/x", true, nil); c["aws:s3:arn"] != "arn:aws:s3:::b" {
		t.Fatalf("bucket-key context %v", c)
	}
	ctx := base64.StdEncoding.EncodeToString([]byte(`{"team":"a"}`))
	if m, err := ParseEncryptionContext(ctx); err != nil || m["team"] != "a" {
		t.Fatalf("ParseEncryptionContext: %v %v", m, err)
	}
}
