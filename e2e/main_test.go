package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// workDir holds what the whole test binary shares: the ssegate binary. It
// is removed after all tests.
var workDir string

func TestMain(m *testing.M) {
	var err error
	workDir, err = os.MkdirTemp("", "ssegate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// miniotest.Main runs the tests and then stops the shared MinIO.
	code := miniotest.Main(m)
	os.RemoveAll(workDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ssegateBinary builds ./cmd/ssegate once per test binary, or returns
// $SSEGATE_E2E_BIN when set (a binary built elsewhere, e.g. from a clean
// checkout while the tree is mid-edit).
func ssegateBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SSEGATE_E2E_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		binPath = filepath.Join(workDir, "ssegate")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/ssegate")
		cmd.Dir = ".." // module root; go test runs in the package directory
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ssegate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// inCI reports whether missing dependencies must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// requireTool returns the path of an external program, failing under
// CI=true and skipping otherwise when it is missing.
func requireTool(t testing.TB, name string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (install it, or run ./e2e/test.sh which does)", name)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
