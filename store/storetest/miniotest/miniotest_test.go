package miniotest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

func TestStartedServerTakesS3RequestsAndStopEndsIt(t *testing.T) {
	srv := miniotest.StartMinIO(t)
	c, err := minio.New(srv.Addr, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Right after Start, without retries: the object layer must be up.
	if err := c.MakeBucket(context.Background(), "ready", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("first S3 request after Start: %v", err)
	}
	srv.Stop()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.Endpoint+"/minio/health/live", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after Stop")
	}
}

func TestFindBinaryHonoursMinioBin(t *testing.T) {
	t.Setenv("MINIO_BIN", "/nonexistent/minio")
	if _, err := miniotest.FindBinary(); err == nil {
		t.Fatal("FindBinary accepted a MINIO_BIN that does not exist")
	}
}
