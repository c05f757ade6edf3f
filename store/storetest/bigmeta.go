package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

// bigMetaSizes are the metadata sizes (store.MetadataSize) every backend
// must round-trip exactly: S3's own 2 KB of user metadata plus the
// gateway's encryption entries do not fit MinIO's 2048 bytes.
var bigMetaSizes = []int{2 << 10, 4 << 10, 8 << 10}

// bigMeta returns metadata of exactly size n (as metaOfSize) whose values
// also exercise encodings: spaces at the ends, an empty value, a marker.
func bigMeta(n int, tag string) store.Metadata {
	m := store.Metadata{"tag": tag, "blank": "", "lead": " x ", "marker": "~bnot-encoded", "q": "=?UTF-8?B?aGk=?="}
	rest := metaOfSize(n - store.MetadataSize(m))
	for k, v := range rest {
		m["r-"+k] = v[:len(v)-len("r-")]
	}
	if store.MetadataSize(m) != n {
		panic(fmt.Sprintf("bigMeta: size %d, want %d", store.MetadataSize(m), n))
	}
	return m
}

func wantMeta(t *testing.T, what string, got, want store.Metadata) {
	t.Helper()
	if !equalMeta(got, want) {
		t.Fatalf("%s: meta of size %d (%d entries), want size %d (%d entries)", what, store.MetadataSize(got), len(got), store.MetadataSize(want), len(want))
	}
}

// checkObject asserts key's content and metadata through Head, Get and
// List(WithMeta).
func checkObject(t *testing.T, s store.Store, b, key string, data []byte, want store.Metadata) {
	t.Helper()
	h, err := s.Head(context.Background(), b, key)
	if err != nil {
		t.Fatalf("Head(%q): %v", key, err)
	}
	wantMeta(t, "Head "+key, h.Meta, want)
	got, gi := getAll(t, s, b, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get(%q): content differs", key)
	}
	wantMeta(t, "Get "+key, gi.Meta, want)
	res, err := s.List(context.Background(), b, store.ListOptions{Prefix: key, WithMeta: true})
	if err != nil {
		t.Fatalf("List(%q): %v", key, err)
	}
	var found bool
	for _, o := range res.Objects {
		if o.Key == key {
			found = true
			wantMeta(t, "List "+key, o.Meta, want)
		}
	}
	if !found {
		t.Fatalf("List(%q) does not show it", key)
	}
}

func testBigMetadata(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := newBucket(t, s)
	data := randBytes(1000)
	for _, n := range bigMetaSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			key := fmt.Sprintf("big-%d", n)
			m := bigMeta(n, "put")
			info := put(t, s, b, key, data, m)
			wantMeta(t, "Put info", info.Meta, m)
			checkObject(t, s, b, key, data, m)

			cm := bigMeta(n, "copy")
			if _, err := s.Copy(ctx, b, key, b, key+"-copy", cm); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			checkObject(t, s, b, key+"-copy", data, cm)
			// The copy owns its metadata: deleting the source keeps it.
			if err := s.Delete(ctx, b, key); err != nil {
				t.Fatal(err)
			}
			checkObject(t, s, b, key+"-copy", data, cm)

			sm := bigMeta(n, "self")
			if _, err := s.Copy(ctx, b, key+"-copy", b, key+"-copy", sm); err != nil {
				t.Fatalf("self Copy: %v", err)
			}
			checkObject(t, s, b, key+"-copy", data, sm)
			if err := s.Delete(ctx, b, key+"-copy"); err != nil {
				t.Fatal(err)
			}
			_, err := s.Head(ctx, b, key+"-copy")
			wantErr(t, "Head after Delete", err, store.ErrNotFound)
		})
	}
	t.Run("OverwriteBigWithSmallAndBack", func(t *testing.T) {
		big, small := bigMeta(8<<10, "big"), store.Metadata{"small": "1"}
		put(t, s, b, "ow", data, big)
		put(t, s, b, "ow", []byte("second"), small)
		checkObject(t, s, b, "ow", []byte("second"), small)
		put(t, s, b, "ow", []byte("third"), big)
		checkObject(t, s, b, "ow", []byte("third"), big)
		big2 := bigMeta(4<<10, "big2")
		put(t, s, b, "ow", []byte("fourth"), big2)
		checkObject(t, s, b, "ow", []byte("fourth"), big2)
		if _, err := s.Copy(ctx, b, "ow", b, "ow", small); err != nil {
			t.Fatal(err)
		}
		checkObject(t, s, b, "ow", []byte("fourth"), small)
	})
	t.Run("LateMetadata", func(t *testing.T) {
		cases := []struct {
			name         string
			first, final store.Metadata
		}{
			{"SmallToBig", store.Metadata{"d": "pending"}, bigMeta(8<<10, "late")},
			{"BigToSmall", bigMeta(8<<10, "early"), store.Metadata{"d": "done"}},
			{"BigToBig", bigMeta(4<<10, "early"), bigMeta(8<<10, "late")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := c.first.Clone()
				body := &onEOF{r: bytes.NewReader(data), fn: func() {
					for k := range m {
						delete(m, k)
					}
					for k, v := range c.final {
						m[k] = v
					}
				}}
				info, err := s.Put(ctx, b, "late-"+c.name, body, int64(len(data)), m)
				if err != nil {
					t.Fatal(err)
				}
				wantMeta(t, "Put info", info.Meta, c.final)
				checkObject(t, s, b, "late-"+c.name, data, c.final)
			})
		}
	})
	t.Run("Multipart", func(t *testing.T) {
		for _, n := range bigMetaSizes {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				key := fmt.Sprintf("mpu-%d", n)
				cm, fm, pm := bigMeta(n, "create"), bigMeta(n, "final"), bigMeta(n, "part")
				id, err := s.CreateMultipart(ctx, b, key, cm)
				if err != nil {
					t.Fatalf("CreateMultipart: %v", err)
				}
				u, err := s.GetUpload(ctx, b, key, id)
				if err != nil {
					t.Fatalf("GetUpload: %v", err)
				}
				wantMeta(t, "GetUpload", u.Meta, cm)
				ups, err := s.ListMultipartUploads(ctx, b, key)
				if err != nil || len(ups) != 1 {
					t.Fatalf("ListMultipartUploads = %d uploads, %v", len(ups), err)
				}
				wantMeta(t, "ListMultipartUploads", ups[0].Meta, cm)
				p, err := s.UploadPart(ctx, b, key, id, 1, bytes.NewReader(data), int64(len(data)), pm)
				if err != nil {
					t.Fatalf("UploadPart: %v", err)
				}
				parts, err := s.ListParts(ctx, b, key, id)
				if err != nil || len(parts) != 1 {
					t.Fatalf("ListParts = %+v, %v", parts, err)
				}
				wantMeta(t, "ListParts", parts[0].Meta, pm)
				info, err := s.CompleteMultipart(ctx, b, key, id, []store.CompletePart{{Number: 1, ETag: p.ETag}}, fm)
				if err != nil {
					t.Fatalf("CompleteMultipart: %v", err)
				}
				wantMeta(t, "Complete info", info.Meta, fm)
				checkObject(t, s, b, key, data, fm)

				// An aborted upload with big metadata leaves nothing behind.
				id2, err := s.CreateMultipart(ctx, b, key, cm)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.AbortMultipart(ctx, b, key, id2); err != nil {
					t.Fatal(err)
				}
				_, err = s.GetUpload(ctx, b, key, id2)
				wantErr(t, "GetUpload after abort", err, store.ErrNoSuchUpload)
				checkObject(t, s, b, key, data, fm)
				if err := s.Delete(ctx, b, key); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	t.Run("BucketWithOnlyDeletedBigObjectsIsEmpty", func(t *testing.T) {
		b := newBucket(t, s)
		put(t, s, b, "x", data, bigMeta(8<<10, strings.Repeat("z", 3)))
		if err := s.Delete(ctx, b, "x"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteBucket(ctx, b); err != nil {
			t.Fatalf("DeleteBucket: %v", err)
		}
	})
}
