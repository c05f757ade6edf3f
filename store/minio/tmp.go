package minio

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// Late-metadata overwrites of unknown size (compressed bodies) go through
// a hidden temporary object; those of known size go through a multipart
// upload to key instead (overwrite.go), which writes the body only once.
//
// S3 fixes an object's metadata when its body is sent, so a Put whose
// caller completes the metadata at EOF (store.WithLateMetadata) is two
// backend writes. Written in place, the first write would replace the
// previous object with a pending one (the gateway hides it) until the
// second sets the final metadata: a failure or a crash in between would
// lose the previous, acknowledged object. So when an object exists at key
// the body goes to tmpDir first, and a server-side copy with the final
// metadata moves it onto key in one step: key holds the old object or the
// new one, never the pending one. The cost, a second backend write of the
// whole body, is paid only for late-metadata overwrites; the gateway
// avoids late metadata for small bodies, and a Put to an empty key writes
// in place (a pending object there hides nothing).
const (
	tmpDir = sysPrefix + "tmp/"
	// tmpMaxAge is how old a temporary object must be before a sweep
	// deletes it: far longer than any upload, so a sweep never removes the
	// body of a Put still running (in this or another gateway process).
	tmpMaxAge = 24 * time.Hour
)

// putViaTemp is Put through a temporary object (see above). prev is the
// overflow id of the object it replaces. On any failure the temporary
// object is removed and key is left as it was.
func (s *Store) putViaTemp(ctx context.Context, bucket, key string, r io.Reader, size int64, meta store.Metadata, prev string) (store.ObjectInfo, error) {
	s.sweepOnce(ctx, bucket)
	tmp := tmpDir + newSpillID()
	// The temporary object carries the metadata as it is now; its own
	// overflow object (if any) goes with it.
	sent, tmpSpill, err := s.encodeMeta(ctx, bucket, spillDir, meta.Clone())
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: %w", bucket, key, err)
	}
	fail := func(err error) (store.ObjectInfo, error) {
		s.removeTemp(ctx, bucket, tmp)
		s.dropSpill(ctx, bucket, spillDir, tmpSpill)
		return store.ObjectInfo{}, err
	}
	tr := &trackingReader{r: r}
	ui, err := s.upload(ctx, bucket, tmp, tr, size, sent)
	if err != nil {
		return fail(tr.failure(err, size, "minio: put %s/%s", bucket, key))
	}
	if size >= 0 {
		// Drive r to its end, where the caller completes meta.
		if err := store.ExpectEOF(r); err != nil {
			return fail(fmt.Errorf("minio: put %s/%s: %w", bucket, key, err))
		}
		if ui.Size != size {
			return fail(fmt.Errorf("minio: put %s/%s: stored %d of %d bytes: %w", bucket, key, ui.Size, size, store.ErrIncompleteBody))
		}
	}
	m := meta.Clone()
	um, spill, err := s.encodeMeta(ctx, bucket, spillDir, m)
	if err != nil {
		return fail(fmt.Errorf("minio: put %s/%s: final metadata: %w", bucket, key, err))
	}
	dst := minio.CopyDestOptions{Bucket: bucket, Object: key, UserMetadata: um, ReplaceMetadata: true}
	src := minio.CopySrcOptions{Bucket: bucket, Object: tmp}
	var ci minio.UploadInfo
	if ui.Size <= maxSinglePut {
		ci, err = s.client.CopyObject(ctx, dst, src)
	} else {
		// S3 copies above 5 GiB only part by part; ComposeObject does that.
		ci, err = s.client.ComposeObject(ctx, dst, src)
	}
	if err != nil {
		// A refusal from the server means key is untouched and the new
		// overflow object is referenced by nothing. Without an answer
		// (transport error, cancelled) the copy may have happened: the
		// overflow object is then kept, an orphan at worst.
		if minio.ToErrorResponse(err).Code != "" {
			s.dropSpill(ctx, bucket, spillDir, spill)
		}
		return fail(mapErr(err, "minio: put %s/%s: move into place", bucket, key))
	}
	s.removeTemp(ctx, bucket, tmp)
	s.dropSpill(ctx, bucket, spillDir, tmpSpill)
	if prev != spill {
		s.dropSpill(ctx, bucket, spillDir, prev)
	}
	mtime := ci.LastModified
	if mtime.IsZero() {
		mtime = time.Now().UTC()
	}
	return store.ObjectInfo{Key: key, Size: ui.Size, ETag: ci.ETag, LastModified: mtime, Meta: m}, nil
}

// removeTemp deletes a temporary object, best effort and even when ctx is
// cancelled: one that survives (a crash, a backend error) is an orphan
// that sweepTemp removes a day later.
func (s *Store) removeTemp(ctx context.Context, bucket, tmp string) {
	s.client.RemoveObject(context.WithoutCancel(ctx), bucket, tmp, minio.RemoveObjectOptions{})
}

// sweepOnce removes temporary objects left by crashed gateways, once per
// bucket and Store, when a bucket first takes the temporary-object path:
// one listing, usually empty. A failed sweep is tried again next time.
func (s *Store) sweepOnce(ctx context.Context, bucket string) {
	if _, done := s.swept.Load(bucket); done {
		return
	}
	if _, err := s.sweepTemp(ctx, bucket, time.Now().Add(-tmpMaxAge)); err == nil {
		s.swept.Store(bucket, true)
	}
}

// sweepTemp deletes the temporary objects in bucket last modified before
// cutoff and returns how many it deleted.
func (s *Store) sweepTemp(ctx context.Context, bucket string, cutoff time.Time) (int, error) {
	n := 0
	for o := range s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: tmpDir, Recursive: true}) {
		if o.Err != nil {
			return n, mapErr(o.Err, "minio: sweep %s", bucket)
		}
		if !o.LastModified.Before(cutoff) {
			continue
		}
		if err := s.client.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, mapErr(err, "minio: sweep %s", bucket)
		}
		n++
	}
	return n, nil
}
