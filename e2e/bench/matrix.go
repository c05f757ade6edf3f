package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// runMatrix measures every (op, size, concurrency) on every row and prints
// one table each as soon as it is complete.
func runMatrix(ctx context.Context, cfg config, rows []*row, rs *results) error {
	p := newPattern()
	ph := phase{duration: cfg.duration, warmup: cfg.warmup, maxOps: cfg.maxOps}
	n := max(1, cfg.slices)
	slice := ph
	slice.duration = ph.duration / time.Duration(n)
	if ph.maxOps > 0 {
		slice.maxOps = (ph.maxOps + int64(n) - 1) / int64(n)
	}
	table := func(op string, size int64, conc int, mk func(r *row) opFunc) {
		// The rows take turns slice by slice. Run one after the other, a
		// row measured late met a slower MinIO than the first: its rate
		// drifts down over a run (135 then 110 PUTs/s of 1 MiB in four
		// alternating 6 s phases, direct and through a plain proxy
		// alike), which showed as a cost of the later rows.
		out := make([]*result, len(rows))
		for i := range n {
			sp := slice
			if i > 0 {
				sp.warmup = 0 // warm already: the first slice warmed every row
			}
			for j, r := range rows {
				if ctx.Err() != nil {
					return
				}
				out[j] = out[j].merge(run(ctx, sp, r, op, size, conc, mk(r)))
			}
		}
		for _, res := range out {
			rs.add(res)
		}
		title := fmt.Sprintf("%s %s c=%d", strings.ToUpper(op), fmtSize(size), conc)
		if op == "list" {
			title = fmt.Sprintf("LIST (1000-key page of %s objects) c=%d", fmtSize(size), conc)
		}
		rs.printTable(os.Stdout, title, out)
	}
	fmt.Printf("\n### Throughput (phases of %s after %s of unmeasured warm-up; ratios are ops/s against MinIO direct unencrypted and with native SSE-S3)\n", cfg.duration, cfg.warmup)
	for si, size := range cfg.sizes {
		for _, conc := range cfg.concFor(size) {
			if cfg.has("put") || cfg.has("get") || cfg.has("head") || cfg.has("list") {
				// GET, HEAD and LIST need objects, so PUT always runs.
				table("put", size, conc, func(r *row) opFunc { return putOp(r, p, size, keyspace(size)) })
			}
			if cfg.has("get") {
				table("get", size, conc, func(r *row) opFunc { return getOp(r, size, 0, randomKey(r, size)) })
			}
			if si == 0 && cfg.has("head") {
				table("head", size, conc, func(r *row) opFunc { return headOp(r, size) })
			}
			if si == 0 && cfg.has("list") {
				table("list", size, conc, func(r *row) opFunc { return listOp(r, size) })
			}
		}
		for _, r := range rows {
			if err := cleanup(ctx, r, fmt.Sprintf("s%d/", size)); err != nil {
				fmt.Println("# warning:", err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if !cfg.has("range") {
		return nil
	}
	fmt.Printf("\n### 1 MiB ranged GETs at random offsets of a %s object\n", fmtSize(cfg.rangeObject))
	if cfg.proxy {
		fmt.Println("backend read/op: gw-minio counts the bytes MinIO sent to the gateway through the relay (HTTP headers included); gw-fs is the rchar delta of the gateway process (file and socket reads)")
	} else {
		fmt.Println("backend read/op: the rchar delta of the gateway process (file and socket reads, so the clients' requests too: an upper bound on what it read from its backend)")
	}
	for _, r := range rows {
		// A failed upload is reported by the range phase as NoSuchKey
		// errors on that row; the other rows still run.
		if _, err := putOp(r, p, cfg.rangeObject, 1)(ctx, 0, nil); err != nil {
			fmt.Printf("# warning: %s: put range object: %s\n", r.label(), oneLine(err))
		}
	}
	for _, conc := range cfg.rangeConc {
		table("range", cfg.rangeObject, conc, func(r *row) opFunc {
			return getOp(r, cfg.rangeObject, 1<<20, randomKey(r, cfg.rangeObject))
		})
	}
	for _, r := range rows {
		if err := cleanup(ctx, r, fmt.Sprintf("s%d/", cfg.rangeObject)); err != nil {
			fmt.Println("# warning:", err)
		}
	}
	return ctx.Err()
}

func printCrypto(ref cryptoRef) {
	fmt.Println("\n### In-process crypto, one goroutine (per core)")
	fmt.Println()
	fmt.Println("| what | MiB/s | of raw AES-256-GCM |")
	fmt.Println("|---|---:|---:|")
	fmt.Printf("| raw AES-256-GCM seal, 64 KiB chunks | %.0f | 1.00× |\n", ref.sealMBs)
	fmt.Printf("| raw AES-256-GCM open, 64 KiB chunks | %.0f | 1.00× |\n", ref.openMBs)
	if ref.sseErr != nil {
		fmt.Printf("| ssegate sse.EncryptReader/DecryptReader | error: %v | |\n", ref.sseErr)
		return
	}
	fmt.Printf("| ssegate sse.EncryptReader (suite %d), 16 MiB stream | %.0f | %.2f× |\n", ref.suite, ref.sseEncMBs, ref.sseEncMBs/ref.sealMBs)
	fmt.Printf("| ssegate sse.DecryptReader (suite %d), 1 MiB stream | %.0f | %.2f× |\n", ref.suite, ref.sseDecMBs, ref.sseDecMBs/ref.openMBs)
	fmt.Printf("| ssegate sse.DecryptReader (suite %d), 16 MiB stream read from memory, not cache (information) | %.0f | %.2f× |\n", ref.suite, ref.sseDec16MBs, ref.sseDec16MBs/ref.openMBs)
}

// targetChecks evaluates the performance targets on what this run
// measured; a target whose inputs were not measured is "n/a".
func targetChecks(cfg config, rs *results, ref cryptoRef, mem []memResult) []check {
	var cs []check
	for _, x := range []struct {
		size int64
		conc int
	}{{16 << 20, 4}, {4 << 10, 8}} {
		for _, op := range []string{"put", "get"} {
			cs = append(cs, rs.throughputCheck("fs gateway SSE-S3 vs MinIO native SSE-S3", op, x.size, x.conc, "gw-fs/sse-s3", anchorSSE, 1.0))
		}
	}
	for _, size := range cfg.sizes {
		for _, conc := range cfg.concFor(size) {
			cs = append(cs, rs.throughputCheck("MinIO gateway SSE-S3 vs MinIO direct plain", "get", size, conc, "gw-minio/sse-s3", anchorPlain, 0.75))
			cs = append(cs, rs.throughputCheck("MinIO gateway SSE-S3 vs MinIO direct plain", "put", size, conc, "gw-minio/sse-s3", anchorPlain, 0.80))
		}
	}
	for _, conc := range cfg.rangeConc {
		plain := rs.find("range", cfg.rangeObject, conc, anchorPlain)
		for _, row := range []string{"gw-minio/sse-s3", "gw-fs/sse-s3"} {
			r := rs.find("range", cfg.rangeObject, conc, row)
			name := fmt.Sprintf("1 MiB range of a %s SSE-S3 object, %s c=%d", fmtSize(cfg.rangeObject), row, conc)
			if r == nil || r.ops == 0 || plain == nil || plain.ops == 0 {
				cs = append(cs, check{name: name + ": backend read ≤ 1.1 MiB, p50 ≤ 1.5× MinIO plain", measured: "not measured", verdict: "n/a"})
				continue
			}
			per := float64(r.backend) / float64(r.ops) / (1 << 20)
			cs = append(cs, check{name: name + ": backend read ≤ 1.1 MiB", measured: fmt.Sprintf("%.3f MiB/op", per), verdict: verdict(r.backend >= 0 && per <= 1.1)})
			lr := float64(r.pct(0.5)) / float64(plain.pct(0.5))
			c := check{name: name + ": p50 ≤ 1.5× MinIO plain", measured: fmt.Sprintf("%.2f× (%s vs %s)", lr, fmtDur(r.pct(0.5)), fmtDur(plain.pct(0.5))), verdict: verdict(lr <= 1.5)}
			// The proxy's extra hop is gw-minio's; gw-fs has no backend hop.
			if p := rs.find("range", cfg.rangeObject, conc, anchorPassthrough); p != nil && p.ops > 0 && strings.HasPrefix(row, "gw-minio/") {
				pr := float64(p.pct(0.5)) / float64(plain.pct(0.5))
				c = c.withBound(pr, pr <= 1.5)
			}
			cs = append(cs, c)
		}
	}
	for _, m := range mem {
		cs = append(cs, check{name: m.name, measured: fmt.Sprintf("peak RSS %s", fmtBytes(m.peak)), verdict: verdictMem(m)})
	}
	if ref.sseErr == nil {
		cs = append(cs, check{name: "ssegate encrypt per core ≥ 0.8× raw AES-256-GCM seal", measured: fmt.Sprintf("%.2f× (%.0f vs %.0f MiB/s)", ref.sseEncMBs/ref.sealMBs, ref.sseEncMBs, ref.sealMBs), verdict: verdict(ref.sseEncMBs >= 0.8*ref.sealMBs)})
		cs = append(cs, check{name: "ssegate decrypt per core ≥ 0.8× raw AES-256-GCM open (1 MiB stream, in cache like the encrypt input)", measured: fmt.Sprintf("%.2f× (%.0f vs %.0f MiB/s)", ref.sseDecMBs/ref.openMBs, ref.sseDecMBs, ref.openMBs), verdict: verdict(ref.sseDecMBs >= 0.8*ref.openMBs)})
	}
	for _, g := range []string{"gw-fs", "gw-minio"} {
		cs = append(cs, rs.throughputCheck("SSE-KMS with bucket keys vs SSE-S3", "put", 4<<10, cfg.concFor(4 << 10)[0], g+"/sse-kms-bk", g+"/sse-s3", 0.9))
	}
	return cs
}
