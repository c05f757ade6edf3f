package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

const (
	anchorPlain = "minio/none"
	anchorSSE   = "minio/sse-s3"
)

// results collects every phase so tables can show ratios to the anchors
// and the summary can check the targets.
type results struct{ all []*result }

func (rs *results) add(r *result) { rs.all = append(rs.all, r) }

func (rs *results) find(op string, size int64, conc int, row string) *result {
	for _, r := range rs.all {
		if r.op == op && r.size == size && r.conc == conc && r.row == row {
			return r
		}
	}
	return nil
}

// ratio is a's throughput over b's (ops/s; equal to the MB/s ratio at one
// size), or 0 when either is missing.
func ratio(a, b *result) float64 {
	if a == nil || b == nil || b.opsps() == 0 {
		return 0
	}
	return a.opsps() / b.opsps()
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func fmtBytes(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

// printTable prints one markdown table for (op, size, conc): every row
// with MB/s, ops/s, latency percentiles, ratios to both anchors, the
// gateway's peak RSS during the phase and, for ranged reads, the bytes it
// read from its backend per operation.
func (rs *results) printTable(w io.Writer, title string, rows []*result) {
	if len(rows) == 0 {
		return
	}
	op, size, conc := rows[0].op, rows[0].size, rows[0].conc
	plain, enc := rs.find(op, size, conc, anchorPlain), rs.find(op, size, conc, anchorSSE)
	fmt.Fprintf(w, "\n#### %s\n\n", title)
	isRange := op == "range"
	hdr := "| target/mode | MB/s | ops/s | p50 | p99 | ×minio | ×minio-sse | gw peak RSS | CPU/op gw+minio+bench |"
	sep := "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	if isRange {
		hdr += " p50 ×minio | backend read/op |"
		sep += "---:|---:|"
	}
	fmt.Fprintln(w, hdr+" errors |")
	fmt.Fprintln(w, sep+"---|")
	for _, r := range rows {
		mbps := "-"
		if r.bytes > 0 {
			mbps = fmt.Sprintf("%.1f", r.mbps())
		}
		line := fmt.Sprintf("| %s | %s | %.1f | %s | %s | %s | %s | %s | %s |", r.row, mbps, r.opsps(),
			fmtDur(r.pct(0.50)), fmtDur(r.pct(0.99)), fmtRatio(ratio(r, plain)), fmtRatio(ratio(r, enc)), fmtBytes(r.peakRSS), fmtCPU(r))
		if isRange {
			lr := 0.0
			if plain != nil && plain.pct(0.5) > 0 {
				lr = float64(r.pct(0.5)) / float64(plain.pct(0.5))
			}
			per := int64(-1)
			if r.backend >= 0 && r.ops > 0 {
				per = r.backend / r.ops
			}
			line += fmt.Sprintf(" %s | %s |", fmtRatio(lr), fmtBytes(per))
		}
		errs := "0"
		if r.errs > 0 {
			errs = fmt.Sprintf("%d: %s", r.errs, oneLine(r.firstErr))
		}
		fmt.Fprintln(w, line+" "+errs+" |")
	}
}

// fmtCPU is the CPU time per operation of the gateway, MinIO and the
// bench during the phase ("-" for a process not involved), e.g.
// "12+31+8ms": which process the time of a row goes to.
func fmtCPU(r *result) string {
	if r.ops == 0 {
		return "-"
	}
	parts := make([]string, len(r.cpu))
	for i, c := range r.cpu {
		parts[i] = "-"
		if c >= 0 {
			parts[i] = strconv.FormatFloat(float64(c)/float64(r.ops)/float64(time.Millisecond), 'f', cpuDecimals(float64(c)/float64(r.ops)), 64)
		}
	}
	return strings.Join(parts, "+") + "ms"
}

func cpuDecimals(perOp float64) int {
	if perOp < float64(10*time.Millisecond) {
		return 2
	}
	return 0
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// check is one target of the issue and its verdict. bound, where set, is
// what the pass-through proxy reached on the same measure. A GET target
// it misses too is out of reach for any gateway on this machine; for a
// PUT it is a strong guide, not a proof (docs/benchmarks.md, "What is
// measured").
type check struct {
	name, measured, verdict, bound string
}

// anchorPassthrough is the pass-through proxy's row (passthrough.go).
const anchorPassthrough = "passthrough/none"

// withBound sets c.bound to x (the proxy's figure, 0 if not measured) and
// marks a failed verdict that the proxy fails as well (met is the target's
// test applied to x).
func (c check) withBound(x float64, met bool) check {
	if x == 0 {
		return c
	}
	c.bound = fmtRatio(x)
	if c.verdict == "FAIL" && !met {
		c.verdict = "FAIL (a plain proxy fails it too)"
	}
	return c
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// throughputChecks compares row against base for op at size/conc.
func (rs *results) throughputCheck(name, op string, size int64, conc int, row, base string, want float64) check {
	a, b := rs.find(op, size, conc, row), rs.find(op, size, conc, base)
	c := check{name: fmt.Sprintf("%s: %s %s c=%d %s vs %s ≥ %.2f×", name, strings.ToUpper(op), fmtSize(size), conc, row, base, want)}
	if a == nil || b == nil || a.ops == 0 || b.ops == 0 {
		c.measured, c.verdict = "not measured", "n/a"
		return c
	}
	x := ratio(a, b)
	c.measured = fmt.Sprintf("%.2f× (%.1f vs %.1f ops/s)", x, a.opsps(), b.opsps())
	c.verdict = verdict(x >= want)
	if base == anchorPlain {
		p := ratio(rs.find(op, size, conc, anchorPassthrough), b)
		c = c.withBound(p, p >= want)
	}
	return c
}

func printChecks(w io.Writer, checks []check) {
	fmt.Fprint(w, "\n### Targets from the issue\n\n")
	fmt.Fprintln(w, "| target | measured | pass-through proxy | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, c := range checks {
		bound := c.bound
		if bound == "" {
			bound = "-"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.name, c.measured, bound, c.verdict)
	}
	fmt.Fprintln(w, "\npass-through proxy: the same measure for a plain reverse proxy in front of MinIO (no auth, no encryption), where it applies. \"a plain proxy fails it too\" marks a target that the proxy, which does less than any gateway, also misses in this run: out of reach for a GET; for a PUT a gateway can move some of MinIO's work into itself (see docs/benchmarks.md).")
}
