package kms_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/kms/kmstest"
)

func openCore(t *testing.T) *kms.Core {
	t.Helper()
	master := make([]byte, kms.MasterKeySize)
	master[0] = 1
	c, err := kms.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), master, kms.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCoreConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.Service { return openCore(t) })
}

// TestRemoteConformance runs the suite through aws-sdk-go-v2 over real
// HTTP against NewHandler. The middleware only sets the caller, standing
// in for the gateway's SigV4 check, which is tested with the gateway.
func TestRemoteConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.Service {
		core := openCore(t)
		h := kms.NewHandler(core, nil)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(kms.WithCaller(r.Context(), kms.Caller{AccessKey: "x"})))
		}))
		t.Cleanup(srv.Close)
		r, err := kms.NewRemote(context.Background(), kms.RemoteConfig{Endpoint: srv.URL, Region: "us-east-1", AccessKey: "x", SecretKey: "y"})
		if err != nil {
			t.Fatalf("NewRemote: %v", err)
		}
		return r
	})
}
