package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

// partSize is the smallest size S3 accepts for a part that is not the last.
const partSize = 5 << 20

func uploadPart(t testing.TB, s store.Store, b, key, id string, n int, data []byte, meta store.Metadata) store.PartInfo {
	t.Helper()
	pi, err := s.UploadPart(context.Background(), b, key, id, n, bytes.NewReader(data), int64(len(data)), meta)
	if err != nil {
		t.Fatalf("UploadPart(%d): %v", n, err)
	}
	if pi.Number != n || pi.Size != int64(len(data)) || pi.ETag == "" {
		t.Fatalf("UploadPart(%d) = %+v", n, pi)
	}
	return pi
}

func testMultipart(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	t.Run("OutOfOrderReuploadSubsetAndMeta", func(t *testing.T) {
		const key = "mp/object"
		id, err := s.CreateMultipart(ctx, b, key, store.Metadata{"created": "yes"})
		if err != nil {
			t.Fatal(err)
		}
		up, err := s.GetUpload(ctx, b, key, id)
		if err != nil || up.Key != key || up.UploadID != id || up.Meta["created"] != "yes" {
			t.Fatalf("GetUpload = %+v, %v", up, err)
		}
		p1, p2, p3, p4 := randBytes(partSize), randBytes(partSize+7), randBytes(partSize), randBytes(1234)
		uploadPart(t, s, b, key, id, 4, p4, store.Metadata{"n": "4"})
		uploadPart(t, s, b, key, id, 2, randBytes(partSize), store.Metadata{"n": "2-old"})
		uploadPart(t, s, b, key, id, 1, p1, store.Metadata{"n": "1"})
		uploadPart(t, s, b, key, id, 3, p3, store.Metadata{"n": "3"})
		// Re-upload replaces content and part metadata.
		uploadPart(t, s, b, key, id, 2, p2, store.Metadata{"n": "2", "iv": "AAAA"})
		parts, err := s.ListParts(ctx, b, key, id)
		if err != nil || len(parts) != 4 {
			t.Fatalf("ListParts = %+v, %v", parts, err)
		}
		for i, p := range parts {
			if p.Number != i+1 {
				t.Fatalf("ListParts not in order: %+v", parts)
			}
		}
		if parts[1].Size != int64(len(p2)) || !equalMeta(parts[1].Meta, store.Metadata{"n": "2", "iv": "AAAA"}) {
			t.Fatalf("re-uploaded part = %+v", parts[1])
		}
		// Complete with parts 1, 2 and 4 only, with new metadata.
		final := store.Metadata{"final": "meta", "created": "no"}
		done := []store.CompletePart{{Number: 1, ETag: parts[0].ETag}, {Number: 2, ETag: parts[1].ETag}, {Number: 4, ETag: parts[3].ETag}}
		info, err := s.CompleteMultipart(ctx, b, key, id, done, final)
		if err != nil {
			t.Fatalf("CompleteMultipart: %v", err)
		}
		want := append(append(append([]byte{}, p1...), p2...), p4...)
		if info.Size != int64(len(want)) {
			t.Fatalf("completed size %d, want %d", info.Size, len(want))
		}
		got, gi := getAll(t, s, b, key)
		if !bytes.Equal(got, want) || !equalMeta(gi.Meta, final) {
			t.Fatalf("completed object: %d bytes meta %v; want %d bytes meta %v", len(got), gi.Meta, len(want), final)
		}
		// A range across the part 1/2 boundary.
		rc, _, err := s.Get(ctx, b, key, partSize-10, 20)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(buf.Bytes(), want[partSize-10:partSize+10]) {
			t.Fatal("range across part boundary differs")
		}
		_, err = s.ListParts(ctx, b, key, id)
		wantErr(t, "ListParts after Complete", err, store.ErrNoSuchUpload)
		if ups, _ := s.ListMultipartUploads(ctx, b, "mp/"); len(ups) != 0 {
			t.Fatalf("upload still listed after Complete: %+v", ups)
		}
	})
	t.Run("CompleteKeepsCreateMetaWhenNotReplaced", func(t *testing.T) {
		id, err := s.CreateMultipart(ctx, b, "keep", store.Metadata{"c": "1"})
		if err != nil {
			t.Fatal(err)
		}
		// Size -1: the part streams until EOF.
		p, err := s.UploadPart(ctx, b, "keep", id, 1, io.MultiReader(strings.NewReader("only part")), -1, nil)
		if err != nil || p.Size != 9 {
			t.Fatalf("UploadPart size -1 = %+v, %v", p, err)
		}
		up, _ := s.GetUpload(ctx, b, "keep", id)
		if _, err := s.CompleteMultipart(ctx, b, "keep", id, []store.CompletePart{{Number: 1, ETag: p.ETag}}, up.Meta); err != nil {
			t.Fatal(err)
		}
		if got, info := getAll(t, s, b, "keep"); string(got) != "only part" || info.Meta["c"] != "1" {
			t.Fatalf("got %q meta %v", got, info.Meta)
		}
	})
	t.Run("WrongOrMissingPartIsInvalidPart", func(t *testing.T) {
		id, err := s.CreateMultipart(ctx, b, "bad", nil)
		if err != nil {
			t.Fatal(err)
		}
		p1 := uploadPart(t, s, b, "bad", id, 1, randBytes(partSize), nil)
		p2 := uploadPart(t, s, b, "bad", id, 2, []byte("tail"), nil)
		cases := [][]store.CompletePart{
			{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: md5hex([]byte("other"))}},
			{{Number: 1, ETag: p1.ETag}, {Number: 3, ETag: p2.ETag}},
			{{Number: 2, ETag: p2.ETag}, {Number: 1, ETag: p1.ETag}},
		}
		for i, parts := range cases {
			_, err := s.CompleteMultipart(ctx, b, "bad", id, parts, nil)
			wantErr(t, fmt.Sprintf("case %d", i), err, store.ErrInvalidPart)
		}
		_, err = s.Head(ctx, b, "bad")
		wantErr(t, "Head after failed Complete", err, store.ErrNotFound)
		// The upload survives a failed Complete.
		if _, err := s.CompleteMultipart(ctx, b, "bad", id, []store.CompletePart{{Number: 1, ETag: p1.ETag}, {Number: 2, ETag: p2.ETag}}, nil); err != nil {
			t.Fatalf("Complete after failed attempts: %v", err)
		}
	})
	t.Run("AbortAndUnknownUploads", func(t *testing.T) {
		id, err := s.CreateMultipart(ctx, b, "ab/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		id2, err := s.CreateMultipart(ctx, b, "ab/y", store.Metadata{"m": "y"})
		if err != nil {
			t.Fatal(err)
		}
		uploadPart(t, s, b, "ab/x", id, 1, []byte("p"), nil)
		ups, err := s.ListMultipartUploads(ctx, b, "ab/")
		if err != nil || len(ups) != 2 || ups[0].Key != "ab/x" || ups[1].Key != "ab/y" || ups[1].UploadID != id2 || ups[1].Meta["m"] != "y" {
			t.Fatalf("ListMultipartUploads = %+v, %v", ups, err)
		}
		if ups, _ := s.ListMultipartUploads(ctx, b, "ab/y"); len(ups) != 1 {
			t.Fatalf("prefix filter: %+v", ups)
		}
		_, err = s.GetUpload(ctx, b, "ab/other", id)
		wantErr(t, "GetUpload with other key", err, store.ErrNoSuchUpload)
		if err := s.AbortMultipart(ctx, b, "ab/x", id); err != nil {
			t.Fatal(err)
		}
		_, err = s.ListParts(ctx, b, "ab/x", id)
		wantErr(t, "ListParts after Abort", err, store.ErrNoSuchUpload)
		_, err = s.UploadPart(ctx, b, "ab/x", id, 2, bytes.NewReader([]byte("p")), 1, nil)
		wantErr(t, "UploadPart after Abort", err, store.ErrNoSuchUpload)
		for _, bogus := range []string{"nonexistent", "../../etc", ""} {
			_, err = s.GetUpload(ctx, b, "ab/x", bogus)
			wantErr(t, "GetUpload("+bogus+")", err, store.ErrNoSuchUpload)
		}
		if err := s.AbortMultipart(ctx, b, "ab/y", id2); err != nil {
			t.Fatal(err)
		}
		if ups, _ := s.ListMultipartUploads(ctx, b, ""); len(ups) != 0 {
			t.Fatalf("uploads after abort: %+v", ups)
		}
		if keys, _ := listAll(t, s, b, store.ListOptions{Prefix: "ab/"}); len(keys) != 0 {
			t.Fatalf("aborted upload left objects: %q", keys)
		}
	})
}
