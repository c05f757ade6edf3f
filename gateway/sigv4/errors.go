package sigv4

import "errors"

// Sentinel errors. Each is documented with the S3 error code and HTTP status
// the gateway's error table should map it to; the client-facing message is
// available from Message(err). No error text ever contains a secret, a
// signing key or a computed signature.
var (
	// ErrMissingAuth: the request carries no SigV4 authentication at all
	// (anonymous). 403 AccessDenied "Access Denied".
	ErrMissingAuth = errors.New("sigv4: request is not authenticated")

	// ErrAccessDenied: authentication was understood but refused for a
	// reason AWS reports as access denied: an expired presigned URL
	// ("Request has expired"), a presigned URL dated in the future, or x-amz-*
	// headers that were sent but not signed. 403 AccessDenied.
	ErrAccessDenied = errors.New("sigv4: access denied")

	// ErrMissingDate: header authentication without X-Amz-Date or Date.
	// 403 AccessDenied "AWS authentication requires a valid Date or x-amz-date header".
	ErrMissingDate = errors.New("sigv4: missing request date")

	// ErrMalformedDate: X-Amz-Date/Date cannot be parsed (header form).
	// 403 AccessDenied, same message as ErrMissingDate (AWS does not
	// distinguish). In a presigned URL a bad X-Amz-Date is
	// ErrAuthorizationQueryParameters instead.
	ErrMalformedDate = errors.New("sigv4: malformed request date")

	// ErrSignatureDoesNotMatch: the signature (seed, chunk or trailer) is
	// wrong. 403 SignatureDoesNotMatch.
	ErrSignatureDoesNotMatch = errors.New("sigv4: signature does not match")

	// ErrInvalidAccessKeyID: the access key is unknown. 403 InvalidAccessKeyId.
	ErrInvalidAccessKeyID = errors.New("sigv4: unknown access key")

	// ErrRequestTimeTooSkewed: X-Amz-Date is more than MaxSkew away from the
	// server clock (header form). 403 RequestTimeTooSkewed.
	ErrRequestTimeTooSkewed = errors.New("sigv4: request time too skewed")

	// ErrAuthorizationHeaderMalformed: the Authorization header or its
	// credential scope cannot be parsed, or the scope names the wrong
	// service or date. 400 AuthorizationHeaderMalformed.
	ErrAuthorizationHeaderMalformed = errors.New("sigv4: malformed authorization header")

	// ErrAuthorizationQueryParameters: a presigned URL's X-Amz-* parameters
	// are missing or invalid (including X-Amz-Expires outside 1..604800 and
	// an X-Amz-Algorithm other than AWS4-HMAC-SHA256).
	// 400 AuthorizationQueryParametersError.
	ErrAuthorizationQueryParameters = errors.New("sigv4: malformed presigned query parameters")

	// ErrInvalidRegion: the credential scope names another region than the
	// gateway's. 400 AuthorizationHeaderMalformed; the message names the
	// expected region and the gateway should also put it in <Region>.
	ErrInvalidRegion = errors.New("sigv4: wrong region in credential scope")

	// ErrUnsupportedAlgorithm: SigV2 (header "AWS ak:sig" or query
	// AWSAccessKeyId/Signature) or SigV4a in the Authorization header.
	// 400 InvalidRequest "The authorization mechanism you have provided is
	// not supported. Please use AWS4-HMAC-SHA256."
	ErrUnsupportedAlgorithm = errors.New("sigv4: unsupported authorization mechanism")

	// ErrInvalidToken: an X-Amz-Security-Token was sent. ssegate issues no
	// temporary credentials, so any token is invalid (AWS answers the same
	// when a token accompanies long-term keys). 403 InvalidToken.
	ErrInvalidToken = errors.New("sigv4: security tokens are not supported")

	// ErrMissingContentSHA256: an S3 request signed in the header without
	// x-amz-content-sha256. 400 InvalidRequest "Missing required header for
	// this request: x-amz-content-sha256".
	ErrMissingContentSHA256 = errors.New("sigv4: missing x-amz-content-sha256")

	// ErrInvalidContentSHA256: x-amz-content-sha256 is neither a known mode
	// nor 64 hex digits. 400 InvalidArgument.
	ErrInvalidContentSHA256 = errors.New("sigv4: invalid x-amz-content-sha256")

	// ErrContentSHA256Mismatch: the body does not hash to the signed
	// x-amz-content-sha256. Returned by Read before EOF.
	// 400 XAmzContentSHA256Mismatch.
	ErrContentSHA256Mismatch = errors.New("sigv4: body does not match x-amz-content-sha256")

	// ErrPayloadTooLarge: a request without x-amz-content-sha256 (KMS API)
	// whose body exceeds Options.MaxHashedBody. 413 (KMS: ValidationException);
	// S3 requests never reach this because they must send the header.
	ErrPayloadTooLarge = errors.New("sigv4: body too large to hash")

	// ErrMissingDecodedContentLength: an aws-chunked request without a valid
	// x-amz-decoded-content-length. 411 MissingContentLength.
	ErrMissingDecodedContentLength = errors.New("sigv4: missing x-amz-decoded-content-length")

	// ErrIncompleteBody: the aws-chunked stream ends early, has malformed
	// framing, or decodes to another length than
	// x-amz-decoded-content-length. 400 IncompleteBody.
	ErrIncompleteBody = errors.New("sigv4: incomplete or malformed aws-chunked body")

	// ErrInvalidChunkSize: an aws-chunked chunk is larger than MaxChunkSize.
	// 403 InvalidChunkSizeError.
	ErrInvalidChunkSize = errors.New("sigv4: invalid chunk size")

	// ErrMalformedTrailer: the aws-chunked trailer is missing, malformed,
	// has undeclared names or lacks declared ones. 400 MalformedTrailerError.
	ErrMalformedTrailer = errors.New("sigv4: malformed trailer")
)

// Error is an authentication failure: Unwrap gives the sentinel (use
// errors.Is), Message the client-safe AWS-style message.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string { return e.kind.Error() + ": " + e.msg }

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.kind }

// Message is the message to put into the S3 error body. It never contains
// secrets.
func (e *Error) Message() string { return e.msg }

func newErr(kind error, msg string) error { return &Error{kind: kind, msg: msg} }

// Message returns the client-facing message of an error from this package,
// or "" if err is not one.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.msg
	}
	return ""
}

// Client-facing messages AWS uses.
const (
	msgExpired        = "Request has expired"
	msgNotYetValid    = "Request is not valid yet"
	msgDate           = "AWS authentication requires a valid Date or x-amz-date header"
	msgSignature      = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgAccessKey      = "The AWS Access Key Id you provided does not exist in our records."
	msgSkewed         = "The difference between the request time and the current time is too large."
	msgUnsupported    = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
	msgToken          = "The provided token is malformed or otherwise invalid."
	msgUnsigned       = "There were headers present in the request which were not signed"
	msgContentSHA     = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgIncomplete     = "You did not provide the number of bytes specified by the Content-Length HTTP header."
	msgChunkSize      = "Only chunks of up to 16 MiB are supported."
	msgTrailer        = "The request contained trailing data that was not well-formed or did not conform to our published schema."
	msgAnonymous      = "Access Denied."
	msgDecodedLength  = "You must provide the Content-Length HTTP header."
	msgMissingSHA     = "Missing required header for this request: x-amz-content-sha256"
	msgInvalidSHA     = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value."
	msgPayloadTooLarg = "Request body too large."
)
