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
//	.ssegate.sys/mpu/<id>/<hex>        a record's spilled fields
//	.ssegate.sys/meta/<hex>            an object's spilled metadata
//	.ssegate.sys/tmp/<hex>             body of a late-metadata overwrite of unknown size
//
// Late-metadata overwrites: a Put marked store.WithLateMetadata onto an
// existing key must never leave the unfinished object in the previous
// one's place. With a known size (overwrite.go) the body streams into a
// backend multipart upload to key whose metadata points at an overflow
// object; the final metadata is written there and the upload completed,
// which replaces the previous object atomically, then moved inline by a
// metadata-only self-copy. With an unknown size (tmp.go) the body goes to
// a temporary object that a server-side copy moves onto key. A crash can
// leave an incomplete upload (MinIO removes it after 24 hours) or the
// temporary object behind (the first such Put in a bucket after start
// deletes temporary objects older than 24 hours).
//
// Checksums (checksum.go): every PUT and part carries a CRC32C trailer of
// the ciphertext, and multipart uploads are FULL_OBJECT CRC32C uploads, so
// that MinIO does metadata-only self-copies in place instead of rewriting
// the object.
//
// Metadata overflow (spill.go): MinIO refuses more than 2048 bytes of user
// metadata. Metadata that would not fit is written as JSON to a new hidden
// overflow object FIRST; the object (or the metadata-only self-copy of a
// late-metadata Put, Copy or CompleteMultipart) then carries only the
// pointer entry x-amz-meta-ssegate_spill: <id>. The object's own write stays
// the atomic commit point: a crash before it leaves an unreferenced overflow
// object, never an object without its metadata. After a successful
// replacement the previous version's overflow object is removed (its id is
// read with a HEAD before the write: one extra request per Put, Copy and
// Complete); Delete removes it too. This cleanup is best effort: a failure
// or a racing writer can leave an orphan under meta/, which costs only space
// (DeleteBucket removes it with the bucket). Every object, copies included,
// has its own overflow object, so no delete can take another's metadata.
// Reads resolve the pointer with one more GET (List WithMeta: one per
// spilled object). A reader racing with an overwrite may find the overflow
// object already gone; it then reads the object again (the newer version).
// A missing or unreadable overflow object is otherwise an error, never
// empty metadata. The pointer key holds '_', which store.Metadata keys never
// contain, so it cannot collide with a caller's entry (a caller passing it
// is refused). A multipart upload's create-time overflow object becomes the
// completed object's until the final metadata replaces it (or Abort drops
// it); record overflow objects live under the upload's prefix and go with
// its records.
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
//   - user metadata: 2048 bytes counted with the "x-amz-meta-" prefix;
//     more spills to an overflow object (above), up to 1 MiB of JSON;
//   - a key segment longer than 255 bytes, and segments "", "." or ".."
//     ("a//b", "./x") are refused (store.ErrInvalidKey);
//   - an object "a" and objects below "a/" can both be stored and read, but
//     listings then show only "a" (storetest.Limits.ObjectsHidePrefixes).
//     Directory markers ("a/" with "a/b") are fine.
package minio
