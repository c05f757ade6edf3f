// Package store defines the backend interface of ssegate: what the gateway
// needs from the place where ciphertext is kept (buckets, objects with a flat
// metadata map, ranged reads, listings, multipart uploads and small bucket
// configuration blobs), and the sentinel errors every backend returns.
//
// A backend stores opaque bytes. It must not know about S3 headers,
// encryption, keys or users, and this package imports none of ssegate's
// packages. Implementations live in sub-packages (store/fs, store/minio) and
// all pass the same conformance suite, store/storetest.
package store
