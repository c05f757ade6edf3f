// Command ssegate is the S3-compatible encrypting storage gateway. This
// package only turns flags and environment into a Config and wires the
// packages together; all behaviour lives in gateway, sse, kms and store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `ssegate - an S3-compatible gateway that encrypts every object (SSE-C, SSE-S3, SSE-KMS)

Usage:
  ssegate serve [flags]        run the gateway (ssegate serve -h lists the flags)
  ssegate healthcheck [flags]  exit 0 if the gateway at --listen answers (for containers)
  ssegate kms <command>        manage the embedded KMS keystore: list, create, rotate,
                               backup, restore, verify, rotate-master-key, ... (ssegate kms help)
  ssegate rewrap [flags]       re-seal object keys under the newest KMS key version, or move
                               objects to another key or mode; metadata only (ssegate rewrap -h)
  ssegate verify [BUCKET[/PREFIX]]  decrypt and authenticate stored objects; report damage
  ssegate user <command>       manage users and their access keys on a running gateway:
                               create, list, delete, rotate-key (ssegate user help)
  ssegate bucket <command>     grant or revoke a user's access to a bucket on a running
                               gateway (ssegate bucket help)
  ssegate version              print version and build information
  ssegate help                 show this help

Every serve flag has an environment equivalent (--data-dir is SSEGATE_DATA_DIR)
and a config-file line (data-dir = ...; --config FILE or SSEGATE_CONFIG). Flags win
over the environment, which wins over the file; 'ssegate serve --print-config'
shows the result. Credentials: SSEGATE_ACCESS_KEY/SSEGATE_SECRET_KEY, or generated
on first start into <data-dir>/credentials.json.

Exit status: 0 success, 1 failure, 2 usage or configuration error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		var cfg Config
		cfg, err = parseServeConfig(args[1:], getenv, stderr)
		if err == nil {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err = serve(ctx, cfg, stderr)
		}
	case "healthcheck":
		err = healthcheck(args[1:], getenv, stderr)
	case "kms", "rewrap", "verify", "user", "bucket":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		cmd := map[string]func(context.Context, []string, func(string) string, io.Writer, io.Writer) error{
			"kms": kmsCommand, "rewrap": rewrapCommand, "verify": verifyCommand,
			"user": userCommand, "bucket": bucketCommand,
		}[args[0]]
		err = cmd(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprint(stdout, versionText())
		return 0
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ssegate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrConfig):
		fmt.Fprintf(stderr, "ssegate: %v\n(run 'ssegate %s -h' for the flags)\n", err, args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "ssegate: %v\n", err)
		return 1
	}
}
