package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// minioServer is one MinIO process, shared by all tests of the binary:
// starting one takes seconds, and tests keep apart by bucket names.
type minioServer struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	cmd       *exec.Cmd
	done      chan struct{}
	log       *syncBuffer
}

var (
	sharedMinIOOnce sync.Once
	sharedMinIO     *minioServer
	sharedMinIOErr  error
)

// minioBinary finds the minio server: $MINIO_BIN, PATH, $(go env GOPATH)/bin.
func minioBinary(t testing.TB) string {
	t.Helper()
	gopathBin := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopathBin = filepath.Join(strings.TrimSpace(string(out)), "bin", "minio")
	}
	return requireTool(t, "minio", os.Getenv("MINIO_BIN"), "minio", gopathBin)
}

// startSharedMinIO returns the test binary's MinIO, starting it on first use.
func startSharedMinIO(t testing.TB) *minioServer {
	t.Helper()
	bin := minioBinary(t)
	sharedMinIOOnce.Do(func() {
		sharedMinIO, sharedMinIOErr = startMinIO(bin, filepath.Join(workDir, "minio"))
	})
	if sharedMinIOErr != nil {
		t.Fatal(sharedMinIOErr)
	}
	return sharedMinIO
}

func stopSharedMinIO() {
	if sharedMinIO != nil {
		sharedMinIO.stop()
	}
}

func startMinIO(bin, dir string) (*minioServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var lastErr error
	// The free port can be taken between probe and use; try a few.
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		console, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &minioServer{
			Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
			AccessKey: "e2e-minio-admin",
			SecretKey: "e2e-minio-secret-" + randomHex(8),
			done:      make(chan struct{}),
			log:       &syncBuffer{},
		}
		s.cmd = exec.Command(bin, "server", dir,
			"--address", fmt.Sprintf("127.0.0.1:%d", port),
			"--console-address", fmt.Sprintf("127.0.0.1:%d", console), "--quiet")
		s.cmd.Env = append(cleanEnv(),
			"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		if err := s.cmd.Start(); err != nil {
			return nil, err
		}
		go func() { s.cmd.Wait(); close(s.done) }()
		if err := waitHTTP(s.Endpoint+"/minio/health/live", s.done, 2*time.Minute); err != nil {
			s.stop()
			lastErr = fmt.Errorf("minio did not become ready: %v\n%s", err, s.log.String())
			continue
		}
		return s, nil
	}
	return nil, lastErr
}

func (s *minioServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// waitHTTP polls url until it answers 200, the process ends (done closes)
// or the deadline passes.
func waitHTTP(url string, done <-chan struct{}, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
