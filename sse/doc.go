// Package sse is ssegate's encryption format: key hierarchy, sealed object
// keys, the DARE 2.0 body streams, range planning, the metadata entry kept
// with each object, and parsing of the S3 SSE request headers.
//
// It is a pure library: no HTTP server, no backend, no KMS. Callers supply
// key-encryption keys (from the KMS or derived from an SSE-C key) and a
// function that fetches ciphertext byte ranges. The format is specified in
// docs/format.md; golden vectors in testdata/ pin it.
//
// Typical use by the gateway:
//
//	// PUT
//	dek, _ := sse.NewObjectKey()
//	meta := &sse.ObjectMeta{Mode: sse.ModeSSES3, Suite: sse.DefaultSuite(), ...}
//	_ = meta.SealKey(kek, dek, bucket, object)
//	body, _ := sse.EncryptReader(plain, dek, 0, meta.Suite)
//	// ... store body (sse.EncryptedSize(n) bytes); after reading it all,
//	// set meta.Size / meta.ETag, then meta.Encode() into backend metadata.
//
//	// GET
//	meta, _ := sse.DecodeObjectMeta(backendMeta)
//	dek, err := meta.UnsealKey(kek, bucket, object) // verifies the metadata MAC
//	rc, _ := sse.NewObjectReader(ctx, fetch, meta, dek, off, n)
//
// Errors are sentinels checked with errors.Is; each documents the S3 error
// code the gateway's table should map it to. No error message, log or
// String method of this package ever contains key material.
package sse
