package gateway

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
)

const benchSize = 16 << 20

func BenchmarkPutObject16MiB(b *testing.B) {
	e := newEnv(b, false)
	e.mkbucket("bench")
	data := randBytes(benchSize, 70)
	c := e.minio()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := c.PutObject(context.Background(), "bench", "obj", bytes.NewReader(data), benchSize,
			minio.PutObjectOptions{DisableMultipart: true, SendContentMd5: true})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutObject16MiBWithoutContentMD5(b *testing.B) {
	e := newEnv(b, false)
	e.mkbucket("bench")
	data := randBytes(benchSize, 70)
	c := e.minio()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := c.PutObject(context.Background(), "bench", "obj", bytes.NewReader(data), benchSize, minio.PutObjectOptions{DisableMultipart: true})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetObject16MiB(b *testing.B) { benchGet(b, benchSize, 71) }

// BenchmarkGetObject4KiB is the per-request cost of a small GET: client
// and gateway in one process, so compare runs, not absolute figures.
func BenchmarkGetObject4KiB(b *testing.B) { benchGet(b, 4<<10, 72) }

func benchGet(b *testing.B, size int, seed byte) {
	e := newEnv(b, false)
	e.mkbucket("bench")
	e.put("bench", "obj", randBytes(size, seed))
	c := e.minio()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obj, err := c.GetObject(context.Background(), "bench", "obj", minio.GetObjectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, obj)
		obj.Close()
		if err != nil || n != int64(size) {
			b.Fatalf("read %d: %v", n, err)
		}
	}
}
