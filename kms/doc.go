// Package kms is ssegate's embedded key management service: symmetric keys
// in one SQLite file, every key version sealed by a master key, an AWS KMS
// compatible JSON API handler (NewHandler) and a remote client (NewRemote)
// for a real AWS KMS or another ssegate.
//
// It owns the keystore format, the ciphertext blob format (docs/kms.md) and
// the mapping of its errors to AWS KMS error types. It does no SigV4: the
// gateway authenticates requests and passes the caller with WithCaller.
// It must not import the gateway, sse or store packages.
package kms
