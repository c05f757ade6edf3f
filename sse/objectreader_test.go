package sse

import (
	"context"
	"errors"
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
