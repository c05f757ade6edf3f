package fs

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ssegate/ssegate/store"
)

// uploadRecord is <bucket>/.sys/mpu/<id>/upload.json.
type uploadRecord struct {
	Key       string         `json:"key"`
	Initiated time.Time      `json:"initiated"`
	Meta      store.Metadata `json:"meta"`
}

const maxPart = 10000

// uploadDir validates uploadID (our own hex ids only, so it can never
// name another path) and returns its directory and record.
func (s *Store) uploadDir(bucket, key, uploadID string) (string, *uploadRecord, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return "", nil, err
	}
	if err := store.CheckKey(key); err != nil {
		return "", nil, err
	}
	notFound := fmt.Errorf("fs: upload %s/%s %q: %w", bucket, key, uploadID, store.ErrNoSuchUpload)
	if len(uploadID) != 32 {
		return "", nil, notFound
	}
	if _, err := hex.DecodeString(uploadID); err != nil {
		return "", nil, notFound
	}
	dir := filepath.Join(bdir, sysDir, "mpu", uploadID)
	data, err := os.ReadFile(filepath.Join(dir, "upload.json"))
	if errors.Is(err, iofs.ErrNotExist) {
		return "", nil, notFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("fs: upload %s: %w", uploadID, err)
	}
	var rec uploadRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", nil, fmt.Errorf("fs: upload %s: corrupt record: %w", uploadID, err)
	}
	if rec.Key != key {
		return "", nil, notFound
	}
	return dir, &rec, nil
}

func (s *Store) CreateMultipart(ctx context.Context, bucket, key string, meta store.Metadata) (string, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return "", err
	}
	if err := store.CheckKey(key); err != nil {
		return "", err
	}
	id := newGen()
	stage, err := os.MkdirTemp(s.tmp, "mpu-")
	if err != nil {
		return "", fmt.Errorf("fs: create multipart: %w", err)
	}
	defer os.RemoveAll(stage)
	rec := uploadRecord{Key: key, Initiated: time.Now().UTC(), Meta: meta.Clone()}
	if err := s.writeJSONAtomic(filepath.Join(stage, "upload.json"), rec); err != nil {
		return "", fmt.Errorf("fs: create multipart: %w", err)
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return "", fmt.Errorf("fs: create multipart: %w", err)
	}
	mpu := filepath.Join(bdir, sysDir, "mpu")
	if err := os.Rename(stage, filepath.Join(mpu, id)); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return "", fmt.Errorf("fs: create multipart %s: %w", bucket, store.ErrNoSuchBucket)
		}
		return "", fmt.Errorf("fs: create multipart: %w", err)
	}
	return id, s.syncDir(mpu)
}

func partSidecar(n int) string { return "p." + strconv.Itoa(n) }

func (s *Store) UploadPart(ctx context.Context, bucket, key, uploadID string, part int, r io.Reader, size int64, partMeta store.Metadata) (store.PartInfo, error) {
	if part < 1 || part > maxPart {
		return store.PartInfo{}, fmt.Errorf("fs: part number %d: %w", part, store.ErrInvalidPart)
	}
	dir, _, err := s.uploadDir(bucket, key, uploadID)
	if err != nil {
		return store.PartInfo{}, err
	}
	sp, err := s.spool(ctx, r, size)
	if err != nil {
		return store.PartInfo{}, fmt.Errorf("fs: upload part %d: %w", part, err)
	}
	dataName := "o." + newGen()
	if err := os.Rename(sp.path, filepath.Join(dir, dataName)); err != nil {
		os.Remove(sp.path)
		if errors.Is(err, iofs.ErrNotExist) { // aborted meanwhile
			return store.PartInfo{}, fmt.Errorf("fs: upload part: %w", store.ErrNoSuchUpload)
		}
		return store.PartInfo{}, fmt.Errorf("fs: upload part %d: %w", part, err)
	}
	sc := &sidecar{V: sidecarFile, Key: uploadID + "/" + strconv.Itoa(part), Size: sp.size, ETag: sp.etag,
		MTime: time.Now().UTC(), Data: dataName, Meta: partMeta.Clone()}
	if err := s.replaceSidecar(bucket, dir, partSidecar(part), sc); err != nil {
		os.Remove(filepath.Join(dir, dataName))
		if errors.Is(err, iofs.ErrNotExist) {
			return store.PartInfo{}, fmt.Errorf("fs: upload part: %w", store.ErrNoSuchUpload)
		}
		return store.PartInfo{}, fmt.Errorf("fs: upload part %d: %w", part, err)
	}
	s.sweepOnce(bucket)
	return partInfo(part, sc), nil
}

func partInfo(n int, sc *sidecar) store.PartInfo {
	return store.PartInfo{Number: n, Size: sc.Size, ETag: sc.ETag, LastModified: sc.MTime, Meta: sc.Meta.Clone()}
}

func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) ([]store.PartInfo, error) {
	dir, _, err := s.uploadDir(bucket, key, uploadID)
	if err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fs: list parts: %w", store.ErrNoSuchUpload)
	}
	var out []store.PartInfo
	for _, de := range des {
		num, ok := strings.CutPrefix(de.Name(), "p.")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		sc, err := readSidecar(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		out = append(out, partInfo(n, sc))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

func (s *Store) CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []store.CompletePart, meta store.Metadata) (store.ObjectInfo, error) {
	dir, _, err := s.uploadDir(bucket, key, uploadID)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if len(parts) == 0 {
		return store.ObjectInfo{}, fmt.Errorf("fs: complete: no parts: %w", store.ErrInvalidPart)
	}
	// Open every part first: once open, a racing re-upload cannot change
	// the bytes we join, and the ETag check refers to exactly those bytes.
	files := make([]*os.File, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var total int64
	for i, p := range parts {
		if i > 0 && p.Number <= parts[i-1].Number {
			return store.ObjectInfo{}, fmt.Errorf("fs: complete: parts not ascending: %w", store.ErrInvalidPart)
		}
		f, sc, err := openPart(dir, p.Number)
		if err != nil || sc.ETag != p.ETag {
			if f != nil {
				f.Close()
			}
			return store.ObjectInfo{}, fmt.Errorf("fs: complete: part %d: %w", p.Number, store.ErrInvalidPart)
		}
		files = append(files, f)
		total += sc.Size
	}
	readers := make([]io.Reader, len(files))
	for i, f := range files {
		readers[i] = f
	}
	sp, err := s.spool(ctx, io.MultiReader(readers...), total)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("fs: complete: %w", err)
	}
	bdir := s.bucketDir(bucket)
	info, err := s.commit(bucket, bdir, key, sp, meta)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	s.removeUpload(bucket, dir)
	return info, nil
}

func openPart(dir string, n int) (*os.File, *sidecar, error) {
	for range 10 {
		sc, err := readSidecar(filepath.Join(dir, partSidecar(n)))
		if err != nil {
			return nil, nil, err
		}
		if sc.V != sidecarFile {
			return nil, nil, fmt.Errorf("corrupt part record %s: version %d", partSidecar(n), sc.V)
		}
		f, err := os.Open(filepath.Join(dir, sc.Data))
		if err == nil {
			return f, sc, nil
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return nil, nil, err
		}
	}
	return nil, nil, store.ErrUnavailable
}

// removeUpload moves the upload out of sight, then deletes it.
func (s *Store) removeUpload(bucket, dir string) error {
	trash := filepath.Join(s.tmp, "trash-"+newGen())
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("fs: upload: %w", store.ErrNoSuchUpload)
		}
		return err
	}
	return os.RemoveAll(trash)
}

func (s *Store) AbortMultipart(ctx context.Context, bucket, key, uploadID string) error {
	dir, _, err := s.uploadDir(bucket, key, uploadID)
	if err != nil {
		return err
	}
	return s.removeUpload(bucket, dir)
}

func (s *Store) GetUpload(ctx context.Context, bucket, key, uploadID string) (store.UploadInfo, error) {
	_, rec, err := s.uploadDir(bucket, key, uploadID)
	if err != nil {
		return store.UploadInfo{}, err
	}
	return store.UploadInfo{Key: rec.Key, UploadID: uploadID, Initiated: rec.Initiated, Meta: rec.Meta.Clone()}, nil
}

func (s *Store) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]store.UploadInfo, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return nil, err
	}
	mpu := filepath.Join(bdir, sysDir, "mpu")
	des, err := os.ReadDir(mpu)
	if err != nil {
		return nil, fmt.Errorf("fs: list uploads: %w", err)
	}
	var out []store.UploadInfo
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(mpu, de.Name(), "upload.json"))
		if err != nil {
			continue // completed or aborted meanwhile
		}
		var rec uploadRecord
		if json.Unmarshal(data, &rec) != nil || !strings.HasPrefix(rec.Key, prefix) {
			continue
		}
		out = append(out, store.UploadInfo{Key: rec.Key, UploadID: de.Name(), Initiated: rec.Initiated, Meta: rec.Meta.Clone()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Initiated.Before(out[j].Initiated)
	})
	return out, nil
}
