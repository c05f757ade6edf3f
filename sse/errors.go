package sse

import "errors"

// Sentinel errors. The comment on each names the S3 error (status, code) the
// gateway should answer with; the gateway owns the final mapping table.
var (
	// ErrKeyMismatch: the SSE-C key presented is not the object's key.
	// 403 AccessDenied.
	ErrKeyMismatch = errors.New("sse: encryption key does not match")
	// ErrTampered: the sealed key, metadata MAC or ciphertext failed
	// authentication, or the ciphertext was truncated or extended. This is
	// data corruption or an attack on the backend. 500 InternalError.
	ErrTampered = errors.New("sse: stored object failed authentication")
	// ErrBadMetadata: the encryption metadata is missing, malformed or of an
	// unknown version. 500 InternalError.
	ErrBadMetadata = errors.New("sse: malformed encryption metadata")
	// ErrNotSealed: Encode was called before SealKey/UnsealKey. A programming
	// error. 500 InternalError.
	ErrNotSealed = errors.New("sse: metadata has no sealed key")
	// ErrUnsupported: the object uses a feature this version does not
	// implement (compression). 501 NotImplemented.
	ErrUnsupported = errors.New("sse: unsupported object format feature")
	// ErrInvalidRange: the requested range is not satisfiable.
	// 416 InvalidRange.
	ErrInvalidRange = errors.New("sse: requested range not satisfiable")

	// Header errors (ParsePutHeaders, ParseSSECHeaders).

	// ErrInvalidSSEAlgorithm: x-amz-server-side-encryption is neither AES256
	// nor aws:kms. 400 InvalidArgument.
	ErrInvalidSSEAlgorithm = errors.New("sse: invalid server-side encryption algorithm")
	// ErrDSSENotSupported: aws:kms:dsse is requested. 501 NotImplemented.
	ErrDSSENotSupported = errors.New("sse: aws:kms:dsse is not supported")
	// ErrInvalidSSECAlgorithm: the customer algorithm is not AES256.
	// 400 InvalidEncryptionAlgorithmError.
	ErrInvalidSSECAlgorithm = errors.New("sse: customer-provided key algorithm must be AES256")
	// ErrMissingSSECHeaders: only part of the SSE-C triple was sent.
	// 400 InvalidArgument.
	ErrMissingSSECHeaders = errors.New("sse: SSE-C requires algorithm, key and key MD5 headers")
	// ErrInvalidSSECKey: the customer key is not base64 of exactly 32 bytes.
	// 400 InvalidArgument.
	ErrInvalidSSECKey = errors.New("sse: customer-provided key is invalid for AES256")
	// ErrSSECKeyMD5Mismatch: the key MD5 header does not match the key.
	// 400 InvalidArgument.
	ErrSSECKeyMD5Mismatch = errors.New("sse: customer-provided key MD5 does not match the key")
	// ErrConflictingSSEHeaders: SSE-C together with SSE-S3/SSE-KMS.
	// 400 InvalidArgument.
	ErrConflictingSSEHeaders = errors.New("sse: SSE-C cannot be combined with x-amz-server-side-encryption")
	// ErrKMSKeyWithAES256: a KMS key id, encryption context or bucket-key
	// header without x-amz-server-side-encryption: aws:kms.
	// 400 InvalidArgument.
	ErrKMSKeyWithAES256 = errors.New("sse: KMS parameters require x-amz-server-side-encryption: aws:kms")
	// ErrInvalidEncryptionContext: the context is not base64 of a JSON
	// object of strings. 400 InvalidArgument.
	ErrInvalidEncryptionContext = errors.New("sse: encryption context must be base64 of a JSON object of strings")
	// ErrInvalidBucketKeyHeader: bucket-key-enabled is not true/false.
	// 400 InvalidArgument.
	ErrInvalidBucketKeyHeader = errors.New("sse: bucket-key-enabled must be true or false")
)

// ErrInvalidPartNumber: GET ?partNumber=n names no part of the object.
// 416 InvalidPartNumber.
var ErrInvalidPartNumber = errors.New("sse: requested part number is not satisfiable")
