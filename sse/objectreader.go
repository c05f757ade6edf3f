package sse

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
)

// Fetcher reads n ciphertext bytes at off of the stored object, e.g. a
// ranged backend GET. It must return exactly n bytes or an error.
type Fetcher func(ctx context.Context, off, n int64) (io.ReadCloser, error)

// NewObjectReader returns the plaintext bytes [offset, offset+length) of the
// object described by meta, whose key UnsealKey (or SealKey) returned as
// dek; other metadata is refused with ErrNotSealed. It plans
// the range, then on first Read issues ONE fetch covering every touched part
// (their ciphertexts are contiguous), decrypts each part's segment in turn
// and trims it. Memory is one DARE package per reader.
//
// Errors from Read wrap ErrTampered when the ciphertext fails
// authentication, is truncated or extended; backend errors pass through.
// The returned bytes up to an error are authentic, but a caller streaming
// to a client must abort the response (not end it cleanly) on error.
func NewObjectReader(ctx context.Context, fetch Fetcher, meta *ObjectMeta, dek ObjectKey, offset, length int64) (io.ReadCloser, error) {
	// Refuse metadata that was not authenticated with this very key: the
	// part table and sizes drive what we fetch and where the final package
	// must be.
	if meta.macKey == nil || !hmac.Equal(meta.macKey, metaKey(dek)) {
		return nil, ErrNotSealed
	}
	if meta.Compression != nil {
		return newCompressedReader(ctx, fetch, meta, dek, offset, length)
	}
	segs, err := PlanRange(meta.Layout(), offset, length)
	if err != nil {
		return nil, err
	}
	return &objectReader{ctx: ctx, fetch: fetch, segs: segs, dek: dek, suite: meta.Suite}, nil
}

type objectReader struct {
	ctx   context.Context
	fetch Fetcher
	segs  []Segment
	dek   ObjectKey
	suite Suite

	body   io.ReadCloser // the single backend response
	cur    io.Reader     // plaintext of the current segment, trimmed
	seg    *Segment
	dec    io.Reader // decryptor of the current segment (for the EOF check)
	got    int64     // plaintext bytes returned from the current segment
	err    error
	closed bool
}

func (r *objectReader) Read(p []byte) (int, error) {
	if len(p) == 0 && r.err == nil {
		return 0, nil // the loop below relies on progress
	}
	for r.err == nil {
		if r.cur == nil {
			if len(r.segs) == 0 {
				r.err = io.EOF
				break
			}
			if err := r.next(); err != nil {
				r.err = err
				break
			}
		}
		n, err := r.cur.Read(p)
		r.got += int64(n)
		if err == io.EOF {
			err = r.finishSegment()
			if err == nil {
				r.cur = nil
				if n == 0 {
					continue
				}
			}
		}
		if err != nil {
			r.err = err
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, r.err
}

// next opens the backend body (once) and the decryptor of the next segment.
func (r *objectReader) next() error {
	if r.body == nil {
		first, last := r.segs[0], r.segs[len(r.segs)-1]
		total := last.CipherOffset + last.CipherLength - first.CipherOffset
		body, err := r.fetch(r.ctx, first.CipherOffset, total)
		if err != nil {
			return err
		}
		r.body = body
	}
	seg := r.segs[0]
	r.segs = r.segs[1:]
	dec, err := DecryptReader(io.LimitReader(r.body, seg.CipherLength), r.dek, seg.Number, r.suite, seg.FirstPackage)
	if err != nil {
		return err
	}
	if seg.Skip > 0 {
		if _, err := io.CopyN(io.Discard, dec, seg.Skip); err != nil {
			return segmentError(err)
		}
	}
	r.seg, r.dec, r.got = &seg, dec, 0
	r.cur = io.LimitReader(dec, seg.Keep)
	return nil
}

// finishSegment runs when a segment's kept bytes are exhausted: fewer bytes
// than planned means truncation; a segment that reaches the end of its part
// must then hit the decryptor's EOF, which DARE only gives after the
// final-flagged package, and with no bytes left over.
func (r *objectReader) finishSegment() error {
	if r.got != r.seg.Keep {
		return fmt.Errorf("%w: part %d is short", ErrTampered, r.seg.Number)
	}
	if r.seg.ToEnd {
		// At most one package of plaintext remains; io.Copy returns nil
		// only on the decryptor's EOF, i.e. after the final package.
		n, err := io.Copy(io.Discard, r.dec)
		if err != nil {
			return segmentError(err)
		}
		if n != r.seg.Tail {
			return fmt.Errorf("%w: part %d has the wrong length", ErrTampered, r.seg.Number)
		}
	}
	return nil
}

func segmentError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated ciphertext", ErrTampered)
	}
	return err
}

func (r *objectReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.err == nil {
		r.err = errors.New("sse: read after close")
	}
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
