// Package gateway serves the S3 HTTP API (and mounts the AWS KMS JSON API):
// one route table (routes.go), SigV4 authentication of every request, one
// adapter and one table that turn errors into S3 XML (errors.go), and
// handlers per operation family.
//
// Every object body and its metadata pass through one seam, objects.go,
// which maps client-visible facts (plaintext size, plaintext ETag, headers,
// tags, checksums) to store metadata entries prefixed "g-". Handlers never
// touch the store for object bodies or metadata, and never show the
// backend's size or ETag to a client.
//
// This package must not buffer whole bodies, must not leak internal detail
// or secrets in responses, and must not be imported by sse, kms or store.
package gateway
