package kms

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// keyRecord is one row of the keys table.
type keyRecord struct {
	id              string
	description     string
	created         time.Time
	state           KeyState
	manager         KeyManager
	hidden          bool
	deletionDate    time.Time
	pendingDays     int
	rotationEnabled bool
	rotationPeriod  int
	nextRotation    time.Time
	// deletionScheduled is when ScheduleKeyDeletion ran; a use at or
	// after it makes the due deletion wait unless deletionForced.
	deletionScheduled time.Time
	deletionForced    bool
	// lastUsed is the last flushed cryptographic use (usage.go); the
	// unflushed one lives in Core.usage. mutateKey never writes it.
	lastUsed time.Time

	// Schema v4 (docs/kms.md). keySpec is SYMMETRIC_DEFAULT, RSA_*,
	// ECC_NIST_*, HMAC_*; keyUsage ENCRYPT_DECRYPT, SIGN_VERIFY or
	// GENERATE_VERIFY_MAC; origin AWS_KMS, EXTERNAL (imported material) or
	// EXTERNAL_KEY_STORE.
	keySpec  string
	keyUsage string
	origin   string
	// multiRegion is "" (single-Region), "PRIMARY" or "REPLICA";
	// primaryRegion names the primary's region for both.
	multiRegion      string
	primaryRegion    string
	customKeyStoreID string
	xksKeyID         string
	// materialExpires is the ValidTo of imported material; zero = never.
	materialExpires time.Time

	// initial is the first version's material prepared before CreateKey's
	// transaction (keyspec.go prepareMaterial); nil = 32 random bytes.
	// Never stored in this form.
	initial []byte
}

// withDefaults fills the v4 fields of a record made by code that predates
// them: a symmetric, KMS-generated, single-Region key.
func (k keyRecord) withDefaults() keyRecord {
	if k.keySpec == "" {
		k.keySpec = "SYMMETRIC_DEFAULT"
	}
	if k.keyUsage == "" {
		k.keyUsage = "ENCRYPT_DECRYPT"
	}
	if k.origin == "" {
		k.origin = "AWS_KMS"
	}
	return k
}

const keyColumns = `id, description, created, state, manager, hidden, deletion_date, pending_days, rotation_enabled, rotation_period_days, next_rotation, deletion_scheduled, deletion_forced, last_used, ` +
	`key_spec, key_usage, origin, multi_region, primary_region, custom_key_store_id, xks_key_id, material_expires`

type rowScanner interface{ Scan(...any) error }

func scanKey(r rowScanner) (keyRecord, error) {
	var k keyRecord
	var created, del, next, scheduled, used, expires int64
	var state, manager string
	err := r.Scan(&k.id, &k.description, &created, &state, &manager, &k.hidden, &del, &k.pendingDays, &k.rotationEnabled, &k.rotationPeriod, &next,
		&scheduled, &k.deletionForced, &used,
		&k.keySpec, &k.keyUsage, &k.origin, &k.multiRegion, &k.primaryRegion, &k.customKeyStoreID, &k.xksKeyID, &expires)
	if err != nil {
		return k, err
	}
	k.created = time.Unix(0, created).UTC()
	k.state, k.manager = KeyState(state), KeyManager(manager)
	k.deletionDate = fromUnixNano(del)
	k.nextRotation = fromUnixNano(next)
	k.deletionScheduled = fromUnixNano(scheduled)
	k.lastUsed = fromUnixNano(used)
	k.materialExpires = fromUnixNano(expires)
	return k, nil
}

// fromUnixNano is the inverse of unixNano: 0 is the zero time.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getKey(ctx context.Context, q querier, id string) (keyRecord, error) {
	k, err := scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if err != nil {
		return k, fmt.Errorf("%w: read key: %v", ErrInternal, err)
	}
	return k, nil
}

func (c *Core) metadata(k keyRecord) KeyMetadata {
	m := KeyMetadata{
		KeyID: k.id, ARN: c.arn(k.id), Description: k.description,
		CreationDate: k.created, Enabled: k.state == KeyStateEnabled,
		KeyState: k.state, KeyManager: k.manager,
		KeySpec: k.keySpec, KeyUsage: k.keyUsage, Origin: k.origin,
		MultiRegion: k.multiRegion, PrimaryRegion: k.primaryRegion,
		CustomKeyStoreID: k.customKeyStoreID, XksKeyID: k.xksKeyID, ValidTo: k.materialExpires,
	}
	if m.KeySpec == "" || m.Origin == "" { // a record built in memory before the v4 fields are set
		d := k.withDefaults()
		m.KeySpec, m.KeyUsage, m.Origin = d.keySpec, d.keyUsage, d.origin
	}
	if k.state == KeyStatePendingDeletion {
		m.DeletionDate = k.deletionDate
		m.PendingDeletionWindowInDays = k.pendingDays
	}
	return m
}

// apiCallKey marks a context as coming through the KMS API handler, where
// the gateway-owned SSE-S3 key does not exist and alias/aws/ is reserved.
type apiCallKey struct{}

func withAPICall(ctx context.Context) context.Context {
	return context.WithValue(ctx, apiCallKey{}, true)
}

func isAPICall(ctx context.Context) bool {
	v, _ := ctx.Value(apiCallKey{}).(bool)
	return v
}

// resolveID turns a key id, key ARN, alias name or alias ARN into a key id.
// The AWS-managed S3 key and, in process, the SSE-S3 key are created on
// first use.
func (c *Core) resolveID(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: KeyId is required", ErrValidation)
	}
	if strings.HasPrefix(ref, "arn:") {
		rest, ok := strings.CutPrefix(ref, "arn:aws:kms:"+c.opts.Region+":"+c.opts.AccountID+":")
		if !ok {
			if strings.Count(ref, ":") < 5 {
				return "", fmt.Errorf("%w: malformed ARN", ErrInvalidArn)
			}
			return "", fmt.Errorf("%w: key %s", ErrNotFound, ref)
		}
		ref = rest
		if id, ok := strings.CutPrefix(ref, "key/"); ok {
			ref = id
		} else if !strings.HasPrefix(ref, "alias/") {
			return "", fmt.Errorf("%w: malformed ARN", ErrInvalidArn)
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		return c.resolveAlias(ctx, ref)
	}
	// A UUID or a multi-Region key id (mrk-...); canonical form as stored.
	raw, mrk, ok := parseKeyID(ref)
	if !ok {
		return "", fmt.Errorf("%w: key %s", ErrNotFound, ref)
	}
	id := (&blobHeader{keyID: raw, mrk: mrk}).id()
	if isAPICall(ctx) && c.isHidden(ctx, id) {
		return "", fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return id, nil
}

func (c *Core) isHidden(ctx context.Context, id string) bool {
	if ck, ok := c.cache.get(id); ok {
		return ck.rec.hidden
	}
	var hidden bool
	err := c.rdb.QueryRowContext(ctx, `SELECT hidden FROM keys WHERE id = ?`, id).Scan(&hidden)
	return err == nil && hidden
}

func (c *Core) resolveAlias(ctx context.Context, name string) (string, error) {
	if name == SSES3KeyAlias && isAPICall(ctx) {
		return "", fmt.Errorf("%w: alias %s", ErrNotFound, name)
	}
	if id, ok := c.cache.alias(name); ok {
		return id, nil
	}
	gen := c.cache.generation()
	var id string
	err := c.rdb.QueryRowContext(ctx, `SELECT key_id FROM aliases WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		switch name {
		case AWSManagedS3Alias:
			return c.createManagedKey(ctx, name, KeyManagerAWS, false, "Default key that protects my S3 objects when no other key is defined")
		case SSES3KeyAlias:
			return c.createManagedKey(ctx, name, KeyManagerAWS, true, "ssegate SSE-S3 key")
		}
		return "", fmt.Errorf("%w: alias %s", ErrNotFound, name)
	}
	if err != nil {
		return "", fmt.Errorf("%w: read alias: %v", ErrInternal, err)
	}
	c.cache.putAlias(name, id, gen)
	return id, nil
}

// createManagedKey creates a key owned by the service (AWS-managed or
// hidden), once, with automatic yearly rotation as AWS does.
func (c *Core) createManagedKey(ctx context.Context, alias string, manager KeyManager, hidden bool, desc string) (string, error) {
	c.createMu.Lock()
	defer c.createMu.Unlock()
	var id string
	err := c.rdb.QueryRowContext(ctx, `SELECT key_id FROM aliases WHERE name = ?`, alias).Scan(&id)
	if err == nil {
		return id, nil
	}
	rec := keyRecord{
		id: uuid.NewString(), description: desc, created: c.now(),
		state: KeyStateEnabled, manager: manager, hidden: hidden,
		rotationEnabled: true, rotationPeriod: 365,
	}
	rec.nextRotation = rec.created.AddDate(0, 0, 365)
	err = c.write(ctx, func(tx *sql.Tx) error {
		if err := c.insertKey(ctx, tx, rec); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO aliases (name, key_id, created, updated) VALUES (?, ?, ?, ?)`,
			alias, rec.id, rec.created.UnixNano(), rec.created.UnixNano())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%w: create managed key: %v", ErrInternal, err)
	}
	return rec.id, nil
}

// insertKey inserts a key row and its first version.
func (c *Core) insertKey(ctx context.Context, tx *sql.Tx, k keyRecord) error {
	k = k.withDefaults()
	_, err := tx.ExecContext(ctx, `INSERT INTO keys (`+keyColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		k.id, k.description, k.created.UnixNano(), string(k.state), string(k.manager), k.hidden,
		unixNano(k.deletionDate), k.pendingDays, k.rotationEnabled, k.rotationPeriod, unixNano(k.nextRotation),
		unixNano(k.deletionScheduled), k.deletionForced, unixNano(k.lastUsed),
		k.keySpec, k.keyUsage, k.origin, k.multiRegion, k.primaryRegion, k.customKeyStoreID, k.xksKeyID, unixNano(k.materialExpires))
	if err != nil {
		return fmt.Errorf("%w: insert key: %v", ErrInternal, err)
	}
	if awaitingMaterial(k) {
		return nil // ImportKeyMaterial or the primary brings it
	}
	if k.initial != nil {
		return c.insertVersion(ctx, tx, k.id, 1, "", c.now(), k.initial)
	}
	return c.addVersion(ctx, tx, k.id, 1, "")
}

// addVersion generates and stores sealed material for a new key version.
func (c *Core) addVersion(ctx context.Context, tx *sql.Tx, id string, version uint32, rotationType string) error {
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return fmt.Errorf("%w: random", ErrInternal)
	}
	defer clear(material)
	return c.insertVersion(ctx, tx, id, version, rotationType, c.now(), material)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// loadKey returns a key with its unsealed versions, from the cache when
// fresh. This is the data path: reads only, no SQLite write, no KDF.
func (c *Core) loadKey(ctx context.Context, id string) (*cachedKey, error) {
	if ck, ok := c.cache.get(id); ok {
		return ck, nil
	}
	gen := c.cache.generation()
	// Hold the master key lock across read and unseal so a concurrent
	// RotateMasterKey can't hand us rows sealed under the other key.
	c.mu.RLock()
	defer c.mu.RUnlock()
	rec, err := getKey(ctx, c.rdb, id)
	if err != nil {
		return nil, err
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT version, sealed FROM key_versions WHERE key_id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("%w: read key versions: %v", ErrInternal, err)
	}
	defer rows.Close()
	ck := &cachedKey{rec: rec, versions: map[uint32][]byte{}}
	master := c.master
	for rows.Next() {
		var v uint32
		var sealed []byte
		if err := rows.Scan(&v, &sealed); err != nil {
			return nil, fmt.Errorf("%w: read key versions: %v", ErrInternal, err)
		}
		m, err := unseal(master, id, v, purposeKeyMaterial, sealed)
		if err != nil {
			c.log.Error("key version does not unseal", "key", id, "version", v)
			return nil, fmt.Errorf("%w: key material of %s v%d does not unseal", ErrInternal, id, v)
		}
		ck.versions[v] = m
		ck.latest = max(ck.latest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: read key versions: %v", ErrInternal, err)
	}
	// A key waiting for its material (imported, or a replica being
	// created) has none; every other key has at least version 1.
	if ck.latest == 0 && !awaitingMaterial(rec) {
		return nil, fmt.Errorf("%w: key %s has no versions", ErrInternal, id)
	}
	if ck.authz, err = c.loadAuthz(ctx, rec); err != nil {
		return nil, err
	}
	c.cache.put(id, ck, gen)
	return ck, nil
}

// usable reports why a key can't be used for cryptographic operations.
// Imported material past its ValidTo makes the key unusable at once,
// before maintenance marks it PendingImport (imported.go).
func (c *Core) usable(k keyRecord) error {
	if materialExpired(k, c.now()) {
		return fmt.Errorf("%w: key material of %s expired", ErrInvalidState, k.id)
	}
	switch k.state {
	case KeyStateEnabled:
		return nil
	case KeyStateDisabled:
		return fmt.Errorf("%w: %s", ErrDisabled, k.id)
	default:
		return fmt.Errorf("%w: %s is %s", ErrInvalidState, k.id, k.state)
	}
}
