package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A write puts its data file (o.<gen>) into the key's directory before it
// commits the sidecar naming it, so a crash, or a failure between the two,
// leaves a data file that no sidecar names. The sweep below removes such
// orphans.
//
// Why it never removes data a writer is about to commit, in this process or
// another one sharing the root: it removes a file only if, at the time it
// looks, no sidecar in the directory names the file AND the file's inode
// has not changed since before cutoff (default: a day ago). A writer's data
// file is always "young" until it is committed:
//
//   - Put, UploadPart and Complete spool into .tmp (never swept) and rename
//     the finished file into place, so its last write is moments before the
//     sidecar that names it is committed.
//   - Copy hard-links the source's data file, whose mtime may be years old.
//     mtime is therefore NOT enough: the race "sweep reads the sidecars
//     (naming the old generation) → a Copy links old data under a new name
//     and commits a sidecar naming it → the sweep sees an old, unreferenced
//     file and deletes a live object" is real. link(2) updates the inode's
//     change time (ctime), so we judge age by the later of ctime and mtime.
//
// So a file old by that measure was renamed or linked into place long before
// the sweep started; if a sidecar was ever going to name it, that sidecar
// was committed long ago and the sweep, which reads the sidecars after it
// has listed and stat'ed the files, sees it (or sees its replacement, in
// which case the file is garbage anyway: replaceSidecar removes it too). The
// argument holds as long as no writer stalls for longer than the grace
// period between its data file's last change and its commit.
//
// A side effect: os.Chtimes and chmod also update ctime, so a file cannot be
// made "old" after the fact; tests pick a cutoff after the files they mean
// to be old instead.

const defaultOrphanGrace = 24 * time.Hour

// SweepOrphans removes the data files of bucket (of objects and of parts of
// open multipart uploads) that no sidecar names and whose inode has not
// changed since before cutoff, and plain key directories left empty. It
// returns how many data files it removed. A directory with a sidecar it
// cannot read keeps all its files (nothing there is provably garbage); the
// sweep goes on with the other directories and reports the first such
// problem as its error.
//
// cutoff must lie further in the past than any write may take between its
// data file's last change and its commit (see sweep.go); the Store's own
// background sweep uses a day ago.
func (s *Store) SweepOrphans(ctx context.Context, bucket string, cutoff time.Time) (int, error) {
	bdir, err := s.checkBucket(bucket)
	if err != nil {
		return 0, err
	}
	w := &sweeper{s: s, ctx: ctx, bucket: bucket, cutoff: cutoff}
	w.keyDir(bdir)
	w.uploads(filepath.Join(bdir, sysDir, "mpu"))
	if err := ctx.Err(); err != nil {
		return w.n, err
	}
	return w.n, w.err
}

// sweepOnce starts, at most once per bucket and Store, a background sweep
// of bucket. It is called after a write to bucket succeeds, so the write
// path never waits for a walk of the bucket, and buckets nobody writes to
// (hence nobody crashed writing to) are not walked. One sweep runs at a
// time per Store, so a burst of first writes to many buckets does not turn
// into as many concurrent tree walks. Errors are not retried: a directory
// the sweep could not judge keeps its files until the next process.
func (s *Store) sweepOnce(bucket string) {
	if _, done := s.swept.LoadOrStore(bucket, true); done {
		return
	}
	s.sweeps.Add(1)
	go func() {
		defer s.sweeps.Done()
		s.sweepSem <- struct{}{}
		defer func() { <-s.sweepSem }()
		// The Store has no Close, so the sweep has no lifetime context; it
		// ends with the walk. The cutoff is taken when it starts, not when
		// it was queued, so a queued sweep is never less careful.
		s.SweepOrphans(context.Background(), bucket, time.Now().Add(-s.orphanGrace))
	}()
}

type sweeper struct {
	s      *Store
	ctx    context.Context
	bucket string
	cutoff time.Time
	n      int
	err    error // the first problem; the walk goes on past it
}

func (w *sweeper) fail(err error) {
	if w.err == nil {
		w.err = fmt.Errorf("fs: sweep %s: %w", w.bucket, err)
	}
}

// keyDir sweeps one directory of the key space and the directories below
// it, and reports whether it saw dir emptied (every entry it listed is
// gone). Object sidecars (m.*, hm.*) name data files in their own directory.
func (w *sweeper) keyDir(dir string) (emptied bool) {
	if w.ctx.Err() != nil {
		return false
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, iofs.ErrNotExist) { // else: removed meanwhile
			w.fail(err)
		}
		return false
	}
	left := len(des) - w.dataFiles(dir, des, func(name string) bool {
		kind, _ := classify(name)
		return kind == kindSidecar || kind == kindHashedSidecar
	})
	for _, de := range des {
		// Type() does not follow symlinks: the walk never leaves the root.
		if !de.Type().IsDir() {
			continue
		}
		switch kind, _ := classify(de.Name()); kind {
		case kindDir:
			sub := filepath.Join(dir, de.Name())
			if w.keyDir(sub) && w.removeIfEmpty(sub) {
				left--
			}
		case kindHashedDir: // never empty: it holds its ".name"
			w.keyDir(filepath.Join(dir, de.Name()))
		}
	}
	return left == 0
}

// uploads sweeps the directory of every open multipart upload, where part
// sidecars (p.<n>) name the part data files. Upload directories themselves
// stay: an upload nobody completes is the client's to abort.
func (w *sweeper) uploads(mpu string) {
	des, err := os.ReadDir(mpu)
	if err != nil {
		if !errors.Is(err, iofs.ErrNotExist) {
			w.fail(err)
		}
		return
	}
	for _, de := range des {
		if w.ctx.Err() != nil {
			return
		}
		if !de.Type().IsDir() {
			continue
		}
		dir := filepath.Join(mpu, de.Name())
		parts, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, iofs.ErrNotExist) { // else: completed or aborted meanwhile
				w.fail(err)
			}
			continue
		}
		w.dataFiles(dir, parts, func(name string) bool { return strings.HasPrefix(name, "p.") })
	}
}

// dataFiles removes the data files among des (the entries of dir) that are
// older than the cutoff and named by none of the sidecars among des, and
// returns how many it removed.
func (w *sweeper) dataFiles(dir string, des []os.DirEntry, isSidecar func(string) bool) (removed int) {
	// First the files, then the sidecars: see the comment at the top.
	old := map[string]bool{}
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), "o.") || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info() // a fresh lstat on Linux, after ReadDir
		if err != nil {
			continue // removed meanwhile, or unknowable: keep
		}
		if changed, ok := lastChange(fi); ok && changed.Before(w.cutoff) {
			old[de.Name()] = true
		}
	}
	if len(old) == 0 {
		return 0
	}
	for _, de := range des {
		if !isSidecar(de.Name()) {
			continue
		}
		sc, err := readSidecarHead(filepath.Join(dir, de.Name()))
		if errors.Is(err, iofs.ErrNotExist) {
			continue // deleted meanwhile: it names nothing now
		}
		if err != nil {
			// A sidecar we cannot read may name any of the files.
			w.fail(err)
			return 0
		}
		delete(old, sc.Data)
	}
	for name := range old {
		if w.ctx.Err() != nil {
			return removed
		}
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			w.n++
			removed++
		case !errors.Is(err, iofs.ErrNotExist):
			w.fail(err)
		}
	}
	return removed
}

// removeIfEmpty drops a plain key directory the sweep emptied (orphans
// were all it held), so listings do not walk it or report it as a common
// prefix. It takes the bucket's directory lock as Delete does, so a writer
// of this process that created the directory but has not yet moved its data
// in is not undercut; rmdir fails, harmlessly, on a directory not empty.
func (w *sweeper) removeIfEmpty(dir string) bool {
	dl := w.s.dirLock(w.bucket)
	dl.Lock()
	err := os.Remove(dir)
	dl.Unlock()
	return err == nil
}

// lastChange is the later of a file's change time and modification time:
// when it was last written, linked, renamed or had its attributes set. ok is
// false where the change time is unknown; such a file is never swept.
func lastChange(fi iofs.FileInfo) (time.Time, bool) {
	c, ok := changeTime(fi)
	if !ok {
		return time.Time{}, false
	}
	if m := fi.ModTime(); m.After(c) {
		return m, true
	}
	return c, true
}
