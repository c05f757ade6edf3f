// Package e2e holds end-to-end tests: they build the ssegate binary, start
// it on a free loopback port in front of a filesystem directory and in front
// of a real MinIO server, and drive it with the clients our users run:
// aws-cli, rclone, restic and s3cmd. Everything lives in _test.go files; run
// them with `go test ./e2e/...` (or ./e2e/test.sh, which also installs the
// clients and MinIO).
//
// Most tests call t.Parallel: each starts its own gateways (and buckets on
// the shared MinIO), and most of their time is spent waiting on client
// processes, so running a few at once (test.sh passes -parallel 4) shortens
// the suite on a 2-core machine. Tests that measure the gateway process
// (the connection flood, slow clients, the soak) stay sequential, and run
// before the parallel ones.
//
// Knobs (environment):
//
//	SSEGATE_E2E_TARGETS  comma-separated subset of fs,minio,direct (default
//	                     fs,minio). "direct" points the clients at MinIO
//	                     itself, to check the harness without the gateway.
//	SSEGATE_E2E_AWS      aws binary (default /usr/bin/aws, the Debian v2)
//	MINIO_BIN            minio binary (default: PATH, then $(go env GOPATH)/bin)
//	CI=true              a missing client or MinIO fails instead of skipping
package e2e
