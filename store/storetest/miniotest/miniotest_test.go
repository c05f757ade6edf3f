package miniotest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

func TestStartServesAndStopEnds(t *testing.T) {
	srv := miniotest.StartMinIO(t)
	resp, err := http.Get(srv.Endpoint + "/minio/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %s", resp.Status)
	}
	srv.Stop()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.Endpoint+"/minio/health/live", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after Stop")
	}
}
