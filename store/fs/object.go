package fs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ssegate/ssegate/store"
)

// sidecar is the commit record of an object (and of a multipart part).
type sidecar struct {
	V     int            `json:"v"`
	Key   string         `json:"key"`
	Size  int64          `json:"size"`
	ETag  string         `json:"etag"`
	MTime time.Time      `json:"mtime"`
	Data  string         `json:"data"` // data file name in the same directory
	Meta  store.Metadata `json:"meta"`
}

func (sc *sidecar) info() store.ObjectInfo {
	meta := sc.Meta.Clone()
	return store.ObjectInfo{Key: sc.Key, Size: sc.Size, ETag: sc.ETag, LastModified: sc.MTime, Meta: meta}
}

func readSidecar(path string) (*sidecar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sc sidecar
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("corrupt sidecar %s: %w", filepath.Base(path), err)
	}
	// The data name must be a plain entry of this directory.
	if sc.Data == "" || strings.ContainsAny(sc.Data, `/\`) || !strings.HasPrefix(sc.Data, "o.") {
		return nil, fmt.Errorf("corrupt sidecar %s: bad data name", filepath.Base(path))
	}
	return &sc, nil
}

// objPath maps a validated key to its directory and sidecar name.
func objPath(bucketDir, key string) (dir, side string) {
	segs := strings.Split(key, "/")
	parts := make([]string, 0, len(segs))
	parts = append(parts, bucketDir)
	for _, seg := range segs[:len(segs)-1] {
		parts = append(parts, dirName(seg))
	}
	return filepath.Join(parts...), sidecarName(segs[len(segs)-1])
}

// ensureDir creates the directories of key below the bucket directory, one
// level at a time so that a bucket deleted meanwhile is not recreated.
func (s *Store) ensureDir(bucketDir, key string) error {
	segs := strings.Split(key, "/")
	cur := bucketDir
	for _, seg := range segs[:len(segs)-1] {
		name := dirName(seg)
		next := filepath.Join(cur, name)
		if strings.HasPrefix(name, "hd.") {
			if err := s.mkHashedDir(next, seg); err != nil {
				return err
			}
		} else if err := os.Mkdir(next, 0o700); err != nil && !errors.Is(err, iofs.ErrExist) {
			return err
		}
		cur = next
	}
	return nil
}

// mkHashedDir creates a hashed directory together with its ".name" file by
// staging both and renaming, so the directory never exists without it.
func (s *Store) mkHashedDir(path, seg string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	stage, err := os.MkdirTemp(s.tmp, "dir-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := os.WriteFile(filepath.Join(stage, ".name"), []byte(seg), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return err
	}
	if err := os.Rename(stage, path); err != nil && !isNotEmpty(err) {
		return err
	}
	return nil
}

// commit makes the spooled data the object key.
func (s *Store) commit(bucket, bucketDir, key string, sp spooled, meta store.Metadata) (store.ObjectInfo, error) {
	dir, side := objPath(bucketDir, key)
	dataName := "o." + newGen()
	dl := s.dirLock(bucket)
	dl.RLock()
	err := s.ensureDir(bucketDir, key)
	if err == nil {
		err = os.Rename(sp.path, filepath.Join(dir, dataName))
	}
	dl.RUnlock()
	// From here on the directory holds our data file, so it stays.
	if errors.Is(err, iofs.ErrNotExist) {
		if _, serr := os.Stat(bucketDir); serr != nil {
			err = fmt.Errorf("fs: put %s/%s: %w", bucket, key, store.ErrNoSuchBucket)
		}
	}
	if err != nil {
		os.Remove(sp.path)
		return store.ObjectInfo{}, err
	}
	sc := &sidecar{V: 1, Key: key, Size: sp.size, ETag: sp.etag, MTime: time.Now().UTC(), Data: dataName, Meta: meta.Clone()}
	if sc.Meta == nil {
		sc.Meta = store.Metadata{}
	}
	if err := s.replaceSidecar(bucket, dir, side, sc); err != nil {
		os.Remove(filepath.Join(dir, dataName))
		return store.ObjectInfo{}, err
	}
	s.sweepOnce(bucket)
	return sc.info(), nil
}

// replaceSidecar commits sc as dir/side and removes the data file of the
// record it replaced (unless sc reuses it, as a self-copy does).
func (s *Store) replaceSidecar(bucket, dir, side string, sc *sidecar) error {
	data, err := json.Marshal(sc)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmp, "side-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = s.syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	path := filepath.Join(dir, side)
	mu := s.lockFor(bucket, sc.Key)
	mu.Lock()
	old, _ := readSidecar(path)
	err = os.Rename(tmp, path)
	mu.Unlock()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if old != nil && old.Data != sc.Data {
		os.Remove(filepath.Join(dir, old.Data))
	}
	return s.syncDir(dir)
}

func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, size int64, meta store.Metadata) (store.ObjectInfo, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if err := store.CheckKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	sp, err := s.spool(ctx, r, size)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("fs: put %s/%s: %w", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(sp.path)
		return store.ObjectInfo{}, err
	}
	return s.commit(bucket, bdir, key, sp, meta)
}

// lookup returns the committed sidecar of key and its directory.
func (s *Store) lookup(bucket, key string) (*sidecar, string, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return nil, "", err
	}
	if err := store.CheckKey(key); err != nil {
		return nil, "", err
	}
	dir, side := objPath(bdir, key)
	sc, err := readSidecar(filepath.Join(dir, side))
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, errNotDir) || (err == nil && sc.Key != key) {
		return nil, "", fmt.Errorf("fs: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("fs: %s/%s: %w", bucket, key, err)
	}
	return sc, dir, nil
}

// openData opens the data file of key, re-reading the sidecar when a
// concurrent overwrite removed the file it named.
func (s *Store) openData(bucket, key string) (*os.File, *sidecar, string, error) {
	for range 10 {
		sc, dir, err := s.lookup(bucket, key)
		if err != nil {
			return nil, nil, "", err
		}
		f, err := os.Open(filepath.Join(dir, sc.Data))
		if err == nil {
			return f, sc, dir, nil
		}
		if !errors.Is(err, iofs.ErrNotExist) {
			return nil, nil, "", fmt.Errorf("fs: %s/%s: %w", bucket, key, err)
		}
	}
	return nil, nil, "", fmt.Errorf("fs: %s/%s: data keeps changing: %w", bucket, key, store.ErrUnavailable)
}

func (s *Store) Head(ctx context.Context, bucket, key string) (store.ObjectInfo, error) {
	sc, _, err := s.lookup(bucket, key)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return sc.info(), nil
}

type sectionFile struct {
	io.Reader
	f *os.File
}

func (s sectionFile) Close() error { return s.f.Close() }

func (s *Store) Get(ctx context.Context, bucket, key string, offset, length int64) (io.ReadCloser, store.ObjectInfo, error) {
	f, sc, _, err := s.openData(bucket, key)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	off, n, err := clampRange(sc.Size, offset, length)
	if err != nil {
		f.Close()
		return nil, store.ObjectInfo{}, fmt.Errorf("fs: get %s/%s: %w", bucket, key, err)
	}
	return sectionFile{io.NewSectionReader(f, off, n), f}, sc.info(), nil
}

// clampRange checks a requested range against size. As S3 does for
// "bytes=a-b", a range that starts inside the object but ends past it is
// cut at the end; one that starts at or after the end is ErrInvalidRange
// (except a whole read of an empty object).
func clampRange(size, offset, length int64) (int64, int64, error) {
	if offset < 0 || length < -1 {
		return 0, 0, store.ErrInvalidRange
	}
	if offset == 0 && length == -1 {
		return 0, size, nil
	}
	if offset >= size || length == 0 {
		return 0, 0, store.ErrInvalidRange
	}
	if length == -1 || offset+length > size {
		length = size - offset
	}
	return offset, length, nil
}

func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	sc, dir, err := s.lookup(bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, side := objPath("", key)
	mu := s.lockFor(bucket, key)
	mu.Lock()
	cur, _ := readSidecar(filepath.Join(dir, side))
	if cur != nil {
		sc = cur
	}
	err = os.Remove(filepath.Join(dir, side))
	mu.Unlock()
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("fs: delete %s/%s: %w", bucket, key, err)
	}
	os.Remove(filepath.Join(dir, sc.Data))
	// Best effort: drop now-empty plain parent directories so listings
	// stay fast (see dirLocks for the race with writers).
	bdir := s.bucketDir(bucket)
	d := dir
	dl := s.dirLock(bucket)
	dl.Lock()
	for d != bdir && strings.HasPrefix(filepath.Base(d), "d.") && os.Remove(d) == nil {
		d = filepath.Dir(d)
	}
	dl.Unlock()
	if err := s.syncDir(d); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("fs: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (s *Store) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta store.Metadata) (store.ObjectInfo, error) {
	dbdir, err := s.checkBucket(dstBucket)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	if err := store.CheckKey(dstKey); err != nil {
		return store.ObjectInfo{}, err
	}
	f, sc, sdir, err := s.openData(srcBucket, srcKey)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	defer f.Close()
	// Hard-link the data into a temp name and commit it like a Put. This
	// holds for a self-copy too (a metadata update): reusing the data file
	// name would let a concurrent overwrite, which removes the file its
	// predecessor named, delete the data under our new sidecar. If the link
	// fails (the source was overwritten meanwhile, or no hard links here),
	// copy from the already-open file, which nothing can take away.
	tmp := filepath.Join(s.tmp, "link-"+newGen())
	if err := os.Link(filepath.Join(sdir, sc.Data), tmp); err != nil {
		sp, err := s.spool(ctx, f, sc.Size)
		if err != nil {
			return store.ObjectInfo{}, fmt.Errorf("fs: copy %s/%s: %w", srcBucket, srcKey, err)
		}
		tmp = sp.path
	}
	return s.commit(dstBucket, dbdir, dstKey, spooled{path: tmp, size: sc.Size, etag: sc.ETag}, meta)
}
