package minio_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

func rawClient(t *testing.T, srv *miniotest.Server) *miniogo.Client {
	t.Helper()
	c, err := miniogo.New(srv.Addr, &miniogo.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestUnreachableBackendIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = minio.New(context.Background(), minio.Config{Endpoint: "http://" + addr, AccessKey: "a", SecretKey: "secret-value", MaxRetries: 1})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("New on closed port: %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatal("secret key in error")
	}
}

func TestStoppedServerIsUnavailable(t *testing.T) {
	srv := miniotest.StartMinIO(t)
	s, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, err = s.Head(context.Background(), "bucket", "key")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Head on stopped server: %v, want ErrUnavailable", err)
	}
}

func TestWrongCredentialsAreNotMistakenForMissingThings(t *testing.T) {
	srv := miniotest.Shared(t)
	_, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: "wrong"})
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("New with wrong secret: %v", err)
	}
}

func TestSystemPrefixIsNotReachableByUserKeys(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	if err := s.PutBucketConfig(ctx, b, "encryption", []byte("cfg")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{".ssegate.sys/config/encryption", ".ssegate.sys", ".ssegate.sys/x"} {
		_, err := s.Put(ctx, b, k, strings.NewReader("evil"), 4, nil)
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("Put(%q): %v, want ErrInvalidKey", k, err)
		}
		if _, _, err := s.Get(ctx, b, k, 0, -1); !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("Get(%q): %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, b, k); !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("Delete(%q): %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Copy(ctx, b, k, b, "stolen", nil); !errors.Is(err, store.ErrInvalidKey) {
			t.Fatalf("Copy from %q: %v, want ErrInvalidKey", k, err)
		}
	}
	if got, err := s.GetBucketConfig(ctx, b, "encryption"); err != nil || string(got) != "cfg" {
		t.Fatalf("config changed: %q %v", got, err)
	}
}

func TestListPartsDropsPartWhoseRecordNamesAnotherETag(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	id, err := s.CreateMultipart(ctx, b, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		if _, err := s.UploadPart(ctx, b, "k", id, n, strings.NewReader("part"), 4, store.Metadata{"n": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// Simulate a racing re-upload of part 2 whose record was written by
	// the other uploader: the record names a different ETag.
	rec := ".ssegate.sys/mpu/" + id + "/part-00002"
	_, err = rawClient(t, srv).PutObject(ctx, b, rec, bytes.NewReader(nil), 0, miniogo.PutObjectOptions{UserMetadata: map[string]string{"X-Amz-Meta-E": "0123456789abcdef0123456789abcdef", "X-Amz-Meta-M-N": "other"}})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := s.ListParts(ctx, b, "k", id)
	if err != nil || len(parts) != 1 || parts[0].Number != 1 || parts[0].Meta["n"] != "x" {
		t.Fatalf("ListParts = %+v, %v; want only part 1", parts, err)
	}
	if err := s.AbortMultipart(ctx, b, "k", id); err != nil {
		t.Fatal(err)
	}
	// Abort removes the hidden records too.
	for o := range rawClient(t, srv).ListObjects(ctx, b, miniogo.ListObjectsOptions{Prefix: ".ssegate.sys/mpu/", Recursive: true}) {
		t.Fatalf("record left after abort: %q %v", o.Key, o.Err)
	}
}

func TestLargeCompletedUploadGetsFinalMetadata(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	id, err := s.CreateMultipart(ctx, b, "big", store.Metadata{"stage": "created"})
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.CompletePart
	for n := 1; n <= 2; n++ {
		p, err := s.UploadPart(ctx, b, "big", id, n, bytes.NewReader(make([]byte, 6<<20)), 6<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, store.CompletePart{Number: n, ETag: p.ETag})
	}
	info, err := s.CompleteMultipart(ctx, b, "big", id, parts, store.Metadata{"stage": "final", "size": "12582912"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 12<<20 || info.Meta["stage"] != "final" {
		t.Fatalf("Complete = %+v", info)
	}
	h, err := s.Head(ctx, b, "big")
	if err != nil || h.Size != 12<<20 || h.Meta["stage"] != "final" || h.Meta["size"] != "12582912" {
		t.Fatalf("Head = %+v, %v", h, err)
	}
}

// hiddenKeys lists the bucket's objects under a hidden prefix directly.
func hiddenKeys(t *testing.T, srv *miniotest.Server, b, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range rawClient(t, srv).ListObjects(context.Background(), b, miniogo.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func bigMeta(tag string) store.Metadata {
	return store.Metadata{"tag": tag, "a": strings.Repeat("a", 3000), "b": strings.Repeat("b", 3000)}
}

func TestOverflowObjectsDoNotOutliveTheirObjects(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	put := func(key string, m store.Metadata) {
		t.Helper()
		if _, err := s.Put(ctx, b, key, strings.NewReader("data"), 4, m); err != nil {
			t.Fatal(err)
		}
	}
	put("k", bigMeta("1"))
	if n := len(hiddenKeys(t, srv, b, ".ssegate.sys/meta/")); n != 1 {
		t.Fatalf("%d overflow objects after one big Put, want 1", n)
	}
	put("k", bigMeta("2"))
	put("k", store.Metadata{"small": "1"})
	put("k", bigMeta("3"))
	if _, err := s.Copy(ctx, b, "k", b, "k", bigMeta("4")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, b, "k", b, "k2", bigMeta("5")); err != nil {
		t.Fatal(err)
	}
	if n := len(hiddenKeys(t, srv, b, ".ssegate.sys/meta/")); n != 2 {
		t.Fatalf("%d overflow objects for two big objects, want 2", n)
	}
	id, err := s.CreateMultipart(ctx, b, "k", bigMeta("6"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.UploadPart(ctx, b, "k", id, 1, strings.NewReader("part"), 4, bigMeta("7"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteMultipart(ctx, b, "k", id, []store.CompletePart{{Number: 1, ETag: p.ETag}}, bigMeta("8")); err != nil {
		t.Fatal(err)
	}
	id, err = s.CreateMultipart(ctx, b, "k", bigMeta("9"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipart(ctx, b, "k", id); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k", "k2"} {
		if err := s.Delete(ctx, b, k); err != nil {
			t.Fatal(err)
		}
	}
	if left := hiddenKeys(t, srv, b, ".ssegate.sys/"); len(left) != 0 {
		t.Fatalf("hidden objects left after deleting everything: %q", left)
	}
}

func TestMissingOverflowObjectIsAnErrorNotEmptyMetadata(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	if _, err := s.Put(ctx, b, "k", strings.NewReader("data"), 4, bigMeta("x")); err != nil {
		t.Fatal(err)
	}
	for _, k := range hiddenKeys(t, srv, b, ".ssegate.sys/meta/") {
		if err := rawClient(t, srv).RemoveObject(ctx, b, k, miniogo.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := s.Head(ctx, b, "k"); err == nil {
		t.Fatalf("Head with its overflow object gone = %+v, want an error", h)
	}
	if _, _, err := s.Get(ctx, b, "k", 0, -1); err == nil {
		t.Fatal("Get with its overflow object gone succeeded")
	}
	if res, err := s.List(ctx, b, store.ListOptions{WithMeta: true}); err == nil && len(res.Objects) > 0 {
		t.Fatalf("List WithMeta with the overflow object gone = %+v", res.Objects)
	}
}

func TestCallerCannotForgeAnOverflowPointer(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	_, err := s.Put(ctx, b, "k", strings.NewReader(""), 0, store.Metadata{"ssegate_spill": "00000000000000000000000000000000"})
	if err == nil {
		t.Fatal("metadata with the reserved pointer key accepted")
	}
	// A key that merely resembles it is ordinary metadata.
	m := store.Metadata{"ssegate-spill": "00000000000000000000000000000000"}
	if _, err := s.Put(ctx, b, "k", strings.NewReader(""), 0, m); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Head(ctx, b, "k"); err != nil || h.Meta["ssegate-spill"] != m["ssegate-spill"] || len(h.Meta) != 1 {
		t.Fatalf("Head = %+v, %v", h, err)
	}
}
