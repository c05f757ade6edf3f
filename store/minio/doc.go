// Package minio is a store.Store on an S3 server, MinIO in particular,
// through github.com/minio/minio-go/v7.
//
// Objects map one to one to backend objects; store.Metadata entries become
// x-amz-meta-<key> user metadata (see meta.go for the exact encoding). What
// S3 has no place for lives in small hidden objects under the reserved
// prefix ".ssegate.sys/" inside each bucket, which List never shows and user
// keys may not use:
//
//	.ssegate.sys/config/<name>         bucket configuration blobs
//	.ssegate.sys/mpu/<id>/upload       key and metadata of an upload
//	.ssegate.sys/mpu/<id>/part-NNNNN   a part's metadata and backend ETag
//
// A part record is written after its part is stored. ListParts joins the
// backend's parts with these records and drops a part whose record is
// missing or names another ETag: that happens only while a re-upload of the
// same part races (or after a crash between the two writes), and a part
// without its metadata could not be decrypted anyway.
//
// Listing with metadata uses MinIO's ListObjectsV2 extension "metadata=true"
// so a page costs one request; other S3 servers would return no metadata.
//
// Limits found against MinIO (single drive):
//   - user metadata: store.MaxMetadataSize (2048 bytes counted with the
//     "x-amz-meta-" prefix); more is refused (see meta.go);
//   - a key segment longer than 255 bytes, and segments "", "." or ".."
//     ("a//b", "./x") are refused (store.ErrInvalidKey);
//   - an object "a" and objects below "a/" can both be stored and read, but
//     listings then show only "a" (storetest.Limits.ObjectsHidePrefixes).
//     Directory markers ("a/" with "a/b") are fine.
package minio
