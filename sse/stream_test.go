package sse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

var interestingSizes = []int64{0, 1, 31, 32, 33, PackageSize - 1, PackageSize, PackageSize + 1,
	2*PackageSize - 1, 2 * PackageSize, 2*PackageSize + 1, 3<<20 + 17}

func TestEncryptDecryptRoundTripAtPackageEdges(t *testing.T) {
	dek := detKey("dek")
	for _, suite := range []Suite{SuiteAES256GCM, SuiteChaCha20Poly1305} {
		for _, size := range interestingSizes {
			plain := detBytes("plain", int(size))
			parts := []PartLayout{{0, size}}
			blob := encryptParts(t, dek, suite, parts, plain, newDetRand("n"))
			if got, err := DecryptedSize(int64(len(blob))); err != nil || got != size {
				t.Fatalf("DecryptedSize(%d) = %d, %v; want %d", len(blob), got, err, size)
			}
			got, _, err := readRange(t, blob, layoutMeta(suite, parts), dek, 0, size)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("suite %d size %d: roundtrip failed: %v", suite, size, err)
			}
		}
	}
}

func TestDecryptedSizeRejectsImpossibleSizes(t *testing.T) {
	for _, enc := range []int64{-1, 1, 32, EncPackageSize + 32} {
		if _, err := DecryptedSize(enc); !errors.Is(err, ErrTampered) {
			t.Errorf("DecryptedSize(%d): err = %v", enc, err)
		}
	}
}

func TestDecryptWithWrongSuiteFails(t *testing.T) {
	dek := detKey("dek")
	plain := detBytes("p", 1000)
	blob := encryptParts(t, dek, SuiteAES256GCM, []PartLayout{{0, 1000}}, plain, newDetRand("n"))
	_, _, err := readRange(t, blob, layoutMeta(SuiteChaCha20Poly1305, []PartLayout{{0, 1000}}), dek, 0, 1000)
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("err = %v, want ErrTampered", err)
	}
}

func TestEveryCiphertextByteFlipIsDetected(t *testing.T) {
	dek := detKey("dek")
	const size = PackageSize + 100 // two packages, second one final
	parts := []PartLayout{{0, size}}
	plain := detBytes("p", size)
	blob := encryptParts(t, dek, SuiteAES256GCM, parts, plain, newDetRand("n"))
	meta := layoutMeta(SuiteAES256GCM, parts)
	// Every byte of the headers and tags, and a stride through payloads.
	for i := 0; i < len(blob); i++ {
		inPayload := (i%EncPackageSize) >= 16 && (i%EncPackageSize) < EncPackageSize-16 && i < EncPackageSize
		if inPayload && i%97 != 0 {
			continue
		}
		bad := bytes.Clone(blob)
		bad[i] ^= 0x80
		got, _, err := readRange(t, bad, meta, dek, 0, size)
		if err == nil {
			t.Fatalf("flip at byte %d not detected", i)
		}
		if !errors.Is(err, ErrTampered) {
			t.Fatalf("flip at byte %d: err = %v, want ErrTampered", i, err)
		}
		if int64(len(got)) > size {
			t.Fatalf("flip at byte %d returned extra data", i)
		}
	}
}

func TestTruncatedExtendedAndReorderedCiphertextIsRefused(t *testing.T) {
	dek := detKey("dek")
	const size = 3 * PackageSize
	parts := []PartLayout{{0, size}}
	plain := detBytes("p", size)
	blob := encryptParts(t, dek, SuiteAES256GCM, parts, plain, newDetRand("n"))
	meta := layoutMeta(SuiteAES256GCM, parts)
	pkg := func(i int) []byte { return blob[i*EncPackageSize : (i+1)*EncPackageSize] }
	other := encryptParts(t, dek, SuiteAES256GCM, parts, plain, newDetRand("other nonce"))

	cases := map[string][]byte{
		"last package dropped":      blob[:2*EncPackageSize],
		"cut inside last package":   blob[:len(blob)-1],
		"cut after header":          blob[:2*EncPackageSize+16],
		"empty":                     nil,
		"packages 1 and 2 swapped":  concat(pkg(0), pkg(2), pkg(1)),
		"packages 0 and 1 swapped":  concat(pkg(1), pkg(0), pkg(2)),
		"package duplicated":        concat(pkg(0), pkg(0), pkg(2)),
		"package from other stream": concat(pkg(0), other[EncPackageSize:2*EncPackageSize], pkg(2)),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := readRange(t, bad, meta, dek, 0, size)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
		})
	}
	// Extension: a final-flagged stream followed by more data. The reader
	// must notice the extra bytes when the stored object is longer than the
	// recorded size would allow, which a raw decrypt of the whole blob shows.
	t.Run("data after final package", func(t *testing.T) {
		ext := concat(blob, pkg(0))
		r, err := DecryptReader(bytes.NewReader(ext), dek, 0, SuiteAES256GCM, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(r); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("part decrypted under another part number", func(t *testing.T) {
		r, _ := DecryptReader(bytes.NewReader(blob), dek, 1, SuiteAES256GCM, 0)
		if _, err := io.ReadAll(r); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
}

// A range that ends inside a part must not be fooled into accepting a
// final package it never reads, but a range that reaches the end must
// see the final flag: recorded size larger than the stream is refused.
func TestRangeReachingEndRequiresFinalPackage(t *testing.T) {
	dek := detKey("dek")
	plain := detBytes("p", 2*PackageSize)
	// Stream of 3 packages truncated to 2 full ones: no final flag.
	full := encryptParts(t, dek, SuiteAES256GCM, []PartLayout{{0, 3 * PackageSize}}, detBytes("p", 3*PackageSize), newDetRand("n"))
	cut := full[:2*EncPackageSize]
	meta := layoutMeta(SuiteAES256GCM, []PartLayout{{0, 2 * PackageSize}})
	// Inside the part: fine (truncation by design for partial ranges).
	got, _, err := readRange(t, cut, meta, dek, 10, 1000)
	if err != nil || !bytes.Equal(got, plain[10:1010]) {
		t.Fatalf("inner range: err %v", err)
	}
	// To the end: the missing final flag is detected.
	for _, off := range []int64{0, PackageSize, 2*PackageSize - 1} {
		if _, _, err := readRange(t, cut, meta, dek, off, 2*PackageSize-off); !errors.Is(err, ErrTampered) {
			t.Fatalf("range from %d to end: err = %v, want ErrTampered", off, err)
		}
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestEncryptedSizeMatchesStreamForRandomSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dek := detKey("dek")
	for range 50 {
		size := rng.Int64N(5 * PackageSize)
		r, _ := EncryptReader(bytes.NewReader(make([]byte, size)), dek, 0, DefaultSuite())
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != EncryptedSize(size) {
			t.Fatalf("size %d: stream %d bytes, EncryptedSize %d", size, n, EncryptedSize(size))
		}
	}
}
