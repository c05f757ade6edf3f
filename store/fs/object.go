package fs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ssegate/ssegate/store"
)

// sidecar is the commit record of an object (and of a multipart part).
//
// Version 1 is a JSON document alone; the data lives in the file named by
// Data in the same directory. Version 2 (objects only, never parts) holds
// the data inline: the JSON document, one newline, then exactly Size bytes.
// encoding/json never writes a raw newline, so the first one ends the
// record. A small object is then one file, one fsync and one rename instead
// of two of each, and a GET of it one open (see docs/benchmarks.md).
type sidecar struct {
	V     int            `json:"v"`
	Key   string         `json:"key"`
	Size  int64          `json:"size"`
	ETag  string         `json:"etag"`
	MTime time.Time      `json:"mtime"`
	Data  string         `json:"data"` // data file name in the same directory; "" in version 2
	Meta  store.Metadata `json:"meta"`

	inline []byte // version 2: the data, when read with it
}

const (
	sidecarFile   = 1
	sidecarInline = 2
	// inlineMax is the largest object Put stores inline (MinIO's inline
	// threshold too); maxInlineRead is the largest a reader accepts, so a
	// later, larger threshold stays readable.
	inlineMax     = 128 << 10
	maxInlineRead = 1 << 20
	// maxRecord bounds the JSON document a head-only read takes in. The
	// metadata comes from request headers (the gateway caps a header block
	// at 1 MiB), and JSON escaping grows a byte to at most six.
	maxRecord = 8 << 20
)

func (sc *sidecar) info() store.ObjectInfo {
	meta := sc.Meta.Clone()
	return store.ObjectInfo{Key: sc.Key, Size: sc.Size, ETag: sc.ETag, LastModified: sc.MTime, Meta: meta}
}

// encode is the file content of sc.
func (sc *sidecar) encode() ([]byte, error) {
	data, err := json.Marshal(sc)
	if err != nil {
		return nil, err
	}
	if sc.V == sidecarInline {
		data = append(append(data, '\n'), sc.inline...)
	}
	return data, nil
}

// readSidecar reads the record at path with its inline data.
func readSidecar(path string) (*sidecar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseSidecar(path, data, true)
}

// readSidecarHead reads only the record at path, not its inline data: what
// listings, sweeps and overwrites need.
func readSidecarHead(path string) (*sidecar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, 4<<10)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxRecord {
				return nil, fmt.Errorf("corrupt sidecar %s: record longer than %d bytes", filepath.Base(path), maxRecord)
			}
			buf = slices.Grow(buf, len(buf))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			return parseSidecar(path, buf[:len(buf)+i+1], false)
		}
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return parseSidecar(path, buf, false)
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseSidecar checks a record read from path; with withData, data is the
// whole file and the inline data must be exactly Size bytes.
func parseSidecar(path string, data []byte, withData bool) (*sidecar, error) {
	doc, rest, hasData := bytes.Cut(data, []byte{'\n'})
	var sc sidecar
	if err := json.Unmarshal(doc, &sc); err != nil {
		return nil, fmt.Errorf("corrupt sidecar %s: %w", filepath.Base(path), err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("corrupt sidecar %s: "+format, append([]any{filepath.Base(path)}, args...)...)
	}
	switch sc.V {
	case sidecarFile:
		// The data name must be a plain entry of this directory.
		if sc.Data == "" || strings.ContainsAny(sc.Data, `/\`) || !strings.HasPrefix(sc.Data, "o.") {
			return nil, bad("bad data name")
		}
		if hasData {
			return nil, bad("data after a version 1 record")
		}
	case sidecarInline:
		if sc.Data != "" || !hasData {
			return nil, bad("version 2 record without inline data")
		}
		if sc.Size < 0 || sc.Size > maxInlineRead {
			return nil, bad("inline size %d", sc.Size)
		}
		if withData {
			if int64(len(rest)) != sc.Size {
				return nil, bad("%d bytes of inline data, want %d", len(rest), sc.Size)
			}
			sc.inline = rest
		}
	default:
		return nil, bad("unsupported version %d", sc.V)
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

// commit makes the spooled data the object key. A larger object's data
// file is renamed into the key's directory first; the new record is then
// written to a synced temp file (on a journaling filesystem that sync also
// makes the data's rename durable, so a record never outlives its data in
// a crash) and renamed over the old one; last the directory is synced. An
// inline object's record is written first, then renamed in.
func (s *Store) commit(bucket, bucketDir, key string, sp spooled, meta store.Metadata) (store.ObjectInfo, error) {
	dir, side := objPath(bucketDir, key)
	sc := &sidecar{V: sidecarFile, Key: key, Size: sp.size, ETag: sp.etag, MTime: time.Now().UTC(), Meta: meta.Clone()}
	if sc.Meta == nil {
		sc.Meta = store.Metadata{}
	}
	fail := func(err error, remove ...string) (store.ObjectInfo, error) {
		for _, p := range remove {
			if p != "" {
				os.Remove(p)
			}
		}
		if errors.Is(err, iofs.ErrNotExist) {
			if _, serr := os.Stat(bucketDir); serr != nil {
				err = store.ErrNoSuchBucket
			}
		}
		return store.ObjectInfo{}, fmt.Errorf("fs: put %s/%s: %w", bucket, key, err)
	}
	// The directory lock keeps Delete from removing the key's (maybe new)
	// directory before a file of ours is in it.
	dl := s.dirLock(bucket)
	var old *sidecar
	if sp.path != "" {
		sc.Data = "o." + newGen()
		data := filepath.Join(dir, sc.Data)
		dl.RLock()
		err := s.ensureDir(bucketDir, key)
		if err == nil {
			err = os.Rename(sp.path, data)
		}
		dl.RUnlock()
		if err != nil {
			return fail(err, sp.path)
		}
		// From here on the directory holds our data file, so it stays.
		tmp, err := s.writeTemp(sc)
		if err != nil {
			return fail(err, data)
		}
		if old, err = s.install(bucket, key, tmp, filepath.Join(dir, side)); err != nil {
			return fail(err, tmp, data)
		}
	} else {
		sc.V, sc.inline = sidecarInline, sp.inline
		tmp, err := s.writeTemp(sc)
		if err != nil {
			return fail(err)
		}
		dl.RLock()
		err = s.ensureDir(bucketDir, key)
		if err == nil {
			old, err = s.install(bucket, key, tmp, filepath.Join(dir, side))
		}
		dl.RUnlock()
		if err != nil {
			return fail(err, tmp)
		}
	}
	s.dropReplaced(dir, old, sc)
	// The object is visible from here on: a failed sync must not remove
	// its data, or the record would name nothing.
	if err := s.syncDir(dir); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("fs: put %s/%s: %w", bucket, key, err)
	}
	s.sweepOnce(bucket)
	return sc.info(), nil
}

// writeTemp writes sc to a new synced temp file and returns its path.
func (s *Store) writeTemp(sc *sidecar) (string, error) {
	data, err := sc.encode()
	if err != nil {
		return "", err
	}
	return s.writeSynced("side-", data)
}

// install renames the temp record tmp over path, serialised per key so
// that the record it replaces, which it returns, is exactly the one whose
// data the caller removes.
func (s *Store) install(bucket, key, tmp, path string) (*sidecar, error) {
	mu := s.lockFor(bucket, key)
	mu.Lock()
	defer mu.Unlock()
	old, _ := readSidecarHead(path)
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return old, nil
}

// dropReplaced removes the data file of the record old that sc replaced in
// dir, unless sc reuses it.
func (s *Store) dropReplaced(dir string, old, sc *sidecar) {
	if old != nil && old.Data != "" && old.Data != sc.Data {
		os.Remove(filepath.Join(dir, old.Data))
	}
}

// replaceSidecar commits sc as dir/side, a directory that exists, and
// removes the data file of the record it replaced.
func (s *Store) replaceSidecar(bucket, dir, side string, sc *sidecar) error {
	tmp, err := s.writeTemp(sc)
	if err != nil {
		return err
	}
	old, err := s.install(bucket, sc.Key, tmp, filepath.Join(dir, side))
	if err != nil {
		os.Remove(tmp)
		return err
	}
	s.dropReplaced(dir, old, sc)
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
	var sp spooled
	if size >= 0 && size <= s.inlineMax {
		sp, err = receive(ctx, r, size)
	} else {
		sp, err = s.spool(ctx, r, size)
	}
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("fs: put %s/%s: %w", bucket, key, err)
	}
	if err := ctx.Err(); err != nil {
		if sp.path != "" {
			os.Remove(sp.path)
		}
		return store.ObjectInfo{}, err
	}
	return s.commit(bucket, bdir, key, sp, meta)
}

// lookup returns the committed sidecar of key, with its inline data if
// withData, and its directory.
func (s *Store) lookup(bucket, key string, withData bool) (*sidecar, string, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return nil, "", err
	}
	if err := store.CheckKey(key); err != nil {
		return nil, "", err
	}
	dir, side := objPath(bdir, key)
	read := readSidecarHead
	if withData {
		read = readSidecar
	}
	sc, err := read(filepath.Join(dir, side))
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, errNotDir) || (err == nil && sc.Key != key) {
		return nil, "", fmt.Errorf("fs: %s/%s: %w", bucket, key, store.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("fs: %s/%s: %w", bucket, key, err)
	}
	return sc, dir, nil
}

// openData opens the data of key: its data file, or nil with the data in
// the returned record when it is inline. It re-reads the record when a
// concurrent overwrite removed the file it named.
func (s *Store) openData(bucket, key string) (*os.File, *sidecar, string, error) {
	for range 10 {
		sc, dir, err := s.lookup(bucket, key, true)
		if err != nil {
			return nil, nil, "", err
		}
		if sc.V == sidecarInline {
			return nil, sc, dir, nil
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
	sc, _, err := s.lookup(bucket, key, false)
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
		if f != nil {
			f.Close()
		}
		return nil, store.ObjectInfo{}, fmt.Errorf("fs: get %s/%s: %w", bucket, key, err)
	}
	if f == nil {
		return io.NopCloser(bytes.NewReader(sc.inline[off : off+n])), sc.info(), nil
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
	sc, dir, err := s.lookup(bucket, key, false)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, side := objPath("", key)
	mu := s.lockFor(bucket, key)
	mu.Lock()
	cur, _ := readSidecarHead(filepath.Join(dir, side))
	if cur != nil {
		sc = cur
	}
	err = os.Remove(filepath.Join(dir, side))
	mu.Unlock()
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("fs: delete %s/%s: %w", bucket, key, err)
	}
	if sc.Data != "" {
		os.Remove(filepath.Join(dir, sc.Data))
	}
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
	if f == nil {
		return s.commit(dstBucket, dbdir, dstKey, spooled{inline: sc.inline, size: sc.Size, etag: sc.ETag}, meta)
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
