package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ssegate/ssegate/e2e/internal/readylog"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// gatewayProc is one running ssegate serve.
type gatewayProc struct {
	Endpoint string
	DataDir  string
	cmd      *exec.Cmd
	CACert   string // the certificate to trust when serving HTTPS
	log      *syncBuffer
	done     chan struct{}
	waitErr  error
	stopped  bool
}

type gatewayOptions struct {
	DataDir string   // default t.TempDir()
	Backend string   // --backend value; default the fs default
	Env     []string // extra environment, e.g. credentials
	Args    []string // extra flags
	// TLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1;
	// its file is gatewayProc.CACert.
	TLS bool
}

// startGateway starts ssegate with --listen 127.0.0.1:0, waits for its
// "ready" log line (which carries the real address) and registers a cleanup
// that stops it with SIGTERM and asserts a clean exit.
func startGateway(t testing.TB, o gatewayOptions) *gatewayProc {
	t.Helper()
	bin := ssegateBinary(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", o.DataDir, "--log-format", "json", "--log-level", "debug"}
	if o.Backend != "" {
		args = append(args, "--backend", o.Backend)
	}
	g := &gatewayProc{DataDir: o.DataDir, log: &syncBuffer{}, done: make(chan struct{})}
	if o.TLS {
		cert, key := selfSignedCert(t)
		args = append(args, "--tls-cert", cert, "--tls-key", key)
		g.CACert = cert
	}
	args = append(args, o.Args...)
	g.cmd = exec.Command(bin, args...)
	g.cmd.Env = append(cleanEnv(), o.Env...)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stdout = g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go readylog.Copy(stderr, g.log, ready)
	go func() { g.waitErr = g.cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		if err := g.stop(); err != nil {
			t.Errorf("ssegate did not exit cleanly: %v\n%s", err, g.log.String())
		}
		checkNoSecrets(t, g, g.cmd.Env)
		if t.Failed() {
			t.Logf("ssegate log:\n%s", g.log.String())
		}
	})

	select {
	case g.Endpoint = <-ready:
	case <-g.done:
		t.Fatalf("ssegate exited before ready (%v):\n%s", g.waitErr, g.log.String())
	case <-time.After(time.Minute): // a readiness deadline, not an assertion
		t.Fatalf("ssegate not ready after a minute:\n%s", g.log.String())
	}
	return g
}

// stop sends SIGTERM and waits; a non-zero exit is an error.
func (g *gatewayProc) stop() error {
	if g.stopped {
		return nil
	}
	g.stopped = true
	select {
	case <-g.done:
		return fmt.Errorf("exited early: %v", g.waitErr)
	default:
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(45 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
		return errors.New("still running 45s after SIGTERM; killed")
	}
	return g.waitErr
}

// target is an S3 endpoint the clients talk to.
type target struct {
	Name      string
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	CACert    string       // set when Endpoint is https with a test certificate
	Gateway   *gatewayProc // nil for "direct"
}

// forEachTarget runs fn as a subtest against every configured target:
// ssegate on a filesystem backend, ssegate on MinIO, and (opt-in) MinIO
// directly, which validates the harness itself.
func forEachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, name := range targetNames() {
		t.Run(name, func(t *testing.T) { fn(t, startTarget(t, name)) })
	}
}

func startTarget(t *testing.T, name string) target {
	t.Helper()
	return startTargetWith(t, name, gatewayOptions{})
}

// startTargetWith is startTarget with extra gateway options (TLS, flags);
// the backend and credentials are still chosen by name.
func startTargetWith(t *testing.T, name string, extra gatewayOptions) target {
	t.Helper()
	tg := target{Name: name, Region: "us-east-1"}
	switch name {
	case "direct":
		m := miniotest.Shared(t)
		tg.Endpoint, tg.AccessKey, tg.SecretKey = m.Endpoint, m.AccessKey, m.SecretKey
		return tg
	case "fs", "minio":
	default:
		t.Fatalf("unknown target %q (want fs, minio or direct)", name)
	}
	tg.AccessKey = "E2E" + randomUpper(17)
	tg.SecretKey = randomHex(20)
	o := extra
	o.Env = append([]string{"SSEGATE_ACCESS_KEY=" + tg.AccessKey, "SSEGATE_SECRET_KEY=" + tg.SecretKey}, extra.Env...)
	if name == "minio" {
		m := miniotest.Shared(t)
		o.Backend = "minio:" + m.Endpoint
		o.Env = append(o.Env, "SSEGATE_BACKEND_ACCESS_KEY="+m.AccessKey, "SSEGATE_BACKEND_SECRET_KEY="+m.SecretKey)
	}
	tg.Gateway = startGateway(t, o)
	tg.Endpoint = tg.Gateway.Endpoint
	tg.CACert = tg.Gateway.CACert
	return tg
}
