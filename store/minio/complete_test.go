package minio_test

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// uploadTwoParts creates an upload of key with two parts (5 MiB + 1 KiB)
// and returns it with the parts and the data.
func uploadTwoParts(t *testing.T, s store.Store, b, key string, createMeta store.Metadata) (string, []store.CompletePart, []byte) {
	t.Helper()
	ctx := context.Background()
	id, err := s.CreateMultipart(ctx, b, key, createMeta)
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.CompletePart
	var all []byte
	for i, n := range []int{5 << 20, 1 << 10} {
		data := randData(t, n)
		p, err := s.UploadPart(ctx, b, key, id, i+1, bytes.NewReader(data), int64(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, store.CompletePart{Number: i + 1, ETag: p.ETag})
		all = append(all, data...)
	}
	return id, parts, all
}

// A Complete whose metadata self-copy is refused (or never happens: a
// crash right after the backend completed) still leaves an object that
// reads with its final metadata: the object points at it from the start.
func TestCompleteWhoseMetadataCopyIsRefusedIsStillReadableWithFinalMetadata(t *testing.T) {
	srv := miniotest.Shared(t)
	direct := newStore(t)
	b := storetest.NewBucket(t, direct)
	s, hits := copyRefusingProxy(t, srv, b, "mpu")
	for _, c := range metaCases {
		t.Run(c.name, func(t *testing.T) {
			id, parts, data := uploadTwoParts(t, s, b, "mpu", c.pending)
			before := hits.Load()
			if _, err := s.CompleteMultipart(context.Background(), b, "mpu", id, parts, c.final); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if len(c.final) == 1 && hits.Load() == before {
				t.Fatal("no metadata self-copy was attempted for small metadata")
			}
			checkObject(t, direct, b, "mpu", data, c.final)
		})
	}
}

// completeRefusingProxy refuses CompleteMultipartUpload (POST ?uploadId)
// on key, as a backend failing at the last step would.
func completeRefusingProxy(t *testing.T, srv *miniotest.Server, bucket, key string) (*minio.Store, *atomic.Int64) {
	t.Helper()
	return refusingProxy(t, srv, func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Path == "/"+bucket+"/"+key && r.URL.Query().Has("uploadId")
	})
}

// A failed Complete over an existing object leaves that object as it was,
// and the final overflow written for it is not left behind.
func TestFailedCompleteKeepsPreviousObject(t *testing.T) {
	srv := miniotest.Shared(t)
	direct := newStore(t)
	b := storetest.NewBucket(t, direct)
	s, hits := completeRefusingProxy(t, srv, b, "victim")
	ctx := context.Background()
	old := randData(t, 64<<10)
	oldMeta := store.Metadata{"v": "old"}
	if _, err := direct.Put(ctx, b, "victim", bytes.NewReader(old), int64(len(old)), oldMeta); err != nil {
		t.Fatal(err)
	}
	id, parts, _ := uploadTwoParts(t, s, b, "victim", store.Metadata{"v": "pending"})
	if _, err := s.CompleteMultipart(ctx, b, "victim", id, parts, bigMeta("new")); err == nil || hits.Load() == 0 {
		t.Fatalf("Complete = %v with %d refusals; want the injected failure", err, hits.Load())
	}
	checkObject(t, direct, b, "victim", old, oldMeta)
	if n := len(hiddenKeys(t, srv, b, ".ssegate.sys/meta/")); n != 0 {
		t.Fatalf("%d overflow objects after the refused Complete, want 0", n)
	}
	if err := direct.AbortMultipart(ctx, b, "victim", id); err != nil {
		t.Fatal(err)
	}
}
