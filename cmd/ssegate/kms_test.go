package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store/fs"
)

// newKeystore creates <dir>/kms.db and <dir>/master.key as serve would.
func newKeystore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mk, err := kms.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kms.Open(context.Background(), filepath.Join(dir, "kms.db"), mk, kms.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return dir
}

// runCmd runs ssegate with args and returns exit code and stdout+stderr.
func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, env(), &out, &out)
	return code, out.String()
}

func TestKMSCommandsCreateListRotateBackupRestoreVerify(t *testing.T) {
	dir := newKeystore(t)
	code, out := runCmd(t, "kms", "create", "--data-dir", dir, "--description", "backups", "--alias", "alias/backup")
	if code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	keyID := strings.Fields(out)[0]

	if code, out = runCmd(t, "kms", "rotate", keyID, "--data-dir", dir); code != 0 {
		t.Fatalf("rotate: %d %s", code, out)
	}
	code, out = runCmd(t, "kms", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, keyID) || !strings.Contains(out, "alias/backup") || !strings.Contains(out, "Enabled") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, keyID) && !strings.Contains(line, "  2  ") {
			t.Errorf("list line %q: want 2 versions after rotate", line)
		}
	}
	if code, out = runCmd(t, "kms", "disable", "--data-dir", dir, "alias/backup"); code != 0 {
		t.Fatalf("disable: %d %s", code, out)
	}
	if _, out = runCmd(t, "kms", "list", "--data-dir", dir); !strings.Contains(out, "Disabled") {
		t.Errorf("list after disable:\n%s", out)
	}

	backup := filepath.Join(t.TempDir(), "kms.backup")
	if code, out = runCmd(t, "kms", "backup", "--data-dir", dir, backup); code != 0 {
		t.Fatalf("backup: %d %s", code, out)
	}
	if code, out = runCmd(t, "kms", "backup", "--data-dir", dir, backup); code == 0 {
		t.Errorf("backup over an existing file succeeded: %s", out)
	}
	raw, _ := os.ReadFile(backup)
	if bytes.Contains(raw, []byte("SQLite format")) || bytes.Contains(raw, []byte(keyID)) {
		t.Error("backup is not encrypted")
	}

	// Restore into a fresh data dir holding only the master key.
	dir2 := t.TempDir()
	mk, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	if err := os.WriteFile(filepath.Join(dir2, "master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out = runCmd(t, "kms", "restore", "--data-dir", dir2, backup); code != 0 {
		t.Fatalf("restore: %d %s", code, out)
	}
	if code, out = runCmd(t, "kms", "restore", "--data-dir", dir2, backup); code == 0 {
		t.Errorf("restore over an existing keystore succeeded: %s", out)
	}
	if code, out = runCmd(t, "kms", "list", "--data-dir", dir2); code != 0 || !strings.Contains(out, keyID) {
		t.Fatalf("list restored: %d %s", code, out)
	}
	if code, out = runCmd(t, "kms", "verify", "--data-dir", dir2); code != 0 {
		t.Fatalf("verify restored: %d %s", code, out)
	}
	// A restore with another master key is refused.
	dir3 := t.TempDir()
	if _, err := kms.LoadOrCreateMasterKey(filepath.Join(dir3, "master.key")); err != nil {
		t.Fatal(err)
	}
	if code, _ = runCmd(t, "kms", "restore", "--data-dir", dir3, backup); code == 0 {
		t.Error("restore with the wrong master key succeeded")
	}
}

func TestKMSVerifyFailsWithWrongMasterKey(t *testing.T) {
	dir := newKeystore(t)
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := kms.LoadOrCreateMasterKey(other); err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd(t, "kms", "verify", "--data-dir", dir, "--master-key-file", other); code != 1 {
		t.Fatalf("verify with the wrong master key: exit %d, want 1: %s", code, out)
	}
}

func TestKMSRotateMasterKeyThenNewKeyOpensKeystore(t *testing.T) {
	dir := newKeystore(t)
	code, out := runCmd(t, "kms", "create", "--data-dir", dir)
	if code != 0 {
		t.Fatal(out)
	}
	keyID := strings.Fields(out)[0]
	newKey := filepath.Join(t.TempDir(), "new.key")
	if code, out = runCmd(t, "kms", "rotate-master-key", "--data-dir", dir, "--new-master-key-file", newKey); code != 0 {
		t.Fatalf("rotate-master-key: %d %s", code, out)
	}
	if code, _ = runCmd(t, "kms", "list", "--data-dir", dir); code == 0 {
		t.Error("old master key still opens the keystore")
	}
	code, out = runCmd(t, "kms", "list", "--data-dir", dir, "--master-key-file", newKey)
	if code != 0 || !strings.Contains(out, keyID) {
		t.Fatalf("list with new master key: %d %s", code, out)
	}
	if code, out = runCmd(t, "kms", "verify", "--data-dir", dir, "--master-key-file", newKey); code != 0 {
		t.Fatalf("verify: %d %s", code, out)
	}
}

func TestKMSCommandsRefuseKeystoreInUse(t *testing.T) {
	dir := newKeystore(t)
	mk, err := kms.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	// What a running serve holds.
	c, err := kms.Open(context.Background(), filepath.Join(dir, "kms.db"), mk, kms.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	code, out := runCmd(t, "kms", "create", "--data-dir", dir)
	if code != 1 || !strings.Contains(out, "in use") {
		t.Errorf("create while in use: exit %d %s", code, out)
	}
	c.Close()
	if code, out = runCmd(t, "kms", "create", "--data-dir", dir); code != 0 {
		t.Errorf("create after close: exit %d %s", code, out)
	}
}

func TestKMSCommandsRejectBadUsage(t *testing.T) {
	dir := newKeystore(t)
	for _, args := range [][]string{
		{"kms"},
		{"kms", "frobnicate", "--data-dir", dir},
		{"kms", "rotate", "--data-dir", dir},
		{"kms", "rotate-master-key", "--data-dir", dir},
		{"rewrap", "--to-kms-key", "k", "--to-sse-s3", "--data-dir", dir},
		{"verify", "a", "b", "--data-dir", dir},
	} {
		if code, out := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, out)
		}
	}
	// No keystore: refused, and nothing is created.
	empty := t.TempDir()
	if code, _ := runCmd(t, "kms", "list", "--data-dir", empty); code != 1 {
		t.Errorf("list without keystore: exit %d", code)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("list without keystore created %d files", len(ents))
	}
}

func TestVerifyAndRewrapCommandsOnEmptyBackend(t *testing.T) {
	dir := newKeystore(t)
	st, err := fs.New(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(context.Background(), "bkt"); err != nil {
		t.Fatal(err)
	}
	code, out := runCmd(t, "verify", "--data-dir", dir, "bkt")
	if code != 0 || !strings.Contains(out, "scanned 0") {
		t.Errorf("verify: %d %s", code, out)
	}
	code, out = runCmd(t, "rewrap", "--data-dir", dir, "--dry-run")
	if code != 0 || !strings.Contains(out, "scanned 0") {
		t.Errorf("rewrap: %d %s", code, out)
	}
	if code, out = runCmd(t, "verify", "--data-dir", dir, "no-such-bucket"); code != 1 {
		t.Errorf("verify of a missing bucket: %d %s", code, out)
	}
}
