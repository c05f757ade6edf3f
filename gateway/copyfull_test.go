package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// copyFull batches reads into whole buffers, and passes on every error but
// io.EOF, io.ErrUnexpectedEOF included: a response must never end cleanly
// on a short body.
func TestCopyFullBatchesAndNeverHidesAnError(t *testing.T) {
	data := randBytes(1<<20+12345, 44)
	var writes int
	counting := writerFunc(func(p []byte) (int, error) { writes++; return len(p), nil })
	if err := copyFull(counting, iotest.HalfReader(bytes.NewReader(data)), make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	if writes != 5 {
		t.Errorf("%d writes for %d bytes through a 256 KiB buffer, want 5", writes, len(data))
	}
	var out bytes.Buffer
	if err := copyFull(&out, iotest.OneByteReader(bytes.NewReader(data[:70000])), make([]byte, 64<<10)); err != nil || !bytes.Equal(out.Bytes(), data[:70000]) {
		t.Fatalf("copy of 70000 bytes: %d bytes, %v", out.Len(), err)
	}
	for _, want := range []error{io.ErrUnexpectedEOF, errors.New("backend failed")} {
		r := io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(want))
		out.Reset()
		if err := copyFull(&out, r, make([]byte, 4096)); !errors.Is(err, want) {
			t.Errorf("error %v from the body: copyFull returned %v", want, err)
		}
		if !bytes.Equal(out.Bytes(), data[:1000]) {
			t.Errorf("bytes before the error: got %d, want the 1000 read", out.Len())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// pipeCopy gives the same bytes and errors as copyFull, in the same order.
func TestPipeCopyMatchesCopyFull(t *testing.T) {
	data := randBytes(3<<20+777, 45)
	bufs := func() ([]byte, []byte) { return make([]byte, 256<<10), make([]byte, 256<<10) }
	for name, r := range map[string]func() io.Reader{
		"half reads": func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"byte reads": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data[:300000])) },
		"data+eof":   func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	} {
		var want, got bytes.Buffer
		if err := copyFull(&want, r(), make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		a, b := bufs()
		if err := pipeCopy(&got, r(), a, b, func() { t.Errorf("%s: abort on a complete copy", name) }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: pipeCopy wrote %d bytes, copyFull %d, or different ones", name, got.Len(), want.Len())
		}
	}
	for _, want := range []error{io.ErrUnexpectedEOF, errors.New("backend failed")} {
		r := io.MultiReader(bytes.NewReader(data[:600000]), iotest.ErrReader(want))
		var out bytes.Buffer
		a, b := bufs()
		if err := pipeCopy(&out, r, a, b, func() {}); !errors.Is(err, want) {
			t.Errorf("error %v from the body: pipeCopy returned %v", want, err)
		}
		if !bytes.Equal(out.Bytes(), data[:600000]) {
			t.Errorf("bytes before the error: got %d, want the 600000 read", out.Len())
		}
	}
}

// The next buffer is read while the last one is being written: the
// writer holds its first write until the reader has filled the second
// buffer, which a copy without read-ahead never does (the guard below
// only catches that deadlock; it measures nothing).
func TestPipeCopyReadsAheadOfWrites(t *testing.T) {
	data := randBytes(1<<20, 46)
	src := bytes.NewReader(data)
	secondFill := make(chan struct{})
	reads := 0
	// 64 KiB per Read into 128 KiB buffers: the third Read starts the
	// second buffer.
	r := readerFunc(func(p []byte) (int, error) {
		if reads++; reads == 3 {
			close(secondFill)
		}
		return src.Read(p[:min(len(p), 64<<10)])
	})
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		if out.Len() == 0 {
			select {
			case <-secondFill:
			case <-time.After(10 * time.Second):
				return 0, errors.New("no read-ahead: nothing read during the first write")
			}
		}
		return out.Write(p)
	})
	if err := pipeCopy(w, r, make([]byte, 128<<10), make([]byte, 128<<10), func() {}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Error("bytes differ")
	}
}

// When the client side fails, pipeCopy aborts the backend read that is
// blocked and returns only once its reader has stopped: nothing reads the
// body after pipeCopy returns (the caller closes it then).
func TestPipeCopyAbortsABlockedReadAndStopsReading(t *testing.T) {
	aborted := make(chan struct{})
	var returned atomic.Bool
	var lateReads atomic.Int64
	first := true
	r := readerFunc(func(p []byte) (int, error) {
		if returned.Load() {
			lateReads.Add(1)
		}
		if first {
			first = false
			return len(p), nil // one full buffer, then block like a stalled backend
		}
		<-aborted
		return 0, context.Canceled
	})
	clientGone := errors.New("client went away")
	w := writerFunc(func(p []byte) (int, error) { return 0, clientGone })
	var once sync.Once
	err := pipeCopy(w, r, make([]byte, 4096), make([]byte, 4096), func() { once.Do(func() { close(aborted) }) })
	returned.Store(true)
	if !errors.Is(err, clientGone) {
		t.Errorf("pipeCopy returned %v, want the write error", err)
	}
	select {
	case <-aborted:
	default:
		t.Error("abort was not called")
	}
	if n := lateReads.Load(); n != 0 {
		t.Errorf("%d reads after pipeCopy returned", n)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// readAhead's Read hands out r's bytes and then r's error, exactly, and
// keeps returning the error: a PUT body read through it fails the upload
// the way the body itself would.
func TestReadAheadReadPassesBytesThenTheError(t *testing.T) {
	data := randBytes(1<<20+99, 47)
	ra := newReadAhead(iotest.HalfReader(bytes.NewReader(data)), make([]byte, 128<<10), make([]byte, 128<<10))
	if err := iotest.TestReader(ra, data); err != nil {
		t.Fatal(err)
	}
	ra.stop(nil)

	bad := errors.New("chunk signature mismatch")
	ra = newReadAhead(io.MultiReader(bytes.NewReader(data[:300000]), iotest.ErrReader(bad)), make([]byte, 128<<10), make([]byte, 128<<10))
	got, err := io.ReadAll(ra)
	if !errors.Is(err, bad) || !bytes.Equal(got, data[:300000]) {
		t.Fatalf("read %d bytes and %v; want the 300000 before the error, then it", len(got), err)
	}
	if _, err := ra.Read(make([]byte, 10)); !errors.Is(err, bad) {
		t.Errorf("Read after the error: %v, want it again", err)
	}
	ra.stop(nil)
}

// A consumer that stops early (the backend failed) stops the reader: stop
// returns only once the reader has, and nothing reads r afterwards.
func TestReadAheadStopEndsTheReader(t *testing.T) {
	var stopped atomic.Bool
	var lateReads atomic.Int64
	r := readerFunc(func(p []byte) (int, error) {
		if stopped.Load() {
			lateReads.Add(1)
		}
		return len(p), nil // an endless body
	})
	ra := newReadAhead(r, make([]byte, 4096), make([]byte, 4096))
	if _, err := io.ReadFull(ra, make([]byte, 10000)); err != nil {
		t.Fatal(err)
	}
	ra.stop(nil)
	stopped.Store(true)
	ra.stop(nil) // idempotent
	if n := lateReads.Load(); n != 0 {
		t.Errorf("%d reads after stop returned", n)
	}
}
