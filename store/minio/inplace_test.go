package minio_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// wchar is the bytes MinIO has written through write(2)-like calls so far,
// to disk and sockets alike (/proc/<pid>/io).
func wchar(t *testing.T, srv *miniotest.Server) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", srv.Pid()))
	if err != nil {
		t.Skipf("no /proc/<pid>/io here: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no wchar in /proc/<pid>/io")
	return 0
}

// ownServer starts a MinIO for one test, so that no other test's writes
// show in its wchar, and a Store on it.
func ownServer(t *testing.T) (*miniotest.Server, *minio.Store) {
	t.Helper()
	srv := miniotest.StartMinIO(t)
	s, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	return srv, s
}

// A new object whose metadata is completed at the end of its body (the
// gateway's ETag) gets that metadata by a self-copy. MinIO does such a copy
// in place only when the source carries a full-object checksum; otherwise
// it rewrites every byte (S3 gives copies without a checksum a CRC64NVME,
// which needs the data). The data must be written once, not twice.
func TestLatePutWritesTheDataOnce(t *testing.T) {
	srv, s := ownServer(t)
	b := storetest.NewBucket(t, s)
	ctx := store.WithLateMetadata(context.Background())
	const size = 8 << 20
	for i, c := range metaCases {
		t.Run(c.name, func(t *testing.T) {
			data := randData(t, size)
			key := fmt.Sprintf("once-%d", i)
			meta := c.pending.Clone()
			before := wchar(t, srv)
			if _, err := s.Put(ctx, b, key, &lateBody{r: bytes.NewReader(data), meta: meta, final: c.final}, size, meta); err != nil {
				t.Fatal(err)
			}
			written := wchar(t, srv) - before
			checkObject(t, s, b, key, data, c.final)
			if written > size*3/2 {
				t.Fatalf("MinIO wrote %.1f MiB for one %d MiB object: the data was rewritten", float64(written)/(1<<20), size>>20)
			}
		})
	}
}

// A completed multipart upload gets its final metadata inline by the same
// kind of self-copy (completeToPointer); with a composite or no checksum
// MinIO would rewrite the whole object at Complete, i.e. write it twice.
func TestMultipartCompleteWritesTheDataOnce(t *testing.T) {
	srv, s := ownServer(t)
	b := storetest.NewBucket(t, s)
	ctx := context.Background()
	const partSize, parts = 5 << 20, 3
	for i, c := range metaCases {
		t.Run(c.name, func(t *testing.T) {
			key := fmt.Sprintf("mp-%d", i)
			before := wchar(t, srv)
			id, err := s.CreateMultipart(ctx, b, key, c.pending)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			var cps []store.CompletePart
			for n := 1; n <= parts; n++ {
				data := randData(t, partSize)
				all = append(all, data...)
				p, err := s.UploadPart(ctx, b, key, id, n, bytes.NewReader(data), partSize, store.Metadata{"p": strconv.Itoa(n)})
				if err != nil {
					t.Fatal(err)
				}
				cps = append(cps, store.CompletePart{Number: n, ETag: p.ETag})
			}
			if _, err := s.CompleteMultipart(ctx, b, key, id, cps, c.final); err != nil {
				t.Fatal(err)
			}
			written := wchar(t, srv) - before
			checkObject(t, s, b, key, all, c.final)
			if total := int64(partSize * parts); written > total*3/2 {
				t.Fatalf("MinIO wrote %.1f MiB for one %d MiB upload: the data was rewritten", float64(written)/(1<<20), total>>20)
			}
		})
	}
}

// An upload created before uploads had a checksum algorithm (a gateway
// upgraded while it was open) still completes: its parts now carry a
// CRC32C, and Complete names none.
func TestMultipartCreatedWithoutChecksumStillCompletes(t *testing.T) {
	s := newStore(t)
	b := storetest.NewBucket(t, s)
	ctx := context.Background()
	id, err := s.CreateMultipartWithoutChecksum(ctx, b, "old")
	if err != nil {
		t.Fatal(err)
	}
	data := randData(t, 6<<20)
	p1, err := s.UploadPart(ctx, b, "old", id, 1, bytes.NewReader(data[:5<<20]), 5<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.UploadPart(ctx, b, "old", id, 2, bytes.NewReader(data[5<<20:]), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipart(ctx, b, "old", id, []store.CompletePart{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: p2.ETag}}, store.Metadata{"v": "final"}); err != nil {
		t.Fatal(err)
	}
	checkObject(t, s, b, "old", data, store.Metadata{"v": "final"})
}

// A late-metadata overwrite of a known size goes through a multipart
// upload to the key (overwrite.go), not a temporary object and a
// server-side copy: MinIO writes the body once.
func TestLateOverwriteWritesTheDataOnce(t *testing.T) {
	srv, s := ownServer(t)
	b := storetest.NewBucket(t, s)
	const size = 8 << 20
	for i, c := range metaCases {
		t.Run(c.name, func(t *testing.T) {
			key := fmt.Sprintf("over-%d", i)
			if _, err := s.Put(context.Background(), b, key, bytes.NewReader(randData(t, 1<<10)), 1<<10, c.old); err != nil {
				t.Fatal(err)
			}
			data := randData(t, size)
			meta := c.pending.Clone()
			before := wchar(t, srv)
			info, err := s.Put(store.WithLateMetadata(context.Background()), b, key, &lateBody{r: bytes.NewReader(data), meta: meta, final: c.final}, size, meta)
			if err != nil {
				t.Fatal(err)
			}
			written := wchar(t, srv) - before
			checkObject(t, s, b, key, data, c.final)
			if h, err := s.Head(context.Background(), b, key); err != nil || h.ETag != info.ETag {
				t.Fatalf("Head ETag %q (%v), Put returned %q", h.ETag, err, info.ETag)
			}
			if written > size*3/2 {
				t.Fatalf("MinIO wrote %.1f MiB for one %d MiB overwrite: the data was written twice", float64(written)/(1<<20), size>>20)
			}
		})
	}
}
