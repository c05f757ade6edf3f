package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	iso8601Format = "20060102T150405Z"
	yyyymmdd      = "20060102"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// uriEncode encodes s the way AWS SigV4 does: every byte except the
// unreserved characters A-Z a-z 0-9 - _ . ~ becomes %XY (upper-case hex).
// With keepSlash, '/' is kept (object key paths).
func uriEncode(s string, keepSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && keepSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

// canonicalURIs returns the candidate canonical URIs of r. For S3 the path
// is not normalised and not double-encoded. Clients sign the path exactly as
// they send it (aws-sdk, minio-go) or the AWS encoding of the decoded key;
// both candidates name the same decoded key the gateway will act on, so
// accepting either cannot redirect a signature to another object.
// Other services (KMS) use the generic rule: each segment encoded again.
func canonicalURIs(r *http.Request, service string) []string {
	if service != "s3" {
		p := r.URL.EscapedPath()
		if p == "" {
			p = "/"
		}
		return []string{uriEncode(p, true)}
	}
	sent := r.URL.EscapedPath()
	if sent == "" {
		sent = "/"
	}
	reenc := uriEncode(r.URL.Path, true)
	if reenc == "" {
		reenc = "/"
	}
	if reenc == sent {
		return []string{sent}
	}
	return []string{sent, reenc}
}

// canonicalQuery sorts the decoded query parameters by name then value and
// encodes them with uriEncode. skipSignature drops X-Amz-Signature
// (presigned URLs).
func canonicalQuery(rawQuery string, skipSignature bool) (string, error) {
	type kv struct{ k, v string }
	var params []kv
	for rawQuery != "" {
		var part string
		part, rawQuery, _ = strings.Cut(rawQuery, "&")
		if part == "" {
			continue
		}
		rk, rv, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(rk)
		if err != nil {
			return "", err
		}
		v, err := url.QueryUnescape(rv)
		if err != nil {
			return "", err
		}
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(k, false), uriEncode(v, false)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// headerValues returns the values of a signed header as the server sees
// them. Go's server moves Host and Transfer-Encoding out of r.Header.
func headerValues(r *http.Request, name string) ([]string, bool) {
	switch name {
	case "host":
		h := r.Host
		if h == "" {
			h = r.URL.Host
		}
		return []string{h}, h != ""
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}, true
		}
	case "content-length":
		if v, ok := r.Header["Content-Length"]; ok {
			return v, true
		}
		if r.ContentLength > 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}, true
		}
	}
	v, ok := r.Header[http.CanonicalHeaderKey(name)]
	return v, ok
}

// trimAll trims s and collapses runs of spaces into one, as SigV4 requires
// for canonical header values.
func trimAll(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// canonicalHeaders builds the canonical header block for signedHeaders
// (already lower-case, in the order the client listed them).
func canonicalHeaders(r *http.Request, signedHeaders []string) string {
	var b strings.Builder
	for _, name := range signedHeaders {
		vals, _ := headerValues(r, name)
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the SigV4 signing key for one day, region and service.
func signingKey(secret string, day time.Time, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), day.UTC().Format(yyyymmdd))
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func stringToSign(t time.Time, scope, canonicalRequest string) string {
	return algorithm + "\n" + t.UTC().Format(iso8601Format) + "\n" + scope + "\n" + sha256Hex(canonicalRequest)
}
