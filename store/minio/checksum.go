package minio

import (
	"encoding/base64"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
)

// Every byte the gateway sends to MinIO carries a CRC32C of the ciphertext
// that MinIO verifies and stores: single PUTs through minio-go's own
// trailer (Options.TrailingHeaders), parts through crcTrailer below, and
// multipart uploads are created as FULL_OBJECT CRC32C uploads so that the
// completed object has one checksum of its whole body. Besides catching
// corruption on the way to the backend, a stored full-object checksum is
// what lets MinIO do the metadata-completing self-copy (updateMeta) in
// place: for an object without one, or with a composite multipart
// checksum, it rewrites every byte to give the copy a full-object checksum.

const (
	hdrChecksumAlgorithm = "X-Amz-Checksum-Algorithm"
	hdrChecksumType      = "X-Amz-Checksum-Type"
	hdrCRC32C            = "X-Amz-Checksum-Crc32c"

	// recCRC in an upload record says the backend upload was created as a
	// FULL_OBJECT CRC32C upload, so Complete must name each part's CRC32C.
	// Uploads created before it existed complete without checksums.
	recCRC = "c"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fullObjectCRC32C adds the headers that create a FULL_OBJECT CRC32C
// multipart upload to the user metadata of NewMultipartUpload (minio-go
// passes x-amz-* keys through as headers).
func fullObjectCRC32C(um map[string]string) map[string]string {
	um[hdrChecksumAlgorithm] = "CRC32C"
	um[hdrChecksumType] = "FULL_OBJECT"
	return um
}

// crcTrailer passes a part body through and, at its end, sets the body's
// CRC32C in trailer, which minio-go sends as the aws-chunked trailer after
// the body (it reads the header values only then).
type crcTrailer struct {
	r       io.Reader
	h       hash.Hash32
	trailer http.Header
}

func newCRCTrailer(r io.Reader) *crcTrailer {
	// minio-go sizes the request from the trailer as it is before the
	// body: the placeholder has the length of every base64 CRC32C.
	return &crcTrailer{r: r, h: crc32.New(castagnoli), trailer: http.Header{hdrCRC32C: {"AAAAAA=="}}}
}

func (c *crcTrailer) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err == io.EOF {
		c.trailer.Set(hdrCRC32C, base64.StdEncoding.EncodeToString(c.h.Sum(nil)))
	}
	return n, err
}
