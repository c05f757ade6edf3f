package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ssegate/ssegate/gateway"
	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store"
)

const rewrapUsage = `Usage: ssegate rewrap [--bucket B [--prefix P]] [--to-kms-key K | --to-sse-s3] [--dry-run] [--start-after BUCKET/KEY] [serve flags]

Re-seals the object key of every SSE-S3 and SSE-KMS object under a new data key
from the newest version of its KMS key (after 'ssegate kms rotate'), or moves it
to another KMS key (--to-kms-key) or to SSE-S3 (--to-sse-s3). Only metadata is
rewritten: the stored ciphertext is never re-encrypted. Objects already under
the newest version are skipped; SSE-C objects are skipped (no key) and counted.
Uses the backend and KMS configured as for serve (--backend, --data-dir, ...).
Safe to run while the gateway serves. Objects are processed in bucket/key order;
after an interruption, rerun with --start-after the last key printed.
Exit status 1 if any object failed.
`

// errObjectsFailed is a run that reported failed or damaged objects.
var errObjectsFailed = errors.New("some objects failed")

func rewrapCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, parse := configFlags("rewrap", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rewrapUsage); fs.PrintDefaults() }
	var opts gateway.RewrapOptions
	fs.StringVar(&opts.Bucket, "bucket", "", "only this bucket")
	fs.StringVar(&opts.Prefix, "prefix", "", "only keys with this prefix (needs --bucket)")
	fs.StringVar(&opts.StartAfter, "start-after", "", "resume after this BUCKET/KEY")
	fs.StringVar(&opts.ToKMSKey, "to-kms-key", "", "move objects to this SSE-KMS key (id, ARN or alias)")
	fs.BoolVar(&opts.ToSSES3, "to-sse-s3", false, "move objects to SSE-S3")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "report what would change, change nothing")
	cfg, pos, err := parse(args, getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrConfig, pos[0])
	}
	if opts.ToKMSKey != "" && opts.ToSSES3 {
		return fmt.Errorf("%w: --to-kms-key and --to-sse-s3 are exclusive", ErrConfig)
	}
	opts.SSES3KeyID = cfg.SSES3KeyID
	st, svc, closeAll, err := openData(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()

	p := newProgress(ctx, stdout, st, opts.Scope, "rewrap")
	sum, err := gateway.Rewrap(ctx, st, svc, opts, p.report)
	p.finish()
	verb := "rewrapped"
	n := sum.Rewrapped
	if opts.DryRun {
		verb, n = "would rewrap", sum.WouldRewrap
	}
	fmt.Fprintf(stdout, "scanned %d, %s %d, already current %d, skipped SSE-C %d, pending %d, failed %d\n",
		sum.Scanned, verb, n, sum.Current, sum.SkippedSSEC, sum.Pending, sum.Failed)
	if err != nil {
		p.resumeHint(stdout)
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%w: %d failed", errObjectsFailed, sum.Failed)
	}
	return nil
}

// openData opens the backend and the KMS as serve does. The embedded
// keystore may be in use by a gateway: rewrap and verify only use the KMS
// data path.
func openData(ctx context.Context, cfg Config) (store.Store, kms.Service, func() error, error) {
	st, err := openBackend(ctx, cfg.Backend, cfg.Region)
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.KMSEndpoint != "" {
		remote, err := kms.NewRemote(ctx, kms.RemoteConfig{
			Endpoint: cfg.KMSEndpoint, Region: cfg.Region,
			AccessKey: cfg.KMSAccessKey, SecretKey: cfg.KMSSecretKey,
			HTTPClient: cfg.kmsHTTPClient(),
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("remote KMS: %w", err)
		}
		return st, remote, func() error { return nil }, nil
	}
	core, closeCore, err := openOperatorKeystore(ctx, cfg, filepath.Join(cfg.DataDir, "kms.db"), false)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, core, closeCore, nil
}
