// Command bench runs ssegate side by side with MinIO on one machine and
// prints comparable throughput, latency, memory and backend-read figures.
//
// One run starts a single-drive MinIO (native SSE-S3 available through
// MINIO_KMS_SECRET_KEY), ssegate on a filesystem backend and ssegate in
// front of that MinIO (through a byte-counting TCP proxy, so the bytes the
// gateway reads from its backend are measured), then drives every target
// with the same minio-go load: PUT, GET, HEAD, LIST and 1 MiB ranged GETs,
// per object size, SSE mode and concurrency. MinIO direct (unencrypted and
// with native SSE-S3) are the anchors every row is compared with; a plain
// reverse proxy in front of the same MinIO (passthrough.go) shows what one
// more HTTP hop costs, the bound for any gateway.
//
// Usage (from the module root):
//
//	go run ./e2e/bench            # quick profile, a few minutes on 2 cores
//	go run ./e2e/bench -full      # the complete matrix
//	go run ./e2e/bench -memory    # also the large-object memory scenario
//	BENCH_ACCESS_KEY=… BENCH_SECRET_KEY=… go run ./e2e/bench \
//	    -endpoints http://127.0.0.1:9901,http://127.0.0.1:9902 -ops put,get
//	                              # drive gateways already running (docs/scaling.md)
//
// Everything listens on 127.0.0.1 only. Each phase is bounded by -duration
// (and optionally -max-ops) and preceded by -warmup of the same load,
// unmeasured. docs/benchmarks.md records results.
package main
