package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ssegate/ssegate/store"
)

// writeFileAtomic writes small data to path via a temp file and rename.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	tmp, err := s.writeSynced("w-", data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return s.syncDir(filepath.Dir(path))
}

// writeSynced writes data to a new temp file (name prefix), syncs it and
// returns its path; on an error it leaves nothing behind.
func (s *Store) writeSynced(prefix string, data []byte) (string, error) {
	f, err := os.CreateTemp(s.tmp, prefix)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = s.syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func (s *Store) writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.writeFileAtomic(path, data)
}

func (s *Store) syncFile(f *os.File) error {
	if s.noSync {
		return nil
	}
	return f.Sync()
}

func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// ctxReader stops a copy as soon as ctx is done.
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

// spooled is data not yet visible anywhere: in a temp file, or in memory
// (path "") for an object stored inline in its sidecar.
type spooled struct {
	path   string
	inline []byte
	size   int64
	etag   string
}

// receive reads exactly size bytes of r into memory, for inline storage.
func receive(ctx context.Context, r io.Reader, size int64) (spooled, error) {
	buf := make([]byte, size)
	if n, err := io.ReadFull(ctxReader{ctx, r}, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return spooled{}, fmt.Errorf("got %d of %d bytes: %w", n, size, store.ErrIncompleteBody)
		}
		return spooled{}, err
	}
	if err := store.ExpectEOF(ctxReader{ctx, r}); err != nil {
		return spooled{}, err
	}
	return spooled{inline: buf, size: size, etag: newETag()}, nil
}

// spool copies exactly size bytes (or until EOF when size is -1) from r to
// a new synced temp file, hashing as it goes. On any error, including a
// short body, the temp file is removed.
func (s *Store) spool(ctx context.Context, r io.Reader, size int64) (sp spooled, err error) {
	f, err := os.CreateTemp(s.tmp, "data-")
	if err != nil {
		return sp, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	bp := s.bufs.Get().(*[]byte)
	n, err := io.CopyBuffer(f, src, *bp)
	s.bufs.Put(bp)
	if err != nil {
		return sp, err
	}
	if size >= 0 && n != size {
		return sp, fmt.Errorf("got %d of %d bytes: %w", n, size, store.ErrIncompleteBody)
	}
	if size >= 0 {
		if err := store.ExpectEOF(ctxReader{ctx, r}); err != nil {
			return sp, err
		}
	}
	if err := s.syncFile(f); err != nil {
		return sp, err
	}
	if err := f.Close(); err != nil {
		return sp, err
	}
	return spooled{path: f.Name(), size: n, etag: newETag()}, nil
}

// errNotDir: a key such as "a/b" when "a" names only an object never
// resolves (directories and sidecars have distinct names), but keep the
// check for robustness against odd filesystems.
var errNotDir = syscall.ENOTDIR

// newETag is a stored object's backend ETag: an opaque, random version id
// (store.ObjectInfo.ETag). Not an MD5 of the data: the gateway keeps its own
// ETags in the metadata and uses ours only to tell versions apart, so
// hashing every stored byte again would cost a fifth of a PUT's CPU for
// nothing.
func newETag() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (Go >= 1.24 crashes instead)
	return hex.EncodeToString(b[:])
}
