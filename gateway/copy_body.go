package gateway

import (
	"io"
	"sync"
)

// copyBuffers bound the memory of GET responses: one buffer per response,
// two while a response streams through pipeCopy.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// fill reads r into buf until buf is full or r fails; io.EOF included, the
// error is r's.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	var err error
	for n < len(buf) && err == nil {
		var k int
		k, err = r.Read(buf[n:])
		n += k
	}
	return n, err
}

// copyFull copies r to w like io.CopyBuffer, but fills buf before each
// write: the decryptor returns one 64 KiB package per Read, and writing
// several at once cuts the response's write syscalls by len(buf)/64 KiB.
// Any error from r but io.EOF is returned (a short or damaged body must
// abort the response, never end it cleanly).
func copyFull(w io.Writer, r io.Reader, buf []byte) error {
	for {
		n, err := fill(r, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// pipeCopy is copyFull with the reads on a goroutine of their own, one
// buffer ahead of the writes (readAhead): reading the backend and
// decrypting the next buffer overlaps with sending the last one to the
// client, so one download is no longer the sum of the two but the slower
// of them (on a gateway with a core to spare for it; with none, it costs
// two channel operations per buffer). Errors are as copyFull's, in the
// same order: bytes read before an error are written first.
//
// If the copy stops before r's end (the client went away, or its writes
// timed out) pipeCopy calls abort, which must make a Read blocked on the
// backend return (cancelling the backend request's context does), and
// returns only once the reader has stopped, so r is never read after
// pipeCopy returns.
func pipeCopy(w io.Writer, r io.Reader, a, b []byte, abort func()) error {
	ra := newReadAhead(r, a, b)
	_, err := ra.WriteTo(w)
	if err != nil {
		ra.stop(abort)
	}
	return err
}

// readAhead reads r on a goroutine of its own into two buffers in turn,
// one buffer ahead of its consumer, so that producing the bytes (network
// reads, hashing, decryption) overlaps with consuming them. It passes on
// r's bytes and then r's error, exactly; after an error, every call
// returns it again. The consumer must call stop unless it has seen an
// error (io.EOF included) from Read or WriteTo.
type readAhead struct {
	free    chan []byte // buffers for the reader to fill
	full    chan chunk  // filled buffers, in order
	done    chan struct{}
	stopped bool
	cur     chunk // the buffer Read is handing out
	off     int
	err     error
}

type chunk struct {
	buf []byte
	n   int
	err error
}

// newReadAhead starts reading r into a and b.
func newReadAhead(r io.Reader, a, b []byte) *readAhead {
	// Two buffers circulate: free -> reader -> full -> consumer -> free.
	// With room for both in each channel, no send ever blocks.
	ra := &readAhead{free: make(chan []byte, 2), full: make(chan chunk, 2), done: make(chan struct{})}
	ra.free <- a
	ra.free <- b
	go func() {
		defer close(ra.full)
		for {
			var buf []byte
			select {
			case buf = <-ra.free:
			case <-ra.done:
				return
			}
			n, err := fill(r, buf)
			ra.full <- chunk{buf, n, err}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off == ra.cur.n {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.cur.err != nil {
			ra.err = ra.cur.err
			return 0, ra.err
		}
		if !ra.advance() {
			return 0, ra.err
		}
	}
	n := copy(p, ra.cur.buf[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// WriteTo writes every buffer to w whole as it is filled, and returns r's
// error (nil for io.EOF) or w's.
func (ra *readAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if ra.off < ra.cur.n {
			n, err := w.Write(ra.cur.buf[ra.off:ra.cur.n])
			total += int64(n)
			ra.off += n
			if err != nil {
				return total, err
			}
		}
		if ra.err == nil && ra.cur.err != nil {
			ra.err = ra.cur.err
		}
		if ra.err == io.EOF {
			return total, nil
		}
		if ra.err != nil || !ra.advance() {
			return total, ra.err
		}
	}
}

// advance hands the buffer just consumed back to the reader and waits for
// the next one.
func (ra *readAhead) advance() bool {
	if ra.cur.buf != nil {
		ra.free <- ra.cur.buf
	}
	c, ok := <-ra.full
	if !ok {
		ra.err = io.ErrClosedPipe // after stop
		return false
	}
	ra.cur, ra.off = c, 0
	return true
}

// stop ends the reader early: it stops taking buffers, abort (if not nil)
// unblocks a Read of r in progress, and stop returns once the reader has
// stopped, so r is never read after it returns. Idempotent.
func (ra *readAhead) stop(abort func()) {
	if ra.stopped {
		return
	}
	ra.stopped = true
	close(ra.done)
	if abort != nil {
		abort()
	}
	for range ra.full {
	}
}
