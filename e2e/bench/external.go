package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
)

// runExternal drives gateways that are already running (-endpoints), for
// set-ups the bench does not start itself, such as several gateways
// sharing one backend and one remote KMS (docs/scaling.md). Each row's
// operations alternate between the endpoints; the bucket is made through
// the first, so the others must share its backend.
func runExternal(ctx context.Context, cfg config) error {
	ak, sk := os.Getenv("BENCH_ACCESS_KEY"), os.Getenv("BENCH_SECRET_KEY")
	if ak == "" || sk == "" {
		return errors.New("-endpoints needs BENCH_ACCESS_KEY and BENCH_SECRET_KEY")
	}
	printMachine(false)
	fmt.Printf("- driving %d running gateway(s): %s; operations alternate between them\n",
		len(cfg.endpoints), strings.Join(cfg.endpoints, ", "))
	maxConns := slices.Max(append([]int{8}, cfg.conc...))
	target := fmt.Sprintf("%dgw", len(cfg.endpoints))
	var rows []*row
	for _, mode := range cfg.extModes {
		r := &row{target: target, mode: mode, written: map[int64]int64{}, md5: cfg.md5}
		var err error
		if r.putSSE, r.getSSE, err = sseFor(mode, make([]byte, 32)); err != nil {
			return err
		}
		for _, ep := range cfg.endpoints {
			c, err := newClient(ep, ak, sk, maxConns)
			if err != nil {
				return err
			}
			r.clients = append(r.clients, c)
		}
		r.client = r.clients[0]
		r.bucket = "bench-" + target + "-" + mode + "-" + randHex(3)
		if err := r.client.MakeBucket(ctx, r.bucket, minio.MakeBucketOptions{}); err != nil {
			return fmt.Errorf("%s: make bucket: %w", r.label(), err)
		}
		rows = append(rows, r)
	}
	rs := &results{}
	err := runMatrix(ctx, cfg, rows, rs)
	for _, r := range rows {
		if rerr := r.client.RemoveBucket(ctx, r.bucket); rerr != nil {
			fmt.Println("# warning: remove bucket:", rerr)
		}
	}
	return err
}
