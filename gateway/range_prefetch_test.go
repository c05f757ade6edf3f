package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// countingStore counts the backend reads of object bodies and metadata.
type countingStore struct {
	store.Store
	gets, heads atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, bucket, key string, off, n int64) (io.ReadCloser, store.ObjectInfo, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, bucket, key, off, n)
}

func (c *countingStore) Head(ctx context.Context, bucket, key string) (store.ObjectInfo, error) {
	c.heads.Add(1)
	return c.Store.Head(ctx, bucket, key)
}

func (c *countingStore) reads() int64 { return c.gets.Load() + c.heads.Load() }

func (c *countingStore) reset() {
	c.gets.Store(0)
	c.heads.Store(0)
}

// A GET of a range with a first byte reads metadata and ciphertext in one
// backend request (the ciphertext window of that range in a single-part
// object), and still returns exactly the requested plaintext.
func TestRangedGetReadsBackendOnceAndReturnsTheRange(t *testing.T) {
	fst, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: fst}
	e := newEnvOn(t, st, false)
	e.mkbucket("bkt")
	const size = 5*sse.PackageSize + 1234
	data := randBytes(size, 41)
	e.put("bkt", "obj", data)
	for _, tc := range []struct {
		rng        string
		start, end int // served bytes [start, end)
		reads      int64
	}{
		{"bytes=0-0", 0, 1, 1},
		{"bytes=70000-140000", 70000, 140001, 1},
		{"bytes=65535-65536", 65535, 65537, 1},
		{"bytes=100000-", 100000, size, 1},
		{fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size, 1},
		{"bytes=300000-999999999", 300000, size, 1},
		{"bytes=0-9223372036854775806", 0, size, 1},
		// Suffix ranges need the size first: metadata, then the window.
		{"bytes=-10", size - 10, size, 2},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			st.reset()
			resp := e.do("GET", "/bkt/obj", nil, map[string]string{"Range": tc.rng})
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 206 {
				t.Fatalf("status %d, read error %v", resp.StatusCode, err)
			}
			if !bytes.Equal(got, data[tc.start:tc.end]) {
				t.Fatalf("got %d bytes, not the plaintext [%d, %d)", len(got), tc.start, tc.end)
			}
			if want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end-1, size); resp.Header.Get("Content-Range") != want {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), want)
			}
			if n := st.reads(); n != tc.reads {
				t.Errorf("%d backend reads (get %d, head %d), want %d", n, st.gets.Load(), st.heads.Load(), tc.reads)
			}
		})
	}
	// Unsatisfiable ranges keep their 416 with the size.
	st.reset()
	resp := e.do("GET", "/bkt/obj", nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-", 2*size)})
	resp.Body.Close()
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Fatalf("range past the end: %d %q, want 416 bytes */%d", resp.StatusCode, resp.Header.Get("Content-Range"), size)
	}
}

// In a multipart object the window of a single-part layout is wrong past
// the first part: the gateway must notice from the real layout, discard
// the prefetched bytes and fetch the right ones.
func TestRangedGetOfMultipartObjectUsesTheRealLayout(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	const part = 5 << 20
	data := randBytes(2*part+777, 42)
	_, err := e.minio().PutObject(context.Background(), "bkt", "mp", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{PartSize: part})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int{{0, 10}, {part - 5, part + 5}, {part + 100, part + 70000}, {2 * part, 2*part + 776}, {3, 2*part + 776}} {
		rng := fmt.Sprintf("bytes=%d-%d", r[0], r[1])
		resp := e.do("GET", "/bkt/mp", nil, map[string]string{"Range": rng})
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 206 {
			t.Fatalf("%s: status %d, read error %v", rng, resp.StatusCode, err)
		}
		if !bytes.Equal(got, data[r[0]:r[1]+1]) {
			t.Fatalf("%s: got %d bytes, not the plaintext", rng, len(got))
		}
	}
}

// A ranged GET served from the prefetched window still authenticates
// every package it returns: a flipped ciphertext byte inside the range is
// a 500 before any header, never bytes.
func TestRangedGetOfTamperedPackageFails(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, false)
	e.mkbucket("bkt")
	data := randBytes(4*sse.PackageSize, 43)
	e.put("bkt", "obj", data)
	dataPath, _ := findObjectFiles(t, e.root, "bkt", "obj")
	stored, err := os.ReadFile(dataPath)
	if err != nil {
		t.Fatal(err)
	}
	stored[2*sse.EncPackageSize+100] ^= 0x80 // inside package 2
	if err := os.WriteFile(dataPath, stored, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng  string
		fail bool
	}{
		{"bytes=131072-131100", true}, // package 2
		{"bytes=100-200", false},      // package 0: authentic
		{"bytes=65536-", true},        // runs through package 2
	} {
		resp := e.do("GET", "/bkt/obj", nil, map[string]string{"Range": tc.rng})
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.fail {
			if resp.StatusCode != 500 {
				t.Errorf("%s of a tampered package: status %d with %d bytes, want 500", tc.rng, resp.StatusCode, len(got))
			}
			continue
		}
		if resp.StatusCode != 206 || !bytes.Equal(got, data[100:201]) {
			t.Errorf("%s away from the damage: status %d, %d bytes", tc.rng, resp.StatusCode, len(got))
		}
	}
}
