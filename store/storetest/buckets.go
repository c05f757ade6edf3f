package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func testBuckets(t *testing.T, s store.Store) {
	ctx := context.Background()
	t.Run("CreateHeadListDelete", func(t *testing.T) {
		b := newBucket(t, s)
		bi, err := s.HeadBucket(ctx, b)
		if err != nil || bi.Name != b {
			t.Fatalf("HeadBucket = %+v, %v", bi, err)
		}
		wantErr(t, "CreateBucket twice", s.CreateBucket(ctx, b), store.ErrBucketExists)
		all, err := s.ListBuckets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range all {
			found = found || x.Name == b
		}
		if !found {
			t.Fatalf("ListBuckets %v lacks %s", all, b)
		}
		if err := s.DeleteBucket(ctx, b); err != nil {
			t.Fatalf("DeleteBucket: %v", err)
		}
		_, err = s.HeadBucket(ctx, b)
		wantErr(t, "HeadBucket after delete", err, store.ErrNoSuchBucket)
		wantErr(t, "DeleteBucket twice", s.DeleteBucket(ctx, b), store.ErrNoSuchBucket)
	})
	t.Run("DeleteNonEmptyIsRefused", func(t *testing.T) {
		b := newBucket(t, s)
		put(t, s, b, "deep/er/key", []byte("x"), nil)
		wantErr(t, "DeleteBucket non-empty", s.DeleteBucket(ctx, b), store.ErrBucketNotEmpty)
		if err := s.Delete(ctx, b, "deep/er/key"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBucket(ctx, b); err != nil {
			t.Fatalf("DeleteBucket after emptying: %v", err)
		}
	})
	t.Run("BucketWithOnlyConfigCountsAsEmpty", func(t *testing.T) {
		b := newBucket(t, s)
		if err := s.PutBucketConfig(ctx, b, "encryption", []byte("<x/>")); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBucket(ctx, b); err != nil {
			t.Fatalf("DeleteBucket: %v", err)
		}
		if err := s.CreateBucket(ctx, b); err != nil {
			t.Fatal(err)
		}
		_, err := s.GetBucketConfig(ctx, b, "encryption")
		wantErr(t, "config of recreated bucket", err, store.ErrNotFound)
	})
	t.Run("InvalidNamesAreRefused", func(t *testing.T) {
		for _, name := range []string{"", "ab", "UPPER", "a..b", "-ab", "ab-", ".tmp", ".sys", "../x", "a/b", "192.168.1.1", string(make([]byte, 64))} {
			wantErr(t, "CreateBucket("+name+")", s.CreateBucket(ctx, name), store.ErrInvalidBucket)
		}
	})
	t.Run("MissingBucket", func(t *testing.T) {
		const b = "st-no-such-bucket-here"
		_, err := s.HeadBucket(ctx, b)
		wantErr(t, "HeadBucket", err, store.ErrNoSuchBucket)
		_, err = s.Put(ctx, b, "k", bytes.NewReader(nil), 0, nil)
		wantErr(t, "Put", err, store.ErrNoSuchBucket)
		_, _, err = s.Get(ctx, b, "k", 0, -1)
		wantErr(t, "Get", err, store.ErrNoSuchBucket)
		_, err = s.Head(ctx, b, "k")
		wantErr(t, "Head", err, store.ErrNoSuchBucket)
		wantErr(t, "Delete", s.Delete(ctx, b, "k"), store.ErrNoSuchBucket)
		_, err = s.Copy(ctx, b, "k", b, "k2", nil)
		wantErr(t, "Copy", err, store.ErrNoSuchBucket)
		_, err = s.List(ctx, b, store.ListOptions{})
		wantErr(t, "List", err, store.ErrNoSuchBucket)
		_, err = s.GetBucketConfig(ctx, b, "encryption")
		wantErr(t, "GetBucketConfig", err, store.ErrNoSuchBucket)
		_, err = s.ListMultipartUploads(ctx, b, "")
		wantErr(t, "ListMultipartUploads", err, store.ErrNoSuchBucket)
		_, err = s.CreateMultipart(ctx, b, "k", nil)
		wantErr(t, "CreateMultipart", err, store.ErrNoSuchBucket)
	})
}

func testBucketConfig(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	_, err := s.GetBucketConfig(ctx, b, "encryption")
	wantErr(t, "missing config", err, store.ErrNotFound)
	blob := []byte(`<ServerSideEncryptionConfiguration/>` + string(randBytes(100)))
	if err := s.PutBucketConfig(ctx, b, "encryption", blob); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBucketConfig(ctx, b, "tagging", []byte("t")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBucketConfig(ctx, b, "encryption")
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("GetBucketConfig = %q, %v", got, err)
	}
	if err := s.PutBucketConfig(ctx, b, "encryption", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetBucketConfig(ctx, b, "encryption"); string(got) != "v2" {
		t.Fatalf("overwritten config = %q", got)
	}
	if err := s.DeleteBucketConfig(ctx, b, "encryption"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetBucketConfig(ctx, b, "encryption")
	wantErr(t, "deleted config", err, store.ErrNotFound)
	if got, _ := s.GetBucketConfig(ctx, b, "tagging"); string(got) != "t" {
		t.Fatalf("other config lost: %q", got)
	}
	if keys, cps := listAll(t, s, b, store.ListOptions{}); len(keys)+len(cps) != 0 {
		t.Fatalf("config blobs appear in listing: %v %v", keys, cps)
	}
	if err := s.PutBucketConfig(ctx, b, "../escape", []byte("x")); err == nil {
		t.Fatal("config name with path characters accepted")
	}
	err = s.PutBucketConfig(ctx, "st-no-such-bucket-here", "encryption", []byte("x"))
	wantErr(t, "config on missing bucket", err, store.ErrNoSuchBucket)
}
