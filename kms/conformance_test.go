package kms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
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

// Both the embedded core and the remote client implement every optional
// interface of the suite; the compiler checks the signatures and
// RequireAll (below) that no case of Run is skipped.
var (
	_ kmstest.Admin       = (*kms.Core)(nil)
	_ kmstest.Asymmetric  = (*kms.Core)(nil)
	_ kmstest.MAC         = (*kms.Core)(nil)
	_ kmstest.Importer    = (*kms.Core)(nil)
	_ kmstest.PolicyAdmin = (*kms.Core)(nil)
	_ kmstest.Granter     = (*kms.Core)(nil)
	_ kmstest.ReEncrypter = (*kms.Core)(nil)
	_ kmstest.Admin       = (*kms.Remote)(nil)
	_ kmstest.Asymmetric  = (*kms.Remote)(nil)
	_ kmstest.MAC         = (*kms.Remote)(nil)
	_ kmstest.Importer    = (*kms.Remote)(nil)
	_ kmstest.PolicyAdmin = (*kms.Remote)(nil)
	_ kmstest.Granter     = (*kms.Remote)(nil)
	_ kmstest.ReEncrypter = (*kms.Remote)(nil)
)

func TestCoreConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.Service {
		c := openCore(t)
		kmstest.RequireAll(t, c)
		return c
	})
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
		kmstest.RequireAll(t, r)
		return r
	})
}

// TestBaseOnlyServiceRunsTheBaseSuite: a backend with kms.Service alone
// (here the core behind a wrapper that hides its other methods) passes,
// the optional cases skipping, so a new backend can start from the base.
func TestBaseOnlyServiceRunsTheBaseSuite(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.Service { return struct{ kms.Service }{openCore(t)} })
}

// recordingTB records what RequireAll reports instead of failing the
// test that runs it; FailNow ends the goroutine as testing.T's does.
type recordingTB struct {
	testing.TB
	errors []string
	failed bool
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.failed = true
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Failed() bool { return r.failed }
func (r *recordingTB) FailNow()     { r.failed = true; runtime.Goexit() }

// TestRequireAllFailsForABaseOnlyService: a service with only
// kms.Service's methods runs the base suite, but RequireAll names every
// optional interface it lacks and fails, so Core and Remote can't lose
// one unnoticed.
func TestRequireAllFailsForABaseOnlyService(t *testing.T) {
	baseOnly := struct{ kms.Service }{openCore(t)}
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		kmstest.RequireAll(rec, baseOnly)
	}()
	<-done
	if !rec.failed {
		t.Fatal("RequireAll accepted a service without the optional interfaces")
	}
	all := strings.Join(rec.errors, "\n")
	for _, name := range []string{"Admin", "Asymmetric", "MAC", "Importer", "PolicyAdmin", "Granter", "ReEncrypter"} {
		if !strings.Contains(all, "kmstest."+name) {
			t.Errorf("RequireAll did not name the missing kmstest.%s:\n%s", name, all)
		}
	}

	rec = &recordingTB{TB: t}
	kmstest.RequireAll(rec, openCore(t))
	if rec.failed {
		t.Fatalf("RequireAll refused *kms.Core: %v", rec.errors)
	}
}
