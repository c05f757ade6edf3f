package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects the server's log output across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitForLog polls the log until re matches, and returns its first group.
func waitForLog(t *testing.T, logs *lockedBuffer, re *regexp.Regexp, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %s in log:\n%s", re, logs.String())
	return ""
}

func TestServeWithAdminListenServesMetricsAndHealthAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseServeConfig([]string{"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dir},
		env("SSEGATE_ACCESS_KEY", "adminkey", "SSEGATE_SECRET_KEY", "admin-secret-123"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &logs) }()

	admin := waitForLog(t, &logs, regexp.MustCompile(`msg="admin ready" addr=(\S+)`), done)
	s3addr := waitForLog(t, &logs, regexp.MustCompile(`msg=ready addr=(\S+)`), done)
	for _, tc := range []struct {
		path, want string
	}{
		{"/healthz", `"ok"`},
		{"/readyz", `"backend":"ok"`},
		{"/metrics", "go_goroutines"},
	} {
		resp, err := http.Get("http://" + admin + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("admin %s = %d %.200s, want 200 with %s", tc.path, resp.StatusCode, b, tc.want)
		}
	}
	// The S3 listener answers the same path with an S3 error.
	resp, err := http.Get("http://" + s3addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == 200 || !strings.Contains(string(b), "<Error>") {
		t.Errorf("S3 listener /metrics = %d %s", resp.StatusCode, b)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if resp, err := http.Get("http://" + admin + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("admin listener still answers after shutdown")
	}
}

func TestServeRejectsBadAdminListen(t *testing.T) {
	if _, err := parseServeConfig([]string{"--admin-listen", "nope"}, env(), io.Discard); err == nil {
		t.Fatal("--admin-listen nope accepted")
	}
	c, err := parseServeConfig(nil, env(), io.Discard)
	if err != nil || c.AdminListen != "" {
		t.Fatalf("admin listener must be off by default: %q %v", c.AdminListen, err)
	}
}
