package sse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// textBytes is compressible, log-like plaintext of n bytes.
func textBytes(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d level=info msg=\"request served\" bucket=backups key=restic/data/%02x status=200\n", i, i%251)
	}
	return b.Bytes()[:n]
}

// compressObject stores plain compressed and encrypted as part 0 and
// returns the blob and authenticated metadata.
func compressObject(t testing.TB, dek ObjectKey, suite Suite, plain []byte, rnd io.Reader) ([]byte, *ObjectMeta) {
	t.Helper()
	c := NewCompressor(bytes.NewReader(plain))
	enc, err := encryptReader(c, dek, 0, suite, rnd)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(enc)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Compression()
	if err != nil {
		t.Fatal(err)
	}
	if c.PlainSize() != int64(len(plain)) {
		t.Fatalf("compressor read %d plaintext bytes, want %d", c.PlainSize(), len(plain))
	}
	meta := layoutMeta(suite, []PartLayout{{0, int64(len(plain))}})
	meta.Compression = info
	meta.macKey = metaKey(dek)
	if got := meta.StoredSize(); got != int64(len(blob)) {
		t.Fatalf("StoredSize %d, blob has %d bytes", got, len(blob))
	}
	return blob, meta
}

func TestCompressedObjectRoundTripsAndRanges(t *testing.T) {
	dek := detKey("dek")
	B := CompressBlockSize
	cases := []struct {
		name  string
		plain []byte
	}{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"text block-1", textBytes(B - 1)},
		{"text block", textBytes(B)},
		{"text block+1", textBytes(B + 1)},
		{"text 3 MiB+7", textBytes(3<<20 + 7)},
		{"random 2 MiB+5", detBytes("random", 2<<20+5)},
		{"zeros 1 MiB", make([]byte, 1<<20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, suite := range []Suite{SuiteAES256GCM, SuiteChaCha20Poly1305} {
				blob, meta := compressObject(t, dek, suite, tc.plain, newDetRand(tc.name))
				got, ms, err := readRange(t, blob, meta, dek, 0, meta.Size)
				if err != nil || !bytes.Equal(got, tc.plain) {
					t.Fatalf("whole read: err=%v, equal=%v", err, bytes.Equal(got, tc.plain))
				}
				if len(tc.plain) > 0 && ms.fetches != 1 {
					t.Errorf("whole read used %d fetches, want 1 (no index needed)", ms.fetches)
				}
				if len(tc.plain) == 0 {
					continue
				}
				rng := rand.New(rand.NewPCG(uint64(len(tc.plain)), 7))
				for range 40 {
					off := rng.Int64N(int64(len(tc.plain)))
					n := 1 + rng.Int64N(int64(len(tc.plain))-off)
					if rng.IntN(2) == 0 {
						n = min(n, 1+rng.Int64N(3000))
					}
					got, _, err := readRange(t, blob, meta, dek, off, n)
					if err != nil || !bytes.Equal(got, tc.plain[off:off+n]) {
						t.Fatalf("range [%d,+%d): err=%v", off, n, err)
					}
				}
			}
		})
	}
}

func TestCompressionShrinksTextAndBarelyGrowsRandomData(t *testing.T) {
	dek := detKey("dek")
	text := textBytes(4 << 20)
	blob, _ := compressObject(t, dek, SuiteAES256GCM, text, newDetRand("t"))
	if ratio := float64(len(blob)) / float64(len(text)); ratio > 0.3 {
		t.Errorf("text stored at %.2f of its size, want < 0.3", ratio)
	}
	t.Logf("text 4 MiB -> %d stored bytes", len(blob))
	random := detBytes("r", 4<<20)
	blob, _ = compressObject(t, dek, SuiteAES256GCM, random, newDetRand("r"))
	if over := int64(len(blob)) - EncryptedSize(int64(len(random))); over > 1024 {
		t.Errorf("random data grew by %d bytes over plain encryption, want <= 1024", over)
	}
	t.Logf("random 4 MiB -> %d stored bytes", len(blob))
}

func TestCompressedRangeFetchesOnlyBytesNearTheRange(t *testing.T) {
	dek := detKey("dek")
	// Random data: compressed offsets track plaintext offsets, so "near"
	// is measurable and a whole-object fetch would be obvious.
	plain := detBytes("near", 8<<20)
	blob, meta := compressObject(t, dek, SuiteAES256GCM, plain, newDetRand("near"))
	for _, r := range []struct{ off, n int64 }{{5 << 20, 1}, {3<<20 + 12345, 100000}, {int64(len(plain)) - 10, 10}, {0, 1}} {
		got, ms, err := readRange(t, blob, meta, dek, r.off, r.n)
		if err != nil || !bytes.Equal(got, plain[r.off:r.off+r.n]) {
			t.Fatalf("range %v: %v", r, err)
		}
		// index (tail packages) + the blocks covering the range + one
		// package of misalignment on either side.
		limit := EncryptedSize(meta.Compression.IndexSize) + 2*EncPackageSize +
			(r.n/CompressBlockSize+2)*(CompressBlockSize+CompressBlockSize/8) + 2*EncPackageSize
		if ms.fetches != 2 || ms.fetched > limit {
			t.Errorf("range %v: %d fetches of %d bytes, want 2 fetches of <= %d", r, ms.fetches, ms.fetched, limit)
		}
	}
}

func TestCompressedObjectDetectsEveryFlippedByte(t *testing.T) {
	dek := detKey("dek")
	plain := append(textBytes(300<<10), detBytes("flip", 100<<10)...) // two S2 blocks, several DARE packages
	blob, meta := compressObject(t, dek, SuiteAES256GCM, plain, newDetRand("flip"))
	// Every byte near package boundaries (DARE headers and tags, the S2
	// stream identifier, the index, the final package) and a stride through
	// the rest; each read sets up a decompressor, so all bytes take minutes.
	edge := func(i int) bool {
		j := i % EncPackageSize
		return j < 64 || j >= EncPackageSize-64 || i >= len(blob)-64 || i%509 == 0
	}
	if len(blob) < 2*EncPackageSize {
		t.Fatalf("blob of %d bytes is too small for this test", len(blob))
	}
	for i := range blob {
		if !edge(i) {
			continue
		}
		bad := bytes.Clone(blob)
		bad[i] ^= 0x01
		// A whole read covers the S2 stream, a ranged read the index and
		// its blocks: between them every stored byte is checked.
		_, _, err1 := readRange(t, bad, meta, dek, 0, meta.Size)
		_, _, err2 := readRange(t, bad, meta, dek, meta.Size-1, 1)
		if !errors.Is(err1, ErrTampered) && !errors.Is(err2, ErrTampered) {
			t.Fatalf("flip at %d of %d not detected: %v / %v", i, len(blob), err1, err2)
		}
	}
}

func TestCompressedObjectDetectsTruncationAndExtension(t *testing.T) {
	dek := detKey("dek")
	plain := textBytes(1 << 20)
	blob, meta := compressObject(t, dek, SuiteAES256GCM, plain, newDetRand("trunc"))
	for _, b := range [][]byte{blob[:len(blob)-1], blob[:len(blob)-(len(blob)%EncPackageSize)], blob[:EncPackageSize]} {
		for _, r := range [][2]int64{{0, meta.Size}, {meta.Size / 2, 10}} {
			if _, _, err := readRange(t, b, meta, dek, r[0], r[1]); !errors.Is(err, ErrTampered) {
				t.Errorf("truncated to %d, range %v: %v, want ErrTampered", len(b), r, err)
			}
		}
	}
	// Metadata claiming a different layout cannot pass either (in real use
	// the MAC refuses it first): a shorter index size lands mid-stream.
	m2 := *meta
	c := *meta.Compression
	c.IndexSize--
	m2.Compression = &c
	if _, _, err := readRange(t, blob, &m2, dek, 10, 10); !errors.Is(err, ErrTampered) {
		t.Errorf("shifted index: %v, want ErrTampered", err)
	}
}

func TestCompressionMetadataRoundTripsAndIsAuthenticated(t *testing.T) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	m := kmsMeta()
	m.Size = 1000
	m.Compression = &Compression{StoredSize: 300, IndexSize: 6}
	md := sealed(t, m, kek, dek, "b", "o")
	got, err := DecodeObjectMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	if got.Compression == nil || *got.Compression != *m.Compression {
		t.Fatalf("compression = %+v, want %+v", got.Compression, m.Compression)
	}
	if _, err := got.UnsealKey(kek, "b", "o"); err != nil {
		t.Fatal(err)
	}
	// The compression field is under the MAC.
	m2 := *got
	m2.Compression = &Compression{StoredSize: 301, IndexSize: 6}
	m2.macKey = nil
	if err := m2.VerifyMAC(metaKey(detKey("other"))); !errors.Is(err, ErrTampered) {
		t.Fatalf("VerifyMAC with a wrong key: %v", err)
	}
}

func TestInvalidCompressionMetadataIsRefused(t *testing.T) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	for _, tc := range []struct {
		name string
		edit func(m *ObjectMeta)
	}{
		{"with a part table", func(m *ObjectMeta) {
			m.Parts = []PartLayout{{1, m.Size}}
		}},
		{"index larger than stream", func(m *ObjectMeta) { m.Compression.IndexSize = m.Compression.StoredSize + 1 }},
		{"no compressed data for a non-empty object", func(m *ObjectMeta) { m.Compression.StoredSize = m.Compression.IndexSize }},
		{"index too small", func(m *ObjectMeta) { m.Compression.IndexSize = 2 }},
		{"index too large", func(m *ObjectMeta) {
			m.Compression.IndexSize = maxIndexSize + 1
			m.Compression.StoredSize = 2 * maxIndexSize
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := kmsMeta()
			m.Size = 1000
			m.Compression = &Compression{StoredSize: 300, IndexSize: 6}
			tc.edit(m)
			if err := m.SealKey(kek, dek, "b", "o"); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Encode(); !errors.Is(err, ErrBadMetadata) {
				t.Fatalf("Encode: %v, want ErrBadMetadata", err)
			}
		})
	}
}

func TestCompressorReportsOnlyAfterEOF(t *testing.T) {
	c := NewCompressor(bytes.NewReader(textBytes(1 << 20)))
	if _, err := io.CopyN(io.Discard, c, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compression(); err == nil {
		t.Fatal("Compression before EOF succeeded")
	}
	boom := errors.New("client went away")
	c = NewCompressor(io.MultiReader(bytes.NewReader(textBytes(300<<10)), &errReader{boom}))
	if _, err := io.Copy(io.Discard, c); !errors.Is(err, boom) {
		t.Fatalf("source error: %v", err)
	}
	if _, err := c.Compression(); err == nil {
		t.Fatal("Compression after a source error succeeded")
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func TestShouldCompress(t *testing.T) {
	on := CompressionConfig{Enabled: true}
	custom := CompressionConfig{Enabled: true, ContentTypes: []string{"application/octet-stream", "application/*"}}
	for _, tc := range []struct {
		ct   string
		cfg  CompressionConfig
		want bool
	}{
		{"text/plain", CompressionConfig{}, false}, // off by default
		{"text/plain; charset=utf-8", on, true},
		{"TEXT/CSV", on, true},
		{"application/json", on, true},
		{"application/vnd.api+json", on, true},
		{"application/javascript", on, true},
		{"image/svg+xml", on, true},
		{"image/png", on, false},
		{"video/mp4", on, false},
		{"application/gzip", on, false},
		{"application/zip", on, false},
		{"application/octet-stream", on, false},
		{"", on, false},
		{"not a type", on, false},
		{"application/octet-stream", custom, true},
		{"application/zip", custom, false}, // exclusions win over patterns
		{"text/plain", custom, false},
	} {
		if got := ShouldCompress(tc.ct, tc.cfg); got != tc.want {
			t.Errorf("ShouldCompress(%q, %+v) = %v, want %v", tc.ct, tc.cfg, got, tc.want)
		}
	}
}

func TestDecodeIndexRejectsMalformedIndexes(t *testing.T) {
	good := encodeIndex(CompressBlockSize, []int64{100, 50})
	if _, err := decodeIndex(good, CompressBlockSize+1, 150); err != nil {
		t.Fatalf("valid index refused: %v", err)
	}
	for name, tc := range map[string]struct {
		b           []byte
		plain, strm int64
	}{
		"wrong version":      {append([]byte{2}, good[1:]...), CompressBlockSize + 1, 150},
		"trailing byte":      {append(bytes.Clone(good), 0), CompressBlockSize + 1, 150},
		"sizes do not add":   {good, CompressBlockSize + 1, 151},
		"wrong block count":  {good, CompressBlockSize, 150},
		"zero-size block":    {encodeIndex(CompressBlockSize, []int64{150, 0}), CompressBlockSize + 1, 150},
		"odd block size":     {encodeIndex(100000, []int64{150}), 1, 150},
		"truncated":          {good[:len(good)-1], CompressBlockSize + 1, 150},
		"empty":              {nil, 0, 0},
		"non-canonical size": {[]byte{1, 0x80, 0x80, 0x10, 1, 0x81, 0x00}, 1, 1},
	} {
		if _, err := decodeIndex(tc.b, tc.plain, tc.strm); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: %v, want ErrTampered", name, err)
		}
	}
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add(encodeIndex(CompressBlockSize, []int64{100, 50}), int64(CompressBlockSize+1), int64(150))
	f.Add(encodeIndex(CompressBlockSize, nil), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, plain, stream int64) {
		idx, err := decodeIndex(b, plain, stream)
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("error not ErrTampered: %v", err)
			}
			return
		}
		// Accepted: offsets ascend from 0 to the stream size, one block
		// per blockSize of plaintext.
		if idx.offsets[0] != 0 || idx.offsets[len(idx.offsets)-1] != stream ||
			int64(len(idx.offsets)-1) != (plain+idx.blockSize-1)/idx.blockSize {
			t.Fatalf("inconsistent index accepted: %+v", idx)
		}
		for i := 1; i < len(idx.offsets); i++ {
			if idx.offsets[i] <= idx.offsets[i-1] {
				t.Fatal("offsets do not ascend")
			}
		}
	})
}

func TestCompressedReadHonoursContextFreeFetchErrors(t *testing.T) {
	dek := detKey("dek")
	blob, meta := compressObject(t, dek, SuiteAES256GCM, textBytes(600<<10), newDetRand("e"))
	_ = blob
	boom := errors.New("backend down")
	fetch := func(context.Context, int64, int64) (io.ReadCloser, error) { return nil, boom }
	rc, err := NewObjectReader(context.Background(), fetch, meta, dek, 5, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, boom) || errors.Is(err, ErrTampered) {
		t.Fatalf("backend error became %v", err)
	}
	if _, err := NewObjectReader(context.Background(), fetch, meta, dek, meta.Size, 1); !errors.Is(err, ErrInvalidRange) {
		t.Fatalf("range past the end: %v", err)
	}
	if !strings.Contains(meta.String(), "size=") {
		t.Fatal("String changed")
	}
}

func BenchmarkCompressEncryptText(b *testing.B) {
	dek := detKey("dek")
	plain := textBytes(benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		r, _ := EncryptReader(NewCompressor(bytes.NewReader(plain)), dek, 0, SuiteAES256GCM)
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompressedRangeRead1KiB(b *testing.B) {
	dek := detKey("dek")
	plain := textBytes(benchSize)
	blob, meta := compressObject(b, dek, SuiteAES256GCM, plain, newDetRand("b"))
	ms := &memStore{blob: blob}
	b.SetBytes(1024)
	for b.Loop() {
		rc, _ := NewObjectReader(context.Background(), ms.fetch, meta, dek, benchSize/2, 1024)
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
