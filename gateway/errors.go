package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/ssegate/ssegate/gateway/checksum"
	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// apiError is an S3 error as the client sees it. Handlers return these
// directly for request validation, or return sentinel errors from the
// packages below, which errorTable maps.
type apiError struct {
	Code    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// with returns a copy of e with a more specific message. Messages must never
// carry secrets or internal detail.
func (e *apiError) with(msg string) *apiError {
	c := *e
	c.Message = msg
	return &c
}

// The S3 errors the gateway produces, with AWS's status and default message.
var (
	errAccessDenied           = &apiError{"AccessDenied", 403, "Access Denied"}
	errBadDigest              = &apiError{"BadDigest", 400, "The Content-MD5 or checksum value that you specified did not match what the server received."}
	errBucketAlreadyOwned     = &apiError{"BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it."}
	errBucketNotEmpty         = &apiError{"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"}
	errBucketAlreadyExists    = &apiError{"BucketAlreadyExists", 409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."}
	errMalformedPolicy        = &apiError{"MalformedPolicy", 400, "Policies must be valid JSON and the first byte must be '{'"}
	errNoSuchBucketPolicy     = &apiError{"NoSuchBucketPolicy", 404, "The bucket policy does not exist"}
	errEntityTooLarge         = &apiError{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size."}
	errEntityTooSmall         = &apiError{"EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size."}
	errIncompleteBody         = &apiError{"IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."}
	errInternal               = &apiError{"InternalError", 500, "We encountered an internal error. Please try again."}
	errInvalidArgument        = &apiError{"InvalidArgument", 400, "Invalid Argument"}
	errInvalidBucketName      = &apiError{"InvalidBucketName", 400, "The specified bucket is not valid."}
	errInvalidDigest          = &apiError{"InvalidDigest", 400, "The Content-MD5 you specified is not valid."}
	errInvalidLocation        = &apiError{"InvalidLocationConstraint", 400, "The specified location-constraint is not valid"}
	errInvalidPart            = &apiError{"InvalidPart", 400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."}
	errInvalidPartOrder       = &apiError{"InvalidPartOrder", 400, "The list of parts was not in ascending order. Parts must be ordered by part number."}
	errInvalidRange           = &apiError{"InvalidRange", 416, "The requested range is not satisfiable"}
	errInvalidRequest         = &apiError{"InvalidRequest", 400, "Invalid Request"}
	errInvalidTag             = &apiError{"InvalidTag", 400, "The TagValue you have provided is invalid"}
	errKeyTooLong             = &apiError{"KeyTooLongError", 400, "Your key is too long"}
	errMalformedXML           = &apiError{"MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema."}
	errMetadataTooLarge       = &apiError{"MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."}
	errMethodNotAllowed       = &apiError{"MethodNotAllowed", 405, "The specified method is not allowed against this resource."}
	errMissingContentLength   = &apiError{"MissingContentLength", 411, "You must provide the Content-Length HTTP header."}
	errNoSuchBucket           = &apiError{"NoSuchBucket", 404, "The specified bucket does not exist"}
	errNoSuchKey              = &apiError{"NoSuchKey", 404, "The specified key does not exist."}
	errNoSuchTagSet           = &apiError{"NoSuchTagSet", 404, "The TagSet does not exist"}
	errNoSuchUpload           = &apiError{"NoSuchUpload", 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	errNotImplemented         = &apiError{"NotImplemented", 501, "A header you provided implies functionality that is not implemented."}
	errNotModified            = &apiError{"NotModified", 304, "Not Modified"}
	errPreconditionFailed     = &apiError{"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"}
	errServiceUnavailable     = &apiError{"ServiceUnavailable", 503, "Please reduce your request rate."}
	errSignatureDoesNotMatch  = &apiError{"SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."}
	errInvalidAccessKeyID     = &apiError{"InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."}
	errRequestTimeTooSkewed   = &apiError{"RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large."}
	errAuthHeaderMalformed    = &apiError{"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."}
	errAuthQueryMalformed     = &apiError{"AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."}
	errContentSHA256Mismatch  = &apiError{"XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed."}
	errInvalidContentSHA256   = &apiError{"InvalidArgument", 400, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-* or a valid sha256 value."}
	errMissingSecurityHeader  = &apiError{"MissingSecurityHeader", 400, "Your request is missing a required header."}
	errTooManyKeys            = &apiError{"MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema (more than 1000 keys)."}
	errInvalidStorageClass    = &apiError{"InvalidStorageClass", 400, "The storage class you specified is not valid"}
	errInvalidObjectName      = &apiError{"InvalidArgument", 400, "Object key is not valid UTF-8 or is empty."}
	errMaxMessageLengthExceed = &apiError{"MaxMessageLengthExceeded", 400, "Your request was too big."}
)

// errorTable maps the sentinel errors of our packages to S3 errors. It is
// the only place where that mapping lives; the first match wins.
var errorTable = []struct {
	err error
	api *apiError
}{
	{store.ErrNoSuchBucket, errNoSuchBucket},
	{store.ErrBucketExists, errBucketAlreadyOwned},
	{store.ErrBucketNotEmpty, errBucketNotEmpty},
	{store.ErrNotFound, errNoSuchKey},
	{store.ErrNoSuchUpload, errNoSuchUpload},
	{store.ErrInvalidPart, errInvalidPart},
	{store.ErrInvalidRange, errInvalidRange},
	{store.ErrInvalidKey, errInvalidObjectName},
	{store.ErrInvalidBucket, errInvalidBucketName},
	{store.ErrIncompleteBody, errIncompleteBody},
	{store.ErrUnavailable, errServiceUnavailable},
	{store.ErrPreconditionFail, errPreconditionFailed},
	{errObjectChanged, &apiError{"OperationAborted", 409, "A conflicting conditional operation is currently in progress against this resource. Please try again."}},

	// Authentication (gateway/sigv4); the message comes from the error.
	{sigv4.ErrMissingAuth, errAccessDenied},
	{sigv4.ErrAccessDenied, errAccessDenied},
	{sigv4.ErrMissingDate, errAccessDenied},
	{sigv4.ErrMalformedDate, errAccessDenied},
	{sigv4.ErrSignatureDoesNotMatch, errSignatureDoesNotMatch},
	{sigv4.ErrInvalidAccessKeyID, errInvalidAccessKeyID},
	{sigv4.ErrRequestTimeTooSkewed, errRequestTimeTooSkewed},
	{sigv4.ErrAuthorizationHeaderMalformed, errAuthHeaderMalformed},
	{sigv4.ErrAuthorizationQueryParameters, errAuthQueryMalformed},
	{sigv4.ErrInvalidRegion, errAuthHeaderMalformed},
	{sigv4.ErrUnsupportedAlgorithm, errInvalidRequest},
	{sigv4.ErrInvalidToken, &apiError{"InvalidToken", 403, "The provided token is malformed or otherwise invalid."}},
	{sigv4.ErrMissingContentSHA256, errInvalidRequest},
	{sigv4.ErrInvalidContentSHA256, errInvalidContentSHA256},
	{sigv4.ErrContentSHA256Mismatch, errContentSHA256Mismatch},
	{sigv4.ErrPayloadTooLarge, errMaxMessageLengthExceed},
	{sigv4.ErrMissingDecodedContentLength, errMissingContentLength},
	{sigv4.ErrIncompleteBody, errIncompleteBody},
	{sigv4.ErrInvalidChunkSize, &apiError{"InvalidChunkSizeError", 403, "Only chunks of up to 16 MiB are supported."}},
	{sigv4.ErrMalformedTrailer, &apiError{"MalformedTrailerError", 400, "The request contained trailing data that was not well-formed or did not conform to our published schema."}},

	// Integrity (gateway/checksum); the message comes from the error.
	{checksum.ErrInvalidDigest, errInvalidDigest},
	{checksum.ErrBadDigest, errBadDigest},
	{checksum.ErrInvalidChecksum, errInvalidRequest},

	// AWS passes KMS errors through to S3 clients as KMS.<type>.
	{kms.ErrNotFound, &apiError{"KMS.NotFoundException", 400, "Invalid keyId"}},
	{kms.ErrDisabled, &apiError{"KMS.DisabledException", 400, "The KMS key is disabled."}},
	{kms.ErrInvalidState, &apiError{"KMS.KMSInvalidStateException", 400, "The KMS key is not in a valid state for this operation."}},
	{kms.ErrAccessDenied, &apiError{"AccessDenied", 403, "Access Denied"}},
	{kms.ErrInvalidKeyUsage, &apiError{"KMS.InvalidKeyUsageException", 400, "The KMS key cannot be used for server-side encryption: it is not a symmetric encryption key."}},
	{kms.ErrThrottled, &apiError{"SlowDown", 503, "Please reduce your request rate."}},
	{kms.ErrValidation, &apiError{"InvalidArgument", 400, "The KMS request was not valid."}},

	// Encryption (sse). Stored data that fails authentication is never a
	// client mistake: 500, with the detail in the log only.
	{sse.ErrKeyMismatch, errAccessDenied},
	{sse.ErrInvalidRange, errInvalidRange},
	{sse.ErrInvalidPartNumber, errInvalidPartNumber},
	{sse.ErrUnsupported, errNotImplemented.with("The object uses a feature this server does not support.")},
	{sse.ErrDSSENotSupported, errNotImplemented.with("Server-side encryption with aws:kms:dsse is not supported.")},
	{sse.ErrInvalidSSECAlgorithm, &apiError{"InvalidEncryptionAlgorithmError", 400, "The encryption request you specified is not valid. The valid value is AES256."}},
	{sse.ErrInvalidSSEAlgorithm, errInvalidArgument.with("The encryption method specified is not supported")},
	{sse.ErrMissingSSECHeaders, errInvalidArgument.with("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")},
	{sse.ErrInvalidSSECKey, errInvalidArgument.with("The secret key was invalid for the specified algorithm.")},
	{sse.ErrSSECKeyMD5Mismatch, errInvalidArgument.with("The calculated MD5 hash of the key did not match the hash that was provided.")},
	{sse.ErrConflictingSSEHeaders, errInvalidArgument.with("Server Side Encryption with Customer provided key is incompatible with the encryption method specified")},
	{sse.ErrKMSKeyWithAES256, errInvalidArgument.with("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms")},
	{sse.ErrInvalidEncryptionContext, errInvalidArgument.with("The header 'x-amz-server-side-encryption-context' must be base64 of a JSON object of strings.")},
	{sse.ErrInvalidBucketKeyHeader, errInvalidArgument.with("The header 'x-amz-server-side-encryption-bucket-key-enabled' must be true or false.")},
	{sse.ErrSSEHeaderOnRead, errInvalidArgument.with("x-amz-server-side-encryption header is not supported for this operation.")},

	// A client that goes away is not our fault; the status is never seen.
	{context.Canceled, &apiError{"RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period."}},
}

// toAPIError maps any error a handler returned to the S3 error to send.
// Unknown errors are internal: the client sees a bare InternalError and the
// detail goes to the log only (internal is true).
func toAPIError(err error) (api *apiError, internal bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, false
	}
	for _, m := range errorTable {
		if errors.Is(err, m.err) {
			if msg := sigv4.Message(err) + checksum.Message(err); msg != "" {
				return m.api.with(msg), false
			}
			return m.api, false
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errMaxMessageLengthExceed, false
	}
	return errInternal, true
}
