// Package sigv4 authenticates S3 and KMS requests signed with AWS
// Signature Version 4 and decodes their bodies: the Authorization header
// form, presigned URLs, signed payloads (x-amz-content-sha256) and
// aws-chunked streaming uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// …-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER).
//
// It owns authentication only: no routing, no XML, no S3 error bodies. It
// must not import gateway, store, kms or sse.
//
// Use from a handler:
//
//	res, err := sigv4.Verify(r, creds, sigv4.Options{Region: cfg.Region, Services: []string{"s3"}})
//	if err != nil { return err } // map with the table below
//	body, err := sigv4.NewPayloadReader(r, res)
//	if err != nil { return err }
//	// read body (body.Size() is the decoded length); only a nil error at
//	// io.EOF means the payload is authentic. After EOF body.Trailer()
//	// holds e.g. "x-amz-checksum-crc32" for package checksum.
//
// Errors are sentinels (errors.Is); Message(err) is the client-safe text.
// The gateway's error table should map them as AWS does:
//
//	ErrMissingAuth                   403 AccessDenied
//	ErrAccessDenied                  403 AccessDenied (expired presign, unsigned x-amz-* headers)
//	ErrMissingDate, ErrMalformedDate 403 AccessDenied
//	ErrSignatureDoesNotMatch         403 SignatureDoesNotMatch (also bad chunk/trailer signature)
//	ErrInvalidAccessKeyID            403 InvalidAccessKeyId
//	ErrRequestTimeTooSkewed          403 RequestTimeTooSkewed
//	ErrInvalidToken                  403 InvalidToken
//	ErrAuthorizationHeaderMalformed  400 AuthorizationHeaderMalformed
//	ErrInvalidRegion                 400 AuthorizationHeaderMalformed (+ <Region> = cfg.Region)
//	ErrAuthorizationQueryParameters  400 AuthorizationQueryParametersError
//	ErrUnsupportedAlgorithm          400 InvalidRequest (SigV2, SigV4a)
//	ErrMissingContentSHA256          400 InvalidRequest
//	ErrInvalidContentSHA256          400 InvalidArgument
//	ErrContentSHA256Mismatch         400 XAmzContentSHA256Mismatch
//	ErrIncompleteBody                400 IncompleteBody
//	ErrMalformedTrailer              400 MalformedTrailerError
//	ErrInvalidChunkSize              403 InvalidChunkSizeError
//	ErrMissingDecodedContentLength   411 MissingContentLength
//	ErrPayloadTooLarge               413 RequestEntityTooLarge (KMS only)
//
// Security decisions: every signature comparison is constant time; host
// must be signed; every x-amz-* header present must be signed (else a
// relay could inject SSE or metadata headers); X-Amz-Security-Token is
// refused because ssegate issues no temporary credentials; a signed
// aws-chunked chunk is buffered (at most MaxChunkSize, growing with the
// bytes received) and released only after its chained signature is
// verified; every failure is returned by Read before io.EOF. Result
// carries the signing key and hides it from fmt and slog.
//
// Package sigv4test signs requests independently of this package for
// tests, including tampered and malformed ones.
package sigv4
