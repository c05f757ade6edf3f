package main

import (
	"context"
	"fmt"
	"os"
)

// memResult is one memory measurement against its RSS limit.
type memResult struct {
	name  string
	peak  int64
	limit int64
	ok    bool // the operations themselves succeeded
}

func verdictMem(m memResult) string {
	if !m.ok {
		return "FAIL (operation failed)"
	}
	return verdict(m.peak >= 0 && m.peak < m.limit)
}

// runMemory streams one large object up and down, then N concurrent
// uploads, through each selected gateway in one SSE mode and records the
// gateway's peak RSS (VmHWM, reset before each step). The load generator
// streams generated data, so its own peak RSS is printed as a check.
func runMemory(ctx context.Context, cfg config, e *env) ([]memResult, error) {
	p := newPattern()
	var out []memResult
	fmt.Printf("\n### Memory: one %s PUT+GET and %d concurrent %s uploads, mode %s\n\n", fmtSize(cfg.memSize), cfg.memN, fmtSize(cfg.memEach), cfg.memMode)
	fmt.Println("| gateway | step | MB/s | gw peak RSS | bench peak RSS | errors |")
	fmt.Println("|---|---|---:|---:|---:|---|")
	one := phase{maxOps: 1}
	for _, b := range cfg.memBackends {
		r, err := e.newRow(ctx, "gw-"+b, cfg.memMode, cfg.memN)
		if err != nil {
			return nil, err
		}
		steps := []struct {
			name  string
			limit int64
			ph    phase
			conc  int
			size  int64
			fn    opFunc
		}{
			{"PUT " + fmtSize(cfg.memSize), 64 << 20, one, 1, cfg.memSize, putOp(r, p, cfg.memSize, 1)},
			{"GET " + fmtSize(cfg.memSize), 64 << 20, one, 1, cfg.memSize, getOp(r, cfg.memSize, 0, randomKey(r, cfg.memSize))},
			{fmt.Sprintf("%d×PUT %s", cfg.memN, fmtSize(cfg.memEach)), 256 << 20, phase{maxOps: int64(cfg.memN)}, cfg.memN, cfg.memEach,
				putOp(r, p, cfg.memEach, int64(cfg.memN))},
		}
		for _, s := range steps {
			resetPeakRSS(os.Getpid())
			res := run(ctx, s.ph, r, "mem", s.size, s.conc, s.fn)
			self, _ := procStatus(os.Getpid(), "VmHWM")
			errs := "0"
			if res.errs > 0 {
				errs = fmt.Sprintf("%d: %s", res.errs, oneLine(res.firstErr))
			}
			fmt.Printf("| %s | %s | %.1f | %s | %s | %s |\n", r.target, s.name, res.mbps(), fmtBytes(res.peakRSS), fmtBytes(self), errs)
			out = append(out, memResult{
				name:  fmt.Sprintf("%s %s: gateway peak RSS < %s", r.target, s.name, fmtBytes(s.limit)),
				peak:  res.peakRSS,
				limit: s.limit,
				ok:    res.errs == 0 && res.ops > 0,
			})
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
		}
		for _, prefix := range []string{fmt.Sprintf("s%d/", cfg.memSize), fmt.Sprintf("s%d/", cfg.memEach)} {
			if err := cleanup(ctx, r, prefix); err != nil {
				fmt.Println("# warning:", err)
			}
		}
		r.client.RemoveBucket(ctx, r.bucket)
	}
	return out, nil
}
