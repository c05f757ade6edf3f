package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func testCopy(t *testing.T, s store.Store) {
	ctx := context.Background()
	b, b2 := newBucket(t, s), newBucket(t, s)
	data := randBytes(200 << 10)
	src := put(t, s, b, "src", data, store.Metadata{"orig": "1"})
	t.Run("OtherKey", func(t *testing.T) {
		info, err := s.Copy(ctx, b, "src", b, "dir/dst", store.Metadata{"new": "2"})
		if err != nil || info.Size != src.Size || info.ETag != src.ETag {
			t.Fatalf("Copy = %+v, %v", info, err)
		}
		got, gi := getAll(t, s, b, "dir/dst")
		if !bytes.Equal(got, data) || !equalMeta(gi.Meta, store.Metadata{"new": "2"}) {
			t.Fatalf("copy: %d bytes, meta %v", len(got), gi.Meta)
		}
		// The copy is independent of its source.
		put(t, s, b, "src", []byte("changed"), nil)
		if got, _ := getAll(t, s, b, "dir/dst"); !bytes.Equal(got, data) {
			t.Fatal("overwriting the source changed the copy")
		}
		if err := s.Delete(ctx, b, "src"); err != nil {
			t.Fatal(err)
		}
		if got, _ := getAll(t, s, b, "dir/dst"); !bytes.Equal(got, data) {
			t.Fatal("deleting the source changed the copy")
		}
	})
	t.Run("OtherBucket", func(t *testing.T) {
		put(t, s, b, "src2", data, nil)
		if _, err := s.Copy(ctx, b, "src2", b2, "dst", nil); err != nil {
			t.Fatal(err)
		}
		if got, gi := getAll(t, s, b2, "dst"); !bytes.Equal(got, data) || len(gi.Meta) != 0 {
			t.Fatalf("cross-bucket copy: %d bytes meta %v", len(got), gi.Meta)
		}
	})
	t.Run("SelfWithNewMetadata", func(t *testing.T) {
		put(t, s, b, "self", data, store.Metadata{"v": "1", "gone": "x"})
		info, err := s.Copy(ctx, b, "self", b, "self", store.Metadata{"v": "2"})
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("self Copy = %+v, %v", info, err)
		}
		got, gi := getAll(t, s, b, "self")
		if !bytes.Equal(got, data) || !equalMeta(gi.Meta, store.Metadata{"v": "2"}) {
			t.Fatalf("self copy: %d bytes, meta %v", len(got), gi.Meta)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		_, err := s.Copy(ctx, b, "no-such", b, "x", nil)
		wantErr(t, "Copy missing source", err, store.ErrNotFound)
		_, err = s.Copy(ctx, b, "dir/dst", "st-no-such-bucket-here", "x", nil)
		wantErr(t, "Copy to missing bucket", err, store.ErrNoSuchBucket)
	})
}

var errBoom = errors.New("reader failed")

// failingReader yields n random bytes, then fails (or, with cancel set,
// cancels the context and keeps yielding).
type failingReader struct {
	n      int
	cancel context.CancelFunc
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		if r.cancel != nil {
			r.cancel()
			return len(p), nil
		}
		return 0, errBoom
	}
	if len(p) > r.n {
		p = p[:r.n]
	}
	r.n -= len(p)
	return len(p), nil
}

func testInterruptedPut(t *testing.T, s store.Store) {
	b := newBucket(t, s)
	const total = 8 << 20
	// 4 KiB: a backend may hold small objects apart (the fs store keeps
	// them inline in their record), so fail those too.
	sizes := []int64{total, 4 << 10, -1}
	for _, size := range sizes {
		failAt, limit := 1<<20, int64(total)
		if size >= 0 && size < total {
			failAt, limit = int(size/2), size
		}
		t.Run(fmt.Sprintf("ReaderErrorSize%d", size), func(t *testing.T) {
			key := fmt.Sprintf("fail%d", size)
			put(t, s, b, key, []byte("old"), nil)
			_, err := s.Put(context.Background(), b, key, &failingReader{n: failAt}, size, nil)
			wantErr(t, "Put with failing reader", err, errBoom)
			if got, _ := getAll(t, s, b, key); string(got) != "old" {
				t.Fatalf("failed Put changed the object: %d bytes", len(got))
			}
			_, err = s.Put(context.Background(), b, key+"-new", &failingReader{n: failAt}, size, nil)
			wantErr(t, "Put with failing reader", err, errBoom)
			_, err = s.Head(context.Background(), b, key+"-new")
			wantErr(t, "Head after failed Put", err, store.ErrNotFound)
		})
		t.Run(fmt.Sprintf("ContextCancelledSize%d", size), func(t *testing.T) {
			key := fmt.Sprintf("cancel%d", size)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.Put(ctx, b, key, io.LimitReader(&failingReader{n: failAt, cancel: cancel}, limit), size, nil)
			if err == nil {
				t.Fatal("Put with cancelled context succeeded")
			}
			_, err = s.Head(context.Background(), b, key)
			wantErr(t, "Head after cancelled Put", err, store.ErrNotFound)
		})
	}
	t.Run("InterruptedPartLeavesNoPart", func(t *testing.T) {
		id, err := s.CreateMultipart(context.Background(), b, "mpfail", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.UploadPart(context.Background(), b, "mpfail", id, 1, &failingReader{n: 1 << 20}, total, nil)
		wantErr(t, "UploadPart with failing reader", err, errBoom)
		_, err = s.UploadPart(context.Background(), b, "mpfail", id, 2, bytes.NewReader([]byte("short")), 100, nil)
		wantErr(t, "UploadPart with short body", err, store.ErrIncompleteBody)
		if parts, err := s.ListParts(context.Background(), b, "mpfail", id); err != nil || len(parts) != 0 {
			t.Fatalf("ListParts after failed part = %+v, %v", parts, err)
		}
		s.AbortMultipart(context.Background(), b, "mpfail", id)
	})
	if keys, _ := listAll(t, s, b, store.ListOptions{}); len(keys) != len(sizes) {
		t.Fatalf("interrupted Puts left objects: %q", keys)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	const writers, size, rounds = 6, 256 << 10, 4
	versions := make([][]byte, writers)
	for i := range versions {
		versions[i] = bytes.Repeat([]byte{byte('A' + i)}, size)
	}
	isVersion := func(got []byte) bool {
		for _, v := range versions {
			if bytes.Equal(got, v) {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*2)
	for i := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := s.Put(ctx, b, "hot", bytes.NewReader(versions[i]), size, store.Metadata{"w": string(rune('A' + i))}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				rc, info, err := s.Get(ctx, b, "hot", 0, -1)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- err
				} else if !isVersion(got) || info.Meta["w"] != string(got[:1]) {
					errs <- fmt.Errorf("reader saw a mixed object (%d bytes, meta %v)", len(got), info.Meta)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, info := getAll(t, s, b, "hot")
	if !isVersion(got) || info.Meta["w"] != string(got[:1]) {
		t.Fatalf("final object is not one complete write (%d bytes, meta %v)", len(got), info.Meta)
	}
}

// testSelfCopyDuringOverwrites: a metadata update racing with overwrites
// must never leave an object whose data is gone or mixed.
func testSelfCopyDuringOverwrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	versions := [][]byte{bytes.Repeat([]byte("x"), 64<<10), bytes.Repeat([]byte("y"), 64<<10)}
	put(t, s, b, "k", versions[0], nil)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if _, err := s.Put(ctx, b, "k", bytes.NewReader(versions[i%2]), int64(len(versions[i%2])), nil); err != nil {
				errs <- err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 20 {
			if _, err := s.Copy(ctx, b, "k", b, "k", store.Metadata{"c": fmt.Sprint(i)}); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, _ := getAll(t, s, b, "k")
	if !bytes.Equal(got, versions[0]) && !bytes.Equal(got, versions[1]) {
		t.Fatalf("object after racing self-copies is not a complete version (%d bytes)", len(got))
	}
}
