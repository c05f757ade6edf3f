package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/minio/sio"
)

// These tests check range reads of multi-GiB objects without multi-GiB
// memory or time. The plaintext is sparse (zeros except marker bytes at
// chosen offsets) and the "backend" generates, for each fetch, only the DARE
// packages that cover the requested ciphertext range. DARE 2.0 packages are
// independent given the part key, the stream's 12-byte nonce (drawn once
// per part) and the package's sequence number, so sio with Nonce and
// SequenceNumber set reproduces exactly the bytes EncryptReader wrote at
// that offset. TestSparseFetcherMatchesEncryptReader proves that
// equivalence byte for byte before the large objects rely on it.

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// sparseObject is a stored object whose plaintext and ciphertext exist only
// as functions of the offset.
type sparseObject struct {
	dek     ObjectKey
	suite   Suite
	parts   []PartLayout
	nonces  [][12]byte
	plain0  []int64 // plaintext offset of each part
	cipher0 []int64 // ciphertext offset of each part
	size    int64   // plaintext size
	stored  int64   // ciphertext size
	markers []int64 // sorted offsets of the non-zero bytes

	fetches int
	fetched int64
}

func newSparseObject(t testing.TB, seed string, parts []PartLayout, markers []int64) *sparseObject {
	t.Helper()
	o := &sparseObject{dek: detKey(seed), suite: SuiteAES256GCM, parts: parts}
	rnd := newDetRand(seed + "/nonce")
	for _, p := range parts {
		var n [12]byte
		rnd.Read(n[:])
		o.nonces = append(o.nonces, n)
		o.plain0 = append(o.plain0, o.size)
		o.cipher0 = append(o.cipher0, o.stored)
		o.size += p.PlainSize
		o.stored += EncryptedSize(p.PlainSize)
	}
	for _, m := range markers {
		if m < 0 || m >= o.size {
			t.Fatalf("marker %d outside object of %d bytes", m, o.size)
		}
	}
	o.markers = append([]int64(nil), markers...)
	sort.Slice(o.markers, func(i, j int) bool { return o.markers[i] < o.markers[j] })
	return o
}

// markerValue is never zero, and differs between neighbouring offsets, so
// a range shifted by a byte or a package is caught.
func markerValue(off int64) byte { return byte(off*131+off>>16*7+off>>32*13) | 1 }

// fillPlain writes the plaintext at [off, off+len(p)).
func (o *sparseObject) fillPlain(off int64, p []byte) {
	clear(p)
	i := sort.Search(len(o.markers), func(i int) bool { return o.markers[i] >= off })
	for ; i < len(o.markers) && o.markers[i] < off+int64(len(p)); i++ {
		p[o.markers[i]-off] = markerValue(o.markers[i])
	}
}

func (o *sparseObject) plain(off, n int64) []byte {
	b := make([]byte, n)
	o.fillPlain(off, b)
	return b
}

// plainReader streams the plaintext [off, off+n) in bounded memory.
type plainReader struct {
	o        *sparseObject
	off, end int64
}

func (r *plainReader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-r.off)]
	r.o.fillPlain(r.off, p)
	r.off += int64(len(p))
	return len(p), nil
}

// fetch is a Fetcher serving any ciphertext range of the object.
func (o *sparseObject) fetch(_ context.Context, off, n int64) (io.ReadCloser, error) {
	o.fetches++
	o.fetched += n
	if off < 0 || n < 0 || off+n > o.stored {
		return nil, fmt.Errorf("fetch [%d, +%d) outside %d stored bytes", off, n, o.stored)
	}
	var rs []io.Reader
	for i, p := range o.parts {
		enc := EncryptedSize(p.PlainSize)
		lo, hi := max(off, o.cipher0[i]), min(off+n, o.cipher0[i]+enc)
		if lo >= hi {
			continue
		}
		r, err := o.partCipher(i, lo-o.cipher0[i], hi-lo)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return io.NopCloser(io.MultiReader(rs...)), nil
}

// partCipher generates the ciphertext [off, off+n) of part i: it encrypts
// the packages covering that range plus one more, so that the last needed
// package is sealed final only if it really is the part's last package.
func (o *sparseObject) partCipher(i int, off, n int64) (io.Reader, error) {
	p := o.parts[i]
	first, last := off/EncPackageSize, (off+n-1)/EncPackageSize
	plainStart := first * PackageSize
	plainEnd := min((last+2)*PackageSize, p.PlainSize)
	nonce := o.nonces[i]
	enc, err := sio.EncryptReader(&plainReader{o: o, off: o.plain0[i] + plainStart, end: o.plain0[i] + plainEnd}, sio.Config{
		MinVersion:     sio.Version20,
		MaxVersion:     sio.Version20,
		CipherSuites:   []byte{byte(o.suite)},
		Key:            partKey(o.dek, p.Number),
		Nonce:          &nonce,
		SequenceNumber: uint32(first),
	})
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, enc, off-first*EncPackageSize); err != nil {
		return nil, err
	}
	return io.LimitReader(enc, n), nil
}

func (o *sparseObject) meta() *ObjectMeta {
	m := layoutMeta(o.suite, o.parts)
	m.macKey = metaKey(o.dek) // test layouts skip sealing; real metadata never does
	return m
}

// readSparse reads [off, off+n) through NewObjectReader and checks it
// against the sparse plaintext, in one fetch of at most n plus two
// packages per touched part.
func readSparse(t *testing.T, o *sparseObject, off, n int64) {
	t.Helper()
	o.fetches, o.fetched = 0, 0
	rc, err := NewObjectReader(context.Background(), o.fetch, o.meta(), o.dek, off, n)
	if err != nil {
		t.Fatalf("range [%d, +%d): %v", off, n, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("range [%d, +%d): read: %v", off, n, err)
	}
	if want := o.plain(off, n); !bytes.Equal(got, want) {
		t.Fatalf("range [%d, +%d): plaintext differs at byte %d of %d (got %d bytes)", off, n, firstDiff(got, want), n, len(got))
	}
	touched := int64(0)
	for i, p := range o.parts {
		if off < o.plain0[i]+p.PlainSize && off+n > o.plain0[i] {
			touched++
		}
	}
	bound := n/PackageSize*EncPackageSize + n%PackageSize + PackageOverhead + touched*2*EncPackageSize
	if o.fetches != 1 || o.fetched > bound {
		t.Fatalf("range [%d, +%d) over %d parts: %d fetches of %d bytes, want 1 fetch of at most %d", off, n, touched, o.fetches, o.fetched, bound)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// interestingMarkers puts marker bytes at the object's start and end, both
// sides of every package boundary near each part boundary, and around
// 2 GiB and 4 GiB (where 32-bit offsets overflow).
func interestingMarkers(parts []PartLayout) []int64 {
	var size int64
	var ms []int64
	add := func(offs ...int64) { ms = append(ms, offs...) }
	for _, p := range parts {
		add(size, size+1, size+PackageSize-1, size+PackageSize, size+PackageSize+1)
		size += p.PlainSize
		add(size-1, size-2, size-PackageSize, size-PackageSize-1)
	}
	for _, x := range []int64{2 * gib, 4 * gib} {
		add(x-PackageSize-1, x-PackageSize, x-1, x, x+1, x+PackageSize)
	}
	uniq := map[int64]bool{}
	var out []int64
	for _, m := range ms {
		if m >= 0 && m < size && !uniq[m] {
			uniq[m] = true
			out = append(out, m)
		}
	}
	return out
}

func TestSparseFetcherMatchesEncryptReader(t *testing.T) {
	layouts := map[string][]PartLayout{
		"single part":      {{Number: 0, PlainSize: 5*PackageSize + 123}},
		"exact packages":   {{Number: 0, PlainSize: 3 * PackageSize}},
		"multipart ragged": {{Number: 1, PlainSize: 2*PackageSize + 1}, {Number: 4, PlainSize: 3*PackageSize - 7}, {Number: 10000, PlainSize: 100}},
	}
	for name, parts := range layouts {
		t.Run(name, func(t *testing.T) {
			o := newSparseObject(t, "equiv/"+name, parts, interestingMarkers(parts))
			// The reference: the whole object as EncryptReader writes it,
			// each part with the nonce its rand source hands out.
			var want bytes.Buffer
			for i, p := range parts {
				r, err := encryptReader(&plainReader{o: o, off: o.plain0[i], end: o.plain0[i] + p.PlainSize}, o.dek, p.Number, o.suite, bytes.NewReader(o.nonces[i][:]))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(&want, r); err != nil {
					t.Fatal(err)
				}
			}
			if int64(want.Len()) != o.stored {
				t.Fatalf("reference is %d bytes, want %d", want.Len(), o.stored)
			}
			// Every range boundary near a package or part edge, plus the
			// whole object.
			var cuts []int64
			for _, c := range o.cipher0 {
				for k := int64(0); k <= 6; k++ {
					for _, d := range []int64{-1, 0, 1, 17, 33} {
						cuts = append(cuts, c+k*EncPackageSize+d)
					}
				}
			}
			cuts = append(cuts, 0, o.stored-1, o.stored)
			for _, a := range cuts {
				for _, b := range cuts {
					if a < 0 || b > o.stored || a >= b {
						continue
					}
					rc, err := o.fetch(context.Background(), a, b-a)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(rc)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want.Bytes()[a:b]) {
						t.Fatalf("generated ciphertext [%d, %d) differs from EncryptReader's at byte %d", a, b, firstDiff(got, want.Bytes()[a:b]))
					}
				}
			}
			// And the reference decrypts to the sparse plaintext.
			readSparse(t, o, 0, o.size)
		})
	}
}

// sparseRanges are the ranges every large layout is read with: fixed
// edge cases, then seeded random ones.
func sparseRanges(o *sparseObject, rng *rand.Rand) [][2]int64 {
	size := o.size
	rs := [][2]int64{
		{0, 1}, {0, PackageSize}, {0, PackageSize + 1},
		{size - 1, 1},     // the final byte
		{size - 123, 123}, // suffix range bytes=-123
		{size - PackageSize - 5, PackageSize + 5}, // suffix across the last package boundary
		{4*gib - 1, 2}, {4*gib - PackageSize, 2 * PackageSize}, {4*gib - 3*mib, 5 * mib},
		{2*gib - 1, 2}, {2 * gib, 1},
	}
	for i := range o.parts[1:] {
		b := o.plain0[i+1] // a part boundary
		rs = append(rs, [2]int64{b - 1, 2}, [2]int64{b - PackageSize - 3, 2*PackageSize + 6}, [2]int64{b, 1}, [2]int64{b - 1, 1})
	}
	for _, m := range o.markers {
		rs = append(rs, [2]int64{m, 1}, [2]int64{max(0, m-1000), min(size, m+1000) - max(0, m-1000)})
	}
	for range 150 {
		n := 1 + rng.Int64N(3*PackageSize)
		if rng.IntN(10) == 0 {
			n = 1 + rng.Int64N(4*mib)
		}
		n = min(n, size)
		rs = append(rs, [2]int64{rng.Int64N(size - n + 1), n})
	}
	for range 30 { // random suffix ranges
		n := 1 + rng.Int64N(3*PackageSize)
		rs = append(rs, [2]int64{size - n, n})
	}
	out := rs[:0]
	for _, r := range rs {
		if r[0] >= 0 && r[1] > 0 && r[0]+r[1] <= size {
			out = append(out, r)
		}
	}
	return out
}

func TestSparseRangesOfMultiGiBObjects(t *testing.T) {
	layouts := map[string][]PartLayout{
		"single part 5GiB+123": {{Number: 0, PlainSize: 5*gib + 123}},
		"multipart 2GiB+1, 3GiB-7, 1MiB": {
			{Number: 1, PlainSize: 2*gib + 1},
			{Number: 2, PlainSize: 3*gib - 7},
			{Number: 3, PlainSize: 1 * mib},
		},
		"multipart out of order part numbers": {
			{Number: 9, PlainSize: 3*gib - 7},
			{Number: 2, PlainSize: 2*gib + 1},
			{Number: 10000, PlainSize: 1*mib + 5},
		},
	}
	for name, parts := range layouts {
		t.Run(name, func(t *testing.T) {
			o := newSparseObject(t, "sparse/"+name, parts, interestingMarkers(parts))
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			for _, r := range sparseRanges(o, rng) {
				readSparse(t, o, r[0], r[1])
			}
		})
	}
}

// TestSparseRangeReorderedPackagesNearFourGiBAreTampered serves a package
// from the wrong sequence position just past 4 GiB: authentication of the
// sequence number must catch it even where 32-bit offsets would wrap
// (package 65536 served as package 0 would pass a 16-bit check).
func TestSparseRangeReorderedPackagesNearFourGiBAreTampered(t *testing.T) {
	parts := []PartLayout{{Number: 0, PlainSize: 5*gib + 123}}
	o := newSparseObject(t, "tamper", parts, interestingMarkers(parts))
	for _, shift := range []int64{EncPackageSize, -EncPackageSize, -65536 * EncPackageSize} {
		t.Run(fmt.Sprint(shift), func(t *testing.T) {
			shifted := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
				return o.fetch(ctx, off+shift, n)
			}
			rc, err := NewObjectReader(context.Background(), shifted, o.meta(), o.dek, 4*gib+10, 100)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("read of a shifted package: %d bytes, err %v; want ErrTampered", len(got), err)
			}
		})
	}
}
