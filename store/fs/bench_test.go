package fs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/ssegate/ssegate/store/fs"
)

const benchSize = 64 << 20

func benchStore(b *testing.B, opts ...fs.Option) *fs.Store {
	b.Helper()
	s, err := fs.New(b.TempDir(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateBucket(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPut64MiB is the baseline for the filesystem write path
// (spool + MD5 + fsync + rename).
func BenchmarkPut64MiB(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []fs.Option
	}{{"fsync", nil}, {"nofsync", []fs.Option{fs.WithoutFsync()}}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchStore(b, c.opts...)
			data := make([]byte, benchSize)
			rand.Read(data)
			b.SetBytes(benchSize)
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Put(context.Background(), "bench", "obj", bytes.NewReader(data), benchSize, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet64MiB(b *testing.B) {
	s := benchStore(b, fs.WithoutFsync())
	data := make([]byte, benchSize)
	rand.Read(data)
	if _, err := s.Put(context.Background(), "bench", "obj", bytes.NewReader(data), benchSize, nil); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		rc, _, err := s.Get(context.Background(), "bench", "obj", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, rc, buf); err != nil || n != benchSize {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}
