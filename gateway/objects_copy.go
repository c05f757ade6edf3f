package gateway

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"strings"

	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// copy makes dst a copy of src (described by srcInfo, opened with the
// source's SSE-C key if any) with metadata m and encryption enc. The body is
// never re-encrypted: the copy keeps the source's object key, re-sealed
// for the destination's name and mode (new KEK), and the store copies the
// ciphertext as cheaply as it can. Only when an SSE-S3 destination needs the
// plaintext MD5 as its ETag and the source does not have it (SSE-KMS and
// SSE-C objects carry opaque ETags) is the source read, to compute it.
func (o *objectLayer) copy(ctx context.Context, srcBucket, srcKey string, src objectInfo, srcCK *sse.CustomerKey, dstBucket, dstKey string, m objectMeta, enc encSpec) (objectInfo, error) {
	dek, err := o.unseal(ctx, srcBucket, srcKey, src.SSE, srcCK)
	if err != nil {
		return objectInfo{}, err
	}
	if src.storedSize != src.SSE.StoredSize() {
		return objectInfo{}, sse.ErrTampered
	}
	em, _, err := o.seal(ctx, dstBucket, dstKey, enc, &dek)
	if err != nil {
		return objectInfo{}, err
	}
	em.Suite = src.SSE.Suite // the body is the source's
	em.Size, em.Parts = src.Size, src.SSE.Parts
	em.ChecksumAlgorithm, em.Checksum = src.SSE.ChecksumAlgorithm, src.SSE.Checksum
	switch {
	case em.Mode != sse.ModeSSES3:
		em.ETag = opaqueETag(dek) + partsSuffix(src.ETag)
	case src.SSE.Mode == sse.ModeSSES3:
		em.ETag = src.ETag
	default:
		sum, err := o.plainMD5(ctx, srcBucket, srcKey, src, srcCK)
		if err != nil {
			return objectInfo{}, err
		}
		em.ETag = sum
	}
	md := store.Metadata{}
	if err := m.encode(md); err != nil {
		return objectInfo{}, err
	}
	if err := addSSEMeta(md, em); err != nil {
		return objectInfo{}, err
	}
	si, err := o.store.Copy(ctx, srcBucket, srcKey, dstBucket, dstKey, md)
	if err != nil {
		return objectInfo{}, err
	}
	if si.ETag != src.backendETag && srcBucket == dstBucket && srcKey == dstKey {
		// Replaced concurrently between head and copy: our metadata may
		// not describe the bytes now under the key.
		return objectInfo{}, errObjectChanged
	}
	return toObjectInfo(si)
}

// partsSuffix is the "-N" of a multipart ETag, or "".
func partsSuffix(etag string) string {
	if i := strings.LastIndexByte(etag, '-'); i >= 0 {
		return etag[i:]
	}
	return ""
}

// plainMD5 reads and authenticates the whole source to hash its plaintext.
func (o *objectLayer) plainMD5(ctx context.Context, bucket, key string, info objectInfo, ck *sse.CustomerKey) (string, error) {
	rc, err := o.open(ctx, bucket, key, info, ck, 0, info.Size)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := md5.New()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(h, rc, *buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
