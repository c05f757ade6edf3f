package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// Record objects keep their fields in user metadata (empty body), so that a
// single listing with metadata reads all part records of an upload.
const (
	recKey   = "k" // upload record: the object key
	recTime  = "t" // upload record: initiation time
	recETag  = "e" // part record: the backend ETag it belongs to
	recSpill = "s" // upload record: overflow id of the backend upload's own metadata (uploads before recFinal)
	recFinal = "f" // upload record: overflow id the completed object's metadata pointer names
	recMeta  = "m-"
	maxParts = 10000
)

func uploadPrefix(id string) string      { return sysPrefix + "mpu/" + id + "/" }
func uploadRecord(id string) string      { return uploadPrefix(id) + "upload" }
func partRecord(id string, n int) string { return fmt.Sprintf("%spart-%05d", uploadPrefix(id), n) }

// checkUploadID refuses ids that are not the backend's own kind of token,
// so an id can never reach outside its record prefix.
func checkUploadID(id string) error {
	if id == "" || len(id) > 256 {
		return store.ErrNoSuchUpload
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '.') {
			return store.ErrNoSuchUpload
		}
	}
	return nil
}

func (s *Store) checkUpload(bucket, key, id string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkUploadID(id); err != nil {
		return fmt.Errorf("minio: upload %q: %w", id, err)
	}
	return nil
}

func withFields(fields map[string]string, meta store.Metadata) store.Metadata {
	m := store.Metadata{}
	for k, v := range fields {
		m[k] = v
	}
	for k, v := range meta {
		m[recMeta+k] = v
	}
	return m
}

func splitFields(m store.Metadata) store.Metadata {
	out := store.Metadata{}
	for k, v := range m {
		if rest, ok := strings.CutPrefix(k, recMeta); ok {
			out[rest] = v
		}
	}
	return out
}

// putRecord writes a record of upload id; fields that do not fit spill to
// an overflow object beside it, under the upload's prefix, which
// removeRecords deletes with the records.
func (s *Store) putRecord(ctx context.Context, bucket, id, name string, m store.Metadata) error {
	um, _, err := s.encodeMeta(ctx, bucket, uploadPrefix(id), m)
	if err != nil {
		return err
	}
	_, err = s.core.PutObject(ctx, bucket, name, strings.NewReader(""), 0, "", "", minio.PutObjectOptions{UserMetadata: um})
	return err
}

// readRecord returns the fields of upload id's record; ErrNoSuchUpload if
// there is none.
func (s *Store) readRecord(ctx context.Context, bucket, key, id string) (store.Metadata, error) {
	oi, err := s.client.StatObject(ctx, bucket, uploadRecord(id), minio.StatObjectOptions{})
	if err != nil {
		err = s.notFoundErr(ctx, err, bucket, "minio: upload %s/%s", bucket, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("minio: upload %s/%s: %w", bucket, key, store.ErrNoSuchUpload)
		}
		return nil, err
	}
	m, err := s.decodeMeta(ctx, bucket, uploadPrefix(id), oi.UserMetadata)
	if err != nil {
		return nil, mapErr(err, "minio: upload %s/%s", bucket, key)
	}
	if m[recKey] != key {
		return nil, fmt.Errorf("minio: upload %s/%s: %w", bucket, key, store.ErrNoSuchUpload)
	}
	return m, nil
}

func (s *Store) CreateMultipart(ctx context.Context, bucket, key string, meta store.Metadata) (string, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return "", err
	}
	if err := checkKey(key); err != nil {
		return "", err
	}
	// S3 fixes an object's metadata when its upload is created, and the
	// final metadata is known only at Complete. The backend upload
	// therefore carries just a pointer to an overflow object that Complete
	// writes before completing: the object appears, atomically, already
	// pointing at its final metadata, and whatever it replaces stays until
	// then. (Setting the metadata after Complete instead would leave a
	// window in which a crash loses the previous object at key.)
	final := newSpillID()
	um := toUserMetadata(store.Metadata{spillField: final})
	id, err := s.core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{UserMetadata: fullObjectCRC32C(um)})
	if err != nil {
		return "", mapErr(err, "minio: create multipart %s/%s", bucket, key)
	}
	if err := checkUploadID(id); err != nil {
		s.core.AbortMultipartUpload(ctx, bucket, key, id)
		return "", fmt.Errorf("minio: backend upload id %q has unexpected characters", id)
	}
	fields := map[string]string{recKey: key, recTime: time.Now().UTC().Format(time.RFC3339Nano), recFinal: final, recCRC: "1"}
	if err := s.putRecord(ctx, bucket, id, uploadRecord(id), withFields(fields, meta)); err != nil {
		s.core.AbortMultipartUpload(context.WithoutCancel(ctx), bucket, key, id)
		s.removeRecords(context.WithoutCancel(ctx), bucket, id)
		return "", mapErr(err, "minio: create multipart %s/%s: record", bucket, key)
	}
	return id, nil
}

func (s *Store) GetUpload(ctx context.Context, bucket, key, uploadID string) (store.UploadInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return store.UploadInfo{}, err
	}
	m, err := s.readRecord(ctx, bucket, key, uploadID)
	if err != nil {
		return store.UploadInfo{}, err
	}
	t, _ := time.Parse(time.RFC3339Nano, m[recTime])
	return store.UploadInfo{Key: key, UploadID: uploadID, Initiated: t, Meta: splitFields(m)}, nil
}

func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, part int, r io.Reader, size int64, partMeta store.Metadata) (store.PartInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return store.PartInfo{}, err
	}
	if part < 1 || part > maxParts {
		return store.PartInfo{}, fmt.Errorf("minio: part number %d: %w", part, store.ErrInvalidPart)
	}
	if size < 0 {
		// A part upload needs its length up front; spool to a temp file
		// rather than hold up to 5 GiB in memory.
		f, n, err := spoolTemp(ctx, r)
		if err != nil {
			return store.PartInfo{}, fmt.Errorf("minio: upload part %d: %w", part, err)
		}
		defer func() { f.Close(); os.Remove(f.Name()) }()
		r, size = f, n
	}
	tr := &trackingReader{r: r}
	// Every part carries its CRC32C (see checksum.go); MinIO accepts one on
	// parts of uploads created without an algorithm too.
	crc := newCRCTrailer(tr)
	p, err := s.core.PutObjectPart(ctx, bucket, key, uploadID, part, crc, size, minio.PutObjectPartOptions{DisableContentSha256: true, Trailer: crc.trailer})
	if err != nil {
		return store.PartInfo{}, tr.failure(err, size, "minio: upload part %s/%s #%d", bucket, key, part)
	}
	etag := strings.Trim(p.ETag, `"`)
	rec := withFields(map[string]string{recETag: etag}, partMeta)
	if err := s.putRecord(ctx, bucket, uploadID, partRecord(uploadID, part), rec); err != nil {
		return store.PartInfo{}, mapErr(err, "minio: upload part %s/%s #%d: record", bucket, key, part)
	}
	return store.PartInfo{Number: part, Size: size, ETag: etag, LastModified: time.Now().UTC(), Meta: partMeta.Clone()}, nil
}

func spoolTemp(ctx context.Context, r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "ssegate-part-")
	if err != nil {
		return nil, 0, err
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	return f, n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) ([]store.PartInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return nil, err
	}
	parts, _, err := s.listParts(ctx, bucket, key, uploadID)
	return parts, err
}

// listParts is ListParts, plus each listed part's CRC32C by number.
func (s *Store) listParts(ctx context.Context, bucket, key, uploadID string) ([]store.PartInfo, map[int]string, error) {
	var backend []minio.ObjectPart
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, bucket, key, uploadID, marker, 1000)
		if err != nil {
			return nil, nil, mapErr(err, "minio: list parts %s/%s", bucket, key)
		}
		backend = append(backend, res.ObjectParts...)
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	records, err := s.partRecords(ctx, bucket, uploadID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]store.PartInfo, 0, len(backend))
	crcs := make(map[int]string, len(backend))
	for _, p := range backend {
		etag := strings.Trim(p.ETag, `"`)
		rec, ok := records[p.PartNumber]
		if !ok || rec[recETag] != etag {
			continue // record missing or from a racing re-upload: see doc.go
		}
		out = append(out, store.PartInfo{Number: p.PartNumber, Size: p.Size, ETag: etag, LastModified: p.LastModified, Meta: splitFields(rec)})
		crcs[p.PartNumber] = p.ChecksumCRC32C
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, crcs, nil
}

// partRecords reads all part records of an upload, one listing page per
// thousand parts.
func (s *Store) partRecords(ctx context.Context, bucket, id string) (map[int]store.Metadata, error) {
	out := map[int]store.Metadata{}
	prefix := uploadPrefix(id) + "part-"
	after := ""
	for {
		page, err := s.listPage(ctx, bucket, prefix, "", after, 1000, true)
		if err != nil {
			return nil, mapErr(err, "minio: part records %s", id)
		}
		for _, o := range page.Contents {
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, prefix), "%d", &n); err != nil {
				continue
			}
			m, err := s.decodeMeta(ctx, bucket, uploadPrefix(id), userMeta(o.UserMetadata))
			if err != nil {
				return nil, mapErr(err, "minio: part record %s #%d", id, n)
			}
			out[n] = m
			after = o.Key
		}
		if !page.IsTruncated || len(page.Contents) == 0 {
			return out, nil
		}
	}
}

func (s *Store) CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, meta store.Metadata) (store.ObjectInfo, error) {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return store.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return store.ObjectInfo{}, fmt.Errorf("minio: complete: no parts: %w", store.ErrInvalidPart)
	}
	rec, err := s.readRecord(ctx, bucket, key, uploadID)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	have, crcs, err := s.listParts(ctx, bucket, key, uploadID)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	byNum := make(map[int]string, len(have))
	for _, p := range have {
		byNum[p.Number] = p.ETag
	}
	cps := make([]minio.CompletePart, len(parts))
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return store.ObjectInfo{}, fmt.Errorf("minio: complete: parts not ascending: %w", store.ErrInvalidPart)
		}
		if etag, ok := byNum[p.Number]; !ok || etag != p.ETag {
			return store.ObjectInfo{}, fmt.Errorf("minio: complete: part %d: %w", p.Number, store.ErrInvalidPart)
		}
		cps[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
		if rec[recCRC] != "" {
			// A FULL_OBJECT CRC32C upload: MinIO combines these into the
			// object's checksum, and refuses a part without one.
			cps[i].ChecksumCRC32C = crcs[p.Number]
		}
	}
	if final := rec[recFinal]; final != "" {
		return s.completeToPointer(ctx, bucket, key, uploadID, final, cps, meta)
	}
	// An upload created before recFinal existed: complete, then set the
	// final metadata with a self-copy (the crash window described above).
	prev := s.currentSpill(ctx, bucket, key)
	if _, err := s.core.CompleteMultipartUpload(ctx, bucket, key, uploadID, cps, minio.PutObjectOptions{}); err != nil {
		return store.ObjectInfo{}, mapErr(err, "minio: complete %s/%s", bucket, key)
	}
	s.dropSpill(ctx, bucket, spillDir, prev)
	// S3 cannot set metadata at completion, so the final metadata is set
	// with a self-copy (REPLACE), which MinIO does in place for any size.
	// Crash window: if we die between the two calls, the object exists with
	// the metadata given at CreateMultipart. The gateway must therefore put
	// everything needed to read the object into that metadata already, or
	// treat such an object as unreadable rather than misread it.
	// The object now points to the upload's overflow object (if any); the
	// final metadata gets a new one, and the upload's goes once replaced.
	um, spill, err := s.encodeMeta(ctx, bucket, spillDir, meta)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("minio: complete %s/%s: set metadata: %w", bucket, key, err)
	}
	dst := minio.CopyDestOptions{Bucket: bucket, Object: key, UserMetadata: um, ReplaceMetadata: true}
	if _, err := s.client.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: bucket, Object: key}); err != nil {
		s.dropSpill(ctx, bucket, spillDir, spill)
		return store.ObjectInfo{}, mapErr(err, "minio: complete %s/%s: set metadata", bucket, key)
	}
	s.dropSpill(ctx, bucket, spillDir, rec[recSpill])
	s.removeRecords(context.WithoutCancel(ctx), bucket, uploadID)
	return s.Head(ctx, bucket, key)
}

// completeToPointer completes a client upload whose backend metadata
// points at the overflow object final (commitUpload), then removes the
// upload's records.
func (s *Store) completeToPointer(ctx context.Context, bucket, key, uploadID, final string, cps []minio.CompletePart, meta store.Metadata) (store.ObjectInfo, error) {
	prev := s.currentSpill(ctx, bucket, key)
	if _, _, err := s.commitUpload(ctx, "complete", bucket, key, uploadID, final, prev, cps, meta); err != nil {
		return store.ObjectInfo{}, err
	}
	s.removeRecords(context.WithoutCancel(ctx), bucket, uploadID)
	return s.Head(ctx, bucket, key)
}

func (s *Store) AbortMultipart(ctx context.Context, bucket, key, uploadID string) error {
	if err := s.checkUpload(bucket, key, uploadID); err != nil {
		return err
	}
	// The record names the upload's own overflow object; a missing record
	// (already aborted) leaves nothing of ours to drop.
	rec, _ := s.readRecord(ctx, bucket, key, uploadID)
	if err := s.core.AbortMultipartUpload(ctx, bucket, key, uploadID); err != nil {
		return mapErr(err, "minio: abort %s/%s", bucket, key)
	}
	s.dropSpill(ctx, bucket, spillDir, rec[recSpill])
	// Not completed: nothing points at the final overflow (if written).
	s.dropSpill(ctx, bucket, spillDir, rec[recFinal])
	return s.removeRecords(context.WithoutCancel(ctx), bucket, uploadID)
}

// removeRecords deletes an upload's hidden records. A failure leaves
// invisible garbage, never a wrong result: records of an unknown upload
// are never consulted.
func (s *Store) removeRecords(ctx context.Context, bucket, id string) error {
	objs := s.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: uploadPrefix(id), Recursive: true})
	for e := range s.client.RemoveObjects(ctx, bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil {
			return mapErr(e.Err, "minio: remove upload records %s", id)
		}
	}
	return nil
}

// ListMultipartUploads reads our upload records rather than the backend's
// list: MinIO lists uploads only for an exact key, not for a prefix. A
// record outlives its upload only after a crash between completing (or
// aborting) and removing the record; such an entry fails later calls with
// ErrNoSuchUpload.
func (s *Store) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]store.UploadInfo, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return nil, err
	}
	var out []store.UploadInfo
	base := sysPrefix + "mpu/"
	after := ""
	for {
		page, err := s.listPage(ctx, bucket, base, "", after, 1000, true)
		if err != nil {
			return nil, mapErr(err, "minio: list uploads %s", bucket)
		}
		for _, o := range page.Contents {
			after = o.Key
			id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, base), "/upload")
			if !ok || checkUploadID(id) != nil {
				continue
			}
			m, err := s.decodeMeta(ctx, bucket, uploadPrefix(id), userMeta(o.UserMetadata))
			if err != nil || !strings.HasPrefix(m[recKey], prefix) {
				continue
			}
			t, _ := time.Parse(time.RFC3339Nano, m[recTime])
			out = append(out, store.UploadInfo{Key: m[recKey], UploadID: id, Initiated: t, Meta: splitFields(m)})
		}
		if !page.IsTruncated || len(page.Contents) == 0 {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Initiated.Before(out[j].Initiated)
	})
	return out, nil
}
