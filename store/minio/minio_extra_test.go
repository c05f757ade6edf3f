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

func TestMetadataOverLimitIsRefused(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := storetest.NewBucket(t, s)
	_, err := s.Put(ctx, b, "k", strings.NewReader(""), 0, store.Metadata{"a": strings.Repeat("a", store.MaxMetadataSize)})
	if err == nil {
		t.Fatal("metadata over MaxMetadataSize accepted; update store.MaxMetadataSize and docs")
	}
	if _, err := s.Head(ctx, b, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused Put left an object: %v", err)
	}
}
