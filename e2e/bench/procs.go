package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ssegate/ssegate/e2e/internal/readylog"
)

// buildGateway compiles ./cmd/ssegate from the module root into dir.
func buildGateway(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the ssegate module (go run ./e2e/bench)")
	}
	bin := filepath.Join(dir, "ssegate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ssegate")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ssegate: %v\n%s", err, out)
	}
	return bin, nil
}

// gatewayProc is a running `ssegate serve` (or the pass-through proxy).
type gatewayProc struct {
	Endpoint string // http://127.0.0.1:port
	cmd      *exec.Cmd
	done     chan struct{}
	log      *tailBuffer
	stopOnce sync.Once
}

// startGateway runs ssegate on a free loopback port and returns once it
// has logged its "ready" record (the only way to learn the port).
func startGateway(ctx context.Context, bin, dataDir, backend string, env []string) (*gatewayProc, error) {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--backend", backend, "--log-format", "json", "--log-level", "info",
		// SSE-C over plain HTTP: the bench has no TLS, and TLS would put a
		// cost on the gateway rows that the MinIO anchors do not pay.
		"--allow-insecure-ssec"}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return startProc(ctx, "ssegate", cmd)
}

// startProc starts cmd, a server that logs a JSON "ready" record with its
// endpoint on stderr, and returns once it has.
func startProc(ctx context.Context, name string, cmd *exec.Cmd) (*gatewayProc, error) {
	g := &gatewayProc{cmd: cmd, done: make(chan struct{}), log: &tailBuffer{max: 256 << 10}}
	g.cmd.Stdout = g.log
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ready := make(chan string, 1)
	go readylog.Copy(stderr, g.log, ready)
	go func() { g.cmd.Wait(); close(g.done) }()
	timeout := time.NewTimer(time.Minute) // a start-up deadline, not a measurement
	defer timeout.Stop()
	select {
	case g.Endpoint = <-ready:
		return g, nil
	case <-g.done:
		return nil, fmt.Errorf("%s exited before ready:\n%s", name, g.log.String())
	case <-timeout.C:
	case <-ctx.Done():
	}
	g.Stop()
	return nil, fmt.Errorf("%s not ready:\n%s", name, g.log.String())
}

// Pid is the gateway's process id.
func (g *gatewayProc) Pid() int { return g.cmd.Process.Pid }

// Stop sends SIGTERM, then SIGKILL after 30 s.
func (g *gatewayProc) Stop() {
	g.stopOnce.Do(func() {
		g.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-g.done:
		case <-t.C:
			g.cmd.Process.Kill()
			<-g.done
		}
	})
}

// cleanEnv is the environment without variables that would change how
// ssegate or MinIO behave (credentials, endpoints, CA bundles, proxies).
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "SSEGATE_"), strings.HasPrefix(k, "MINIO_"),
			strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "HTTPS_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// procStatus reads a "kB" field (VmHWM, VmRSS) of /proc/<pid>/status in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0), so the
// next VmHWM read is the peak of one phase rather than of the process.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procRChar is the rchar counter of /proc/<pid>/io: bytes the process
// read through read(2)-like calls, from files and sockets alike.
func procRChar(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no rchar in /proc/%d/io", pid)
}

// procCPU is the CPU time (user + system) the process has used so far,
// from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain. utime and stime are fields 14 and 15, in clock ticks.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, which is 100 on every Linux ABI Go supports.
const clockTicks = 100

// cpuMeter reads the CPU time of the processes involved in one phase:
// the gateway (if any), MinIO and the bench itself (the clients).
type cpuMeter struct{ pids [3]int }

func (m cpuMeter) read() (t [3]time.Duration) {
	for i, pid := range m.pids {
		t[i] = -1
		if pid > 0 {
			if v, err := procCPU(pid); err == nil {
				t[i] = v
			}
		}
	}
	return t
}

// tailBuffer keeps the last max bytes written, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
