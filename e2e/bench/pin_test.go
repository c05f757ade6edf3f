package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// -pin must restrict every thread of a running process, not only its
// main one: a Go server's threads already exist when the bench pins it.
func TestPinProcessRestrictsEveryThread(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs to tell a pinned process from an unpinned one")
	}
	// A child of this test binary that idles with several threads.
	cmd := exec.Command(os.Args[0], "-test.run=^TestPinHelperProcess$")
	cmd.Env = append(os.Environ(), "BENCH_PIN_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ready := make([]byte, 6)
	if _, err := stdout.Read(ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("helper: %q, %v", ready, err)
	}
	if err := pinProcess(cmd.Process.Pid, 1); err != nil {
		t.Fatal(err)
	}
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "task", "*", "status"))
	if err != nil || len(tasks) < 2 {
		t.Fatalf("threads of the helper: %v, %v", tasks, err)
	}
	for _, status := range tasks {
		b, err := os.ReadFile(status)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) != "1" {
				t.Errorf("%s: Cpus_allowed_list %q, want 1", status, strings.TrimSpace(v))
			}
		}
	}
}

func TestPinHelperProcess(t *testing.T) {
	if os.Getenv("BENCH_PIN_HELPER") != "1" {
		t.Skip("helper process for TestPinProcessRestrictsEveryThread")
	}
	os.Stdout.WriteString("ready\n")
	select {} // killed by the test
}
