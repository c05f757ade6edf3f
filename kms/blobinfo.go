package kms

// BlobKeyVersion reads the key id and key version named in the (unauthenticated)
// header of a ciphertext blob of this KMS (docs/kms.md). It checks framing
// only, so callers may use it to decide what to do (skip an object already
// sealed under the newest version), never to trust the blob. Blobs of other
// KMSes (a remote AWS KMS) are ErrInvalidCiphertext.
func BlobKeyVersion(blob []byte) (keyID string, version uint32, err error) {
	h, _, err := parseBlob(blob)
	if err != nil {
		return "", 0, err
	}
	return h.id(), h.version, nil
}
