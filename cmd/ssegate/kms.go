package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ssegate/ssegate/kms"
)

const kmsUsage = `Usage: ssegate kms <command> [flags] [args]

Operator commands on the embedded KMS keystore (<data-dir>/kms.db), opened with
the same master key as serve (--master-key-file, default <data-dir>/master.key,
or SSEGATE_MASTER_KEY). Flags may come before or after the arguments.

The keystore has one writer, and a running gateway caches key state, so these
commands must run while 'ssegate serve' is stopped; they refuse to start when
another process has the keystore open.

  list                          keys with aliases, state, manager, versions, rotation
  create [--description D] [--alias alias/NAME]
  alias alias/NAME KEYID        point a new alias at a key
  rotate KEYID                  new key version now (on-demand rotation)
  schedule-deletion KEYID [--days 7..30] [--force]   (default 30 days)
        A key still used while pending deletion is not deleted when due
        (it stays PendingDeletion and the refusal is logged). --force
        overrides that "used since scheduling" hold: the key is deleted when
        due even if still in use. It also applies to a key already pending deletion (one
        whose deletion was refused), restarting its waiting period from now.
        Objects under a deleted key are unreadable for good.
  cancel-deletion KEYID         the key returns Disabled
  enable KEYID | disable KEYID
  backup FILE                   encrypted snapshot under the master key; FILE must not exist
  restore FILE                  into a data dir that has no keystore yet
  verify                        unseal every key version; exit 1 on any failure
  rotate-master-key --new-master-key-file F
        re-seal every key version under the key in F (created, 0600, if
        missing) in one transaction. Then, with the gateway still stopped:
          1. ssegate kms backup --master-key-file F <backup-file>
          2. replace the master key: mv F <data-dir>/master.key (or your
             --master-key-file), or set SSEGATE_MASTER_KEY to the new key
          3. ssegate kms verify, then start ssegate serve
        Until step 2 the old master key no longer opens the keystore: keep F safe.

KEYID is a key id, key ARN, alias/NAME or alias ARN.
`

// errKMSFailed is a failure already reported on stdout (kms verify).
var errKMSFailed = errors.New("verification failed")

// kmsCommand runs `ssegate kms <sub> ...`.
func kmsCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, kmsUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing kms command", ErrConfig)
		}
		return nil
	}
	sub := args[0]
	fs, parse := configFlags("kms "+sub, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, kmsUsage) }
	description := fs.String("description", "", "create: key description")
	alias := fs.String("alias", "", "create: alias/NAME for the new key")
	days := fs.Int("days", 30, "schedule-deletion: waiting period, 7..30 days")
	force := fs.Bool("force", false, "schedule-deletion: delete when due even if the key is used after scheduling")
	newMaster := fs.String("new-master-key-file", "", "rotate-master-key: file with the new master key")
	cfg, pos, err := parse(args[1:], getenv)
	if err != nil {
		return err
	}
	if cfg.KMSEndpoint != "" {
		return fmt.Errorf("%w: ssegate kms works on the embedded keystore; manage a remote KMS with its own tools", ErrConfig)
	}
	want := map[string]int{
		"list": 0, "create": 0, "alias": 2, "rotate": 1, "schedule-deletion": 1, "cancel-deletion": 1,
		"enable": 1, "disable": 1, "backup": 1, "restore": 1, "verify": 0, "rotate-master-key": 0,
	}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("%w: unknown kms command %q", ErrConfig, sub)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: kms %s takes %d argument(s), got %d", ErrConfig, sub, n, len(pos))
	}
	dbPath := filepath.Join(cfg.DataDir, "kms.db")
	if sub == "restore" {
		return kmsRestore(ctx, cfg, dbPath, pos[0], stdout)
	}
	if sub == "rotate-master-key" && *newMaster == "" {
		return fmt.Errorf("%w: rotate-master-key needs --new-master-key-file", ErrConfig)
	}
	if sub == "backup" {
		// Refuse before doing any work; O_EXCL below closes the race.
		if _, err := os.Lstat(pos[0]); err == nil {
			return fmt.Errorf("%w: backup file %s exists; refusing to overwrite it", ErrConfig, pos[0])
		}
	}
	core, closeCore, err := openOperatorKeystore(ctx, cfg, dbPath, true)
	if err != nil {
		return err
	}
	defer closeCore()

	switch sub {
	case "list":
		return kmsList(ctx, core, stdout)
	case "create":
		md, err := core.CreateKey(ctx, kms.CreateKeyInput{Description: *description})
		if err != nil {
			return err
		}
		if *alias != "" {
			if err := core.CreateAlias(ctx, *alias, md.KeyID); err != nil {
				return fmt.Errorf("key %s created, alias failed: %w", md.KeyID, err)
			}
		}
		fmt.Fprintf(stdout, "%s\t%s\n", md.KeyID, md.ARN)
		return nil
	case "alias":
		return core.CreateAlias(ctx, pos[0], pos[1])
	case "rotate":
		arn, err := core.RotateKeyOnDemand(ctx, pos[0])
		if err == nil {
			fmt.Fprintf(stdout, "rotated %s; run 'ssegate rewrap' to move objects to the new version\n", arn)
		}
		return err
	case "schedule-deletion":
		schedule, how := core.ScheduleKeyDeletion, ""
		if *force {
			schedule, how = core.ScheduleKeyDeletionForce, " (forced: even if used meanwhile)"
		}
		md, err := schedule(ctx, pos[0], *days)
		if err == nil {
			fmt.Fprintf(stdout, "%s pending deletion on %s%s\n", md.KeyID, md.DeletionDate.UTC().Format(time.RFC3339), how)
		}
		return err
	case "cancel-deletion":
		md, err := core.CancelKeyDeletion(ctx, pos[0])
		if err == nil {
			fmt.Fprintf(stdout, "%s deletion cancelled; state %s\n", md.KeyID, md.KeyState)
		}
		return err
	case "enable":
		return core.EnableKey(ctx, pos[0])
	case "disable":
		return core.DisableKey(ctx, pos[0])
	case "backup":
		return kmsBackup(ctx, core, pos[0], stdout)
	case "verify":
		return kmsVerify(ctx, core, stdout)
	case "rotate-master-key":
		nm, err := kms.LoadOrCreateMasterKey(*newMaster)
		if err != nil {
			return fmt.Errorf("new master key: %w", err)
		}
		defer clear(nm)
		if err := core.RotateMasterKey(ctx, nm); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "keystore re-sealed under %s. The old master key no longer opens it.\n"+
			"Now replace the master key (mv %s %s, or set SSEGATE_MASTER_KEY), run 'ssegate kms verify', and start the gateway.\n",
			*newMaster, *newMaster, cfg.MasterKeyFile)
		return nil
	}
	return nil
}

// openOperatorKeystore opens an existing keystore for an operator command,
// refusing one that another process (a running gateway) has open.
// rewrap and verify (idle false) only use the data path and may run beside
// a gateway.
func openOperatorKeystore(ctx context.Context, cfg Config, dbPath string, idle bool) (*kms.Core, func() error, error) {
	if _, err := os.Stat(dbPath); err != nil {
		return nil, nil, fmt.Errorf("no keystore at %s (start ssegate serve once, or kms restore a backup): %w", dbPath, err)
	}
	if idle {
		if err := checkKeystoreIdle(dbPath); err != nil {
			return nil, nil, err
		}
	}
	masterKey := cfg.MasterKey
	if masterKey == nil {
		// Never create a master key for an existing keystore: it would
		// not open it, and a stray new key file confuses the operator.
		if _, err := os.Stat(cfg.MasterKeyFile); err != nil {
			return nil, nil, fmt.Errorf("master key: %w", err)
		}
		var err error
		if masterKey, err = kms.LoadOrCreateMasterKey(cfg.MasterKeyFile); err != nil {
			return nil, nil, fmt.Errorf("master key: %w", err)
		}
	}
	audit, err := os.OpenFile(filepath.Join(cfg.DataDir, "kms-audit.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("KMS audit log: %w", err)
	}
	core, err := kms.Open(ctx, dbPath, masterKey, kms.Options{
		Region: cfg.Region, AccountID: cfg.AccountID, AuditWriter: audit, MaintenanceInterval: -1,
		Peers: cfg.kmsPeers(), Quotas: cfg.KMSQuotas,
	})
	// Open keeps its own copy.
	clear(masterKey)
	if err != nil {
		audit.Close()
		return nil, nil, fmt.Errorf("embedded KMS: %w", err)
	}
	return core, func() error { return errors.Join(core.Close(), audit.Close()) }, nil
}

// errKeystoreBusy means another process has the keystore open.
var errKeystoreBusy = errors.New("the KMS keystore is in use by another process (a running 'ssegate serve'?); stop it first")

// checkKeystoreIdle asks SQLite for an exclusive lock without waiting. A
// process with the keystore open in WAL mode holds a shared lock for as
// long as its connections live, so this fails exactly while a gateway (or
// another operator command) runs. The lock is released before we open the
// keystore ourselves: a gateway started during an operator command is not
// detected, which is why the help says to keep it stopped.
func checkKeystoreIdle(dbPath string) error {
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`BEGIN EXCLUSIVE; COMMIT;`); err != nil {
		if strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "locked") {
			return errKeystoreBusy
		}
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

func kmsList(ctx context.Context, core *kms.Core, stdout io.Writer) error {
	keys, err := core.AllKeys(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tALIASES\tSTATE\tMANAGER\tVERSIONS\tCREATED\tROTATION")
	for _, k := range keys {
		created, rotation := "-", "-"
		if md, err := core.DescribeKey(ctx, k.KeyID); err == nil {
			created = md.CreationDate.UTC().Format(time.RFC3339)
		}
		if st, err := core.GetKeyRotationStatus(ctx, k.KeyID); err == nil && st.Enabled {
			rotation = strconv.Itoa(st.RotationPeriodInDays) + "d, next " + st.NextRotationDate.UTC().Format("2006-01-02")
		}
		aliases := strings.Join(k.Aliases, ",")
		if k.Hidden {
			aliases += " (gateway SSE-S3 key, hidden)"
		}
		if aliases == "" {
			aliases = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", k.KeyID, aliases, k.State, k.Manager, k.Versions, created, rotation)
	}
	return tw.Flush()
}

func kmsVerify(ctx context.Context, core *kms.Core, stdout io.Writer) error {
	bad, err := core.VerifyAll(ctx)
	if err != nil {
		return err
	}
	for _, f := range bad {
		fmt.Fprintf(stdout, "FAILED key %s version %d does not unseal\n", f.KeyID, f.Version)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %d key versions do not unseal", errKMSFailed, len(bad))
	}
	fmt.Fprintln(stdout, "ok: master key opens the keystore and every key version unseals")
	return nil
}

func kmsBackup(ctx context.Context, core *kms.Core, path string, stdout io.Writer) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The snapshot's size is known only once it is taken: the bar shows
	// bytes written against an unknown total.
	p := newByteProgress(stdout, "kms backup", 0)
	p.step("taking a consistent snapshot of the keystore and encrypting it under the master key")
	pw := &progressWriter{w: f, p: p}
	err = core.Backup(ctx, pw)
	p.finish()
	if err == nil {
		p.step("syncing %s to disk", p.amount(pw.done))
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s (%s; restoring it needs the current master key)\n", path, p.amount(pw.done))
	return nil
}

func kmsRestore(ctx context.Context, cfg Config, dbPath, backup string, stdout io.Writer) error {
	if _, err := os.Lstat(dbPath); err == nil {
		return fmt.Errorf("%w: %s already has a keystore; restore only into a data dir without one", ErrConfig, cfg.DataDir)
	}
	masterKey := cfg.MasterKey
	if masterKey == nil {
		if _, err := os.Stat(cfg.MasterKeyFile); err != nil {
			return fmt.Errorf("master key (the one the backup was made with): %w", err)
		}
		var err error
		if masterKey, err = kms.LoadOrCreateMasterKey(cfg.MasterKeyFile); err != nil {
			return fmt.Errorf("master key: %w", err)
		}
	}
	defer clear(masterKey)
	f, err := os.Open(backup)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	p := newByteProgress(stdout, "kms restore", size)
	p.step("reading and decrypting %s", backup)
	pr := &progressReader{r: f, p: p, atEOF: func() {
		p.step("writing the keystore and unsealing every key version with the master key")
	}}
	err = kms.Restore(ctx, pr, dbPath, masterKey)
	p.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keystore restored to %s and verified\n", dbPath)
	return nil
}
