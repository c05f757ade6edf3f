package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ssegate/ssegate/store"
)

// errStop ends a walk early once a page is full.
var errStop = errors.New("stop")

type lister struct {
	ctx    context.Context
	opts   store.ListOptions
	max    int
	res    store.ListResult
	n      int // entries emitted (objects + common prefixes)
	lastCP string
}

// emit adds an object or common prefix; it returns errStop when a page is
// full and one more entry exists, which is what makes IsTruncated exact.
func (l *lister) emit(obj *store.ObjectInfo, cp string) error {
	if l.n == l.max {
		l.res.IsTruncated = true
		return errStop
	}
	l.n++
	if obj != nil {
		l.res.Objects = append(l.res.Objects, *obj)
		l.res.NextStartAfter = obj.Key
	} else {
		l.res.CommonPrefixes = append(l.res.CommonPrefixes, cp)
		l.res.NextStartAfter = cp
		l.lastCP = cp
	}
	return nil
}

// commonPrefix returns the prefix key rolls up to under the delimiter, or "".
func (l *lister) commonPrefix(key string) string {
	d := l.opts.Delimiter
	if d == "" || !strings.HasPrefix(key, l.opts.Prefix) {
		return ""
	}
	rest := key[len(l.opts.Prefix):]
	if i := strings.Index(rest, d); i >= 0 {
		return key[:len(l.opts.Prefix)+i+len(d)]
	}
	return ""
}

// emitCP emits a common prefix once; keys rolling up to one prefix are
// contiguous in key order. Prefixes not after StartAfter were returned by
// an earlier page.
func (l *lister) emitCP(cp string) error {
	if cp == l.lastCP || cp <= l.opts.StartAfter {
		return nil
	}
	return l.emit(nil, cp)
}

type listEntry struct {
	sortKey string // segment, plus "/" for directories: gives S3 byte order
	seg     string
	name    string
	dir     bool
}

func (s *Store) List(ctx context.Context, bucket string, opts store.ListOptions) (store.ListResult, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return store.ListResult{}, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	l := &lister{ctx: ctx, opts: opts, max: max}
	if err := s.walk(l, bdir, ""); err != nil && !errors.Is(err, errStop) {
		return store.ListResult{}, fmt.Errorf("fs: list %s: %w", bucket, err)
	}
	if !l.res.IsTruncated {
		l.res.NextStartAfter = ""
	}
	return l.res, nil
}

// walk lists directory dir whose keys all begin with path (which is "" or
// ends in "/"), descending only into subtrees that can match the prefix and
// lie after StartAfter.
func (s *Store) walk(l *lister, dir, path string) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	ents, err := readEntries(dir)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // removed by a concurrent Delete
		}
		return err
	}
	prefix, after := l.opts.Prefix, l.opts.StartAfter
	for _, e := range ents {
		full := path + e.sortKey
		if e.dir {
			// Keys below all start with full; skip unless they can match.
			if !strings.HasPrefix(full, prefix) && !strings.HasPrefix(prefix, full) {
				continue
			}
			if full <= after && !strings.HasPrefix(after, full) {
				continue
			}
			if len(full) > len(prefix) {
				if cp := l.commonPrefix(full); cp != "" {
					// The whole subtree rolls up into cp.
					if err := l.emitCP(cp); err != nil {
						return err
					}
					continue
				}
			}
			if err := s.walk(l, filepath.Join(dir, e.name), full); err != nil {
				return err
			}
			continue
		}
		key := full
		if !strings.HasPrefix(key, prefix) || key <= after {
			continue
		}
		if cp := l.commonPrefix(key); cp != "" {
			if err := l.emitCP(cp); err != nil {
				return err
			}
			continue
		}
		sc, err := readSidecarHead(filepath.Join(dir, e.name))
		if errors.Is(err, iofs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if sc.Key != key {
			continue // stale or foreign record; never list what Get would not find
		}
		info := sc.info()
		if !l.opts.WithMeta {
			info.Meta = nil
		}
		if err := l.emit(&info, ""); err != nil {
			return err
		}
	}
	return nil
}

// readEntries returns the key-space entries of dir in S3 key order.
func readEntries(dir string) ([]listEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]listEntry, 0, len(des))
	for _, de := range des {
		kind, rest := classify(de.Name())
		var e listEntry
		switch kind {
		case kindDir, kindSidecar:
			seg, ok := unescape(rest)
			if !ok {
				continue
			}
			e = listEntry{seg: seg, name: de.Name(), dir: kind == kindDir}
		case kindHashedDir:
			seg, err := os.ReadFile(filepath.Join(dir, de.Name(), ".name"))
			if err != nil {
				continue
			}
			e = listEntry{seg: string(seg), name: de.Name(), dir: true}
		case kindHashedSidecar:
			sc, err := readSidecarHead(filepath.Join(dir, de.Name()))
			if err != nil {
				continue
			}
			seg := sc.Key[strings.LastIndexByte(sc.Key, '/')+1:]
			e = listEntry{seg: seg, name: de.Name()}
		default:
			continue
		}
		e.sortKey = e.seg
		if e.dir {
			e.sortKey += "/"
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sortKey < out[j].sortKey })
	return out, nil
}
