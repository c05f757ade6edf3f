package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func testPutGetHeadDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	for _, size := range []int{0, 1, 64 << 10, 1<<20 + 3} {
		t.Run(fmt.Sprintf("size%d", size), func(t *testing.T) {
			key := fmt.Sprintf("obj-%d", size)
			data := randBytes(size)
			info := put(t, s, b, key, data, store.Metadata{"k": "v"})
			if info.Size != int64(size) || info.ETag == "" || info.Key != key {
				t.Fatalf("Put info = %+v, want size %d and an ETag", info, size)
			}
			h, err := s.Head(ctx, b, key)
			if err != nil || h.Size != int64(size) || h.ETag != info.ETag || h.Meta["k"] != "v" || h.LastModified.IsZero() {
				t.Fatalf("Head = %+v, %v", h, err)
			}
			got, gi := getAll(t, s, b, key)
			if !bytes.Equal(got, data) || gi.Size != int64(size) || gi.ETag != info.ETag {
				t.Fatalf("Get returned %d bytes (info %+v), want %d", len(got), gi, size)
			}
			if err := s.Delete(ctx, b, key); err != nil {
				t.Fatal(err)
			}
			_, err = s.Head(ctx, b, key)
			wantErr(t, "Head after Delete", err, store.ErrNotFound)
			_, _, err = s.Get(ctx, b, key, 0, -1)
			wantErr(t, "Get after Delete", err, store.ErrNotFound)
		})
	}
	t.Run("UnknownSizeStreams", func(t *testing.T) {
		data := randBytes(300 << 10)
		info, err := s.Put(ctx, b, "unknown", io.MultiReader(bytes.NewReader(data)), -1, nil)
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Put size -1 = %+v, %v", info, err)
		}
		if got, _ := getAll(t, s, b, "unknown"); !bytes.Equal(got, data) {
			t.Fatal("content differs")
		}
	})
	t.Run("OverwriteReplacesContentAndMeta", func(t *testing.T) {
		first := put(t, s, b, "ow", []byte("first version"), store.Metadata{"a": "1"})
		second := put(t, s, b, "ow", []byte("second"), store.Metadata{"b": "2"})
		got, info := getAll(t, s, b, "ow")
		if string(got) != "second" || !equalMeta(info.Meta, store.Metadata{"b": "2"}) {
			t.Fatalf("after overwrite: %q %v", got, info.Meta)
		}
		// The ETag is opaque, but it tells versions apart (the gateway's
		// conditional metadata updates depend on that).
		if first.ETag == second.ETag || info.ETag != second.ETag {
			t.Fatalf("ETags: first %q, second %q, read %q", first.ETag, second.ETag, info.ETag)
		}
	})
	t.Run("DeleteMissingIsNotAnError", func(t *testing.T) {
		if err := s.Delete(ctx, b, "never-existed"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("MissingKey", func(t *testing.T) {
		_, err := s.Head(ctx, b, "missing")
		wantErr(t, "Head", err, store.ErrNotFound)
		_, _, err = s.Get(ctx, b, "missing", 0, -1)
		wantErr(t, "Get", err, store.ErrNotFound)
	})
	t.Run("ShortBodyStoresNothing", func(t *testing.T) {
		_, err := s.Put(ctx, b, "short", strings.NewReader("abc"), 10, nil)
		wantErr(t, "Put short body", err, store.ErrIncompleteBody)
		_, err = s.Head(ctx, b, "short")
		wantErr(t, "Head after short Put", err, store.ErrNotFound)
	})
}

func testRanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	data := randBytes(100 << 10)
	put(t, s, b, "r", data, nil)
	put(t, s, b, "empty", nil, nil)
	n := int64(len(data))
	cases := []struct {
		name           string
		key            string
		offset, length int64
		want           []byte
		err            error
	}{
		{"FirstByte", "r", 0, 1, data[:1], nil},
		{"Middle", "r", 1000, 5000, data[1000:6000], nil},
		{"ToEnd", "r", n - 10, -1, data[n-10:], nil},
		{"LastByte", "r", n - 1, 1, data[n-1:], nil},
		{"EndPastSizeIsCut", "r", n - 5, 100, data[n-5:], nil},
		{"Whole", "r", 0, -1, data, nil},
		{"StartAtSizeIsInvalid", "r", n, 1, nil, store.ErrInvalidRange},
		{"StartPastSizeIsInvalid", "r", n + 100, -1, nil, store.ErrInvalidRange},
		{"WholeEmpty", "empty", 0, -1, []byte{}, nil},
		{"ByteOfEmptyIsInvalid", "empty", 0, 1, nil, store.ErrInvalidRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, info, err := s.Get(ctx, b, c.key, c.offset, c.length)
			if c.err != nil {
				wantErr(t, "Get", err, c.err)
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(c.want))
			}
			if c.key == "r" && info.Size != n {
				t.Fatalf("info.Size = %d, want whole size %d", info.Size, n)
			}
		})
	}
}

func testMetadata(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	many := store.Metadata{}
	for i := range 40 {
		many[fmt.Sprintf("key-%02d", i)] = fmt.Sprintf("value %d", i)
	}
	cases := []struct {
		name string
		meta store.Metadata
	}{
		{"Nil", nil},
		{"Empty", store.Metadata{}},
		{"One", store.Metadata{"x": "y"}},
		{"Many", many},
		{"DigitsAndDashes", store.Metadata{"0a-b-c": "1", "ssegate-v1-iv": "AAECAw=="}},
		{"Punctuation", store.Metadata{"p": `a=b; c="d", e/f+g%20?~!@#$^&*()[]{}|\<>`}},
		{"Spaces", store.Metadata{"inner": "a  b", "lead": " x", "trail": "x ", "blank": " "}},
		{"EmptyValue", store.Metadata{"e": ""}},
		{"HeaderLookalikeKeys", store.Metadata{"content-type": "a/b", "cache-control": "no", "x-amz-acl": "public-read", "expires": "0", "x-minio-internal": "1"}},
		{"EncodedWordLookalike", store.Metadata{"q": "=?UTF-8?B?aGVsbG8=?=", "r": "~bmarker-lookalike"}},
		{"LongValue1900", store.Metadata{"long": strings.Repeat("L", 1900)}},
		{"TotalAtLimit", metaOfSize(store.MaxMetadataSize)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "meta-" + c.name
			want := c.meta
			if want == nil {
				want = store.Metadata{}
			}
			put(t, s, b, key, []byte("m"), c.meta)
			h, err := s.Head(ctx, b, key)
			if err != nil || !equalMeta(h.Meta, want) {
				t.Fatalf("Head meta = %q, %v; want %q", h.Meta, err, want)
			}
			_, gi := getAll(t, s, b, key)
			if !equalMeta(gi.Meta, want) {
				t.Fatalf("Get meta = %q, want %q", gi.Meta, want)
			}
			res, err := s.List(ctx, b, store.ListOptions{Prefix: key, WithMeta: true})
			if err != nil || len(res.Objects) != 1 || !equalMeta(res.Objects[0].Meta, want) {
				t.Fatalf("List WithMeta = %+v, %v; want meta %q", res.Objects, err, want)
			}
		})
	}
	t.Run("MetaCompletedDuringBodyIsStored", func(t *testing.T) {
		// store.Store.Put reads meta again once the body has ended.
		m := store.Metadata{"fixed": "1", "digest": "pending"}
		data := randBytes(200 << 10)
		body := &onEOF{r: bytes.NewReader(data), fn: func() { m["digest"] = md5hex(data); m["late"] = "yes" }}
		info, err := s.Put(ctx, b, "late", body, int64(len(data)), m)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Metadata{"fixed": "1", "digest": md5hex(data), "late": "yes"}
		if !equalMeta(info.Meta, want) {
			t.Fatalf("Put info meta = %v, want %v", info.Meta, want)
		}
		h, err := s.Head(ctx, b, "late")
		if err != nil || !equalMeta(h.Meta, want) || h.ETag != info.ETag {
			t.Fatalf("Head = %+v, %v; want meta %v", h, err, want)
		}
		if got, _ := getAll(t, s, b, "late"); !bytes.Equal(got, data) {
			t.Fatal("content differs after the metadata update")
		}
	})
	t.Run("CallerMapIsNotRetained", func(t *testing.T) {
		m := store.Metadata{"a": "1"}
		put(t, s, b, "retain", []byte("x"), m)
		m["a"] = "changed"
		h, _ := s.Head(ctx, b, "retain")
		if h.Meta["a"] != "1" {
			t.Fatalf("store kept a reference to the caller's map: %v", h.Meta)
		}
	})
}

// Keys every backend must store and list exactly.
var portableKeys = []string{
	"plain", "with space", "plus+sign", "percent%20literal", "percent%", "ünïcødé/日本語/ключ",
	"a/b/c/d.txt", "a-b", "a.b", "a0", "emoji-😀", "q?x=1&y=2", "star*", "tilde~",
	"quote\"'`", "back\\slash", "semi;colon", "dir/", strings.Repeat("seg/", 50) + "leaf",
	strings.Repeat("k", 255),
}

// Keys S3 allows but some backends cannot hold: a backend must either store
// them exactly or refuse them with ErrInvalidKey, never alias them.
var edgeKeys = []string{"a//b", "./x", "x/./y", "x/.", ".", "//", "a/b//",
	strings.Repeat("k", 300), strings.Repeat("é", 400), strings.Repeat("long/", 10) + strings.Repeat("x", 900)}

// metaOfSize returns metadata whose MetadataSize is exactly n.
func metaOfSize(n int) store.Metadata {
	m := store.Metadata{}
	for i := 0; ; i++ {
		k := fmt.Sprintf("k%d", i)
		room := n - store.MetadataSize(m) - len("x-amz-meta-") - len(k)
		if room <= 1000 {
			m[k] = strings.Repeat("v", room)
			return m
		}
		m[k] = strings.Repeat("v", 700)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	stored := map[string][]byte{}
	for _, k := range portableKeys {
		data := []byte("content of " + k)
		put(t, s, b, k, data, nil)
		stored[k] = data
	}
	for _, k := range edgeKeys {
		data := []byte("edge " + k)
		_, err := s.Put(ctx, b, k, bytes.NewReader(data), int64(len(data)), nil)
		if errors.Is(err, store.ErrInvalidKey) {
			t.Logf("backend refuses edge key %q", k)
			continue
		}
		if err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
		stored[k] = data
	}
	for k, want := range stored {
		if got, _ := getAll(t, s, b, k); !bytes.Equal(got, want) {
			t.Fatalf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	keys, _ := listAll(t, s, b, store.ListOptions{})
	if len(keys) != len(stored) {
		t.Fatalf("List returned %d keys, stored %d: %q", len(keys), len(stored), keys)
	}
	for i, k := range keys {
		if _, ok := stored[k]; !ok {
			t.Fatalf("List returned unknown key %q", k)
		}
		if i > 0 && keys[i-1] >= k {
			t.Fatalf("List not in byte order: %q before %q", keys[i-1], k)
		}
	}
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	bad := []string{"", "../escape", "a/../../escape", "..", "a/..", "/abs", "nul\x00byte", "bad\xffutf8", strings.Repeat("x", 1025)}
	for _, k := range bad {
		_, err := s.Put(ctx, b, k, strings.NewReader("x"), 1, nil)
		wantErr(t, fmt.Sprintf("Put(%q)", k), err, store.ErrInvalidKey)
		_, _, err = s.Get(ctx, b, k, 0, -1)
		wantErr(t, fmt.Sprintf("Get(%q)", k), err, store.ErrInvalidKey)
		_, err = s.CreateMultipart(ctx, b, k, nil)
		wantErr(t, fmt.Sprintf("CreateMultipart(%q)", k), err, store.ErrInvalidKey)
	}
	if keys, cps := listAll(t, s, b, store.ListOptions{}); len(keys)+len(cps) != 0 {
		t.Fatalf("refused keys left objects: %q %q", keys, cps)
	}
}

// onEOF calls fn once, when r first reports io.EOF.
type onEOF struct {
	r    io.Reader
	fn   func()
	done bool
}

func (o *onEOF) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err == io.EOF && !o.done {
		o.done = true
		o.fn()
	}
	return n, err
}
