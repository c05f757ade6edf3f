package gateway

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestSmokePutGetWithMinioGo(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := newEnv(t, tls)
		e.mkbucket("smoke")
		data := randBytes(100000, 1)
		info := e.put("smoke", "a/b c+d", data)
		if info.ETag != md5hex(data) {
			t.Fatalf("etag %q want %q", info.ETag, md5hex(data))
		}
		obj, err := e.minio().GetObject(context.Background(), "smoke", "a/b c+d", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("tls=%v: get: %v, equal=%v", tls, err, bytes.Equal(got, data))
		}
	}
}
