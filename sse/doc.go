// Package sse is ssegate's encryption format: key hierarchy, sealed object
// keys, the DARE 2.0 body streams, range planning, the metadata entry kept
// with each object, and parsing of the S3 SSE request headers.
//
// It is a pure library: no HTTP server, no backend, no KMS. Callers supply
// key-encryption keys (a KMS data key, or DeriveSSECKEK of an SSE-C key) and
// a function that fetches ciphertext byte ranges. The format is specified in
// docs/format.md; golden vectors in testdata/ pin it.
//
// PutObject (single part = part 0):
//
//	req, err := sse.ParsePutHeaders(r.Header)          // typed errors → S3 codes
//	dek, _ := sse.NewObjectKey()
//	meta := &sse.ObjectMeta{Mode: sse.ModeSSES3, Suite: sse.DefaultSuite(),
//		KMSKeyARN: arn, KMSBlob: blob}                  // SSE-C: SSECSalt, SSECKeyHash, SSECKeyMD5
//	body, _ := sse.EncryptReader(plain, dek, 0, meta.Suite)
//	// store body: sse.EncryptedSize(n) bytes; then set meta.Size, meta.ETag
//	_ = meta.SealKey(kek, dek, bucket, key)
//	entries, _ := meta.Encode()                         // {"ssegate": "1.…"}, merge into backend metadata
//
// GetObject / HeadObject:
//
//	ck, err := sse.CheckReadHeaders(r.Header)           // SSE-C key or nil
//	meta, err := sse.DecodeObjectMeta(backendMeta)      // ErrBadMetadata
//	err = meta.CheckSSECKey(ck.Key)                     // SSE-C only: ErrKeyMismatch → 403
//	dek, err := meta.UnsealKey(kek, bucket, key)        // verifies the metadata MAC: ErrTampered
//	off, n, partial, err := sse.ParseRange(r.Header.Get("Range"), meta.Size)
//	rc, err := sse.NewObjectReader(ctx, fetch, meta, dek, off, n)
//	meta.SetResponseHeaders(w.Header())
//
// Multipart: CreateMultipartUpload seals a fresh DEK into the upload's
// metadata; UploadPart n unseals it and streams EncryptReader(part, dek, n,
// suite), recording PartMeta (plaintext size and MD5); Complete fills
// meta.Parts (part numbers and plaintext sizes, in the client's order),
// meta.Size and meta.ETag (MultipartETag) and re-encodes. GET ?partNumber=N
// uses meta.PartRange(N). Copy and rename are metadata-only: UnsealKey with
// the source names, SealKey with the destination's KEK and names.
//
// Compression (opt-in per bucket, off by default: sizes leak content,
// see docs/format.md 8), single-part objects only, never multipart parts:
//
//	if sse.ShouldCompress(contentType, bucketCfg) {
//		c := sse.NewCompressor(plain)
//		body, _ := sse.EncryptReader(c, dek, 0, meta.Suite)
//		// store body with size -1 (unknown); when body has reached EOF:
//		meta.Compression, err = c.Compression()   // then Encode the final metadata
//	}
//
// The stored size is then meta.StoredSize(), not EncryptedSize(meta.Size).
// NewObjectReader reads compressed objects transparently for any range.
//
// Errors are sentinels checked with errors.Is; each documents the S3 error
// code the gateway's table should map it to. No error message, log or
// String method of this package ever contains key material.
package sse
