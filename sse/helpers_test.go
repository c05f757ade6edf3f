package sse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"testing"
)

// detRand is a deterministic byte stream for golden vectors and
// reproducible tests: SHA-256(seed || counter) blocks.
type detRand struct {
	seed string
	ctr  uint64
	buf  []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: seed} }

func (r *detRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.buf) == 0 {
			h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(r.seed), r.ctr))
			r.ctr++
			r.buf = h[:]
		}
		c := copy(p[n:], r.buf)
		r.buf = r.buf[c:]
		n += c
	}
	return n, nil
}

func detBytes(seed string, n int) []byte {
	b := make([]byte, n)
	newDetRand(seed).Read(b)
	return b
}

func detKey(seed string) ObjectKey {
	var k ObjectKey
	newDetRand(seed).Read(k[:])
	return k
}

// encryptParts encrypts plain laid out as parts and concatenates the
// ciphertexts, as a completed multipart object is stored.
func encryptParts(t testing.TB, dek ObjectKey, suite Suite, parts []PartLayout, plain []byte, rnd io.Reader) []byte {
	t.Helper()
	var out bytes.Buffer
	off := int64(0)
	for _, p := range parts {
		r, err := encryptReader(bytes.NewReader(plain[off:off+p.PlainSize]), dek, p.Number, suite, rnd)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(&out, r)
		if err != nil {
			t.Fatal(err)
		}
		if n != EncryptedSize(p.PlainSize) {
			t.Fatalf("part %d: ciphertext %d bytes, EncryptedSize says %d", p.Number, n, EncryptedSize(p.PlainSize))
		}
		off += p.PlainSize
	}
	return out.Bytes()
}

// memStore serves ranges of a stored blob like a backend and records the
// bytes fetched. A range past the end returns what exists (a short body),
// which is what a tampered or truncated backend looks like to the reader.
type memStore struct {
	blob    []byte
	fetches int
	fetched int64
}

func (m *memStore) fetch(_ context.Context, off, n int64) (io.ReadCloser, error) {
	m.fetches++
	m.fetched += n
	if off > int64(len(m.blob)) {
		off = int64(len(m.blob))
	}
	end := min(off+n, int64(len(m.blob)))
	return io.NopCloser(bytes.NewReader(m.blob[off:end])), nil
}

func readRange(t testing.TB, blob []byte, meta *ObjectMeta, dek ObjectKey, off, n int64) ([]byte, *memStore, error) {
	t.Helper()
	ms := &memStore{blob: blob}
	if meta.macKey == nil { // test layouts skip sealing; real metadata never does
		meta.macKey = metaKey(dek)
	}
	rc, err := NewObjectReader(context.Background(), ms.fetch, meta, dek, off, n)
	if err != nil {
		return nil, ms, err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	return got, ms, err
}

func layoutMeta(suite Suite, parts []PartLayout) *ObjectMeta {
	m := &ObjectMeta{Suite: suite}
	for _, p := range parts {
		m.Size += p.PlainSize
	}
	if len(parts) != 1 || parts[0].Number != 0 {
		m.Parts = parts
	}
	return m
}
