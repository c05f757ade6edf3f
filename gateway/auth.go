package gateway

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ssegate/ssegate/kms"
)

// TEMPORARY: a minimal SigV4 verifier with the planned gateway/sigv4 API,
// to be replaced by that package when it lands. It supports header and
// presigned auth, hex and UNSIGNED payloads and the three aws-chunked
// variants, failing closed on anything it does not understand.

const (
	unsignedPayload        = "UNSIGNED-PAYLOAD"
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrail = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	maxSkew                = 15 * time.Minute
	maxPresignExpiry       = 7 * 24 * time.Hour
	maxChunkSize           = 16 << 20
)

// authResult is what authentication established about a request.
type authResult struct {
	AccessKey string
	ARN       string
	Region    string
	Service   string
	Payload   string // x-amz-content-sha256 value (or UNSIGNED-PAYLOAD)
	date      time.Time
	amzDate   string
	scope     string
	signature string
	key       []byte // signing key: kept only for chunk signatures
}

// authenticate verifies r's SigV4 signature for service and, when the body
// is signed or aws-chunked, replaces r.Body with a reader that verifies and
// decodes it, failing before EOF. Unauthenticated requests are refused:
// the gateway has no anonymous access.
func (s *Server) authenticate(r *http.Request, service string) error {
	res, err := s.verifySignature(r, service)
	if err != nil {
		return err
	}
	requestInfo(r).auth = *res
	switch {
	case res.Payload == unsignedPayload:
	case strings.HasPrefix(res.Payload, "STREAMING-"):
		dl, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || dl < 0 {
			return errMissingContentLength
		}
		r.Body = newChunkedReader(r.Body, res, dl)
		r.ContentLength = dl
		r.Header.Del("X-Amz-Decoded-Content-Length")
	default:
		want, err := hex.DecodeString(res.Payload)
		if err != nil || len(want) != sha256.Size {
			return errInvalidContentSHA256
		}
		if r.Body != nil {
			r.Body = &sha256Body{r: r.Body, h: sha256.New(), want: want}
		}
	}
	return nil
}

func (s *Server) verifySignature(r *http.Request, service string) (*authResult, error) {
	q := r.URL.Query()
	var (
		credential, signedHeaders, signature, amzDate string
		presigned                                     bool
		expires                                       time.Duration
	)
	if authz := r.Header.Get("Authorization"); authz != "" {
		rest, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
		if !ok {
			return nil, errAuthHeaderMalformed.with("Unsupported authorization type")
		}
		for _, part := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				credential = v
			case "SignedHeaders":
				signedHeaders = v
			case "Signature":
				signature = v
			}
		}
		amzDate = r.Header.Get("X-Amz-Date")
		if amzDate == "" {
			amzDate = r.Header.Get("Date")
		}
	} else if q.Get("X-Amz-Algorithm") != "" {
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return nil, errAuthQueryMalformed.with("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
		}
		presigned = true
		credential, signedHeaders, signature, amzDate = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), q.Get("X-Amz-Date")
		secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		if err != nil || secs < 0 || time.Duration(secs)*time.Second > maxPresignExpiry {
			return nil, errAuthQueryMalformed.with("X-Amz-Expires must be between 0 and 604800 seconds")
		}
		expires = time.Duration(secs) * time.Second
	} else {
		return nil, errAccessDenied.with("Anonymous access is not allowed")
	}
	if credential == "" || signedHeaders == "" || signature == "" {
		return nil, errAuthHeaderMalformed
	}
	cp := strings.Split(credential, "/")
	if len(cp) != 5 || cp[4] != "aws4_request" {
		return nil, errAuthHeaderMalformed.with("The authorization header is malformed; the Credential is mal-formed.")
	}
	if cp[2] != s.cfg.Region {
		return nil, errAuthHeaderMalformed.with(fmt.Sprintf("The authorization header is malformed; the region is wrong; expecting '%s'", s.cfg.Region))
	}
	if cp[3] != service {
		return nil, errAuthHeaderMalformed.with("The authorization header is malformed; incorrect service")
	}
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return nil, errAccessDenied.with("AWS authentication requires a valid Date or x-amz-date header")
	}
	if t.Format("20060102") != cp[1] {
		return nil, errAuthHeaderMalformed.with("The authorization header is malformed; Invalid credential date.")
	}
	now := s.now()
	if presigned {
		if now.After(t.Add(expires)) {
			return nil, errExpiredPresign
		}
		if t.Sub(now) > maxSkew {
			return nil, errRequestTimeTooSkewed
		}
	} else if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return nil, errRequestTimeTooSkewed
	}
	cred, ok := s.deps.Credentials.Lookup(cp[0])
	if !ok {
		return nil, errInvalidAccessKeyID
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if presigned {
		payload = unsignedPayload
		if v := q.Get("X-Amz-Content-Sha256"); v != "" {
			payload = v
		}
	} else if payload == "" {
		if service == "s3" {
			return nil, errInvalidContentSHA256.with("Missing required header for this request: x-amz-content-sha256")
		}
		// Non-S3 services (KMS) sign the payload hash without sending it.
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
		if err != nil {
			return nil, err
		}
		if len(body) > 1<<20 {
			return nil, errMaxMessageLengthExceed
		}
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if payload == streamingUnsignedTrail && presigned {
		return nil, errInvalidContentSHA256
	}
	scope := strings.Join(cp[1:], "/")
	creq := canonicalRequest(r, strings.Split(signedHeaders, ";"), payload, presigned)
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(creq))
	key := signingKey(cred.SecretKey, cp[1], cp[2], cp[3])
	want := hex.EncodeToString(hmacSHA256(key, []byte(sts)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(signature)) != 1 {
		return nil, errSignatureDoesNotMatch
	}
	return &authResult{
		AccessKey: cred.AccessKey, ARN: cred.ARN, Region: cp[2], Service: cp[3],
		Payload: payload, date: t, amzDate: amzDate, scope: scope, signature: signature, key: key,
	}, nil
}

func canonicalRequest(r *http.Request, signed []string, payload string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(awsURIEncode(r.URL.Path, false) + "\n")
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var qs []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			qs = append(qs, awsURIEncode(k, true)+"="+awsURIEncode(v, true))
		}
	}
	b.WriteString(strings.Join(qs, "&") + "\n")
	for _, h := range signed {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		case "transfer-encoding":
			v = strings.Join(r.TransferEncoding, ",")
		default:
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		b.WriteString(h + ":" + v + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	return b.String()
}

// awsURIEncode is the SigV4 UriEncode: every byte except unreserved
// characters is %XX-encoded; "/" is kept in paths.
func awsURIEncode(s string, encodeSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

// sha256Body checks a signed payload hash, failing instead of reporting EOF.
type sha256Body struct {
	r    io.ReadCloser
	h    hash.Hash
	want []byte
}

func (b *sha256Body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(b.h.Sum(nil), b.want) {
		return 0, errContentSHA256Mismatch
	}
	return n, err
}

func (b *sha256Body) Close() error { return b.r.Close() }

// chunkedReader decodes aws-chunked bodies, verifying each chunk's signature
// before releasing its bytes, and records trailing headers.
type chunkedReader struct {
	br       *bufio.Reader
	c        io.Closer
	res      *authResult
	prevSig  string
	signed   bool
	trailer  bool
	buf      []byte // verified bytes of the current chunk not yet read
	left     int64  // unsigned mode: bytes left in the current chunk
	decoded  int64
	want     int64
	done     bool
	err      error
	trailers map[string]string
}

func newChunkedReader(body io.ReadCloser, res *authResult, decodedLength int64) *chunkedReader {
	return &chunkedReader{
		br: bufio.NewReaderSize(body, 64<<10), c: body, res: res, prevSig: res.signature,
		signed:   res.Payload != streamingUnsignedTrail,
		trailer:  res.Payload != streamingSigned,
		want:     decodedLength,
		trailers: map[string]string{},
	}
}

func (c *chunkedReader) Close() error { return c.c.Close() }

// Trailers returns the trailing headers, valid after EOF.
func (c *chunkedReader) Trailers() map[string]string { return c.trailers }

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if len(c.buf) > 0 {
			n := copy(p, c.buf)
			c.buf = c.buf[n:]
			return n, nil
		}
		if c.left > 0 {
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			c.left -= int64(n)
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				c.err = fmt.Errorf("%w: %v", errMalformedChunk, err)
			}
			if c.left == 0 && c.err == nil {
				c.err = c.expectCRLF()
			}
			return n, nil
		}
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
		}
	}
}

func (c *chunkedReader) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return errMalformedChunk
	}
	return nil
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil || len(line) < 2 || line[len(line)-2] != '\r' {
		return "", errMalformedChunk
	}
	return string(line[:len(line)-2]), nil
}

func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeHex, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(sizeHex, 16, 64)
	if err != nil || size < 0 || size > maxChunkSize || c.decoded+size > c.want {
		return errMalformedChunk
	}
	if c.signed {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !ok {
			return errSignatureDoesNotMatch
		}
		data := make([]byte, size)
		if _, err := io.ReadFull(c.br, data); err != nil {
			return errMalformedChunk
		}
		sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.res.amzDate + "\n" + c.res.scope + "\n" + c.prevSig + "\n" +
			hexSHA256(nil) + "\n" + hexSHA256(data)
		if !c.checkSig(sts, sig) {
			return errSignatureDoesNotMatch
		}
		c.buf = data
		if size > 0 || !c.trailer {
			if err := c.expectCRLF(); err != nil {
				return err
			}
		}
	} else {
		c.left = size
	}
	c.decoded += size
	if size == 0 {
		c.done = true
		if c.decoded != c.want {
			return errIncompleteBody
		}
		if c.trailer {
			return c.readTrailers()
		}
	}
	return nil
}

func (c *chunkedReader) checkSig(sts, sig string) bool {
	want := hex.EncodeToString(hmacSHA256(c.res.key, []byte(sts)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return false
	}
	c.prevSig = sig
	return true
}

func (c *chunkedReader) readTrailers() error {
	var signedText strings.Builder
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return errMalformedChunk
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "x-amz-trailer-signature" {
			if !c.signed {
				return errMalformedChunk
			}
			sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.res.amzDate + "\n" + c.res.scope + "\n" + c.prevSig + "\n" + hexSHA256([]byte(signedText.String()))
			if !c.checkSig(sts, strings.TrimSpace(value)) {
				return errSignatureDoesNotMatch
			}
			continue
		}
		signedText.WriteString(name + ":" + strings.TrimSpace(value) + "\n")
		if len(c.trailers) > 8 {
			return errMalformedChunk
		}
		c.trailers[name] = strings.TrimSpace(value)
	}
	if c.signed && c.prevSig == c.res.signature {
		return errSignatureDoesNotMatch
	}
	return nil
}

// trailerSource is implemented by bodies that carry trailing checksums.
type trailerSource interface {
	Trailers() map[string]string
}

var _ trailerSource = (*chunkedReader)(nil)

// serveKMS authenticates a KMS JSON API call with SigV4 (service "kms") and
// hands it to the KMS handler with the caller in the context.
func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request) {
	ri := requestInfo(r)
	if err := s.authenticate(r, "kms"); err != nil {
		api, _ := toAPIError(err)
		typ := "UnrecognizedClientException"
		if errors.Is(err, errSignatureDoesNotMatch) || api.Code == "SignatureDoesNotMatch" {
			typ = "InvalidSignatureException"
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, api.Message)
		return
	}
	ctx := kms.WithCaller(r.Context(), kms.Caller{
		AccessKey: ri.auth.AccessKey, ARN: ri.auth.ARN, RequestID: ri.id, SourceIP: sourceIP(r),
	})
	s.deps.KMSAPI.ServeHTTP(w, r.WithContext(ctx))
}
