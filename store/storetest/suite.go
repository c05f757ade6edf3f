package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/ssegate/ssegate/store"
)

// Limits declares what a backend cannot do; the zero value claims nothing.
type Limits struct {
	// ObjectsHidePrefixes: the backend stores "p" and "p/q" side by side
	// and reads both, but its listings show only "p" (MinIO, whose drive
	// layout makes "p" a directory). Gateways on such a backend must not
	// offer both to clients that list.
	ObjectsHidePrefixes bool
}

// Run runs the whole conformance suite. newStore returns a store to test; it
// may return the same store for every call (buckets are unique per test),
// and it is called once per top-level group.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	RunWith(t, newStore, Limits{})
}

// RunWith runs the suite, leaving out the cases a backend's declared
// limits exclude (each such case is reported as skipped).
func RunWith(t *testing.T, newStore func(t *testing.T) store.Store, limits Limits) {
	groups := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Buckets", testBuckets},
		{"BucketConfig", testBucketConfig},
		{"PutGetHeadDelete", testPutGetHeadDelete},
		{"Ranges", testRanges},
		{"Metadata", testMetadata},
		{"BigMetadata", testBigMetadata},
		{"Keys", testKeys},
		{"InvalidKeys", testInvalidKeys},
		{"List", testList},
		{"ObjectAndPrefixCoexist", func(t *testing.T, s store.Store) {
			if limits.ObjectsHidePrefixes {
				t.Skip("backend declares Limits.ObjectsHidePrefixes")
			}
			testObjectAndPrefix(t, s)
		}},
		{"Copy", testCopy},
		{"Multipart", testMultipart},
		{"InterruptedPut", testInterruptedPut},
		{"LateOverwrite", testLateOverwrite},
		{"ConcurrentWriters", testConcurrentWriters},
		{"SelfCopyDuringOverwrites", testSelfCopyDuringOverwrites},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			g.run(t, newStore(t))
		})
	}
}

// NewBucket creates a uniquely named bucket ("st-" and 12 hex digits), so
// tests can share one store or one MinIO server.
func NewBucket(t testing.TB, s store.Store) string {
	t.Helper()
	return newBucket(t, s)
}

func newBucket(t testing.TB, s store.Store) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "st-" + hex.EncodeToString(b[:])
	if err := s.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	return name
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

func put(t testing.TB, s store.Store, bucket, key string, data []byte, meta store.Metadata) store.ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), bucket, key, bytes.NewReader(data), int64(len(data)), meta)
	if err != nil {
		t.Fatalf("Put(%s, %q): %v", bucket, key, err)
	}
	return info
}

func getAll(t testing.TB, s store.Store, bucket, key string) ([]byte, store.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), bucket, key, 0, -1)
	if err != nil {
		t.Fatalf("Get(%s, %q): %v", bucket, key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%s, %q): read: %v", bucket, key, err)
	}
	return data, info
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func equalMeta(a, b store.Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func listAll(t testing.TB, s store.Store, bucket string, opts store.ListOptions) (keys, prefixes []string) {
	t.Helper()
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatal("List does not terminate")
		}
		res, err := s.List(context.Background(), bucket, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		for _, o := range res.Objects {
			keys = append(keys, o.Key)
		}
		prefixes = append(prefixes, res.CommonPrefixes...)
		if !res.IsTruncated {
			return keys, prefixes
		}
		if res.NextStartAfter == "" || res.NextStartAfter <= opts.StartAfter {
			t.Fatalf("List truncated but NextStartAfter %q does not advance past %q", res.NextStartAfter, opts.StartAfter)
		}
		opts.StartAfter = res.NextStartAfter
	}
}
