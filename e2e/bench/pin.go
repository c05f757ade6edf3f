package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinProcess restricts every thread of pid to cpu. Threads created later
// inherit the mask from the thread that creates them, and the Go runtime
// (MinIO's and ssegate's) notices the smaller affinity and lowers its
// GOMAXPROCS, so the process then runs on that one CPU only.
//
// -pin uses it to model separate hosts on one machine: with MinIO on one
// core and the gateways on the other, the gateway's CPU is no longer
// taken from MinIO's, as it would not be on a host of its own. The load
// generator stays on both cores. Every row, anchors included, then runs
// its server on one core.
func pinProcess(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pin pid %d thread %d to cpu %d: %w", pid, tid, cpu, err)
		}
	}
	return nil
}
