package minio

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// Late-metadata overwrites of a known size go through a backend multipart
// upload to key itself, invisible until completed.
//
// The requirement is the one tmp.go states: key must hold the previous
// object or the new one with its final metadata, never a pending one. A
// multipart upload meets it without writing the body twice: the upload is
// created with metadata that only points at an overflow object (as client
// multipart uploads are, see CreateMultipart), the body streams into its
// parts, and once the body has ended the final metadata is written to that
// overflow object and the upload completed. Completion is atomic on the
// backend, so the object appears already pointing at its final metadata,
// and until then the previous object is untouched. Then, best effort, the
// metadata moves inline with a self-copy, which MinIO does in place
// because the upload is a FULL_OBJECT CRC32C upload (checksum.go).
//
// Against the temporary-object path this costs four more small requests
// (create, overflow write, complete, inline copy) instead of a server-side
// copy of every byte, which on MinIO is a second full write of the object
// (TestLateOverwriteWritesTheDataOnce). The temporary-object path remains
// for bodies of unknown size. An upload abandoned by a crash is removed by
// MinIO's own stale-upload cleanup (24 h by default).

// putViaUpload is Put through a multipart upload to key (see above). prev
// is the overflow id of the object it replaces. On any failure the upload
// is aborted and key is left as it was.
func (s *Store) putViaUpload(ctx context.Context, bucket, key string, r io.Reader, size int64, meta store.Metadata, prev string) (store.ObjectInfo, error) {
	final := newSpillID()
	um := fullObjectCRC32C(toUserMetadata(store.Metadata{spillField: final}))
	id, err := s.core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{UserMetadata: um})
	if err != nil {
		return store.ObjectInfo{}, mapErr(err, "minio: put %s/%s: create upload", bucket, key)
	}
	abort := func(err error) (store.ObjectInfo, error) {
		s.core.AbortMultipartUpload(context.WithoutCancel(ctx), bucket, key, id)
		return store.ObjectInfo{}, err
	}
	tr := &trackingReader{r: r}
	var cps []minio.CompletePart
	for n, left := 1, size; n == 1 || left > 0; n++ {
		// One part up to S3's part limit (almost every body), then parts
		// of that size; a part of an upload may be empty only if alone.
		part := min(left, maxSinglePut)
		crc := newCRCTrailer(io.LimitReader(tr, part))
		p, err := s.core.PutObjectPart(ctx, bucket, key, id, n, crc, part, minio.PutObjectPartOptions{DisableContentSha256: true, Trailer: crc.trailer})
		if err != nil {
			return abort(tr.failure(err, size, "minio: put %s/%s", bucket, key))
		}
		cps = append(cps, minio.CompletePart{PartNumber: n, ETag: p.ETag, ChecksumCRC32C: p.ChecksumCRC32C})
		left -= part
	}
	// Drive r to its end, where the caller completes meta.
	if err := store.ExpectEOF(r); err != nil {
		return abort(fmt.Errorf("minio: put %s/%s: %w", bucket, key, err))
	}
	m := meta.Clone()
	ui, etag, err := s.commitUpload(ctx, "put", bucket, key, id, final, prev, cps, m)
	if err != nil {
		return abort(err)
	}
	mtime := ui.LastModified
	if mtime.IsZero() {
		mtime = time.Now().UTC()
	}
	return store.ObjectInfo{Key: key, Size: size, ETag: etag, LastModified: mtime, Meta: m}, nil
}

// commitUpload completes backend upload id of key, whose metadata points at
// the overflow object final (client multipart uploads and late-metadata
// overwrites alike). final is written with meta FIRST, so the object exists
// only with its final metadata; prev, the overflow object of the object it
// replaces, goes once replaced. Then, best effort, small metadata moves
// inline with a self-copy conditional on the ETag just made (saving readers
// the overflow read); if that fails or we crash, the pointer keeps the
// object fully readable. It returns the completion and the object's ETag
// after the inline move. op names the caller's operation in errors.
func (s *Store) commitUpload(ctx context.Context, op, bucket, key, id, final, prev string, cps []minio.CompletePart, meta store.Metadata) (minio.UploadInfo, string, error) {
	if err := s.writeSpill(ctx, bucket, spillDir, final, meta); err != nil {
		return minio.UploadInfo{}, "", fmt.Errorf("minio: %s %s/%s: final metadata: %w", op, bucket, key, err)
	}
	ui, err := s.core.CompleteMultipartUpload(ctx, bucket, key, id, cps, minio.PutObjectOptions{})
	if err != nil {
		// A refusal means no object points at final; without an answer
		// the upload may have completed, and final is then its metadata.
		if minio.ToErrorResponse(err).Code != "" {
			s.dropSpill(ctx, bucket, spillDir, final)
		}
		return minio.UploadInfo{}, "", mapErr(err, "minio: %s %s/%s: complete", op, bucket, key)
	}
	if prev != final {
		s.dropSpill(ctx, bucket, spillDir, prev)
	}
	etag := ui.ETag
	if wireSize(toUserMetadata(meta)) <= store.MaxMetadataSize {
		// updateMeta drops final once the object no longer needs it.
		if e, err := s.updateMeta(ctx, bucket, key, ui.ETag, final, meta); err == nil {
			etag = e
		}
	}
	return ui, etag, nil
}
