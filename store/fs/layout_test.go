package fs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// walkNames returns every path below dir, relative to it.
func walkNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bucketStore is a Store on a new directory, which it returns too, with
// the bucket "bkt".
func bucketStore(t *testing.T) (*fs.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	return s, root
}

func TestTrickyKeysStayInsideRootAndRoundTrip(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a//b", "./x", "x/./y", "x/.", ".", "...", ".../x", "a/b//", "%2e%2e/x", "..%2fx", "a\\..\\..\\x",
		".sys", ".sys/config/encryption", ".tmp/x", "d.x/m.y", "o.0123", "hd.x", "%", "%zz", "tab\there", "nl\nhere",
		strings.Repeat("k", 300), strings.Repeat("é", 400) + "/leaf", "dir/" + strings.Repeat("z", 1000)}
	for _, k := range keys {
		if _, err := s.Put(ctx, "bkt", k, strings.NewReader("v:"+k), -1, store.Metadata{"k": "v"}); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	for _, k := range keys {
		rc, _, err := s.Get(ctx, "bkt", k, 0, -1)
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "v:"+k {
			t.Fatalf("Get(%q) = %q", k, got)
		}
	}
	res, err := s.List(ctx, "bkt", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range res.Objects {
		listed = append(listed, o.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("List = %q\nwant %q", listed, want)
	}
	// Config blobs are untouched by keys that look like system paths.
	if _, err := s.GetBucketConfig(ctx, "bkt", "encryption"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key named like a config blob created one: %v", err)
	}
	if names, _ := os.ReadDir(parent); len(names) != 1 {
		t.Fatalf("files created next to root: %v", names)
	}
	for _, p := range walkNames(t, root) {
		for _, name := range strings.Split(p, string(filepath.Separator)) {
			if len(name) > 255 {
				t.Fatalf("file name longer than 255 bytes: %q", name)
			}
		}
	}
	for _, k := range keys {
		if err := s.Delete(ctx, "bkt", k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
	}
	if err := s.DeleteBucket(ctx, "bkt"); err != nil {
		t.Fatalf("DeleteBucket after deleting everything: %v", err)
	}
}

func TestCorruptSidecarCannotNameFileOutsideItsDirectory(t *testing.T) {
	root := t.TempDir()
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	fs.SetInlineMax(s, -1)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	if _, err := s.Put(ctx, "bkt", "k", strings.NewReader("x"), 1, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "secret"), []byte("secret"), 0o600)
	side := filepath.Join(root, "bkt", "m.k")
	data, _ := os.ReadFile(side)
	bad := bytes.Replace(data, []byte(`"data":"o.`), []byte(`"data":"../../secret","x":"`), 1)
	if bytes.Equal(bad, data) {
		t.Fatal("test could not corrupt the sidecar")
	}
	os.WriteFile(side, bad, 0o600)
	if _, _, err := s.Get(ctx, "bkt", "k", 0, -1); err == nil {
		t.Fatal("Get followed a data name outside the key's directory")
	}
}

func TestNewRemovesStaleTempFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, ".tmp", "dir"), 0o700)
	os.WriteFile(filepath.Join(root, ".tmp", "data-stale"), []byte("x"), 0o600)
	if _, err := fs.New(root); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(ents) != 0 {
		t.Fatalf("stale temp files survive New: %v", ents)
	}
}

func TestFailedWritesLeaveNoTempFiles(t *testing.T) {
	s, root := bucketStore(t)
	ctx := context.Background()
	s.Put(ctx, "bkt", "short", strings.NewReader("abc"), 10, nil)
	s.Put(ctx, "bkt", "fail", io.MultiReader(strings.NewReader("abc"), iotestErrReader{}), -1, nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s.Put(cctx, "bkt", "cancelled", strings.NewReader("abc"), 3, nil)
	id, _ := s.CreateMultipart(ctx, "bkt", "mp", nil)
	s.UploadPart(ctx, "bkt", "mp", id, 1, strings.NewReader("ab"), 5, nil)
	if ents, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(ents) != 0 {
		t.Fatalf("failed writes left temp files: %v", ents)
	}
	res, _ := s.List(ctx, "bkt", store.ListOptions{})
	if len(res.Objects) != 0 {
		t.Fatalf("failed writes left objects: %+v", res.Objects)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestMetadataBeyondS3LimitIsKept(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	meta := store.Metadata{"a": strings.Repeat("a", 3000), "b": strings.Repeat("b", 3000)}
	if _, err := s.Put(ctx, "bkt", "k", strings.NewReader(""), 0, meta); err != nil {
		t.Fatal(err)
	}
	h, err := s.Head(ctx, "bkt", "k")
	if err != nil || h.Meta["a"] != meta["a"] || h.Meta["b"] != meta["b"] {
		t.Fatalf("Head = %v", err)
	}
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	root := t.TempDir()
	s, _ := fs.New(root)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	s.Put(ctx, "bkt", "a/b/c/d", strings.NewReader("x"), 1, nil)
	s.Put(ctx, "bkt", "a/keep", strings.NewReader("x"), 1, nil)
	if err := s.Delete(ctx, "bkt", "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bkt", "d.a", "d.b")); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("empty directory d.a/d.b left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bkt", "d.a", "m.keep")); err != nil {
		t.Fatalf("sibling lost: %v", err)
	}
}

func TestConcurrentPutsAndDeletesInSharedDirectories(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	s.CreateBucket(ctx, "bkt")
	done := make(chan error, 8)
	for w := range 8 {
		go func() {
			var err error
			for i := range 40 {
				key := "x/y/z/" + string(rune('a'+w)) + "/" + string(rune('a'+i%3))
				if _, err = s.Put(ctx, "bkt", key, strings.NewReader("v"), 1, nil); err != nil {
					break
				}
				if err = s.Delete(ctx, "bkt", key); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Errorf("concurrent Put/Delete: %v", err)
		}
	}
	res, err := s.List(ctx, "bkt", store.ListOptions{})
	if err != nil || len(res.Objects) != 0 {
		t.Fatalf("List after all deletes = %+v, %v", res.Objects, err)
	}
}

// dataFiles lists the o.* files of dir.
func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "o.*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func getAllOrErr(s *fs.Store, key string) ([]byte, error) {
	rc, _, err := s.Get(context.Background(), "bkt", key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestSmallObjectsLiveInlineInTheirRecord(t *testing.T) {
	s, root := bucketStore(t)
	ctx := context.Background()
	bdir := filepath.Join(root, "bkt")
	small := bytes.Repeat([]byte("s"), 128<<10) // the largest inline size
	large := bytes.Repeat([]byte("L"), 128<<10+1)
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := s.Put(ctx, "bkt", key, bytes.NewReader(body), int64(len(body)), store.Metadata{"m": key}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(key string, want []byte, files int) {
		t.Helper()
		if got, err := getAllOrErr(s, key); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(%s) = %d bytes, %v; want %d bytes", key, len(got), err, len(want))
		}
		if n := len(dataFiles(t, bdir)); n != files {
			t.Fatalf("after %s: %d data files, want %d", key, n, files)
		}
	}
	put("k", small)
	check("k", small, 0)
	put("k", large)
	check("k", large, 1)
	put("k", small) // the replaced data file goes
	check("k", small, 0)
	put("empty", nil)
	check("empty", nil, 0)

	// Ranges, HEAD and listings read the record the same way.
	rc, _, err := s.Get(ctx, "bkt", "k", 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rc); string(b) != "sssss" {
		t.Fatalf("range of an inline object = %q", b)
	}
	rc.Close()
	if info, err := s.Head(ctx, "bkt", "k"); err != nil || info.Size != int64(len(small)) || info.Meta["m"] != "k" {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	res, err := s.List(ctx, "bkt", store.ListOptions{WithMeta: true})
	if err != nil || len(res.Objects) != 2 || res.Objects[1].Size != int64(len(small)) || res.Objects[1].Meta["m"] != "k" {
		t.Fatalf("List = %+v, %v", res, err)
	}

	// A copy of an inline object is inline too, and keeps the ETag.
	src, _ := s.Head(ctx, "bkt", "k")
	cp, err := s.Copy(ctx, "bkt", "k", "bkt", "dir/c", store.Metadata{"m": "c"})
	if err != nil || cp.ETag != src.ETag {
		t.Fatalf("Copy = %+v, %v; source ETag %s", cp, err, src.ETag)
	}
	check("dir/c", small, 0)
	if n := len(dataFiles(t, filepath.Join(bdir, "d.dir"))); n != 0 {
		t.Fatalf("copy made %d data files", n)
	}
	for _, k := range []string{"k", "empty", "dir/c"} {
		if err := s.Delete(ctx, "bkt", k); err != nil {
			t.Fatal(err)
		}
	}
	if names := walkNames(t, bdir); !slices.Equal(names, []string{".", ".sys", ".sys/bucket.json", ".sys/config", ".sys/mpu"}) {
		t.Fatalf("after deleting everything: %q", names)
	}
}

func TestDamagedInlineRecordIsAnErrorNeverShortData(t *testing.T) {
	s, root := bucketStore(t)
	ctx := context.Background()
	if _, err := s.Put(ctx, "bkt", "k", strings.NewReader("0123456789"), 10, nil); err != nil {
		t.Fatal(err)
	}
	side := filepath.Join(root, "bkt", "m.k")
	good, err := os.ReadFile(side)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(good, []byte("}\n0123456789")) {
		t.Fatalf("record layout changed: %q", good)
	}
	cases := map[string][]byte{
		"truncated":      good[:len(good)-1],
		"extended":       append(slices.Clone(good), 'x'),
		"no data":        good[:bytes.IndexByte(good, '\n')],
		"names a file":   bytes.Replace(good, []byte(`"data":""`), []byte(`"data":"o.1"`), 1),
		"future version": bytes.Replace(good, []byte(`"v":2`), []byte(`"v":3`), 1),
		"version 1":      bytes.Replace(good, []byte(`"v":2`), []byte(`"v":1`), 1),
	}
	for name, bad := range cases {
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: test could not damage the record", name)
		}
		if err := os.WriteFile(side, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := getAllOrErr(s, "k")
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: Get = %q, %v; want a corruption error", name, b, err)
		}
	}
}

func TestVersion1RecordsStillRead(t *testing.T) {
	// The layout every release before inline records wrote.
	s, root := bucketStore(t)
	ctx := context.Background()
	bdir := filepath.Join(root, "bkt")
	rec := `{"v":1,"key":"k","size":3,"etag":"e1","mtime":"2026-01-02T03:04:05Z","data":"o.0123456789abcdef0123456789abcdef","meta":{"a":"b"}}`
	os.WriteFile(filepath.Join(bdir, "m.k"), []byte(rec), 0o600)
	os.WriteFile(filepath.Join(bdir, "o.0123456789abcdef0123456789abcdef"), []byte("old"), 0o600)
	if b, err := getAllOrErr(s, "k"); err != nil || string(b) != "old" {
		t.Fatalf("Get = %q, %v", b, err)
	}
	if info, err := s.Head(ctx, "bkt", "k"); err != nil || info.ETag != "e1" || info.Meta["a"] != "b" {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	// Overwriting it with a small object drops the old data file.
	if _, err := s.Put(ctx, "bkt", "k", strings.NewReader("new"), 3, nil); err != nil {
		t.Fatal(err)
	}
	if m := dataFiles(t, bdir); len(m) != 0 {
		t.Fatalf("old data file left: %q", m)
	}
}

func TestRecordsWithLargeMetadataReadHeadOnly(t *testing.T) {
	// 100 000 control characters: 600 000 bytes of JSON escapes, far past
	// the first read of a head-only record read.
	s, _ := bucketStore(t)
	ctx := context.Background()
	meta := store.Metadata{"big": strings.Repeat("\x01", 100_000)}
	if _, err := s.Put(ctx, "bkt", "k", strings.NewReader("data"), 4, meta); err != nil {
		t.Fatal(err)
	}
	if info, err := s.Head(ctx, "bkt", "k"); err != nil || info.Meta["big"] != meta["big"] {
		t.Fatalf("Head: %v (metadata intact: %v)", err, err == nil && info.Meta["big"] == meta["big"])
	}
	res, err := s.List(ctx, "bkt", store.ListOptions{WithMeta: true})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Meta["big"] != meta["big"] {
		t.Fatalf("List: %v", err)
	}
	if b, err := getAllOrErr(s, "k"); err != nil || string(b) != "data" {
		t.Fatalf("Get = %q, %v", b, err)
	}
}
