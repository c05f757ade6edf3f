package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func TestCheckBucketName(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "my-bucket.v2": true, "0a0": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "Abc": false, "a_b": false, "-ab": false, "ab.": false,
		"a..b": false, "a.-b": false, "192.168.0.1": false, ".tmp": false, "a/b": false, "a b": false,
	}
	for name, ok := range cases {
		err := store.CheckBucketName(name)
		if (err == nil) != ok || (err != nil && !errors.Is(err, store.ErrInvalidBucket)) {
			t.Errorf("CheckBucketName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestCheckKey(t *testing.T) {
	cases := map[string]bool{
		"a": true, "a/b/": true, "a//b": true, "./x": true, "...": true, "a/..b": true, "ü/日本": true,
		strings.Repeat("k", 1024): true,
		"":                        false, strings.Repeat("k", 1025): false, "/a": false, "..": false, "a/..": false, "../a": false,
		"a/../b": false, "a\x00b": false, "\xff": false,
	}
	for key, ok := range cases {
		err := store.CheckKey(key)
		if (err == nil) != ok || (err != nil && !errors.Is(err, store.ErrInvalidKey)) {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", key, err, ok)
		}
	}
}

func TestMetadataSizeCountsHeaderPrefix(t *testing.T) {
	if n := store.MetadataSize(store.Metadata{"ab": "xyz"}); n != len("x-amz-meta-")+5 {
		t.Fatalf("MetadataSize = %d", n)
	}
}
