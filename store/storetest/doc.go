// Package storetest is the conformance suite every store.Store backend must
// pass: Run(t, newStore) exercises buckets, objects, ranges, metadata, keys,
// listings, copies, multipart uploads, interrupted writes and concurrent
// writers against a fresh store. The miniotest sub-package starts a real
// MinIO server for tests and e2e programs. Only tests import this package.
package storetest
