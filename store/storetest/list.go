package storetest

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	keys := []string{"a-", "a.b", "a/1", "a/2", "a/x/3", "a0", "b/1", "b/2", "c", "d/e/f", "d/e/g", "d/h", "e"}
	for _, k := range keys {
		put(t, s, b, k, []byte(k), store.Metadata{"k": k})
	}
	// System state that must never appear in a listing.
	if err := s.PutBucketConfig(ctx, b, "encryption", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMultipart(ctx, b, "pending", nil); err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(keys)
	sort.Strings(sorted)

	cases := []struct {
		name         string
		opts         store.ListOptions
		wantKeys     []string
		wantPrefixes []string
	}{
		{"All", store.ListOptions{}, sorted, nil},
		{"AllPaged", store.ListOptions{MaxKeys: 3}, sorted, nil},
		{"Prefix", store.ListOptions{Prefix: "a/"}, []string{"a/1", "a/2", "a/x/3"}, nil},
		{"PrefixPartialSegment", store.ListOptions{Prefix: "a"}, []string{"a-", "a.b", "a/1", "a/2", "a/x/3", "a0"}, nil},
		{"PrefixNoMatch", store.ListOptions{Prefix: "zz"}, nil, nil},
		{"Delimiter", store.ListOptions{Delimiter: "/"}, []string{"a-", "a.b", "a0", "c", "e"}, []string{"a/", "b/", "d/"}},
		{"DelimiterPaged1", store.ListOptions{Delimiter: "/", MaxKeys: 1}, []string{"a-", "a.b", "a0", "c", "e"}, []string{"a/", "b/", "d/"}},
		{"DelimiterPaged2", store.ListOptions{Delimiter: "/", MaxKeys: 2}, []string{"a-", "a.b", "a0", "c", "e"}, []string{"a/", "b/", "d/"}},
		{"PrefixDelimiter", store.ListOptions{Prefix: "d/", Delimiter: "/"}, []string{"d/h"}, []string{"d/e/"}},
		{"PrefixDelimiterDeep", store.ListOptions{Prefix: "a/", Delimiter: "/"}, []string{"a/1", "a/2"}, []string{"a/x/"}},
		{"OtherDelimiter", store.ListOptions{Delimiter: "e"}, []string{"a-", "a.b", "a/1", "a/2", "a/x/3", "a0", "b/1", "b/2", "c", "d/h"}, []string{"d/e", "e"}},
		{"StartAfter", store.ListOptions{StartAfter: "a0"}, []string{"b/1", "b/2", "c", "d/e/f", "d/e/g", "d/h", "e"}, nil},
		{"StartAfterMidDirectory", store.ListOptions{StartAfter: "a/2"}, []string{"a/x/3", "a0", "b/1", "b/2", "c", "d/e/f", "d/e/g", "d/h", "e"}, nil},
		{"StartAfterCommonPrefix", store.ListOptions{Delimiter: "/", StartAfter: "a/"}, []string{"a0", "c", "e"}, []string{"b/", "d/"}},
		{"StartAfterLast", store.ListOptions{StartAfter: "e"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gotKeys, gotPrefixes := listAll(t, s, b, c.opts)
			if !slices.Equal(gotKeys, c.wantKeys) {
				t.Fatalf("keys = %q, want %q", gotKeys, c.wantKeys)
			}
			if !slices.Equal(gotPrefixes, c.wantPrefixes) {
				t.Fatalf("prefixes = %q, want %q", gotPrefixes, c.wantPrefixes)
			}
		})
	}
	t.Run("TruncationIsExact", func(t *testing.T) {
		res, err := s.List(ctx, b, store.ListOptions{MaxKeys: len(keys)})
		if err != nil || res.IsTruncated || len(res.Objects) != len(keys) {
			t.Fatalf("List(MaxKeys=all) truncated=%v n=%d err=%v", res.IsTruncated, len(res.Objects), err)
		}
		res, err = s.List(ctx, b, store.ListOptions{MaxKeys: 2, Delimiter: "/"})
		if err != nil || !res.IsTruncated || len(res.Objects)+len(res.CommonPrefixes) != 2 || res.NextStartAfter != "a.b" {
			t.Fatalf("List(MaxKeys=2) = %+v, %v", res, err)
		}
	})
	t.Run("ObjectsCarrySizeETagAndOptionalMeta", func(t *testing.T) {
		res, err := s.List(ctx, b, store.ListOptions{Prefix: "a/x/", WithMeta: true})
		if err != nil || len(res.Objects) != 1 {
			t.Fatalf("List = %+v, %v", res, err)
		}
		o := res.Objects[0]
		h, err := s.Head(ctx, b, "a/x/3")
		if err != nil {
			t.Fatal(err)
		}
		if o.Size != 5 || o.ETag == "" || o.ETag != h.ETag || o.Meta["k"] != "a/x/3" || o.LastModified.IsZero() {
			t.Fatalf("listed object = %+v", o)
		}
	})
	t.Run("HiddenPrefixesStayHidden", func(t *testing.T) {
		for _, p := range []string{".", ".s", ".ssegate", "_"} {
			if ks, cps := listAll(t, s, b, store.ListOptions{Prefix: p}); len(ks)+len(cps) != 0 {
				t.Fatalf("prefix %q lists system state: %q %q", p, ks, cps)
			}
		}
		_, cps := listAll(t, s, b, store.ListOptions{Delimiter: "/"})
		for _, cp := range cps {
			if strings.HasPrefix(cp, ".") {
				t.Fatalf("system prefix listed: %q", cp)
			}
		}
	})
}

// testObjectAndPrefix: S3 lets "p" be an object and a prefix at once.
func testObjectAndPrefix(t *testing.T, s store.Store) {
	b := newBucket(t, s)
	keys := []string{"p", "p/", "p/q", "p/q/r", "p/q/r/"}
	for _, k := range keys {
		put(t, s, b, k, []byte("v:"+k), nil)
	}
	for _, k := range keys {
		if got, _ := getAll(t, s, b, k); string(got) != "v:"+k {
			t.Fatalf("Get(%q) = %q", k, got)
		}
	}
	cases := []struct {
		opts         store.ListOptions
		wantKeys     []string
		wantPrefixes []string
	}{
		{store.ListOptions{}, keys, nil},
		{store.ListOptions{Delimiter: "/"}, []string{"p"}, []string{"p/"}},
		{store.ListOptions{Prefix: "p/", Delimiter: "/"}, []string{"p/", "p/q"}, []string{"p/q/"}},
		{store.ListOptions{Prefix: "p/q/", Delimiter: "/", MaxKeys: 1}, []string{"p/q/r"}, []string{"p/q/r/"}},
	}
	for _, c := range cases {
		gotKeys, gotPrefixes := listAll(t, s, b, c.opts)
		if !slices.Equal(gotKeys, c.wantKeys) || !slices.Equal(gotPrefixes, c.wantPrefixes) {
			t.Fatalf("List(%+v) = %q %q, want %q %q", c.opts, gotKeys, gotPrefixes, c.wantKeys, c.wantPrefixes)
		}
	}
	if err := s.Delete(context.Background(), b, "p/q"); err != nil {
		t.Fatal(err)
	}
	if got, _ := listAll(t, s, b, store.ListOptions{}); !slices.Equal(got, []string{"p", "p/", "p/q/r", "p/q/r/"}) {
		t.Fatalf("after deleting p/q: %q", got)
	}
}
