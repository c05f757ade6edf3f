package sse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

func TestObjectReaderRefusesUnauthenticatedMetadata(t *testing.T) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	md := sealed(t, kmsMeta(), kek, dek, "b", "o")
	m, err := DecodeObjectMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	ms := &memStore{}
	if _, err := NewObjectReader(context.Background(), ms.fetch, m, dek, 0, 1); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("decoded but not unsealed: err = %v", err)
	}
	if _, err := m.UnsealKey(kek, "b", "o"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewObjectReader(context.Background(), ms.fetch, m, detKey("other"), 0, 1); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("other DEK: err = %v", err)
	}
	if _, err := NewObjectReader(context.Background(), ms.fetch, m, dek, 0, 1); err != nil {
		t.Fatalf("unsealed: %v", err)
	}
	if m.StoredSize() != EncryptedSize(m.Size) {
		t.Fatal("StoredSize")
	}
}

func TestObjectReaderSmallAndEmptyReads(t *testing.T) {
	dek := detKey("dek")
	parts := []PartLayout{{1, PackageSize + 5}, {2, 7}}
	meta := layoutMeta(SuiteAES256GCM, parts)
	meta.macKey = metaKey(dek)
	plain := detBytes("p", int(meta.Size))
	ms := &memStore{blob: encryptParts(t, dek, SuiteAES256GCM, parts, plain, newDetRand("n"))}
	rc, err := NewObjectReader(context.Background(), ms.fetch, meta, dek, 3, meta.Size-3)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 3)
	for {
		if n, err := rc.Read(buf[:0]); n != 0 || err != nil {
			t.Fatalf("empty read: %d, %v", n, err)
		}
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, plain[3:]) {
		t.Fatal("3-byte reads return wrong plaintext")
	}
	if ms.fetches != 1 {
		t.Fatalf("%d fetches", ms.fetches)
	}
}
