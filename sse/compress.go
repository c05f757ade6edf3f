package sse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
)

// Compressed objects (docs/format.md, 8). The stream that DARE encrypts
// for part 0 is
//
//	S2 stream (blocks of CompressBlockSize plaintext bytes, one chunk each)
//	|| index
//
// and the metadata records the stream's length and the index's length
// (Compression), both under the metadata MAC.

// CompressBlockSize is the plaintext size of one independently decodable S2
// block: a range read decompresses at most one block before its start.
// 256 KiB keeps ranged reads cheap while compressing nearly as well as
// S2's 1 MiB default. Readers take the size from the index.
const CompressBlockSize = 256 << 10

const (
	indexVersion    = 1
	minIndexBlock   = 64 << 10
	maxIndexBlock   = 4 << 20
	maxIndexSize    = 1 << 20 // ≈ 80 GiB of plaintext; S3 PutObject stops at 5 GiB
	s2StreamIDBytes = 10      // S2's stream identifier chunk, before block 0
	s2ChunkHeader   = 8       // chunk type(1) + length(3) + CRC(4)
)

// ErrTooLargeToCompress: the plaintext is too large for a compressed
// object's index (far above S3's 5 GiB PutObject limit). 400 EntityTooLarge.
var ErrTooLargeToCompress = errors.New("sse: object too large to store compressed")

// Compression describes a compressed single-part object. Set it only from
// Compressor.Compression; readers trust it once the metadata MAC verified.
type Compression struct {
	StoredSize int64 // bytes DARE encrypts: S2 stream + index
	IndexSize  int64 // bytes of the index at the end of that stream
}

func (c *Compression) valid(plainSize int64) bool {
	minIndex := int64(3) // version, block size, block count: one byte each at least
	return c.IndexSize >= minIndex && c.IndexSize <= maxIndexSize &&
		c.StoredSize >= c.IndexSize && c.StoredSize <= maxPlainSize &&
		(plainSize > 0) == (c.StoredSize > c.IndexSize)
}

// Compressor turns a plaintext stream into the stream to encrypt for a
// compressed object: S2 blocks followed by the index. Use it as the src of
// EncryptReader for part 0, and after it returned io.EOF call Compression
// to fill ObjectMeta.Compression. Memory is bounded by about two blocks.
type Compressor struct {
	src    io.Reader
	w      *s2.Writer
	plain  []byte       // one block of plaintext
	out    bytes.Buffer // compressed bytes not yet read
	sizes  []int64      // compressed size of each block
	total  int64        // bytes emitted so far
	plainN int64
	done   bool
	info   *Compression
	err    error
}

// NewCompressor returns a Compressor reading plaintext from src.
func NewCompressor(src io.Reader) *Compressor {
	c := &Compressor{src: src, plain: make([]byte, CompressBlockSize)}
	// Concurrency 1: blocks are written synchronously, so after each Flush
	// the output holds exactly the chunks of that block and the index can
	// record where the next block starts.
	c.w = s2.NewWriter(&c.out, s2.WriterBlockSize(CompressBlockSize), s2.WriterConcurrency(1))
	return c
}

// Read implements io.Reader.
func (c *Compressor) Read(p []byte) (int, error) {
	for c.out.Len() == 0 && c.err == nil {
		if c.done {
			c.err = io.EOF
			break
		}
		c.fill()
	}
	if c.out.Len() > 0 {
		n, _ := c.out.Read(p)
		return n, nil
	}
	return 0, c.err
}

// fill compresses the next block, or writes the index at the end of src.
func (c *Compressor) fill() {
	n, err := io.ReadFull(c.src, c.plain)
	if n > 0 {
		before := c.out.Len()
		if _, werr := c.w.Write(c.plain[:n]); werr != nil {
			c.err = werr
			return
		}
		if ferr := c.w.Flush(); ferr != nil {
			c.err = ferr
			return
		}
		c.sizes = append(c.sizes, int64(c.out.Len()-before))
		c.plainN += int64(n)
	}
	switch {
	case err == nil:
		return
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		c.finish()
	default:
		c.err = err
	}
}

func (c *Compressor) finish() {
	var streamSize int64
	for _, s := range c.sizes {
		streamSize += s
	}
	idx := encodeIndex(CompressBlockSize, c.sizes)
	if len(idx) > maxIndexSize {
		c.err = ErrTooLargeToCompress
		return
	}
	c.out.Write(idx)
	c.info = &Compression{StoredSize: streamSize + int64(len(idx)), IndexSize: int64(len(idx))}
	c.done = true
}

// Compression returns what ObjectMeta.Compression must hold for the stream
// just read; an error if the stream has not been read to io.EOF.
func (c *Compressor) Compression() (*Compression, error) {
	if c.err != io.EOF || c.info == nil {
		return nil, errors.New("sse: compressed stream not read to the end")
	}
	info := *c.info
	return &info, nil
}

// PlainSize is the number of plaintext bytes compressed so far.
func (c *Compressor) PlainSize() int64 { return c.plainN }

// encodeIndex: version(1) || uvarint(blockSize) || uvarint(count) ||
// uvarint(compressed size of block i) for each block.
func encodeIndex(blockSize int, sizes []int64) []byte {
	b := []byte{indexVersion}
	b = binary.AppendUvarint(b, uint64(blockSize))
	b = binary.AppendUvarint(b, uint64(len(sizes)))
	for _, s := range sizes {
		b = binary.AppendUvarint(b, uint64(s))
	}
	return b
}

// blockIndex is a decoded index: offsets[i] is where block i starts in the
// S2 stream, offsets[len-1] the stream's end.
type blockIndex struct {
	blockSize int64
	offsets   []int64
}

// decodeIndex parses an index for plainSize plaintext bytes stored as
// streamSize compressed bytes. The index is authenticated (it is inside the
// DARE stream) but is parsed strictly anyway: every field canonical, the
// block count matching the plaintext size, the sizes adding up to the
// stream, nothing after it. Errors are ErrTampered; it never panics and
// allocates at most one offset per index byte.
func decodeIndex(b []byte, plainSize, streamSize int64) (*blockIndex, error) {
	bad := fmt.Errorf("%w: compression index", ErrTampered)
	if len(b) < 1 || b[0] != indexVersion {
		return nil, bad
	}
	b = b[1:]
	next := func() (uint64, bool) {
		x, k := binary.Uvarint(b)
		if k <= 0 || len(binary.AppendUvarint(nil, x)) != k {
			return 0, false
		}
		b = b[k:]
		return x, true
	}
	bs, ok := next()
	if !ok || bs < minIndexBlock || bs > maxIndexBlock || bs&(bs-1) != 0 {
		return nil, bad
	}
	count, ok := next()
	if !ok || plainSize < 0 || streamSize < 0 || count != uint64((plainSize+int64(bs)-1)/int64(bs)) || count > uint64(len(b)) {
		return nil, bad
	}
	// A block's chunks hold at most its encoding plus headers; block 0 also
	// carries the stream identifier.
	maxBlock := uint64(s2.MaxEncodedLen(int(bs))) + 2*s2ChunkHeader + s2StreamIDBytes
	offsets := make([]int64, 0, count+1)
	var off int64
	for i := uint64(0); i < count; i++ {
		s, ok := next()
		if !ok || s == 0 || s > maxBlock || s > uint64(streamSize-off) {
			return nil, bad
		}
		offsets = append(offsets, off)
		off += int64(s)
	}
	if len(b) != 0 || off != streamSize {
		return nil, bad
	}
	return &blockIndex{blockSize: int64(bs), offsets: append(offsets, off)}, nil
}
