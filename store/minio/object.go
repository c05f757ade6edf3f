package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// maxSinglePut is the largest single PUT S3 accepts; above it (or for an
// unknown size) minio-go splits the body into parts.
const maxSinglePut = 5 << 30

// trackingReader remembers what the caller's reader did, so that a failed
// upload reports the caller's own error (or a short body) rather than the
// HTTP client's rendering of it.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error
	eof bool
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err == io.EOF {
		t.eof = true
	} else if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}

func (t *trackingReader) failure(err error, size int64, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch {
	case t.err != nil:
		return fmt.Errorf("%s: %w", msg, t.err)
	case size >= 0 && t.n < size && (t.eof || errors.Is(err, io.ErrUnexpectedEOF)):
		return fmt.Errorf("%s: got %d of %d bytes: %w", msg, t.n, size, store.ErrIncompleteBody)
	}
	return mapErr(err, "%s", msg)
}

func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, size int64, meta store.Metadata) (store.ObjectInfo, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return store.ObjectInfo{}, err
	}
	if err := checkKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	// The previous version's overflow object, to remove once replaced.
	prev, exists := s.current(ctx, bucket, key)
	if exists && store.LateMetadata(ctx) {
		if size >= 0 {
			return s.putViaUpload(ctx, bucket, key, r, size, meta, prev)
		}
		return s.putViaTemp(ctx, bucket, key, r, size, meta, prev)
	}
	// Written in place. With late metadata this means nothing was at key:
	// a failure before the final metadata then leaves a pending object
	// the gateway hides, which loses nothing.
	first := meta.Clone()
	sent, spill, err := s.encodeMeta(ctx, bucket, spillDir, first)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: %w", bucket, key, err)
	}
	tr := &trackingReader{r: r}
	ui, err := s.upload(ctx, bucket, key, tr, size, sent)
	if err != nil {
		s.dropSpill(ctx, bucket, spillDir, spill)
		return store.ObjectInfo{}, tr.failure(err, size, "minio: put %s/%s", bucket, key)
	}
	if prev != spill {
		s.dropSpill(ctx, bucket, spillDir, prev)
	}
	if size >= 0 {
		// Drive r to its end, where late metadata is completed (store.Store.Put).
		// The object is already stored then; its metadata stays as sent.
		if err := store.ExpectEOF(r); err != nil {
			return store.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: %w", bucket, key, err)
		}
	}
	if size >= 0 && ui.Size != size {
		// Cannot happen with a conforming server; never report success then.
		return store.ObjectInfo{}, fmt.Errorf("minio: put %s/%s: stored %d of %d bytes: %w", bucket, key, ui.Size, size, store.ErrIncompleteBody)
	}
	mtime := ui.LastModified
	if mtime.IsZero() {
		mtime = time.Now().UTC() // PUT responses carry no Last-Modified
	}
	m := meta.Clone()
	if !maps.Equal(m, first) {
		// The caller completed meta while the body streamed (store.Store.Put).
		etag, err := s.updateMeta(ctx, bucket, key, ui.ETag, spill, m)
		if err != nil {
			return store.ObjectInfo{}, err
		}
		ui.ETag = etag
	}
	return store.ObjectInfo{Key: key, Size: ui.Size, ETag: ui.ETag, LastModified: mtime, Meta: m}, nil
}

// upload streams r to object with user metadata um.
func (s *Store) upload(ctx context.Context, bucket, object string, r io.Reader, size int64, um map[string]string) (minio.UploadInfo, error) {
	opts := minio.PutObjectOptions{
		UserMetadata: um,
		// Stream the body: no SHA-256 pass over it before sending, no MD5.
		DisableContentSha256: true,
		SendContentMd5:       false,
		PartSize:             putPartSize,
		NumThreads:           1,
	}
	if size >= 0 && size <= maxSinglePut {
		// Core.PutObject is one PUT that streams r as is.
		return s.core.PutObject(ctx, bucket, object, r, size, "", "", opts)
	}
	return s.client.PutObject(ctx, bucket, object, r, size, opts)
}

// updateMeta replaces the metadata of the object just written (whose
// overflow object, if any, is oldSpill) with m, as a metadata-only
// self-copy that applies only while the object still has etag: if another
// writer replaced it meanwhile, that write is the newer one and ours is
// simply superseded, so that is not an error. MinIO keeps the object's
// ETag on a metadata-only copy of a single-part object, but gives one
// uploaded in parts its MD5 ETag; updateMeta returns the object's ETag.
func (s *Store) updateMeta(ctx context.Context, bucket, key, etag, oldSpill string, m store.Metadata) (string, error) {
	um, spill, err := s.encodeMeta(ctx, bucket, spillDir, m)
	if err != nil {
		return "", fmt.Errorf("minio: put %s/%s: set final metadata: %w", bucket, key, err)
	}
	dst := minio.CopyDestOptions{Bucket: bucket, Object: key, UserMetadata: um, ReplaceMetadata: true}
	src := minio.CopySrcOptions{Bucket: bucket, Object: key, MatchETag: etag}
	ci, err := s.client.CopyObject(ctx, dst, src)
	if err != nil {
		// Our new overflow object is referenced by nothing.
		s.dropSpill(ctx, bucket, spillDir, spill)
		if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
			return etag, nil
		}
		return "", mapErr(err, "minio: put %s/%s: set final metadata", bucket, key)
	}
	s.dropSpill(ctx, bucket, spillDir, oldSpill)
	if ci.ETag != "" {
		etag = ci.ETag
	}
	return etag, nil
}

func (s *Store) toInfo(ctx context.Context, bucket string, oi minio.ObjectInfo) (store.ObjectInfo, error) {
	meta, err := s.decodeMeta(ctx, bucket, spillDir, oi.UserMetadata)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Key: oi.Key, Size: oi.Size, ETag: oi.ETag, LastModified: oi.LastModified, Meta: meta}, nil
}

func (s *Store) Head(ctx context.Context, bucket, key string) (store.ObjectInfo, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return store.ObjectInfo{}, err
	}
	if err := checkKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	return retrySpill(func() (store.ObjectInfo, error) {
		oi, err := s.client.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err != nil {
			return store.ObjectInfo{}, s.notFoundErr(ctx, err, bucket, "minio: head %s/%s", bucket, key)
		}
		info, err := s.toInfo(ctx, bucket, oi)
		if errors.Is(err, errSpillMissing) {
			return store.ObjectInfo{}, err
		}
		return info, mapErr(err, "minio: head %s/%s", bucket, key)
	})
}

// notFoundErr maps err, telling a missing bucket from a missing key when
// the response (a HEAD) could not say which.
func (s *Store) notFoundErr(ctx context.Context, err error, bucket, format string, args ...any) error {
	err = mapErr(err, format, args...)
	if errors.Is(err, store.ErrNotFound) && s.bucketMissing(ctx, bucket) {
		return fmt.Errorf(format+": %w", append(args, store.ErrNoSuchBucket)...)
	}
	return err
}

func (s *Store) Get(ctx context.Context, bucket, key string, offset, length int64) (io.ReadCloser, store.ObjectInfo, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if err := checkKey(key); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	var opts minio.GetObjectOptions
	ranged := !(offset == 0 && length == -1)
	if ranged {
		switch {
		case offset < 0 || length < -1 || length == 0:
			return nil, store.ObjectInfo{}, fmt.Errorf("minio: get %s/%s: %w", bucket, key, store.ErrInvalidRange)
		case length == -1:
			opts.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		default:
			opts.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
		}
	}
	type opened struct {
		rc   io.ReadCloser
		info store.ObjectInfo
		h    http.Header
	}
	o, err := retrySpill(func() (opened, error) {
		rc, oi, h, err := s.core.GetObject(ctx, bucket, key, opts)
		if err != nil {
			return opened{}, s.notFoundErr(ctx, err, bucket, "minio: get %s/%s", bucket, key)
		}
		info, err := s.toInfo(ctx, bucket, oi)
		if err != nil {
			rc.Close()
			if errors.Is(err, errSpillMissing) {
				return opened{}, err
			}
			return opened{}, mapErr(err, "minio: get %s/%s", bucket, key)
		}
		return opened{rc, info, h}, nil
	})
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	rc, info, h := o.rc, o.info, o.h
	info.Key = key
	if ranged {
		total, err := totalFromContentRange(h)
		if err != nil {
			rc.Close()
			return nil, store.ObjectInfo{}, fmt.Errorf("minio: get %s/%s: %w", bucket, key, err)
		}
		info.Size = total
	}
	return rc, info, nil
}

// totalFromContentRange reads the whole size from "bytes a-b/total".
func totalFromContentRange(h http.Header) (int64, error) {
	cr := h.Get("Content-Range")
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return 0, fmt.Errorf("no Content-Range in ranged response")
	}
	return strconv.ParseInt(cr[i+1:], 10, 64)
}

func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	spill := s.currentSpill(ctx, bucket, key)
	if err := s.client.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return mapErr(err, "minio: delete %s/%s", bucket, key)
	}
	s.dropSpill(ctx, bucket, spillDir, spill)
	return nil
}

func (s *Store) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta store.Metadata) (store.ObjectInfo, error) {
	for _, b := range []string{srcBucket, dstBucket} {
		if err := store.CheckBucketName(b); err != nil {
			return store.ObjectInfo{}, err
		}
	}
	for _, k := range []string{srcKey, dstKey} {
		if err := checkKey(k); err != nil {
			return store.ObjectInfo{}, err
		}
	}
	si, err := s.client.StatObject(ctx, srcBucket, srcKey, minio.StatObjectOptions{})
	if err != nil {
		return store.ObjectInfo{}, s.notFoundErr(ctx, err, srcBucket, "minio: copy from %s/%s", srcBucket, srcKey)
	}
	prev := s.currentSpill(ctx, dstBucket, dstKey)
	// The destination always gets its own overflow object, so that deleting
	// one of the two objects never takes the other's metadata with it.
	um, spill, err := s.encodeMeta(ctx, dstBucket, spillDir, meta)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("minio: copy %s/%s to %s/%s: %w", srcBucket, srcKey, dstBucket, dstKey, err)
	}
	dst := minio.CopyDestOptions{Bucket: dstBucket, Object: dstKey, UserMetadata: um, ReplaceMetadata: true}
	src := minio.CopySrcOptions{Bucket: srcBucket, Object: srcKey}
	if si.Size <= maxSinglePut || (srcBucket == dstBucket && srcKey == dstKey) {
		// One CopyObject keeps the source's (MD5) ETag; with REPLACE on
		// the object itself MinIO updates metadata in place at any size.
		_, err = s.client.CopyObject(ctx, dst, src)
	} else {
		// S3 copies above 5 GiB only part by part; ComposeObject does that.
		_, err = s.client.ComposeObject(ctx, dst, src)
	}
	if err != nil {
		s.dropSpill(ctx, dstBucket, spillDir, spill)
		return store.ObjectInfo{}, mapErr(err, "minio: copy %s/%s to %s/%s", srcBucket, srcKey, dstBucket, dstKey)
	}
	if prev != spill {
		s.dropSpill(ctx, dstBucket, spillDir, prev)
	}
	return s.Head(ctx, dstBucket, dstKey)
}
