package kms

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

const maxDescription = 8192

// CreateKey creates a symmetric customer-managed key.
func (c *Core) CreateKey(ctx context.Context, in CreateKeyInput) (md KeyMetadata, err error) {
	o, err := c.begin(ctx, "CreateKey")
	if err != nil {
		return md, err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:CreateKey"); err != nil {
		return md, err
	}
	if len(in.Description) > maxDescription {
		return md, fmt.Errorf("%w: Description is too long", ErrValidation)
	}
	if err := validateTags(in.Tags); err != nil {
		return md, err
	}
	// Only symmetric encryption keys with KMS-generated material exist so
	// far; issue 11 adds the other specs, origins and multi-Region keys.
	if in.Origin != "" && in.Origin != "AWS_KMS" && in.Origin != originExternal && in.Origin != originExternalStore && in.Origin != "AWS_CLOUDHSM" {
		return md, fmt.Errorf("%w: only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys with origin AWS_KMS are supported", ErrUnsupported)
	}
	if len(in.Tags) > maxTags {
		return md, fmt.Errorf("%w: at most %d tags", ErrTagException, maxTags)
	}
	rec := keyRecord{
		id: uuid.NewString(), description: in.Description, created: c.now().UTC(),
		state: KeyStateEnabled, manager: KeyManagerCustomer,
	}
	// Part A: KeySpec and KeyUsage (keyspec.go).
	if err := checkSpec(&in, &rec); err != nil {
		return md, err
	}
	// Part B: Origin EXTERNAL (imported.go) and MultiRegion (multiregion.go).
	if err := c.checkImportedAndMultiRegion(in, &rec); err != nil {
		return md, err
	}
	// Part C: Origin EXTERNAL_KEY_STORE, CustomKeyStoreId, XksKeyId (keystore.go).
	if err := c.checkExternalKey(ctx, in, &rec); err != nil {
		return md, err
	}
	o.key(rec.id, 1)
	if in.Policy != "" {
		if _, err := c.checkNewPolicy(ctx, rec, &authzState{tags: in.Tags}, in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return md, err
		}
	}
	// Part A: asymmetric and HMAC material is generated outside the
	// transaction; imported and external-store keys get none here.
	if rec.origin == "" || rec.origin == "AWS_KMS" {
		if err := prepareMaterial(&rec); err != nil {
			return md, err
		}
		defer clear(rec.initial)
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		if err := c.checkKeyQuota(ctx, tx); err != nil {
			return err
		}
		if err := c.insertKey(ctx, tx, rec); err != nil {
			return err
		}
		if in.Policy != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET policy = ? WHERE id = ?`, in.Policy, rec.id); err != nil {
				return fmt.Errorf("%w: store key policy: %v", ErrInternal, err)
			}
		}
		for k, v := range in.Tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?,?,?)`, rec.id, k, v); err != nil {
				return fmt.Errorf("%w: insert tag: %v", ErrInternal, err)
			}
		}
		return nil
	})
	if err != nil {
		return md, err
	}
	return c.metadata(rec), nil
}

// DescribeKey returns a key's metadata.
func (c *Core) DescribeKey(ctx context.Context, keyID string) (md KeyMetadata, err error) {
	o, err := c.begin(ctx, "DescribeKey")
	if err != nil {
		return md, err
	}
	defer func() { o.end(err) }()
	rec, err := c.keyByRef(ctx, keyID)
	if err != nil {
		return md, err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:DescribeKey"}); err != nil {
		return md, err
	}
	md = c.metadata(rec)
	return md, c.fillMultiRegion(ctx, &md)
}

// keyByRef resolves ref and reads the key's current row.
func (c *Core) keyByRef(ctx context.Context, ref string) (keyRecord, error) {
	id, err := c.resolveID(ctx, ref)
	if err != nil {
		return keyRecord{}, err
	}
	rec, err := getKey(ctx, c.rdb, id)
	if err != nil {
		return rec, err
	}
	if rec.hidden && isAPICall(ctx) {
		return keyRecord{}, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	return rec, nil
}

// KeyInfo is a ListKeys entry; the operator view adds state and versions.
type KeyInfo struct {
	KeyID    string
	ARN      string
	State    KeyState
	Manager  KeyManager
	Versions int
	Aliases  []string
	Hidden   bool
	// LastUsed is the last time a cryptographic operation (Encrypt,
	// Decrypt, ReEncrypt, GenerateDataKey*) named the key, attempts
	// refused by the key's state included; zero if never (since schema 2).
	LastUsed time.Time
}

// ListKeys lists keys in id order, paginated by an opaque marker. Hidden
// keys are left out.
func (c *Core) ListKeys(ctx context.Context, limit int, marker string) (keys []KeyInfo, next string, err error) {
	o, err := c.begin(ctx, "ListKeys")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:ListKeys"); err != nil {
		return nil, "", err
	}
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT k.id, k.state, k.manager, k.hidden, k.last_used, (SELECT count(*) FROM key_versions v WHERE v.key_id = k.id)
		FROM keys k WHERE k.hidden = 0 AND k.id > ? ORDER BY k.id LIMIT ?`, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("%w: list keys: %v", ErrInternal, err)
	}
	defer rows.Close()
	for rows.Next() {
		k, err := c.scanKeyInfo(rows)
		if err != nil {
			return nil, "", fmt.Errorf("%w: list keys: %v", ErrInternal, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%w: list keys: %v", ErrInternal, err)
	}
	keys, next = page(keys, limit, func(k KeyInfo) string { return k.KeyID })
	return keys, next, nil
}

// scanKeyInfo reads id, state, manager, hidden, last_used and the version
// count, and merges the unflushed last use.
func (c *Core) scanKeyInfo(r rowScanner) (KeyInfo, error) {
	var k KeyInfo
	var used int64
	if err := r.Scan(&k.KeyID, &k.State, &k.Manager, &k.Hidden, &used, &k.Versions); err != nil {
		return k, err
	}
	k.ARN = c.arn(k.KeyID)
	k.LastUsed = c.lastUsed(k.KeyID, fromUnixNano(used))
	return k, nil
}

// mutateKey runs fn on a key's row inside a write transaction.
func (c *Core) mutateKey(ctx context.Context, name, ref string, fn func(tx *sql.Tx, k *keyRecord) error) (rec keyRecord, err error) {
	o, err := c.begin(ctx, name)
	if err != nil {
		return rec, err
	}
	defer func() { o.end(err) }()
	id, err := c.resolveID(ctx, ref)
	if err != nil {
		return rec, err
	}
	o.key(id, 0)
	if caller, _ := CallerFrom(ctx); caller.ARN != "" {
		if isAPICall(ctx) && c.isHidden(ctx, id) {
			return rec, fmt.Errorf("%w: key %s", ErrNotFound, id)
		}
		// ScheduleKeyDeletionForce is the operator's; a caller needs
		// the permission AWS's operation of that name needs.
		action := "kms:" + strings.TrimSuffix(name, "Force")
		if err := c.authorizeID(ctx, o, id, authzRequest{action: action}); err != nil {
			return rec, err
		}
	} else {
		o.record("Allow", decidedByOperator)
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if k.hidden && isAPICall(ctx) {
			return fmt.Errorf("%w: key %s", ErrNotFound, id)
		}
		if err := fn(tx, &k); err != nil {
			return err
		}
		rec = k
		// last_used is left alone: flushUsage owns it.
		_, err = tx.ExecContext(ctx, `UPDATE keys SET description=?, state=?, deletion_date=?, pending_days=?, rotation_enabled=?, rotation_period_days=?, next_rotation=?,
			deletion_scheduled=?, deletion_forced=? WHERE id=?`,
			k.description, string(k.state), unixNano(k.deletionDate), k.pendingDays, k.rotationEnabled, k.rotationPeriod, unixNano(k.nextRotation),
			unixNano(k.deletionScheduled), k.deletionForced, k.id)
		if err != nil {
			return fmt.Errorf("%w: update key: %v", ErrInternal, err)
		}
		return nil
	})
	return rec, err
}

// customerOnly refuses changes to AWS-managed keys, which users can't
// disable, delete or otherwise administer (their key policy denies it).
func customerOnly(k *keyRecord) error {
	if k.manager != KeyManagerCustomer {
		return fmt.Errorf("%w: %s is an AWS managed key", ErrAccessDenied, k.id)
	}
	return nil
}

func notPendingDeletion(k *keyRecord) error {
	if k.state == KeyStatePendingDeletion {
		return fmt.Errorf("%w: %s is pending deletion", ErrInvalidState, k.id)
	}
	return nil
}

// EnableKey sets a Disabled key to Enabled.
func (c *Core) EnableKey(ctx context.Context, keyID string) error {
	_, err := c.mutateKey(ctx, "EnableKey", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if err := customerOnly(k); err != nil {
			return err
		}
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		k.state = KeyStateEnabled
		return nil
	})
	return err
}

// DisableKey sets an Enabled key to Disabled.
func (c *Core) DisableKey(ctx context.Context, keyID string) error {
	_, err := c.mutateKey(ctx, "DisableKey", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if err := customerOnly(k); err != nil {
			return err
		}
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		k.state = KeyStateDisabled
		return nil
	})
	return err
}

// UpdateKeyDescription replaces a key's description.
func (c *Core) UpdateKeyDescription(ctx context.Context, keyID, description string) error {
	_, err := c.mutateKey(ctx, "UpdateKeyDescription", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if len(description) > maxDescription {
			return fmt.Errorf("%w: Description is too long", ErrValidation)
		}
		if err := customerOnly(k); err != nil {
			return err
		}
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		k.description = description
		return nil
	})
	return err
}

// pageArgs validates Limit (1..1000, default 100) and decodes Marker,
// which is the last item of the previous page.
func pageArgs(limit int, marker string) (int, string, error) {
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return 0, "", fmt.Errorf("%w: Limit must be 1 to 1000", ErrValidation)
	}
	if marker == "" {
		return limit, "", nil
	}
	after, ok := strings.CutPrefix(marker, "m1:")
	if !ok || after == "" {
		return 0, "", fmt.Errorf("%w: marker not recognised", ErrInvalidMarker)
	}
	return limit, after, nil
}

// page cuts items (fetched with limit+1) to limit and returns the marker
// for the next page, empty when this is the last page.
func page[T any](items []T, limit int, last func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, "m1:" + last(items[limit-1])
}
