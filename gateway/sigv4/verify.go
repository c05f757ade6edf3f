package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Credentials resolves an access key to its secret key.
type Credentials interface {
	Lookup(accessKey string) (secret string, ok bool)
}

// CredentialsFunc adapts a function to Credentials.
type CredentialsFunc func(accessKey string) (string, bool)

// Lookup calls f.
func (f CredentialsFunc) Lookup(accessKey string) (string, bool) { return f(accessKey) }

// Options configure Verify.
type Options struct {
	Region   string   // the gateway's region; scopes naming another are refused
	Services []string // accepted scope services, e.g. {"s3"} or {"kms"}
	Now      func() time.Time
	MaxSkew  time.Duration // 0 means 15 minutes
	// MaxHashedBody bounds the body Verify reads itself when a service
	// sends no x-amz-content-sha256 (KMS). 0 means 1 MiB.
	MaxHashedBody int64
}

// Payload hash modes, the values of x-amz-content-sha256.
const (
	UnsignedPayload               = "UNSIGNED-PAYLOAD"
	StreamingSignedPayload        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedPayloadTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer      = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Result is an authenticated request. It holds the signing key needed to
// verify aws-chunked signatures; String, GoString and LogValue hide it.
type Result struct {
	AccessKey string
	Region    string
	Service   string
	Date      time.Time // the signed request time (X-Amz-Date)
	Presigned bool
	// PayloadHash is the signed x-amz-content-sha256: one of the constants
	// above or 64 lower-case hex digits.
	PayloadHash string

	key     []byte // signing key for Date's day, Region, Service
	seedSig string // the request signature; chains the chunk signatures
	scope   string
}

// Streaming reports whether the body is aws-chunked.
func (r *Result) Streaming() bool { return strings.HasPrefix(r.PayloadHash, "STREAMING-") }

func (r *Result) String() string {
	return fmt.Sprintf("sigv4.Result{AccessKey:%s Region:%s Service:%s Presigned:%t PayloadHash:%s}",
		r.AccessKey, r.Region, r.Service, r.Presigned, r.PayloadHash)
}

// GoString hides the signing key from %#v.
func (r *Result) GoString() string { return r.String() }

// LogValue hides the signing key from slog.
func (r *Result) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", r.AccessKey), slog.String("service", r.Service),
		slog.Bool("presigned", r.Presigned), slog.String("payload", r.PayloadHash))
}

// Verify authenticates r with AWS Signature Version 4, in the Authorization
// header or as a presigned URL. On success the caller must read the body
// through NewPayloadReader (which verifies the payload hash or the chunk
// signatures); Verify itself only reads the body when the service sends no
// x-amz-content-sha256 (KMS), in which case r.Body is replaced by the
// buffered copy.
func Verify(r *http.Request, creds Credentials, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 15 * time.Minute
	}
	if opts.MaxHashedBody == 0 {
		opts.MaxHashedBody = 1 << 20
	}
	q := r.URL.Query()
	auth := r.Header.Get("Authorization")
	switch {
	case len(r.Header.Values("Authorization")) > 1:
		// Two Authorization headers: a proxy and the gateway could
		// disagree about which one counts.
		return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; only one Authorization header is allowed.")
	case auth != "":
		if q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential") {
			return nil, newErr(ErrAuthorizationQueryParameters, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		}
		return verifyHeader(r, auth, creds, opts)
	case q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential"):
		return verifyPresigned(r, q, creds, opts)
	case q.Has("AWSAccessKeyId") && q.Has("Signature"):
		return nil, newErr(ErrUnsupportedAlgorithm, msgUnsupported)
	default:
		return nil, newErr(ErrMissingAuth, msgAnonymous)
	}
}

func verifyHeader(r *http.Request, auth string, creds Credentials, opts Options) (*Result, error) {
	a, err := parseAuthorization(auth)
	if err != nil {
		return nil, err
	}
	if err := checkScope(a, opts, ErrAuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	date, err := requestDate(r)
	if err != nil {
		return nil, err
	}
	if date.Format(yyyymmdd) != a.day {
		return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return nil, newErr(ErrInvalidToken, msgToken)
	}
	secret, ok := creds.Lookup(a.accessKey)
	if !ok {
		return nil, newErr(ErrInvalidAccessKeyID, msgAccessKey)
	}
	if now := opts.Now(); date.Sub(now) > opts.MaxSkew || now.Sub(date) > opts.MaxSkew {
		return nil, newErr(ErrRequestTimeTooSkewed, msgSkewed)
	}
	payload, err := headerPayloadHash(r, a.service, opts.MaxHashedBody)
	if err != nil {
		return nil, err
	}
	if err := checkUnsigned(r, a.signedHeaders, false); err != nil {
		return nil, err
	}
	return finish(r, a, secret, date, payload, r.URL.RawQuery, false)
}

func verifyPresigned(r *http.Request, q map[string][]string, creds Credentials, opts Options) (*Result, error) {
	a, p, err := parsePresigned(q)
	if err != nil {
		return nil, err
	}
	if err := checkScope(a, opts, ErrAuthorizationQueryParameters); err != nil {
		return nil, err
	}
	if p.date.Format(yyyymmdd) != a.day {
		return nil, newErr(ErrAuthorizationQueryParameters, "Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if len(q["X-Amz-Security-Token"]) > 0 || r.Header.Get("X-Amz-Security-Token") != "" {
		return nil, newErr(ErrInvalidToken, msgToken)
	}
	secret, ok := creds.Lookup(a.accessKey)
	if !ok {
		return nil, newErr(ErrInvalidAccessKeyID, msgAccessKey)
	}
	now := opts.Now()
	if p.date.Sub(now) > opts.MaxSkew {
		return nil, newErr(ErrAccessDenied, msgNotYetValid)
	}
	if now.Sub(p.date) > p.expires {
		return nil, newErr(ErrAccessDenied, msgExpired)
	}
	if err := checkUnsigned(r, a.signedHeaders, true); err != nil {
		return nil, err
	}
	// Presigned URLs sign UNSIGNED-PAYLOAD unless the signer put a hash in
	// the query (then it is part of the signed query string).
	payload := UnsignedPayload
	if v := q["X-Amz-Content-Sha256"]; len(v) == 1 {
		payload = v[0]
		if !validPayloadHash(payload) {
			return nil, newErr(ErrInvalidContentSHA256, msgInvalidSHA)
		}
	}
	return finish(r, a, secret, p.date, payload, r.URL.RawQuery, true)
}

// finish computes the signature over every canonical URI candidate and
// compares in constant time.
func finish(r *http.Request, a *authParams, secret string, date time.Time, payload, rawQuery string, presigned bool) (*Result, error) {
	cq, err := canonicalQuery(rawQuery, presigned)
	if err != nil {
		return nil, newErr(ErrSignatureDoesNotMatch, msgSignature)
	}
	key := signingKey(secret, date, a.region, a.service)
	scope := a.scope()
	headers := canonicalHeaders(r, a.signedHeaders)
	signed := strings.Join(a.signedHeaders, ";")
	match := false
	for _, uri := range canonicalURIs(r, a.service) {
		creq := r.Method + "\n" + uri + "\n" + cq + "\n" + headers + "\n" + signed + "\n" + payload
		sig := hex.EncodeToString(hmacSHA256(key, stringToSign(date, scope, creq)))
		// Constant time; evaluate every candidate so timing does not say
		// which one matched.
		if hmac.Equal([]byte(sig), []byte(a.signature)) {
			match = true
		}
	}
	if !match {
		return nil, newErr(ErrSignatureDoesNotMatch, msgSignature)
	}
	return &Result{
		AccessKey: a.accessKey, Region: a.region, Service: a.service, Date: date,
		Presigned: presigned, PayloadHash: payload,
		key: key, seedSig: a.signature, scope: scope,
	}, nil
}

func checkScope(a *authParams, opts Options, malformed error) error {
	if !slices.Contains(opts.Services, a.service) {
		want := ""
		if len(opts.Services) > 0 {
			want = opts.Services[0]
		}
		return newErr(malformed, fmt.Sprintf("The authorization header is malformed; incorrect service %q. This endpoint belongs to %q.", truncate(a.service), want))
	}
	if a.region != opts.Region {
		return newErr(ErrInvalidRegion, fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", truncate(a.region), opts.Region))
	}
	return nil
}

// requestDate reads X-Amz-Date, falling back to Date as SigV4 allows.
func requestDate(r *http.Request) (time.Time, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(iso8601Format, v)
		if err != nil {
			return time.Time{}, newErr(ErrMalformedDate, msgDate)
		}
		return t, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, newErr(ErrMalformedDate, msgDate)
		}
		return t.UTC(), nil
	}
	return time.Time{}, newErr(ErrMissingDate, msgDate)
}

// checkUnsigned refuses x-amz-* headers that are present but not signed:
// otherwise anyone on the path could add or change e.g. SSE or metadata
// headers of a signed request (AWS: AccessDenied, "There were headers
// present in the request which were not signed"). In a presigned URL the
// signer cannot know x-amz-content-sha256, which is then ignored.
func checkUnsigned(r *http.Request, signed []string, presigned bool) error {
	for name := range r.Header {
		l := strings.ToLower(name)
		if !strings.HasPrefix(l, "x-amz-") {
			continue
		}
		if presigned && l == "x-amz-content-sha256" {
			continue
		}
		if !slices.Contains(signed, l) {
			return newErr(ErrAccessDenied, msgUnsigned)
		}
	}
	for _, name := range signed {
		if _, ok := headerValues(r, name); !ok {
			// A signed header that is absent would be canonicalised as
			// empty; AWS refuses it.
			return newErr(ErrSignatureDoesNotMatch, msgSignature)
		}
	}
	return nil
}

func validPayloadHash(v string) bool {
	switch v {
	case UnsignedPayload, StreamingSignedPayload, StreamingSignedPayloadTrailer, StreamingUnsignedTrailer:
		return true
	}
	return isHexSignature(v)
}

// headerPayloadHash returns x-amz-content-sha256 for header-signed
// requests. S3 requires it; other services (KMS) hash the body, which is
// small and bounded by max, and put it back for the handler.
func headerPayloadHash(r *http.Request, service string, max int64) (string, error) {
	v := r.Header.Get("X-Amz-Content-Sha256")
	if v != "" {
		if !validPayloadHash(v) {
			return "", newErr(ErrInvalidContentSHA256, msgInvalidSHA)
		}
		return v, nil
	}
	if service == "s3" {
		return "", newErr(ErrMissingContentSHA256, msgMissingSHA)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return emptySHA256, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return "", fmt.Errorf("sigv4: read body: %w", err)
	}
	if int64(len(body)) > max {
		return "", newErr(ErrPayloadTooLarge, msgPayloadTooLarg)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]), nil
}
