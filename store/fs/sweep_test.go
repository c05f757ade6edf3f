package fs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// sweepStore is a store at a root the test can inspect, with bucket "bkt".
func sweepStore(t *testing.T) (*fs.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := fs.New(root, fs.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	fs.SetInlineMax(s, -1) // the sweep is about data files
	if err := s.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	return s, root
}

func putString(t *testing.T, s *fs.Store, key, body string) {
	t.Helper()
	if _, err := s.Put(context.Background(), "bkt", key, strings.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func getString(t *testing.T, s *fs.Store, key string) (string, store.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), "bkt", key, 0, -1)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return string(b), info
}

// writeOrphan leaves a data file no sidecar names in dir, as a crash
// between moving the data in and committing its sidecar does.
func writeOrphan(t *testing.T, dir string) string {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	p := filepath.Join(dir, "o."+hex.EncodeToString(b[:]))
	if err := os.WriteFile(p, []byte("orphaned bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lastChange(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := fs.LastChange(fi)
	if !ok {
		t.Skip("no inode change time on this platform: the sweep removes nothing")
	}
	return c
}

// cutoffAfterAll returns a cutoff later than the last change of every file
// under root and no later than that of any file made afterwards: it polls
// (no sleeping) until a fresh probe file's change time has moved past them.
// Files cannot be aged with os.Chtimes, which updates the change time.
func cutoffAfterAll(t *testing.T, root string) time.Time {
	t.Helper()
	var latest time.Time
	err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if c := lastChange(t, p); c.After(latest) {
				latest = c
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(t.TempDir(), "probe")
	for range 1_000_000 {
		if err := os.WriteFile(probe, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		c := lastChange(t, probe)
		os.Remove(probe)
		if c.After(latest) {
			return c
		}
	}
	t.Fatal("the filesystem clock did not move on")
	return time.Time{}
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !errors.Is(err, iofs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// filesHolding returns the two data files in dir holding body.
func filesHolding(t *testing.T, dir, body string) (string, string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "o.") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil && string(b) == body {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) != 2 {
		t.Fatalf("data files holding %q in %s: %q, want 2", body, dir, out)
	}
	return out[0], out[1]
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

func onlyDir(t *testing.T, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("glob %s: %v %v", pattern, m, err)
	}
	return m[0]
}

func TestSweepRemovesOldUnreferencedDataFilesAndNothingElse(t *testing.T) {
	s, root := sweepStore(t)
	ctx := context.Background()
	bdir := filepath.Join(root, "bkt")
	longDirKey := strings.Repeat("l", 300) + "/leaf" // hashed directory
	longLeafKey := "dir/" + strings.Repeat("z", 300) // hashed sidecar
	want := map[string]string{"a": "alpha", "dir/b": "bravo", longDirKey: "long dir", longLeafKey: "long leaf"}
	for k, v := range want {
		putString(t, s, k, v)
	}
	// A copy hard-links the source's data; a self-copy links it anew.
	if _, err := s.Copy(ctx, "bkt", "a", "bkt", "c", nil); err != nil {
		t.Fatal(err)
	}
	want["c"] = "alpha"
	if _, err := s.Copy(ctx, "bkt", "dir/b", "bkt", "dir/b", store.Metadata{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if a, c := filesHolding(t, bdir, "alpha"); !sameFile(t, a, c) {
		t.Fatal("Copy did not hard-link: the test would not cover links")
	}
	// An open upload (part 1 uploaded twice) and a completed one.
	open, err := s.CreateMultipart(ctx, "bkt", "open", nil)
	if err != nil {
		t.Fatal(err)
	}
	etags := map[int]string{}
	for _, p := range []struct {
		n    int
		body string
	}{{1, "part one "}, {2, "part two"}, {1, "PART ONE "}} {
		pi, err := s.UploadPart(ctx, "bkt", "open", open, p.n, strings.NewReader(p.body), int64(len(p.body)), nil)
		if err != nil {
			t.Fatal(err)
		}
		etags[p.n] = pi.ETag
	}
	done, err := s.CreateMultipart(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cps []store.CompletePart
	for n, body := range []string{"first ", "second"} {
		pi, err := s.UploadPart(ctx, "bkt", "mp", done, n+1, strings.NewReader(body), int64(len(body)), nil)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, store.CompletePart{Number: n + 1, ETag: pi.ETag})
	}
	if _, err := s.CompleteMultipart(ctx, "bkt", "mp", done, cps, nil); err != nil {
		t.Fatal(err)
	}
	want["mp"] = "first second"

	// Crash leftovers, old by the time of the sweep. The background sweep
	// the first write started must be over first, or it may remove the
	// crash directory while it is still empty.
	fs.WaitSweeps(s)
	uploadDir := filepath.Join(bdir, ".sys", "mpu", open)
	crashDir := filepath.Join(bdir, "d.crash") // a Put that died before its sidecar
	if err := os.Mkdir(crashDir, 0o700); err != nil {
		t.Fatal(err)
	}
	oldOrphans := []string{
		writeOrphan(t, bdir),
		writeOrphan(t, filepath.Join(bdir, "d.dir")),
		writeOrphan(t, onlyDir(t, filepath.Join(bdir, "hd.*"))),
		writeOrphan(t, uploadDir),
		writeOrphan(t, crashDir),
	}
	junk := filepath.Join(bdir, "d.dir", "not-a-data-file")
	if err := os.WriteFile(junk, []byte("?"), 0o600); err != nil {
		t.Fatal(err)
	}

	cutoff := cutoffAfterAll(t, root)

	// Writes in flight at the time of the sweep: young files.
	young := []string{writeOrphan(t, bdir), writeOrphan(t, uploadDir)}
	// A Copy between linking old data in and committing its sidecar: the
	// link's mtime is the source's (old), only its change time is new.
	midCopy := filepath.Join(bdir, "d.dir", "o.0123456789abcdef0123456789abcdef")
	src, _ := filesHolding(t, bdir, "alpha")
	if err := os.Link(src, midCopy); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(midCopy); err != nil || !fi.ModTime().Before(cutoff) {
		t.Fatalf("mid-copy link: mtime %v not before cutoff %v (%v): the test lost its point", fi.ModTime(), cutoff, err)
	}
	young = append(young, midCopy, junk)

	n, err := s.SweepOrphans(ctx, "bkt", cutoff)
	if err != nil || n != len(oldOrphans) {
		t.Fatalf("SweepOrphans = %d, %v; want %d, nil", n, err, len(oldOrphans))
	}
	for _, p := range oldOrphans {
		if exists(t, p) {
			t.Errorf("old orphan %s survived the sweep", p)
		}
	}
	if exists(t, crashDir) {
		t.Error("directory emptied by the sweep is still there")
	}
	for _, p := range young {
		if !exists(t, p) {
			t.Errorf("sweep removed %s, which is young", p)
		}
	}
	for k, v := range want {
		if got, _ := getString(t, s, k); got != v {
			t.Errorf("after sweep %q = %q, want %q", k, got, v)
		}
	}
	if _, info := getString(t, s, "dir/b"); info.Meta["x"] != "y" {
		t.Errorf("self-copied metadata lost: %v", info.Meta)
	}
	res, err := s.List(ctx, "bkt", store.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(res.CommonPrefixes, "crash/") {
		t.Errorf("listing shows the emptied directory: %v", res.CommonPrefixes)
	}
	parts, err := s.ListParts(ctx, "bkt", "open", open)
	if err != nil || len(parts) != 2 {
		t.Fatalf("ListParts after sweep = %v, %v", parts, err)
	}
	if _, err := s.CompleteMultipart(ctx, "bkt", "open", open,
		[]store.CompletePart{{Number: 1, ETag: etags[1]}, {Number: 2, ETag: etags[2]}}, nil); err != nil {
		t.Fatalf("Complete after sweep: %v", err)
	}
	if got, _ := getString(t, s, "open"); got != "PART ONE part two" {
		t.Errorf("completed after sweep = %q", got)
	}
	if n, err := s.SweepOrphans(ctx, "bkt", cutoff); n != 0 || err != nil {
		t.Errorf("second sweep = %d, %v; want 0, nil", n, err)
	}
}

// os.Chtimes cannot make a file look old: it changes the inode, and the
// sweep goes by the later of change and modification time (a hard link
// keeps an old mtime, see sweep.go).
func TestSweepKeepsOrphanWhoseOnlyOldTimeIsItsMtime(t *testing.T) {
	s, root := sweepStore(t)
	putString(t, s, "k", "v")
	p := writeOrphan(t, filepath.Join(root, "bkt"))
	twoDaysAgo := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(p, twoDaysAgo, twoDaysAgo); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepOrphans(context.Background(), "bkt", time.Now().Add(-24*time.Hour))
	if err != nil || n != 0 || !exists(t, p) {
		t.Fatalf("SweepOrphans = %d, %v, orphan exists %v; want 0, nil, true", n, err, exists(t, p))
	}
}

func TestSweepKeepsEveryFileBesideAnUnreadableSidecar(t *testing.T) {
	s, root := sweepStore(t)
	putString(t, s, "d/x", "x")
	ddir := filepath.Join(root, "bkt", "d.d")
	if err := os.WriteFile(filepath.Join(ddir, "m.bad"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept := writeOrphan(t, ddir)
	gone := writeOrphan(t, filepath.Join(root, "bkt"))
	cutoff := cutoffAfterAll(t, root)
	n, err := s.SweepOrphans(context.Background(), "bkt", cutoff)
	if n != 1 || err == nil {
		t.Fatalf("SweepOrphans = %d, %v; want 1 and an error about the corrupt sidecar", n, err)
	}
	if !exists(t, kept) || exists(t, gone) {
		t.Errorf("beside corrupt sidecar kept=%v (want true); elsewhere kept=%v (want false)", exists(t, kept), exists(t, gone))
	}
	if got, _ := getString(t, s, "d/x"); got != "x" {
		t.Errorf("d/x = %q", got)
	}
}

func TestSweepOfUnknownBucketIsNoSuchBucket(t *testing.T) {
	s, _ := sweepStore(t)
	if _, err := s.SweepOrphans(context.Background(), "nope", time.Now()); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("err = %v, want ErrNoSuchBucket", err)
	}
}

func TestSweepWithCancelledContextRemovesNothing(t *testing.T) {
	s, root := sweepStore(t)
	p := writeOrphan(t, filepath.Join(root, "bkt"))
	cutoff := cutoffAfterAll(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := s.SweepOrphans(ctx, "bkt", cutoff)
	if !errors.Is(err, context.Canceled) || n != 0 || !exists(t, p) {
		t.Fatalf("SweepOrphans = %d, %v, orphan exists %v", n, err, exists(t, p))
	}
}

func TestBackgroundSweepRunsOnceAfterTheFirstWriteToABucket(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s, err := fs.New(root, fs.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	fs.SetOrphanGrace(s, time.Nanosecond)
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(root, "bkt")
	first := writeOrphan(t, bdir)
	cutoffAfterAll(t, root) // the orphan is now older than the grace
	putString(t, s, "k1", "one")
	fs.WaitSweeps(s)
	if exists(t, first) {
		t.Fatal("the first write to the bucket did not sweep it")
	}

	second := writeOrphan(t, bdir)
	cutoffAfterAll(t, root)
	putString(t, s, "k2", "two")
	fs.WaitSweeps(s)
	if !exists(t, second) {
		t.Fatal("a second write swept the bucket again; want once per Store")
	}

	// A new Store (a restart) sweeps again, here triggered by a part.
	s2, err := fs.New(root, fs.WithoutFsync())
	if err != nil {
		t.Fatal(err)
	}
	fs.SetOrphanGrace(s2, time.Nanosecond)
	id, err := s2.CreateMultipart(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("p"), 1, nil); err != nil {
		t.Fatal(err)
	}
	fs.WaitSweeps(s2)
	if exists(t, second) {
		t.Fatal("a restarted store did not sweep on its first write")
	}
	for k, v := range map[string]string{"k1": "one", "k2": "two"} {
		if got, _ := getString(t, s2, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if parts, err := s2.ListParts(ctx, "bkt", "mp", id); err != nil || len(parts) != 1 {
		t.Errorf("ListParts = %v, %v", parts, err)
	}
}

// Copies of old data, overwrites and parts racing with repeated sweeps:
// every committed object must survive (run with -race).
func TestSweepDuringConcurrentWritesKeepsEveryCommittedObject(t *testing.T) {
	s, root := sweepStore(t)
	ctx := context.Background()
	putString(t, s, "src", "source bytes")
	id, err := s.CreateMultipart(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	oldOrphan := writeOrphan(t, filepath.Join(root, "bkt"))
	cutoff := cutoffAfterAll(t, root)

	const writers, rounds = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*3+1)
	stop := make(chan struct{})
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		for {
			if _, err := s.SweepOrphans(ctx, "bkt", cutoff); err != nil {
				errs <- err
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				body := fmt.Sprintf("w%d-%d", g, i)
				if _, err := s.Put(ctx, "bkt", fmt.Sprintf("w/%d", g), strings.NewReader(body), -1, nil); err != nil {
					errs <- err
				}
				if _, err := s.Copy(ctx, "bkt", "src", "bkt", fmt.Sprintf("cp/%d/%d", g, i), nil); err != nil {
					errs <- err
				}
				if _, err := s.UploadPart(ctx, "bkt", "mp", id, g+1, strings.NewReader(body), -1, nil); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sweepDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if exists(t, oldOrphan) {
		t.Error("old orphan survived")
	}
	for g := range writers {
		if got, _ := getString(t, s, fmt.Sprintf("w/%d", g)); got != fmt.Sprintf("w%d-%d", g, rounds-1) {
			t.Errorf("w/%d = %q", g, got)
		}
		for i := range rounds {
			if got, _ := getString(t, s, fmt.Sprintf("cp/%d/%d", g, i)); got != "source bytes" {
				t.Errorf("cp/%d/%d = %q", g, i, got)
			}
		}
	}
	parts, err := s.ListParts(ctx, "bkt", "mp", id)
	if err != nil || len(parts) != writers {
		t.Fatalf("ListParts = %v, %v", parts, err)
	}
	var cps []store.CompletePart
	for _, p := range parts {
		cps = append(cps, store.CompletePart{Number: p.Number, ETag: p.ETag})
	}
	if _, err := s.CompleteMultipart(ctx, "bkt", "mp", id, cps, nil); err != nil {
		t.Fatal(err)
	}
	want := ""
	for g := range writers {
		want += fmt.Sprintf("w%d-%d", g, rounds-1)
	}
	if got, _ := getString(t, s, "mp"); got != want {
		t.Errorf("mp = %q, want %q", got, want)
	}
}
