package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// Parts are encrypted concurrently, out of order and re-uploaded; the
// completed object (parts concatenated in number order) must decrypt,
// including ranges across part boundaries.
func TestPartsEncryptConcurrentlyOutOfOrderAndReupload(t *testing.T) {
	dek := detKey("dek")
	parts := []PartLayout{{1, 5*PackageSize + 17}, {2, 5*PackageSize + 17}, {3, 1000}, {7, 3}}
	meta := layoutMeta(SuiteAES256GCM, parts)
	plain := detBytes("plain", int(meta.Size))
	offs := []int64{0}
	for _, p := range parts {
		offs = append(offs, offs[len(offs)-1]+p.PlainSize)
	}
	enc := make([][]byte, len(parts))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, i := range []int{3, 1, 0, 2, 1} { // part index 1 uploaded twice
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := EncryptReader(bytes.NewReader(plain[offs[i]:offs[i+1]]), dek, parts[i].Number, meta.Suite)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			enc[i] = b // the last writer wins, like a re-uploaded part
			mu.Unlock()
		}()
	}
	wg.Wait()
	blob := bytes.Join(enc, nil)
	for _, rg := range [][2]int64{{0, meta.Size}, {offs[1] - 5, 10}, {offs[1] - 1, offs[3] - offs[1] + 2}, {meta.Size - 2, 2}} {
		got, _, err := readRange(t, blob, meta, dek, rg[0], rg[1])
		if err != nil || !bytes.Equal(got, plain[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v: %v", rg, err)
		}
	}
	// Parts in the wrong order are refused (each part's key is bound to
	// its number).
	swapped := bytes.Join([][]byte{enc[1], enc[0], enc[2], enc[3]}, nil)
	if _, _, err := readRange(t, swapped, meta, dek, 0, meta.Size); !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped parts: err = %v", err)
	}
}

func TestSSECWrongKeyIsRefusedBeforeDecryption(t *testing.T) {
	m := ssecMeta()
	var right, wrong [32]byte
	copy(right[:], detBytes("ck", 32))
	copy(wrong[:], detBytes("not ck", 32))
	if err := m.CheckSSECKey(right); err != nil {
		t.Fatalf("right key: %v", err)
	}
	if err := m.CheckSSECKey(wrong); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := kmsMeta().CheckSSECKey(right); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("SSE-C key on an SSE-KMS object: %v", err)
	}
}

func TestObjectMetaStringHidesKeys(t *testing.T) {
	m := kmsMeta()
	dek := detKey("dek")
	if err := m.SealKey(detBytes("kek", 32), dek, "b", "o"); err != nil {
		t.Fatal(err)
	}
	mk := metaKey(dek)
	for _, out := range []string{sprint("%v", *m), sprint("%+v", m), sprint("%s", *m)} {
		if bytes.Contains([]byte(out), []byte(sprint("%v", mk[:4]))) || bytes.Contains([]byte(out), []byte(sprint("%x", mk))) {
			t.Fatalf("ObjectMeta prints its MAC key: %s", out)
		}
	}
}
func sprint(f string, a ...any) string { return fmt.Sprintf(f, a...) }
