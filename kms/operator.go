package kms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Operator functions back the `ssegate kms …` subcommands. They are not
// reachable through the KMS API handler.

// AllKeys lists every key, hidden ones included, with state, version
// count, aliases and last use.
func (c *Core) AllKeys(ctx context.Context) ([]KeyInfo, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT k.id, k.state, k.manager, k.hidden, k.last_used,
		(SELECT count(*) FROM key_versions v WHERE v.key_id = k.id) FROM keys k ORDER BY k.id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []KeyInfo
	for rows.Next() {
		k, err := c.scanKeyInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		ar, err := c.rdb.QueryContext(ctx, `SELECT name FROM aliases WHERE key_id = ? ORDER BY name`, out[i].KeyID)
		if err != nil {
			return nil, err
		}
		for ar.Next() {
			var n string
			if err := ar.Scan(&n); err != nil {
				ar.Close()
				return nil, err
			}
			out[i].Aliases = append(out[i].Aliases, n)
		}
		ar.Close()
	}
	return out, nil
}

// VerificationFailure names a key version whose material does not unseal,
// or (AccessKey set, KeyID "access-key/<id>") an access key secret, or
// (KeyID "custom-key-store/<id>") a custom key store credential.
type VerificationFailure struct {
	KeyID     string
	Version   uint32
	AccessKey string
}

// VerifyAll unseals every key version and the check value. It returns the
// versions that fail; err is only for failures to read the keystore.
func (c *Core) VerifyAll(ctx context.Context) ([]VerificationFailure, error) {
	master := c.masterKey()
	sealed, err := readCheck(ctx, c.rdb)
	if err != nil {
		return nil, err
	}
	if _, err := unseal(master, "", 0, purposeCheck, sealed); err != nil {
		return nil, ErrWrongMasterKey
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT key_id, version, sealed FROM key_versions ORDER BY key_id, version`)
	if err != nil {
		return nil, fmt.Errorf("read key versions: %w", err)
	}
	defer rows.Close()
	var bad []VerificationFailure
	for rows.Next() {
		var id string
		var v uint32
		var s []byte
		if err := rows.Scan(&id, &v, &s); err != nil {
			return nil, err
		}
		m, err := unseal(master, id, v, purposeKeyMaterial, s)
		if err != nil || len(m) != 32 {
			bad = append(bad, VerificationFailure{KeyID: id, Version: v})
		}
		clear(m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, col := range sealedSecrets {
		more, err := col.verify(ctx, c.rdb, master)
		bad = append(bad, more...)
		if err != nil {
			return bad, err
		}
	}
	return bad, nil
}

// sealedSecret names a table column of secrets sealed under the master key
// with the row's id as AAD: the access keys' secrets and the external key
// stores' credentials. RotateMasterKey re-seals them all the same way, and
// VerifyAll checks them all the same way.
type sealedSecret struct {
	table, idColumn, sealedColumn, purpose, what string
	valid                                        func(plain []byte) bool             // a well-formed secret
	failure                                      func(id string) VerificationFailure // how VerifyAll names a bad row
}

var sealedSecrets = []sealedSecret{
	{"access_keys", "access_key", "sealed_secret", purposeAccessSecret, "access key",
		func(m []byte) bool { return len(m) == accessSecretLen },
		func(id string) VerificationFailure {
			return VerificationFailure{KeyID: "access-key/" + id, AccessKey: id}
		}},
	{"custom_key_stores", "id", "sealed_credential", purposeXksCredential, "custom key store credential",
		func(m []byte) bool { _, err := parseXksCredential(m); return err == nil },
		func(id string) VerificationFailure { return VerificationFailure{KeyID: "custom-key-store/" + id} }},
}

// verify unseals every secret of col under master and reports the rows
// that do not unseal or are not well-formed.
func (col sealedSecret) verify(ctx context.Context, db *sql.DB, master []byte) ([]VerificationFailure, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+col.idColumn+`, `+col.sealedColumn+` FROM `+col.table+` ORDER BY `+col.idColumn)
	if err != nil {
		return nil, fmt.Errorf("read %ss: %w", col.what, err)
	}
	defer rows.Close()
	var bad []VerificationFailure
	for rows.Next() {
		var id string
		var sealed []byte
		if err := rows.Scan(&id, &sealed); err != nil {
			return nil, err
		}
		m, err := unseal(master, id, 0, col.purpose, sealed)
		if err != nil || !col.valid(m) {
			bad = append(bad, col.failure(id))
		}
		clear(m)
	}
	return bad, rows.Err()
}

// reseal moves every secret of col from old to nm inside RotateMasterKey's
// transaction. Table and column names are constants of this package.
func (col sealedSecret) reseal(ctx context.Context, tx *sql.Tx, old, nm []byte) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+col.idColumn+`, `+col.sealedColumn+` FROM `+col.table)
	if err != nil {
		return err
	}
	sealed := map[string][]byte{}
	for rows.Next() {
		var id string
		var s []byte
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return err
		}
		sealed[id] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id, s := range sealed {
		m, err := unseal(old, id, 0, col.purpose, s)
		if err != nil {
			return fmt.Errorf("%s %s does not unseal: %w", col.what, id, err)
		}
		ns, err := seal(nm, id, 0, col.purpose, m)
		clear(m)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+col.table+` SET `+col.sealedColumn+` = ? WHERE `+col.idColumn+` = ?`, ns, id); err != nil {
			return err
		}
	}
	return nil
}

// RotateMasterKey re-seals every key version, every access key secret and
// the check value under newMaster in one transaction: either all
// material moves or none does.
func (c *Core) RotateMasterKey(ctx context.Context, newMaster []byte) error {
	if len(newMaster) != MasterKeySize {
		return fmt.Errorf("%w: master key must be %d bytes", ErrValidation, MasterKeySize)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.master
	nm := append([]byte(nil), newMaster...)
	err := c.writeLocked(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT key_id, version, sealed FROM key_versions`)
		if err != nil {
			return err
		}
		type row struct {
			id     string
			v      uint32
			sealed []byte
		}
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.v, &r.sealed); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		for _, r := range all {
			m, err := unseal(old, r.id, r.v, purposeKeyMaterial, r.sealed)
			if err != nil {
				return fmt.Errorf("key %s version %d does not unseal: %w", r.id, r.v, err)
			}
			s, err := seal(nm, r.id, r.v, purposeKeyMaterial, m)
			clear(m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE key_versions SET sealed = ? WHERE key_id = ? AND version = ?`, s, r.id, r.v); err != nil {
				return err
			}
		}
		for _, col := range sealedSecrets {
			if err := col.reseal(ctx, tx, old, nm); err != nil {
				return err
			}
		}
		check := make([]byte, 32)
		if _, err := rand.Read(check); err != nil {
			return err
		}
		s, err := seal(nm, "", 0, purposeCheck, check)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE name = 'check'`, s)
		return err
	})
	if err != nil {
		return fmt.Errorf("rotate master key: %w", err)
	}
	c.master = nm
	return nil
}

// Backup format (docs/kms.md): magic, salt, nonce, AES-256-GCM of the
// SQLite file under a key derived from the master key.
const (
	backupMagic     = "SSGKMSB1"
	backupSaltSize  = 32
	backupNonceSize = 12
	// maxBackupSize bounds what Restore reads into memory.
	maxBackupSize = 1 << 30
)

func backupAEAD(master, salt []byte) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte("ssegate-kms/v1 backup"))
	mac.Write(salt)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Backup writes an encrypted, consistent snapshot of the keystore to w
// (VACUUM INTO a temporary file). Restoring needs the same master key.
func (c *Core) Backup(ctx context.Context, w io.Writer) error {
	dir, err := os.MkdirTemp(filepath.Dir(c.path), ".kms-backup-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	snap := filepath.Join(dir, "snapshot.db")
	if _, err := c.wdb.ExecContext(ctx, `VACUUM INTO ?`, snap); err != nil {
		return fmt.Errorf("backup: snapshot: %w", err)
	}
	db, err := os.ReadFile(snap)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer clear(db)
	salt := make([]byte, backupSaltSize)
	nonce := make([]byte, backupNonceSize)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	aead, err := backupAEAD(c.masterKey(), salt)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(backupMagic)
	buf.Write(salt)
	buf.Write(nonce)
	buf.Write(aead.Seal(nil, nonce, db, []byte(backupMagic)))
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	return nil
}

// ErrBadBackup means a backup is not ours, is damaged, or needs another
// master key.
var ErrBadBackup = errors.New("kms: backup is damaged or was made with another master key")

// Restore decrypts a backup made by Backup into a new keystore file at
// path (which must not exist) and checks that masterKey opens it.
func Restore(ctx context.Context, r io.Reader, path string, masterKey []byte) error {
	if len(masterKey) != MasterKeySize {
		return fmt.Errorf("%w: master key must be %d bytes", ErrValidation, MasterKeySize)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBackupSize+1))
	if err != nil {
		return fmt.Errorf("restore: read: %w", err)
	}
	hdr := len(backupMagic) + backupSaltSize + backupNonceSize
	if len(data) > maxBackupSize || len(data) < hdr || string(data[:len(backupMagic)]) != backupMagic {
		return ErrBadBackup
	}
	salt := data[len(backupMagic) : len(backupMagic)+backupSaltSize]
	nonce := data[len(backupMagic)+backupSaltSize : hdr]
	aead, err := backupAEAD(masterKey, salt)
	if err != nil {
		return err
	}
	db, err := aead.Open(nil, nonce, data[hdr:], []byte(backupMagic))
	if err != nil {
		return ErrBadBackup
	}
	defer clear(db)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := f.Write(db); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("restore: write: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return fmt.Errorf("restore: %w", err)
	}
	// Prove the restored keystore opens and every version unseals.
	c, err := Open(ctx, path, masterKey, Options{MaintenanceInterval: -1})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("restore: %w", err)
	}
	defer c.Close()
	bad, err := c.VerifyAll(ctx)
	if err != nil {
		return fmt.Errorf("restore: verify: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("restore: %d key versions do not unseal", len(bad))
	}
	return nil
}
