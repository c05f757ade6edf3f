package sse

import (
	"fmt"
	"strconv"
	"strings"
)

// PartLayout is one part of a stored object: its number, which selects the
// body key (0 for a single-part object, else the S3 part number), and its
// plaintext size.
type PartLayout struct {
	Number    int
	PlainSize int64
}

// Segment is the work for one part touched by a range read.
type Segment struct {
	Index        int   // index into the part layout
	Number       int   // part number (selects the body key)
	CipherOffset int64 // offset in the whole stored object
	CipherLength int64 // ciphertext bytes to fetch
	FirstPackage uint32
	Skip         int64 // plaintext bytes to drop at the start
	Keep         int64 // plaintext bytes to return after Skip
	// ToEnd: the fetched ciphertext reaches the end of the part, so the
	// reader must decrypt the Tail bytes that follow Keep in the last
	// package and then see the final package (EOF from the decryptor).
	ToEnd bool
	Tail  int64
}

// PlanRange maps the plaintext range [offset, offset+length) of an object
// laid out as parts onto ciphertext ranges (docs/format.md, 4). Segments come
// in order and are contiguous in ciphertext. A range outside the object, or
// a negative length, is ErrInvalidRange; length 0 gives no segments.
func PlanRange(parts []PartLayout, offset, length int64) ([]Segment, error) {
	var size int64
	for _, p := range parts {
		if p.PlainSize < 0 || p.PlainSize > maxPlainSize {
			return nil, fmt.Errorf("%w: bad part size", ErrInvalidRange)
		}
		size += p.PlainSize
		if size > maxObjectSize {
			return nil, fmt.Errorf("%w: object too large", ErrInvalidRange)
		}
	}
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		return nil, ErrInvalidRange
	}
	end := offset + length
	var segs []Segment
	var plainBase, cipherBase int64
	for i, p := range parts {
		partEnd := plainBase + p.PlainSize
		encSize := EncryptedSize(p.PlainSize)
		if length > 0 && p.PlainSize > 0 && offset < partEnd && end > plainBase {
			ls := max(offset, plainBase) - plainBase
			le := min(end, partEnd) - plainBase
			first := ls / PackageSize
			last := (le - 1) / PackageSize
			cEnd := min(encSize, (last+1)*EncPackageSize)
			segs = append(segs, Segment{
				Index:        i,
				Number:       p.Number,
				CipherOffset: cipherBase + first*EncPackageSize,
				CipherLength: cEnd - first*EncPackageSize,
				FirstPackage: uint32(first),
				Skip:         ls - first*PackageSize,
				Keep:         le - ls,
				ToEnd:        cEnd == encSize,
			})
			if cEnd == encSize {
				segs[len(segs)-1].Tail = p.PlainSize - le
			}
		}
		plainBase = partEnd
		cipherBase += encSize
	}
	return segs, nil
}

// maxObjectSize bounds the sum of part sizes (5 TiB in S3; we allow more
// but keep all arithmetic far from overflow).
const maxObjectSize = int64(1) << 56

// ParseRange interprets an HTTP Range header for an object of size bytes, as
// S3 GetObject does:
//   - "" → ok=false (serve the whole object, 200);
//   - bytes=a-b, bytes=a-, bytes=-n → ok=true with the clamped range (206);
//   - a syntactically invalid header or several ranges (S3 does not support
//     multi-range) → ok=false, ignored like S3 does;
//   - unsatisfiable (a >= size, bytes=-0, any range of an empty object) →
//     ErrInvalidRange (416 InvalidRange).
func ParseRange(header string, size int64) (offset, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	spec = strings.TrimSpace(spec)
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, size, false, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix range: the last n bytes
		n, perr := parseDigits(last)
		if perr != nil {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, ErrInvalidRange
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	a, perr := parseDigits(first)
	if perr != nil {
		return 0, size, false, nil
	}
	b := int64(-1)
	if last != "" {
		if b, perr = parseDigits(last); perr != nil || b < a {
			return 0, size, false, nil // RFC 9110: invalid, ignore
		}
	}
	if a >= size {
		return 0, 0, false, ErrInvalidRange
	}
	if b < 0 || b >= size {
		b = size - 1
	}
	return a, b - a + 1, true, nil
}

// parseDigits accepts only ASCII digits (no sign, no spaces) without
// overflow.
func parseDigits(s string) (int64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
