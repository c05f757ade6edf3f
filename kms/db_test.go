package kms

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func wantMode(t testing.TB, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o, want %o", filepath.Base(path), got, want)
	}
}

func TestNewKeystoreFilesAreOwnerOnly(t *testing.T) {
	tc := newTestCore(t)
	// A write makes sure the WAL and its index exist.
	tc.key(t)
	for _, p := range []string{tc.path, tc.path + "-wal", tc.path + "-shm"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v (expected SQLite in WAL mode to have created it)", p, err)
		}
		wantMode(t, p, 0o600)
	}
}

func TestOpenTightensAWorldReadableKeystore(t *testing.T) {
	tc := newTestCore(t)
	tc.key(t)
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	// An older version created the files 0644; a WAL and index may be
	// left over from a crash (a clean close removes them, so they are
	// made here, empty, which SQLite treats as no WAL).
	files := []string{tc.path, tc.path + "-wal", tc.path + "-shm"}
	for _, p := range files {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Open(context.Background(), tc.path, tc.master, Options{Now: tc.clock.Now, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range files {
		wantMode(t, p, 0o600)
	}
}

// TestSchemaOneKeystoreKeepsItsPendingDeletion opens a keystore written by
// schema version 1 (no usage columns) with a key pending deletion: the
// migration derives when the deletion was scheduled, and a key never used
// since is deleted when due, as before.
func TestSchemaOneKeystoreKeepsItsPendingDeletion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kms.db")
	clock := newFakeClock()
	master := randomMaster(t)
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	const id = "6f1c1f7e-2b7a-4c55-9a8e-0d7c6a1b2c3d"
	scheduled := clock.Now()
	due := scheduled.Add(7 * day)
	for _, q := range []string{migrations[0], `UPDATE schema_version SET version = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err = db.Exec(`INSERT INTO keys (id, created, state, manager, deletion_date, pending_days) VALUES (?, ?, 'PendingDeletion', 'CUSTOMER', ?, 7)`,
		id, scheduled.Add(-time.Hour).UnixNano(), due.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	c, err := Open(ctx, path, master, Options{Now: clock.Now, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := currentSchema(ctx, c.rdb); err != nil || v != schemaVersion || v < 2 {
		t.Fatalf("schema after open = %d, %v; want %d", v, err, schemaVersion)
	}
	k, err := getKey(ctx, c.rdb, id)
	if err != nil {
		t.Fatal(err)
	}
	if !k.deletionScheduled.Equal(scheduled) || k.deletionForced || !k.lastUsed.IsZero() {
		t.Fatalf("migrated key: scheduled %v forced %v lastUsed %v; want scheduled %v, unforced, unused",
			k.deletionScheduled, k.deletionForced, k.lastUsed, scheduled)
	}
	clock.Advance(7 * day)
	if err := c.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeKey(ctx, id)
	wantErr(t, err, ErrNotFound)
}
