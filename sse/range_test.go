package sse

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func randomLayout(rng *rand.Rand) []PartLayout {
	if rng.IntN(4) == 0 {
		return []PartLayout{{0, rng.Int64N(6 * PackageSize)}}
	}
	n := 1 + rng.IntN(5)
	parts := make([]PartLayout, n)
	num := 0
	for i := range parts {
		num += 1 + rng.IntN(3) // part numbers may skip
		size := rng.Int64N(4*PackageSize) + 1
		if rng.IntN(5) == 0 {
			size = int64(1+rng.IntN(3)) * PackageSize // exact multiples too
		}
		parts[i] = PartLayout{Number: num, PlainSize: size}
	}
	return parts
}

func TestRandomRangesOfRandomLayoutsMatchPlaintext(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dek := detKey("dek")
	for iter := range 60 {
		parts := randomLayout(rng)
		meta := layoutMeta(SuiteAES256GCM, parts)
		plain := detBytes("plain", int(meta.Size))
		blob := encryptParts(t, dek, SuiteAES256GCM, parts, plain, newDetRand("n"))
		for range 20 {
			off := int64(0)
			if meta.Size > 0 {
				off = rng.Int64N(meta.Size + 1)
			}
			n := int64(0)
			if meta.Size-off > 0 {
				n = rng.Int64N(meta.Size - off + 1)
			}
			got, ms, err := readRange(t, blob, meta, dek, off, n)
			if err != nil {
				t.Fatalf("iter %d layout %v range [%d,+%d): %v", iter, parts, off, n, err)
			}
			if !bytes.Equal(got, plain[off:off+n]) {
				t.Fatalf("iter %d layout %v range [%d,+%d): wrong bytes", iter, parts, off, n)
			}
			if n > 0 && ms.fetches != 1 {
				t.Fatalf("range [%d,+%d) used %d backend fetches, want 1", off, n, ms.fetches)
			}
		}
	}
}

func TestOneMiBRangeFetchesOnlyCoveringPackages(t *testing.T) {
	segsBound := func(segs []Segment) int64 {
		// 1 MiB of payload plus per part: 2 partial packages and the
		// overhead of every package touched.
		return 1<<20 + int64(len(segs))*(2*PackageSize) + int64(len(segs))*(1<<20/PackageSize+2)*PackageOverhead
	}
	layouts := [][]PartLayout{
		{{0, 100 << 20}},
		{{1, 5<<20 + 12345}, {2, 5<<20 + 12345}, {3, 777}},
	}
	for _, parts := range layouts {
		var size int64
		for _, p := range parts {
			size += p.PlainSize
		}
		for _, off := range []int64{0, 1, PackageSize - 1, 5<<20 + 12000, size - (1 << 20)} {
			segs, err := PlanRange(parts, off, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var fetched, kept int64
			for _, s := range segs {
				fetched += s.CipherLength
				kept += s.Keep
			}
			if kept != 1<<20 {
				t.Fatalf("off %d: segments keep %d bytes", off, kept)
			}
			if fetched > segsBound(segs) {
				t.Fatalf("off %d: fetches %d bytes for a 1 MiB range (bound %d)", off, fetched, segsBound(segs))
			}
		}
	}
}

func TestPlanRangeRejectsOutOfBounds(t *testing.T) {
	parts := []PartLayout{{1, 100}, {2, 50}}
	for _, c := range []struct{ off, n int64 }{{-1, 1}, {0, -1}, {151, 0}, {100, 51}, {0, 151}} {
		if _, err := PlanRange(parts, c.off, c.n); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("PlanRange(%d,%d): err = %v", c.off, c.n, err)
		}
	}
	if segs, err := PlanRange(parts, 150, 0); err != nil || len(segs) != 0 {
		t.Errorf("empty range at end: %v, %v", segs, err)
	}
}

func TestPlanRangeSegmentsAreContiguous(t *testing.T) {
	parts := []PartLayout{{1, 3*PackageSize + 5}, {2, 0}, {4, PackageSize}, {5, 10}}
	segs, err := PlanRange(parts, 2*PackageSize, 2*PackageSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Number != 1 || segs[1].Number != 4 {
		t.Fatalf("segments %+v", segs)
	}
	if segs[0].CipherOffset+segs[0].CipherLength != segs[1].CipherOffset {
		t.Fatalf("segments not contiguous: %+v", segs)
	}
	if !segs[0].ToEnd || segs[0].FirstPackage != 2 {
		t.Fatalf("first segment %+v", segs[0])
	}
}

func TestParseRange(t *testing.T) {
	const size = 1000
	cases := []struct {
		header  string
		off, n  int64
		partial bool
		err     error
	}{
		{"", 0, size, false, nil},
		{"bytes=0-0", 0, 1, true, nil},
		{"bytes=0-999", 0, 1000, true, nil},
		{"bytes=10-2000", 10, 990, true, nil},
		{"bytes=990-", 990, 10, true, nil},
		{"bytes=-10", 990, 10, true, nil},
		{"bytes=-5000", 0, 1000, true, nil},
		{"bytes=999-999", 999, 1, true, nil},
		{"bytes=1000-", 0, 0, false, ErrInvalidRange},
		{"bytes=1000-1001", 0, 0, false, ErrInvalidRange},
		{"bytes=-0", 0, 0, false, ErrInvalidRange},
		// Ignored like S3: syntax errors and multiple ranges.
		{"bytes=5-1", 0, size, false, nil},
		{"bytes=0-1,5-6", 0, size, false, nil},
		{"items=0-1", 0, size, false, nil},
		{"bytes=a-b", 0, size, false, nil},
		{"bytes=+1-2", 0, size, false, nil},
		{"bytes=-", 0, size, false, nil},
		{"bytes=1", 0, size, false, nil},
	}
	for _, c := range cases {
		off, n, ok, err := ParseRange(c.header, size)
		if !errors.Is(err, c.err) || (err == nil && (off != c.off || n != c.n || ok != c.partial)) {
			t.Errorf("ParseRange(%q) = %d,%d,%v,%v; want %d,%d,%v,%v", c.header, off, n, ok, err, c.off, c.n, c.partial, c.err)
		}
	}
	if _, _, _, err := ParseRange("bytes=0-", 0); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("range on empty object: err = %v", err)
	}
}
