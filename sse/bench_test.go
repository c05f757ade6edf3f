package sse

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"testing"
)

// The benchmarks run side by side so one `go test -bench .` shows the cost
// of the format (DARE framing, HMAC key derivation, range trimming)
// against bare AES-256-GCM over 64 KiB chunks on the same machine.

const benchSize = 16 << 20

func BenchmarkEncrypt(b *testing.B) {
	dek := detKey("dek")
	plain := bytes.NewReader(make([]byte, benchSize))
	buf := make([]byte, EncPackageSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		plain.Seek(0, io.SeekStart)
		r, _ := EncryptReader(plain, dek, 0, SuiteAES256GCM)
		if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	dek := detKey("dek")
	parts := []PartLayout{{0, benchSize}}
	blob := encryptParts(b, dek, SuiteAES256GCM, parts, make([]byte, benchSize), newDetRand("n"))
	meta := layoutMeta(SuiteAES256GCM, parts)
	meta.macKey = metaKey(dek)
	ms := &memStore{blob: blob}
	buf := make([]byte, PackageSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		rc, _ := NewObjectReader(context.Background(), ms.fetch, meta, dek, 0, benchSize)
		if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

func rawGCM(b *testing.B) cipher.AEAD {
	blk, _ := aes.NewCipher(make([]byte, 32))
	g, _ := cipher.NewGCM(blk)
	return g
}

func BenchmarkRawAESGCMSeal64KiB(b *testing.B) {
	g := rawGCM(b)
	chunk := make([]byte, PackageSize)
	dst := make([]byte, 0, PackageSize+16)
	var nonce [12]byte
	b.SetBytes(benchSize)
	for b.Loop() {
		for i := range benchSize / PackageSize {
			binary.BigEndian.PutUint32(nonce[8:], uint32(i))
			dst = g.Seal(dst[:0], nonce[:], chunk, nil)
		}
	}
}

func BenchmarkRawAESGCMOpen64KiB(b *testing.B) {
	g := rawGCM(b)
	var nonce [12]byte
	sealed := g.Seal(nil, nonce[:], make([]byte, PackageSize), nil)
	dst := make([]byte, 0, PackageSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		for range benchSize / PackageSize {
			var err error
			if dst, err = g.Open(dst[:0], nonce[:], sealed, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
