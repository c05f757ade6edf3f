package kms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// migrations[i] moves the schema from version i to i+1. Append only:
// never edit a released migration, old keystores must keep opening.
var migrations = []string{
	`CREATE TABLE schema_version (version INTEGER NOT NULL);
	 INSERT INTO schema_version (version) VALUES (0);
	 CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
	 CREATE TABLE keys (
		id TEXT PRIMARY KEY,
		description TEXT NOT NULL DEFAULT '',
		created INTEGER NOT NULL,
		state TEXT NOT NULL,
		manager TEXT NOT NULL,
		hidden INTEGER NOT NULL DEFAULT 0,
		deletion_date INTEGER NOT NULL DEFAULT 0,
		pending_days INTEGER NOT NULL DEFAULT 0,
		rotation_enabled INTEGER NOT NULL DEFAULT 0,
		rotation_period_days INTEGER NOT NULL DEFAULT 0,
		next_rotation INTEGER NOT NULL DEFAULT 0
	 );
	 CREATE TABLE key_versions (
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		version INTEGER NOT NULL,
		created INTEGER NOT NULL,
		rotation_type TEXT NOT NULL DEFAULT '',
		sealed BLOB NOT NULL,
		PRIMARY KEY (key_id, version)
	 );
	 CREATE TABLE aliases (
		name TEXT PRIMARY KEY,
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		created INTEGER NOT NULL,
		updated INTEGER NOT NULL
	 );
	 CREATE INDEX aliases_key ON aliases(key_id);
	 CREATE TABLE tags (
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		tag_key TEXT NOT NULL,
		tag_value TEXT NOT NULL,
		PRIMARY KEY (key_id, tag_key)
	 );`,
	// 2: key usage tracking for the deletion rule (docs/kms.md, "Deletion").
	// Keys already pending deletion get their scheduling time back from
	// the deletion date and window, so the rule applies to them too.
	`ALTER TABLE keys ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE keys ADD COLUMN deletion_scheduled INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE keys ADD COLUMN deletion_forced INTEGER NOT NULL DEFAULT 0;
	 UPDATE keys SET deletion_scheduled = deletion_date - pending_days * 86400000000000
		WHERE state = 'PendingDeletion';`,
	// 3: principals and authorization (docs/authorization.md): users and
	// their access keys (secrets sealed under the master key), key
	// policies ('' is the default policy) and grants.
	`CREATE TABLE users (
		name TEXT PRIMARY KEY COLLATE NOCASE,
		id TEXT NOT NULL,
		created INTEGER NOT NULL
	 );
	 CREATE TABLE access_keys (
		access_key TEXT PRIMARY KEY,
		user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
		sealed_secret BLOB NOT NULL,
		status TEXT NOT NULL,
		created INTEGER NOT NULL
	 );
	 CREATE INDEX access_keys_user ON access_keys(user_name);
	 ALTER TABLE keys ADD COLUMN policy TEXT NOT NULL DEFAULT '';
	 CREATE TABLE grants (
		id TEXT PRIMARY KEY,
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		name TEXT NOT NULL DEFAULT '',
		grantee TEXT NOT NULL,
		retiring TEXT NOT NULL DEFAULT '',
		operations TEXT NOT NULL,
		constraints TEXT NOT NULL DEFAULT '',
		issuer TEXT NOT NULL,
		token TEXT NOT NULL,
		created INTEGER NOT NULL
	 );
	 CREATE INDEX grants_key ON grants(key_id);
	 CREATE INDEX grants_retiring ON grants(retiring);
	 CREATE UNIQUE INDEX grants_token ON grants(token);`,
	// 4: key specs and usages, imported material, multi-Region keys and
	// custom key stores (docs/kms.md, "Schema version 4"). Existing keys
	// are what they always were: symmetric, KMS-generated, single-Region.
	`ALTER TABLE keys ADD COLUMN key_spec TEXT NOT NULL DEFAULT 'SYMMETRIC_DEFAULT';
	 ALTER TABLE keys ADD COLUMN key_usage TEXT NOT NULL DEFAULT 'ENCRYPT_DECRYPT';
	 ALTER TABLE keys ADD COLUMN origin TEXT NOT NULL DEFAULT 'AWS_KMS';
	 ALTER TABLE keys ADD COLUMN multi_region TEXT NOT NULL DEFAULT '';
	 ALTER TABLE keys ADD COLUMN primary_region TEXT NOT NULL DEFAULT '';
	 ALTER TABLE keys ADD COLUMN custom_key_store_id TEXT NOT NULL DEFAULT '';
	 ALTER TABLE keys ADD COLUMN xks_key_id TEXT NOT NULL DEFAULT '';
	 ALTER TABLE keys ADD COLUMN material_expires INTEGER NOT NULL DEFAULT 0;
	 CREATE TABLE import_tokens (
		token TEXT PRIMARY KEY,
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		wrapping_algorithm TEXT NOT NULL,
		wrapping_key_spec TEXT NOT NULL,
		sealed_private BLOB NOT NULL,
		expires INTEGER NOT NULL
	 );
	 CREATE INDEX import_tokens_key ON import_tokens(key_id);
	 CREATE TABLE replicas (
		key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
		region TEXT NOT NULL,
		PRIMARY KEY (key_id, region)
	 );
	 CREATE TABLE custom_key_stores (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		type TEXT NOT NULL,
		endpoint TEXT NOT NULL,
		path TEXT NOT NULL DEFAULT '',
		connectivity TEXT NOT NULL DEFAULT '',
		sealed_credential BLOB,
		state TEXT NOT NULL,
		created INTEGER NOT NULL
	 );`,
}

// schemaVersion is the version this binary writes.
var schemaVersion = len(migrations)

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// keystoreMode is the permission of kms.db and its -wal and -shm files:
// they hold sealed key material and the audit-relevant key states, which
// no other local user has any business reading.
const keystoreMode os.FileMode = 0o600

// restrictKeystoreFiles creates the keystore file with keystoreMode if it
// is missing, so SQLite (which gives -wal and -shm the mode of the main
// file) never creates any of them world-readable, and takes group and
// other permissions away from files an older version left behind.
func restrictKeystoreFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, keystoreMode)
	if err != nil {
		return fmt.Errorf("open keystore: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open keystore: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("keystore permissions: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&^0o077); err != nil {
				return fmt.Errorf("keystore permissions: %w", err)
			}
		}
	}
	return nil
}

// openDBs opens the single-connection writer and the read pool.
func openDBs(path string) (w, r *sql.DB, err error) {
	if err := restrictKeystoreFiles(path); err != nil {
		return nil, nil, err
	}
	w, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, nil, fmt.Errorf("open keystore: %w", err)
	}
	// One writer connection: SQLite serialises writers anyway, and one
	// connection avoids SQLITE_BUSY between our own goroutines.
	w.SetMaxOpenConns(1)
	r, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("open keystore: %w", err)
	}
	r.SetMaxOpenConns(4)
	return w, r, nil
}

// currentSchema returns the schema version, 0 for an empty database.
func currentSchema(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read schema: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate applies the missing migrations, each in its own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	v, err := currentSchema(ctx, db)
	if err != nil {
		return err
	}
	if v > schemaVersion {
		return fmt.Errorf("keystore schema version %d is newer than this binary (%d)", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate keystore to %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, v+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate keystore to %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate keystore to %d: %w", v+1, err)
		}
	}
	return nil
}

// readCheck returns the sealed check value, or nil for a new keystore.
func readCheck(ctx context.Context, db *sql.DB) ([]byte, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read keystore: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	var sealed []byte
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE name='check'`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keystore check value: %w", err)
	}
	return sealed, nil
}
