package sse

import (
	"errors"
	"net/http"
	"testing"
)

func FuzzDecodeObjectMeta(f *testing.F) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	for _, m := range []*ObjectMeta{kmsMeta(), ssecMeta()} {
		md := sealed(f, m, kek, dek, "b", "o")
		f.Add(md[MetaKey])
	}
	f.Add("1.")
	f.Add("1.AQ")
	f.Fuzz(func(t *testing.T, v string) {
		m, err := DecodeObjectMeta(map[string]string{MetaKey: v})
		if err != nil {
			if !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("error not ErrBadMetadata: %v", err)
			}
			return
		}
		// Anything accepted must be self-consistent enough to plan ranges
		// over and must not unseal under an unrelated key.
		if _, err := PlanRange(m.Layout(), 0, m.Size); err != nil {
			t.Fatalf("accepted metadata has an unplannable layout: %v", err)
		}
		if _, err := m.UnsealKey(detBytes("other", 32), "b", "o"); err == nil {
			t.Fatal("fuzzed metadata unsealed under an unrelated KEK")
		}
	})
}

func FuzzPlanRange(f *testing.F) {
	f.Add(int64(100), int64(70000), int64(5), int64(0), int64(100000))
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(65536), int64(65536), int64(1), int64(65535), int64(2))
	f.Fuzz(func(t *testing.T, a, b, c, off, n int64) {
		parts := []PartLayout{{1, a}, {2, b}, {4, c}}
		segs, err := PlanRange(parts, off, n)
		if err != nil {
			return
		}
		var kept int64
		var prevEnd int64 = -1
		for _, s := range segs {
			kept += s.Keep
			if s.Keep <= 0 || s.Skip < 0 || s.Skip >= PackageSize || s.CipherLength <= 0 {
				t.Fatalf("bad segment %+v", s)
			}
			if prevEnd >= 0 && s.CipherOffset != prevEnd {
				t.Fatalf("segments not contiguous: %+v", segs)
			}
			prevEnd = s.CipherOffset + s.CipherLength
			// The fetched packages cover exactly Skip+Keep(+Tail) bytes.
			plain, err := DecryptedSize(s.CipherLength)
			if err != nil || plain < s.Skip+s.Keep || (s.ToEnd && plain != s.Skip+s.Keep+s.Tail) {
				t.Fatalf("segment %+v covers %d plaintext bytes (%v)", s, plain, err)
			}
			if plain-(s.Skip+s.Keep) >= PackageSize {
				t.Fatalf("segment %+v fetches a whole unneeded package", s)
			}
		}
		if kept != n {
			t.Fatalf("segments keep %d bytes, want %d", kept, n)
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=1-0", "bytes=0-1,2-3", ""} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		off, n, ok, err := ParseRange(h, size)
		switch {
		case err != nil:
			if !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("unexpected error %v", err)
			}
		case !ok:
			if off != 0 || n != size {
				t.Fatalf("ignored range returns %d,%d", off, n)
			}
		default:
			if off < 0 || n <= 0 || off+n > size || off+n < off {
				t.Fatalf("range %d,+%d outside object of %d", off, n, size)
			}
		}
	})
}

func FuzzParsePutHeaders(f *testing.F) {
	f.Add("AES256", "", "", "", "", "", "")
	f.Add("aws:kms", "alias/x", "eyJhIjoiYiJ9", "true", "", "", "")
	f.Add("", "", "", "", "AES256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "xyz")
	f.Fuzz(func(t *testing.T, alg, keyID, ctx, bk, calg, ckey, cmd5 string) {
		h := http.Header{}
		for k, v := range map[string]string{HeaderSSE: alg, HeaderSSEKMSKeyID: keyID, HeaderSSEContext: ctx,
			HeaderSSEBucketKeyEnabled: bk, HeaderSSECAlgorithm: calg, HeaderSSECKey: ckey, HeaderSSECKeyMD5: cmd5} {
			if v != "" {
				h.Set(k, v)
			}
		}
		req, err := ParsePutHeaders(h)
		if err != nil {
			if req.Mode != ModeNone || req.CustomerKey != nil {
				t.Fatal("error with a populated request")
			}
			return
		}
		if (req.Mode == ModeSSEC) != (req.CustomerKey != nil) {
			t.Fatalf("mode %v with customer key %v", req.Mode, req.CustomerKey != nil)
		}
		if req.Mode == ModeSSES3 && (req.KMSKeyID != "" || req.Context != "") {
			t.Fatal("SSE-S3 with KMS parameters")
		}
	})
}
