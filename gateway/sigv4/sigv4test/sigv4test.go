// Package sigv4test signs requests for tests of the gateway: SigV4 in the
// Authorization header, presigned URLs and aws-chunked bodies (signed,
// signed with trailer, unsigned with trailer). It is written independently
// of package sigv4 (no shared code) so that tests of the verifier are not
// tests of a function against itself, and it lets tests build requests the
// AWS SDK refuses to build (tampered, expired, malformed).
package sigv4test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signer signs as one access key, for one region and service, at a fixed
// time.
type Signer struct {
	AccessKey, SecretKey string
	Region, Service      string // "us-east-1", "s3"
	Time                 time.Time
}

const (
	longDate = "20060102T150405Z"
	emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func (s Signer) scope() string {
	return s.Time.UTC().Format("20060102") + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

func mac(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	io.WriteString(m, data)
	return m.Sum(nil)
}

// Key is the signing key.
func (s Signer) Key() []byte {
	k := mac([]byte("AWS4"+s.SecretKey), s.Time.UTC().Format("20060102"))
	k = mac(k, s.Region)
	k = mac(k, s.Service)
	return mac(k, "aws4_request")
}

func hexSHA(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func escape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func query(v url.Values) string {
	var parts []string
	for k, vs := range v {
		for _, x := range vs {
			parts = append(parts, escape(k)+"="+escape(x))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// signedNames lists host and every header of r, lower-cased and sorted.
func signedNames(r *http.Request) []string {
	names := []string{"host"}
	for k := range r.Header {
		l := strings.ToLower(k)
		if l != "authorization" && l != "user-agent" {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	return names
}

// Signature computes the signature of r over names with payloadHash; the
// canonical URI is the path as it will be sent (r.URL.EscapedPath()).
func (s Signer) Signature(r *http.Request, names []string, payloadHash string) string {
	var hdr strings.Builder
	for _, n := range names {
		var v string
		if n == "host" {
			v = r.Host
			if v == "" {
				v = r.URL.Host
			}
		} else {
			vals := r.Header.Values(n)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		hdr.WriteString(n + ":" + v + "\n")
	}
	q := r.URL.Query()
	q.Del("X-Amz-Signature")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq := strings.Join([]string{r.Method, path, query(q), hdr.String(), strings.Join(names, ";"), payloadHash}, "\n")
	sts := "AWS4-HMAC-SHA256\n" + s.Time.UTC().Format(longDate) + "\n" + s.scope() + "\n" + hexSHA([]byte(creq))
	return hex.EncodeToString(mac(s.Key(), sts))
}

// Sign signs r in the Authorization header. payloadHash is the
// x-amz-content-sha256 value; "" hashes body (which is also set as r.Body).
func (s Signer) Sign(r *http.Request, body []byte, payloadHash string) {
	if payloadHash == "" {
		payloadHash = hexSHA(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("X-Amz-Date", s.Time.UTC().Format(longDate))
	if s.Service == "s3" {
		r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	names := signedNames(r)
	sig := s.Signature(r, names, payloadHash)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKey+"/"+s.scope()+
		", SignedHeaders="+strings.Join(names, ";")+", Signature="+sig)
}

// Presign turns r into a presigned URL valid for expires seconds (any
// value, so tests can presign out-of-range expiries).
func (s Signer) Presign(r *http.Request, expires int64) {
	names := signedNames(r)
	q := r.URL.Query()
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", s.AccessKey+"/"+s.scope())
	q.Set("X-Amz-Date", s.Time.UTC().Format(longDate))
	q.Set("X-Amz-Expires", strconv.FormatInt(expires, 10))
	q.Set("X-Amz-SignedHeaders", strings.Join(names, ";"))
	r.URL.RawQuery = query(q)
	sig := s.Signature(r, names, "UNSIGNED-PAYLOAD")
	r.URL.RawQuery += "&X-Amz-Signature=" + sig
}

// Chunk describes one chunk of an aws-chunked body for SignChunked; tests
// use it to corrupt framing.
type Chunk struct {
	Data      []byte
	Signature string // "" computes the correct chained signature
}

// SignChunked signs r as STREAMING-AWS4-HMAC-SHA256-PAYLOAD (trailer nil)
// or …-PAYLOAD-TRAILER and sets its aws-chunked body, split into chunkSize
// pieces. It returns the encoded body for tests that want to alter it.
func (s Signer) SignChunked(r *http.Request, payload []byte, chunkSize int, trailer http.Header) []byte {
	mode := "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	if trailer != nil {
		mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
		for _, k := range sortedKeys(trailer) {
			r.Header.Add("X-Amz-Trailer", k)
		}
	}
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	s.Sign(r, nil, mode)
	auth := r.Header.Get("Authorization")
	prev := auth[strings.LastIndex(auth, "=")+1:]
	var b bytes.Buffer
	for _, c := range split(payload, chunkSize) {
		sig := s.ChunkSignature(prev, c)
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", len(c), sig)
		b.Write(c)
		b.WriteString("\r\n")
		prev = sig
	}
	sig := s.ChunkSignature(prev, nil)
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", sig)
	if trailer == nil {
		b.WriteString("\r\n")
	} else {
		block := trailerBlock(trailer)
		sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.Time.UTC().Format(longDate) + "\n" + s.scope() + "\n" + sig + "\n" + hexSHA([]byte(block))
		b.WriteString(strings.ReplaceAll(block, "\n", "\r\n"))
		b.WriteString("x-amz-trailer-signature:" + hex.EncodeToString(mac(s.Key(), sts)) + "\r\n\r\n")
	}
	s.setBody(r, b.Bytes())
	return b.Bytes()
}

// ChunkSignature is the signature of one chunk chained from prev.
func (s Signer) ChunkSignature(prev string, data []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.Time.UTC().Format(longDate) + "\n" + s.scope() + "\n" + prev + "\n" + emptyHex + "\n" + hexSHA(data)
	return hex.EncodeToString(mac(s.Key(), sts))
}

// SignUnsignedTrailer signs r as STREAMING-UNSIGNED-PAYLOAD-TRAILER with an
// unsigned aws-chunked body carrying trailer.
func (s Signer) SignUnsignedTrailer(r *http.Request, payload []byte, chunkSize int, trailer http.Header) []byte {
	for _, k := range sortedKeys(trailer) {
		r.Header.Add("X-Amz-Trailer", k)
	}
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(payload)))
	s.Sign(r, nil, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
	body := UnsignedChunked(payload, chunkSize, trailer)
	s.setBody(r, body)
	return body
}

// UnsignedChunked encodes payload as unsigned aws-chunked with trailer.
func UnsignedChunked(payload []byte, chunkSize int, trailer http.Header) []byte {
	var b bytes.Buffer
	for _, c := range split(payload, chunkSize) {
		fmt.Fprintf(&b, "%x\r\n", len(c))
		b.Write(c)
		b.WriteString("\r\n")
	}
	b.WriteString("0\r\n")
	b.WriteString(strings.ReplaceAll(trailerBlock(trailer), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

func (s Signer) setBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}

func trailerBlock(h http.Header) string {
	var b strings.Builder
	for _, k := range sortedKeys(h) {
		b.WriteString(k + ":" + h.Get(k) + "\n")
	}
	return b.String()
}

func sortedKeys(h http.Header) []string {
	var ks []string
	for k := range h {
		ks = append(ks, strings.ToLower(k))
	}
	sort.Strings(ks)
	return ks
}

func split(p []byte, n int) [][]byte {
	var out [][]byte
	for len(p) > 0 {
		k := min(n, len(p))
		out = append(out, p[:k])
		p = p[k:]
	}
	return out
}
