package e2e

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestKeySafetyEndToEnd follows one KMS key through its life with the real
// binary and aws-cli, with SSE-KMS objects under it and an SSE-S3 object
// beside them:
//
//   - a keystore backup is taken while the objects are readable;
//   - schedule-key-deletion makes the objects unreadable with the KMS error
//     (KMS.KMSInvalidStateException); cancel-key-deletion + enable-key
//     make them readable again;
//   - a deletion that falls due after the key was still being asked for is
//     refused, not carried out silently;
//   - a deletion that falls due unused destroys the key: its objects are
//     unreadable with KMS.NotFoundException and `ssegate verify` reports
//     each of them, while the SSE-S3 object is unaffected;
//   - the backup restored into a fresh data dir, with the same master key
//     and the same backend, reads every object again.
//
// The gateway has no clock hook, so the passing of the 7-day waiting
// period is simulated by moving the key's deletion date into the past in
// the stopped gateway's keystore; the next start's maintenance run then
// sees it due, exactly as it would a week later.
func TestKeySafetyEndToEnd(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	dataDir, backendDir := t.TempDir(), t.TempDir()
	ak, sk := "KEYSAFE"+randomUpper(13), randomHex(20)
	opts := gatewayOptions{
		DataDir: dataDir,
		Backend: "fs:" + backendDir,
		Env:     []string{"SSEGATE_ACCESS_KEY=" + ak, "SSEGATE_SECRET_KEY=" + sk},
	}
	start := func(o gatewayOptions) (*gatewayProc, *kmsCLI) {
		g := startGateway(t, o)
		tg := target{Name: "fs", Endpoint: g.Endpoint, Region: "us-east-1", AccessKey: ak, SecretKey: sk, Gateway: g}
		return g, newKMSCLI(t, tg)
	}
	g, k := start(opts)

	keyID, _ := k.createKey("--description", "key safety")
	bucket := bucketName("keysafety")
	k.run("s3api", "create-bucket", "--bucket", bucket)
	src := t.TempDir()
	kmsObjects := []string{"kms/a.bin", "kms/b.bin", "kms/c.bin"}
	want := map[string][]byte{}
	for i, name := range kmsObjects {
		p := filepath.Join(src, filepath.Base(name))
		want[name] = writeRandomFile(t, p, 1000+i*70_000)
		k.run("s3api", "put-object", "--bucket", bucket, "--key", name, "--body", p,
			"--server-side-encryption", "aws:kms", "--ssekms-key-id", keyID)
	}
	control := "s3/control.bin"
	p := filepath.Join(src, "control.bin")
	want[control] = writeRandomFile(t, p, 5000)
	k.run("s3api", "put-object", "--bucket", bucket, "--key", control, "--body", p, "--server-side-encryption", "AES256")

	get := func(t *testing.T, k *kmsCLI, name string) ([]byte, string, error) {
		dst := filepath.Join(t.TempDir(), "out")
		_, stderr, err := k.try("s3api", "get-object", "--bucket", bucket, "--key", name, dst)
		if err != nil {
			return nil, stderr, err
		}
		return mustRead(t, dst), "", nil
	}
	wantReadable := func(t *testing.T, k *kmsCLI, names ...string) {
		t.Helper()
		for _, name := range names {
			got, stderr, err := get(t, k, name)
			if err != nil || !bytes.Equal(got, want[name]) {
				t.Fatalf("GET %s: %v %s (%d bytes, want %d)", name, err, stderr, len(got), len(want[name]))
			}
		}
	}
	wantKMSError := func(t *testing.T, k *kmsCLI, code string) {
		t.Helper()
		for _, name := range kmsObjects {
			got, stderr, err := get(t, k, name)
			if err == nil || !strings.Contains(stderr, code) {
				t.Fatalf("GET %s under an unusable key: err=%v, %d bytes, stderr %q; want %s", name, err, len(got), stderr, code)
			}
		}
	}
	wantReadable(t, k, append(kmsObjects, control)...)

	// The backup is taken with the gateway stopped (one keystore writer).
	stopGateway(t, g)
	backup := filepath.Join(t.TempDir(), "keystore.backup")
	ssegateCmd(t, "kms", "backup", "--data-dir", dataDir, backup)

	g, k = start(opts)
	var sched struct{ KeyState, DeletionDate string }
	k.json(&sched, "kms", "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
	if sched.KeyState != "PendingDeletion" {
		t.Fatalf("schedule-key-deletion: state %q", sched.KeyState)
	}
	wantKMSError(t, k, "KMS.KMSInvalidStateException")
	wantReadable(t, k, control)
	k.run("kms", "cancel-key-deletion", "--key-id", keyID)
	k.run("kms", "enable-key", "--key-id", keyID)
	wantReadable(t, k, kmsObjects...)

	t.Run("a due deletion of a key asked for after scheduling is refused", func(t *testing.T) {
		k.run("kms", "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
		wantKMSError(t, k, "KMS.KMSInvalidStateException") // these reads are uses
		stopGateway(t, g)
		makeDeletionDue(t, dataDir, keyID)
		g, k = start(opts)
		if s := k.keyState(keyID); s != "PendingDeletion" {
			t.Fatalf("key state %q after a refused deletion, want PendingDeletion", s)
		}
		if !strings.Contains(g.log.String(), "kms key deletion refused") {
			t.Errorf("the refused deletion is not logged")
		}
		k.run("kms", "cancel-key-deletion", "--key-id", keyID)
		k.run("kms", "enable-key", "--key-id", keyID)
		wantReadable(t, k, kmsObjects...)
	})

	t.Run("a due deletion destroys the key: objects unreadable, verify reports them", func(t *testing.T) {
		k.run("kms", "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
		stopGateway(t, g)
		makeDeletionDue(t, dataDir, keyID)
		g, k = start(opts)
		k.wantError("NotFoundException", "kms", "describe-key", "--key-id", keyID)
		// Unreadable, never any bytes: that part holds today.
		var knownBug string
		for _, name := range kmsObjects {
			got, stderr, err := get(t, k, name)
			if err == nil || len(got) != 0 {
				t.Fatalf("GET %s under a deleted key: err=%v, %d bytes", name, err, len(got))
			}
			if !strings.Contains(stderr, "(KMS.") {
				knownBug = stderr
			}
		}
		wantReadable(t, k, control)
		stopGateway(t, g)

		out, stderr, err := tryCmd(append(cleanEnv(), opts.Env...), ssegateBinary(t),
			"verify", "--data-dir", dataDir, "--backend", opts.Backend, bucket)
		if err == nil {
			t.Errorf("verify exits 0 with objects under a deleted key:\n%s%s", out, stderr)
		}
		for _, name := range kmsObjects {
			if !strings.Contains(out+stderr, name) {
				t.Errorf("verify does not report %s:\n%s%s", name, out, stderr)
			}
		}
		if strings.Contains(out+stderr, control) {
			t.Errorf("verify reports the intact SSE-S3 object:\n%s%s", out, stderr)
		}
		if knownBug != "" {
			t.Errorf("GET under a deleted key is not a KMS error: %s", strings.TrimSpace(knownBug))
		}
	})

	t.Run("the backup restored into a fresh data dir reads every object", func(t *testing.T) {
		fresh := t.TempDir()
		master := filepath.Join(dataDir, "master.key")
		ssegateCmd(t, "kms", "restore", "--data-dir", fresh, "--master-key-file", master, backup)
		o := opts
		o.DataDir = fresh
		o.Args = []string{"--master-key-file", master}
		_, k2 := start(o)
		wantReadable(t, k2, append(kmsObjects, control)...)
		if s := k2.keyState(keyID); s != "Enabled" {
			t.Errorf("restored key state %q, want Enabled (as at backup time)", s)
		}
	})
}

// stopGateway stops g now (SIGTERM, clean exit) rather than at cleanup.
func stopGateway(t *testing.T, g *gatewayProc) {
	t.Helper()
	if err := g.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, g.log.String())
	}
}

// ssegateCmd runs an ssegate operator command and fails the test on error.
func ssegateCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := runCmd(t, cleanEnv(), ssegateBinary(t), args...)
	return out
}

// makeDeletionDue moves a pending key's deletion date one hour into the
// past in a stopped gateway's keystore: what the clock would do in a week.
// The moment the deletion was scheduled stays, so uses before it still
// don't count against the deletion.
func makeDeletionDue(t *testing.T, dataDir, keyID string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	due := time.Now().Add(-time.Hour)
	res, err := db.Exec(`UPDATE keys SET deletion_date = ? WHERE id = ? AND state = 'PendingDeletion'`, due.UnixNano(), keyID)
	if err != nil {
		t.Fatalf("keystore schema changed? %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("key %s is not pending deletion in the keystore (%d rows)", keyID, n)
	}
}
