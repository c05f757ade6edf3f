// Package checksum verifies the integrity headers of S3 uploads on the
// decoded plaintext: Content-MD5 and the additional checksums
// x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}, sent as a header
// or in the aws-chunked trailer, and x-amz-sdk-checksum-algorithm. It
// always computes the MD5 the gateway needs for ETags.
//
// It knows nothing of HTTP handlers, SigV4 framing, storage or crypto;
// it must not import gateway, store, kms or sse.
//
// Use, after sigv4 has produced the decoded body:
//
//	exp, err := checksum.FromRequest(r.Header)   // before reading the body
//	if err != nil { return err }
//	v := checksum.NewVerifier(body, exp, body.Trailer)
//	// stream v to the encryptor; commit only if Read ended with io.EOF
//	etag := hex.EncodeToString(v.MD5())
//	algo, value := v.Checksum()  // echo as x-amz-checksum-<algo> if algo != ""
//
// Errors (errors.Is) and their S3 mapping; Message(err) is the text:
//
//	ErrInvalidDigest   400 InvalidDigest  (malformed Content-MD5)
//	ErrBadDigest       400 BadDigest      (Content-MD5 or checksum mismatch)
//	ErrInvalidChecksum 400 InvalidRequest (malformed value, several
//	                                       checksums, missing trailer)
//
// Mismatches are reported by Read in place of io.EOF. Comparisons are
// constant time. Multipart composite checksums ("…-N") are not handled
// here.
package checksum
