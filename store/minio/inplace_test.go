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

// A new object whose metadata is completed at the end of its body (the
// gateway's ETag) gets that metadata by a self-copy. MinIO does such a copy
// in place only when the source carries a full-object checksum; otherwise
// it rewrites every byte (S3 gives copies without a checksum a CRC64NVME,
// which needs the data). The data must be written once, not twice.
func TestLatePutWritesTheDataOnce(t *testing.T) {
	srv := miniotest.StartMinIO(t) // its own server: no other test's writes in wchar
	s, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
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
