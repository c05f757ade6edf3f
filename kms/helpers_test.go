package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for deletion and rotation tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// syncBuffer is an audit writer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomMaster(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

type testCore struct {
	*Core
	path   string
	master []byte
	clock  *fakeClock
	audit  *syncBuffer
}

func newTestCore(t testing.TB) *testCore {
	t.Helper()
	tc := &testCore{
		path:   filepath.Join(t.TempDir(), "kms.db"),
		master: randomMaster(t),
		clock:  newFakeClock(),
		audit:  &syncBuffer{},
	}
	c, err := Open(context.Background(), tc.path, tc.master, Options{
		Now: tc.clock.Now, AuditWriter: tc.audit, MaintenanceInterval: -1,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	tc.Core = c
	return tc
}

func (tc *testCore) key(t testing.TB) KeyMetadata {
	t.Helper()
	md, err := tc.CreateKey(context.Background(), CreateKeyInput{Description: "test"})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return md
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// callerMiddleware stands in for the gateway's SigV4 verification in
// these tests: it ignores the signature and sets a fixed caller. The full
// path (gateway SigV4 → KMS handler) is tested in the gateway and e2e.
func callerMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithCaller(r.Context(), Caller{AccessKey: "test-access-key", ARN: "arn:aws:iam::000000000000:root", SourceIP: r.RemoteAddr})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// newTestServer serves the KMS API of a fresh core over real HTTP.
func newTestServer(t testing.TB) (*testCore, *httptest.Server) {
	t.Helper()
	tc := newTestCore(t)
	srv := httptest.NewServer(callerMiddleware(NewHandler(tc.Core, nil)))
	t.Cleanup(srv.Close)
	return tc, srv
}

func newTestRemote(t testing.TB, url string) *Remote {
	t.Helper()
	r, err := NewRemote(context.Background(), RemoteConfig{Endpoint: url, Region: "us-east-1", AccessKey: "x", SecretKey: "y"})
	if err != nil {
		t.Fatalf("NewRemote: %v", err)
	}
	return r
}
