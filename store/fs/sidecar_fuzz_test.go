package fs

import (
	"bytes"
	"testing"
	"time"

	"github.com/ssegate/ssegate/store"
)

// FuzzParseSidecar: no record, however damaged, panics the parser; one it
// accepts whole is accepted by the head-only read with the same fields,
// carries exactly Size bytes of inline data, and encodes back to itself.
func FuzzParseSidecar(f *testing.F) {
	mtime := time.Date(2026, 12, 8, 1, 2, 3, 0, time.UTC)
	v1 := &sidecar{V: sidecarFile, Key: "a/b", Size: 3, ETag: "e", MTime: mtime, Data: "o.0123", Meta: store.Metadata{"k": "v"}}
	v2 := &sidecar{V: sidecarInline, Key: "k", Size: 5, ETag: "e", MTime: mtime, Meta: store.Metadata{}, inline: []byte("ab\ncd")}
	for _, sc := range []*sidecar{v1, v2} {
		b, err := sc.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte(`{"v":2,"size":0,"data":""}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		full, err := parseSidecar("m.k", data, true)
		head, herr := parseSidecar("m.k", data, false)
		if err != nil {
			return
		}
		if herr != nil {
			t.Fatalf("whole record accepted, head refused: %v", herr)
		}
		if head.V != full.V || head.Key != full.Key || head.Size != full.Size || head.Data != full.Data {
			t.Fatalf("head %+v differs from whole %+v", head, full)
		}
		if full.V == sidecarInline && int64(len(full.inline)) != full.Size {
			t.Fatalf("inline data %d bytes, size %d", len(full.inline), full.Size)
		}
		if full.V == sidecarFile && full.inline != nil {
			t.Fatal("version 1 record with inline data")
		}
		enc, err := full.encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseSidecar("m.k", enc, true)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if again.Key != full.Key || again.Size != full.Size || !bytes.Equal(again.inline, full.inline) {
			t.Fatalf("round trip changed the record: %+v vs %+v", again, full)
		}
	})
}
