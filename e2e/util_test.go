package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for a process writer and a reader.
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

// cleanEnv is the test process's environment without anything that would
// steer the clients or the gateway: credentials, profiles, CA bundles
// (AWS_CA_BUNDLE breaks rclone over plain HTTP), client configs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "RCLONE_"), strings.HasPrefix(k, "RESTIC_"),
			strings.HasPrefix(k, "SSEGATE_"), strings.HasPrefix(k, "MINIO_"), strings.HasPrefix(k, "S3CMD"),
			k == "HOME", k == "XDG_CONFIG_HOME", k == "XDG_CACHE_HOME",
			k == "HTTP_PROXY", k == "HTTPS_PROXY", k == "http_proxy", k == "https_proxy":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runCmd runs a client and fails the test, showing stdout and stderr, if it
// exits non-zero.
func runCmd(t testing.TB, env []string, name string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := tryCmd(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// tryCmd runs a client and returns its outputs and exit error, for tests
// that expect failure.
//
// A client killed by SIGSEGV has crashed, which says nothing of the
// gateway's answers: aws-cli 2.9 on Python 3.11 did so once in CI at the
// end of a download it had completed (every request in the gateway's log
// answered in full). Such a run is tried once more; its outputs are then
// checked as usual, so a crash that repeats still fails the test.
func tryCmd(env []string, name string, args ...string) (stdout, stderr string, err error) {
	for attempt := 0; ; attempt++ {
		var o, e bytes.Buffer
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		if attempt == 0 && crashed(err) {
			continue
		}
		return o.String(), e.String(), err
	}
}

// crashed reports whether err is the exit of a process killed by SIGSEGV.
func crashed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGSEGV
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUpper(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// bucketName is unique per call: tests on the shared MinIO stay apart.
func bucketName(prefix string) string { return prefix + "-" + randomHex(6) }

// writeRandomFile creates path (and its parents) with size random bytes.
func writeRandomFile(t testing.TB, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// makeTree writes files (relative path → size) under a new temp dir.
func makeTree(t testing.TB, files map[string]int) string {
	t.Helper()
	dir := t.TempDir()
	for rel, size := range files {
		writeRandomFile(t, filepath.Join(dir, rel), size)
	}
	return dir
}

// compareTrees asserts that got holds exactly the regular files of want,
// byte for byte.
func compareTrees(t testing.TB, want, got string) {
	t.Helper()
	wantFiles, gotFiles := listFiles(t, want), listFiles(t, got)
	for rel := range wantFiles {
		if _, ok := gotFiles[rel]; !ok {
			t.Errorf("missing %q", rel)
			continue
		}
		a, err1 := os.ReadFile(filepath.Join(want, rel))
		b, err2 := os.ReadFile(filepath.Join(got, rel))
		if err1 != nil || err2 != nil {
			t.Fatalf("read %q: %v %v", rel, err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%q differs: %d bytes, want %d", rel, len(b), len(a))
		}
	}
	for rel := range gotFiles {
		if _, ok := wantFiles[rel]; !ok {
			t.Errorf("unexpected %q", rel)
		}
	}
}

func listFiles(t testing.TB, root string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A client that crashes once is run again; one that keeps crashing, or
// fails in the ordinary way, is reported as it is.
func TestTryCmdRunsACrashedClientOnceMore(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crashed-once")
	once := `if [ -e "$1" ]; then echo answered; else touch "$1"; kill -SEGV $$; fi`
	out, _, err := tryCmd(nil, "/bin/sh", "-c", once, "sh", marker)
	if err != nil || strings.TrimSpace(out) != "answered" {
		t.Fatalf("after one crash: %q, %v; want the second run's answer", out, err)
	}
	if _, _, err := tryCmd(nil, "/bin/sh", "-c", "kill -SEGV $$"); !crashed(err) {
		t.Errorf("a client that always crashes: %v, want the crash reported", err)
	}
	if _, _, err := tryCmd(nil, "/bin/sh", "-c", "exit 3"); err == nil || crashed(err) {
		t.Errorf("exit 3: %v, want an ordinary failure", err)
	}
}
