package gateway

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

// Error answers never carry the secrets a request brought: SSE-C keys (in
// any encoding) stay out of the error body and the response headers,
// whichever check refused the request.
func TestErrorResponsesNeverEchoTheSSECKey(t *testing.T) {
	e := newEnv(t, true)
	e.mkbucket("sec")
	key := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	md := func(b []byte) string { s := md5.Sum(b); return b64(s[:]) }
	ssec := func(k []byte, keyMD5 string) map[string]string {
		return map[string]string{
			"X-Amz-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Server-Side-Encryption-Customer-Key":       b64(k),
			"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   keyMD5,
		}
	}
	if resp := e.do("PUT", "/sec/obj", []byte("data"), ssec(key, md(key))); resp.StatusCode != 200 {
		t.Fatalf("PUT with SSE-C: %d", resp.StatusCode)
	}
	withAlg := func(h map[string]string, alg string) map[string]string {
		h["X-Amz-Server-Side-Encryption-Customer-Algorithm"] = alg
		return h
	}
	cases := []struct {
		name, method, path string
		hdr                map[string]string
		secret             []byte
	}{
		{"GET with the wrong key", "GET", "/sec/obj", ssec(other, md(other)), other},
		{"GET with a key whose MD5 does not match", "GET", "/sec/obj", ssec(key, md(other)), key},
		{"PUT with an unknown algorithm", "PUT", "/sec/x", withAlg(ssec(key, md(key)), "AES128"), key},
		{"HEAD with the wrong key", "HEAD", "/sec/obj", ssec(other, md(other)), other},
		{"copy with the wrong source key", "PUT", "/sec/copy", map[string]string{
			"X-Amz-Copy-Source": "/sec/obj",
			"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm": "AES256",
			"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key":       b64(other),
			"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5":   md(other),
		}, other},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.do(c.method, c.path, nil, c.hdr)
			if resp.StatusCode < 400 {
				t.Fatalf("status %d, want an error", resp.StatusCode)
			}
			body, _ := io.ReadAll(resp.Body)
			var hdrs strings.Builder
			resp.Header.Write(&hdrs)
			for _, form := range []string{b64(c.secret), hex.EncodeToString(c.secret), string(c.secret)} {
				if strings.Contains(string(body), form) || strings.Contains(hdrs.String(), form) {
					t.Errorf("the SSE-C key appears in the %d answer", resp.StatusCode)
				}
			}
		})
	}
}
