// Package miniotest starts real MinIO servers on loopback for tests, e2e
// programs and benchmarks. Only tests and e2e code import it.
//
// The binary is found via $MINIO_BIN, then PATH, then $GOPATH/bin/minio.
// When it is missing, test helpers skip, except under CI=true where they
// fail: a missing dependency must never turn a CI run green.
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNoBinary means no minio binary was found.
var ErrNoBinary = errors.New("miniotest: minio binary not found (set MINIO_BIN, or go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c)")

// Server is a running MinIO server.
type Server struct {
	Endpoint  string // http://127.0.0.1:<port>
	Addr      string // 127.0.0.1:<port>
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the data directory the server was started on

	cmd  *exec.Cmd
	done chan struct{}
	log  *syncBuffer
	stop sync.Once
}

// FindBinary returns the path of the minio binary or ErrNoBinary.
func FindBinary() (string, error) {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: MINIO_BIN=%s: %v", ErrNoBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		gopath = build.Default.GOPATH
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBinary
}

// Start runs "minio server dir" on free loopback ports and returns once the
// object layer is up (at most 60 s). Call Stop when done.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := FindBinary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	// A free port can be taken between our probe and MinIO's bind; retry.
	for range 3 {
		srv, err := start(ctx, bin, dir)
		if err == nil {
			return srv, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bin, dir string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	console, err := freeAddr()
	if err != nil {
		return nil, err
	}
	kmsKey := make([]byte, 32)
	rand.Read(kmsKey)
	s := &Server{
		Dir:       dir,
		Endpoint:  "http://" + addr,
		Addr:      addr,
		AccessKey: "ak" + randHex(8),
		SecretKey: "sk" + randHex(16),
		Region:    "us-east-1",
		done:      make(chan struct{}),
		log:       &syncBuffer{},
	}
	s.cmd = exec.Command(bin, "server", dir, "--address", addr, "--console-address", console, "--quiet")
	s.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_KMS_SECRET_KEY=my-minio-key:"+base64.StdEncoding.EncodeToString(kmsKey),
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+s.Region,
	)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("miniotest: start %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the cluster health endpoint: the liveness and readiness
// probes answer 200 (with "X-Minio-Server-Status: unavailable") before the
// object layer takes requests. It gives up early if the process
// exits.
func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/minio/health/cluster", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("miniotest: minio exited during start-up: %s", s.log.String())
		case <-ctx.Done():
			return fmt.Errorf("miniotest: minio not ready: %w; log: %s", ctx.Err(), s.log.String())
		case <-tick.C:
		}
	}
}

// Stop terminates the server (SIGTERM, then SIGKILL after 10 s) and waits
// for it to exit. It is safe to call more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		if s.cmd.Process == nil {
			return
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string { return s.log.String() }

// Pid is the process id of the server.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// StartMinIO starts a server in t.TempDir() and stops it in t.Cleanup. A
// missing binary skips the test, or fails it under CI=true.
func StartMinIO(t testing.TB) *Server {
	t.Helper()
	requireBinary(t)
	srv, err := Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

func requireBinary(t testing.TB) {
	t.Helper()
	if _, err := FindBinary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
}

// shared is the server of one test binary; see Main and Shared.
var shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Shared returns one MinIO server for the whole test binary, started on
// first use. Use it only from packages whose TestMain calls Main, which
// stops the server; start-up costs seconds, so sharing saves a lot.
func Shared(t testing.TB) *Server {
	t.Helper()
	requireBinary(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "miniotest-")
		if shared.err == nil {
			shared.srv, shared.err = Start(context.Background(), shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs the tests of a package and then stops the shared server:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("miniotest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects process output, keeping the last 64 KiB.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > 64<<10 {
		b.buf.Next(b.buf.Len() - 32<<10)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
