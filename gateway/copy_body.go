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
// buffer ahead of the writes: reading the backend and decrypting the next
// buffer overlaps with sending the last one to the client, so one download
// is no longer the sum of the two but the slower of them (on a gateway
// with a core to spare for it; with none, it costs two channel operations
// per buffer). Errors are as copyFull's, in the same order: bytes read
// before an error are written first.
//
// If the copy stops before r's end (the client went away, or its writes
// timed out) pipeCopy calls abort, which must make a Read blocked on the
// backend return (cancelling the backend request's context does), and
// returns only once the reader has stopped, so r is never read after
// pipeCopy returns.
func pipeCopy(w io.Writer, r io.Reader, a, b []byte, abort func()) error {
	type chunk struct {
		buf []byte
		n   int
		err error
	}
	// Two buffers circulate: free -> reader -> full -> writer -> free. With
	// room for both in each channel, no send ever blocks.
	free := make(chan []byte, 2)
	full := make(chan chunk, 2)
	stop := make(chan struct{})
	free <- a
	free <- b
	go func() {
		defer close(full)
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			n, err := fill(r, buf)
			full <- chunk{buf, n, err}
			if err != nil {
				return
			}
		}
	}()
	err := func() error {
		for c := range full {
			if c.n > 0 {
				if _, werr := w.Write(c.buf[:c.n]); werr != nil {
					return werr
				}
			}
			if c.err == io.EOF {
				return nil
			}
			if c.err != nil {
				return c.err
			}
			free <- c.buf
		}
		return nil
	}()
	if err != nil {
		close(stop)
		abort()
	}
	for range full { // wait for the reader to stop
	}
	return err
}
