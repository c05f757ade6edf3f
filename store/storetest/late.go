package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"testing"

	"github.com/ssegate/ssegate/store"
)

// eofCounter calls fn with the number of io.EOF results so far.
// A backend that sends the body over HTTP sees the first EOF while the
// request is still running (net/http reads past Content-Length), and a
// second one when it checks the body's end after the upload
// (store.ExpectEOF): cancelling there hits the step that sets the final
// metadata.
type eofCounter struct {
	r  io.Reader
	fn func(n int)
	n  int
}

func (e *eofCounter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.n++
		e.fn(e.n)
	}
	return n, err
}

// testLateOverwrite: a Put marked store.WithLateMetadata whose caller
// completes the metadata at EOF must never leave the unfinished object in
// place of the previous one ("old or new, never lost"), whether it fails
// before EOF or is cancelled once the body has been sent.
func testLateOverwrite(t *testing.T, s store.Store) {
	b := newBucket(t, s)
	pending := store.Metadata{"state": "pending"}
	final := store.Metadata{"state": "final", "digest": "d"}
	// 4 KiB: small objects may be held apart (the fs store's inline records).
	sizes := []int64{2 << 20, 4 << 10, -1}
	for _, size := range sizes {
		n := int64(2 << 20)
		if size >= 0 {
			n = size
		}
		t.Run(fmt.Sprintf("ReaderErrorBeforeEOFKeepsPreviousSize%d", size), func(t *testing.T) {
			key := fmt.Sprintf("late-fail%d", size)
			old := randBytes(64 << 10)
			put(t, s, b, key, old, store.Metadata{"state": "old"})
			m := pending.Clone()
			body := &onEOF{r: &failingReader{n: int(n / 2)}, fn: func() { clear(m); maps.Copy(m, final) }}
			_, err := s.Put(store.WithLateMetadata(context.Background()), b, key, body, size, m)
			wantErr(t, "late-metadata Put with failing reader", err, errBoom)
			got, info := getAll(t, s, b, key)
			if !bytes.Equal(got, old) || !equalMeta(info.Meta, store.Metadata{"state": "old"}) {
				t.Fatalf("after a failed overwrite: %d bytes, meta %v; want the previous object", len(got), info.Meta)
			}
		})
		t.Run(fmt.Sprintf("CancelledAfterBodyKeepsOldOrNewSize%d", size), func(t *testing.T) {
			key := fmt.Sprintf("late-cancel%d", size)
			old := randBytes(64 << 10)
			put(t, s, b, key, old, store.Metadata{"state": "old"})
			ctx, cancel := context.WithCancel(store.WithLateMetadata(context.Background()))
			defer cancel()
			data := randBytes(int(n))
			m := pending.Clone()
			body := &eofCounter{r: bytes.NewReader(data), fn: func(n int) {
				switch n {
				case 1:
					clear(m)
					maps.Copy(m, final)
				case 2:
					cancel()
				}
			}}
			_, err := s.Put(ctx, b, key, body, size, m)
			got, info := getAll(t, s, b, key)
			switch {
			case bytes.Equal(got, old) && equalMeta(info.Meta, store.Metadata{"state": "old"}):
			case err == nil && bytes.Equal(got, data) && equalMeta(info.Meta, final):
			default:
				t.Fatalf("after a Put cancelled after its body (err=%v): %d bytes, meta %v; want the previous object or the new one with its final metadata", err, len(got), info.Meta)
			}
		})
	}
	if keys, _ := listAll(t, s, b, store.ListOptions{}); len(keys) != 2*len(sizes) {
		t.Fatalf("late-metadata overwrites left extra objects: %q", keys)
	}
}
