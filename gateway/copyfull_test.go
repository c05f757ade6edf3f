package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
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
