package sigv4

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// authParams is what the Authorization header or a presigned query holds.
type authParams struct {
	accessKey     string
	day           string // yyyymmdd from the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func (a *authParams) scope() string {
	return a.day + "/" + a.region + "/" + a.service + "/aws4_request"
}

// parseCredential splits "AKID/20260101/us-east-1/s3/aws4_request". The
// access key is everything before the last four fields, so keys that
// contain '/' still parse.
func parseCredential(s string, a *authParams, malformed error) error {
	parts := strings.Split(s, "/")
	if len(parts) < 5 {
		return newErr(malformed, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	n := len(parts)
	a.accessKey = strings.Join(parts[:n-4], "/")
	a.day, a.region, a.service = parts[n-4], parts[n-3], parts[n-2]
	if parts[n-1] != "aws4_request" || a.accessKey == "" || a.region == "" || a.service == "" {
		return newErr(malformed, "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if _, err := time.Parse(yyyymmdd, a.day); err != nil {
		return newErr(malformed, "the Credential is mal-formed; the date is not in YYYYMMDD format.")
	}
	return nil
}

// parseSignedHeaders accepts a ';'-separated list of lower-case names
// without duplicates that includes host.
func parseSignedHeaders(s string, malformed error) ([]string, error) {
	if s == "" {
		return nil, newErr(malformed, "SignedHeaders is empty.")
	}
	names := strings.Split(s, ";")
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || n != strings.ToLower(n) || seen[n] {
			return nil, newErr(malformed, "SignedHeaders is mal-formed.")
		}
		seen[n] = true
	}
	if !seen["host"] {
		// The host must be signed or a signature could be replayed against
		// another endpoint.
		return nil, newErr(ErrAccessDenied, "Host must be a signed header.")
	}
	return names, nil
}

func isHexSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
func parseAuthorization(h string) (*authParams, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case alg == "AWS" || alg == "AWS4-ECDSA-P256-SHA256":
		return nil, newErr(ErrUnsupportedAlgorithm, msgUnsupported)
	case alg != algorithm:
		return nil, newErr(ErrUnsupportedAlgorithm, msgUnsupported)
	case !ok:
		return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; the authorization component \""+truncate(f)+"\" is malformed.")
		}
		if _, dup := fields[k]; dup {
			return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; duplicate component.")
		}
		fields[k] = v
	}
	if len(fields) != 3 || fields["Credential"] == "" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return nil, newErr(ErrAuthorizationHeaderMalformed, "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	a := &authParams{signature: fields["Signature"]}
	if err := parseCredential(fields["Credential"], a, ErrAuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	sh, err := parseSignedHeaders(fields["SignedHeaders"], ErrAuthorizationHeaderMalformed)
	if err != nil {
		return nil, err
	}
	a.signedHeaders = sh
	return a, nil
}

// presign holds the presigned-URL specific values.
type presign struct {
	date    time.Time
	expires time.Duration
}

// parsePresigned parses the X-Amz-* query parameters of a presigned URL.
func parsePresigned(q url.Values) (*authParams, *presign, error) {
	bad := func(msg string) error { return newErr(ErrAuthorizationQueryParameters, msg) }
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, nil, bad("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if len(q[k]) != 1 || q[k][0] == "" {
			return nil, nil, bad("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	a := &authParams{signature: q.Get("X-Amz-Signature")}
	if err := parseCredential(q.Get("X-Amz-Credential"), a, ErrAuthorizationQueryParameters); err != nil {
		return nil, nil, err
	}
	sh, err := parseSignedHeaders(q.Get("X-Amz-SignedHeaders"), ErrAuthorizationQueryParameters)
	if err != nil {
		return nil, nil, err
	}
	a.signedHeaders = sh
	date, err := time.Parse(iso8601Format, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, nil, bad("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	exp, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	switch {
	case err != nil:
		return nil, nil, bad("X-Amz-Expires should be a number")
	case exp < 0:
		return nil, nil, bad("X-Amz-Expires must be non-negative")
	case exp == 0:
		return nil, nil, bad("X-Amz-Expires must be greater than 0")
	case exp > 604800:
		return nil, nil, bad("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	return a, &presign{date: date, expires: time.Duration(exp) * time.Second}, nil
}

// truncate keeps client-echoed fragments short in messages.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
