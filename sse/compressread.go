package sse

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
)

// compressedReader serves a plaintext range of a compressed object: it
// decrypts the S2 blocks covering the range (found through the index,
// itself read from the tail of the DARE stream) and decompresses them.
// Everything is planned lazily on the first Read, like objectReader.
type compressedReader struct {
	ctx    context.Context
	fetch  Fetcher
	dek    ObjectKey
	suite  Suite
	info   Compression
	size   int64 // plaintext size
	offset int64
	length int64

	inner *objectReader // decrypted S2 stream bytes
	out   io.Reader     // decompressed, trimmed
	got   int64
	err   error
}

func newCompressedReader(ctx context.Context, fetch Fetcher, meta *ObjectMeta, dek ObjectKey, offset, length int64) (io.ReadCloser, error) {
	// Validate the range exactly as an uncompressed object would.
	if _, err := PlanRange(meta.Layout(), offset, length); err != nil {
		return nil, err
	}
	return &compressedReader{ctx: ctx, fetch: fetch, dek: dek, suite: meta.Suite, info: *meta.Compression,
		size: meta.Size, offset: offset, length: length}, nil
}

// streamReader decrypts bytes [off, off+n) of the stream DARE encrypted
// (the S2 stream followed by the index) with one fetch.
func (r *compressedReader) streamReader(off, n int64) (*objectReader, error) {
	segs, err := PlanRange([]PartLayout{{Number: 0, PlainSize: r.info.StoredSize}}, off, n)
	if err != nil {
		return nil, fmt.Errorf("%w: compressed layout", ErrTampered)
	}
	return &objectReader{ctx: r.ctx, fetch: r.fetch, segs: segs, dek: r.dek, suite: r.suite}, nil
}

// readIndex fetches and decrypts the index at the end of the stream. The
// segment reaches the end of the part, so the final DARE package is checked
// too: a truncated object cannot pass off a shorter index.
func (r *compressedReader) readIndex() (*blockIndex, error) {
	streamSize := r.info.StoredSize - r.info.IndexSize
	or, err := r.streamReader(streamSize, r.info.IndexSize)
	if err != nil {
		return nil, err
	}
	defer or.Close()
	b, err := io.ReadAll(or)
	if err != nil {
		return nil, err
	}
	return decodeIndex(b, r.size, streamSize)
}

// open plans the read. A whole-object read needs no index: it decodes the
// S2 stream from its start to its end.
func (r *compressedReader) open() error {
	streamSize := r.info.StoredSize - r.info.IndexSize
	start, end, skip := int64(0), streamSize, r.offset
	maxBlock := maxIndexBlock
	if r.offset != 0 || r.length != r.size {
		idx, err := r.readIndex()
		if err != nil {
			return err
		}
		first, last := r.offset/idx.blockSize, (r.offset+r.length-1)/idx.blockSize
		start, end = idx.offsets[first], idx.offsets[last+1]
		skip = r.offset - first*idx.blockSize
		maxBlock = int(idx.blockSize)
	}
	inner, err := r.streamReader(start, end-start)
	if err != nil {
		return err
	}
	r.inner = inner
	dec := s2.NewReader(inner, s2.ReaderIgnoreStreamIdentifier(), s2.ReaderMaxBlockSize(maxBlock))
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, dec, skip); err != nil {
			return decompressError(err)
		}
	}
	r.out = io.LimitReader(dec, r.length)
	return nil
}

func (r *compressedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.out == nil {
		if r.length == 0 {
			r.err = io.EOF
			return 0, r.err
		}
		if err := r.open(); err != nil {
			r.err = err
			return 0, err
		}
	}
	n, err := r.out.Read(p)
	r.got += int64(n)
	if err == io.EOF && r.got != r.length {
		err = fmt.Errorf("%w: compressed data is short", ErrTampered)
	} else if err != nil && err != io.EOF {
		err = decompressError(err)
	}
	r.err = err
	return n, err
}

// decompressError keeps decryption and backend errors as they are; S2
// errors on authenticated bytes, or a stream ending early, mean the stored
// object is not what was written.
func decompressError(err error) error {
	if errors.Is(err, ErrTampered) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, s2.ErrCorrupt) ||
		errors.Is(err, s2.ErrCRC) || errors.Is(err, s2.ErrUnsupported) || errors.Is(err, s2.ErrTooLarge) {
		return fmt.Errorf("%w: compressed data: %v", ErrTampered, err)
	}
	return err
}

func (r *compressedReader) Close() error {
	if r.err == nil {
		r.err = errors.New("sse: read after close")
	}
	if r.inner != nil {
		return r.inner.Close()
	}
	return nil
}
