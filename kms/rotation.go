package kms

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const (
	minRotationDays      = 90
	maxRotationDays      = 2560
	defaultRotationDays  = 365
	maxOnDemandRotations = 10
	rotationAutomatic    = "AUTOMATIC"
	rotationOnDemand     = "ON_DEMAND"
)

// RotationStatus is GetKeyRotationStatus's answer.
type RotationStatus struct {
	KeyID                string
	Enabled              bool
	RotationPeriodInDays int
	NextRotationDate     time.Time
	OnDemandRotationDate time.Time
}

// Rotation is a ListKeyRotations entry: one version after the first.
type Rotation struct {
	KeyID        string
	RotationDate time.Time
	RotationType string // AUTOMATIC | ON_DEMAND
	Version      uint32
}

// customerRotation refuses rotation changes on AWS-managed keys, which
// always rotate yearly (AWS: UnsupportedOperationException).
func customerRotation(k *keyRecord) error {
	if k.manager != KeyManagerCustomer {
		return fmt.Errorf("%w: rotation of AWS managed key %s can't be changed", ErrUnsupported, k.id)
	}
	if err := rotationOfImportedOrReplica(k); err != nil { // part B
		return err
	}
	if err := notPendingDeletion(k); err != nil {
		return err
	}
	if k.state == KeyStateDisabled {
		return fmt.Errorf("%w: %s", ErrDisabled, k.id)
	}
	return nil
}

// EnableKeyRotation turns on automatic rotation every periodDays
// (90..2560, 0 meaning 365).
func (c *Core) EnableKeyRotation(ctx context.Context, keyID string, periodDays int) error {
	if periodDays == 0 {
		periodDays = defaultRotationDays
	}
	_, err := c.mutateKey(ctx, "EnableKeyRotation", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if periodDays < minRotationDays || periodDays > maxRotationDays {
			return fmt.Errorf("%w: RotationPeriodInDays must be %d to %d", ErrValidation, minRotationDays, maxRotationDays)
		}
		if err := customerRotation(k); err != nil {
			return err
		}
		if err := rotatableSpec(k); err != nil { // part A: keyspec.go
			return err
		}
		k.rotationEnabled = true
		k.rotationPeriod = periodDays
		k.nextRotation = c.now().UTC().AddDate(0, 0, periodDays)
		return nil
	})
	return err
}

// DisableKeyRotation turns off automatic rotation; versions are kept.
func (c *Core) DisableKeyRotation(ctx context.Context, keyID string) error {
	_, err := c.mutateKey(ctx, "DisableKeyRotation", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if err := customerRotation(k); err != nil {
			return err
		}
		k.rotationEnabled = false
		k.nextRotation = time.Time{}
		return nil
	})
	return err
}

// GetKeyRotationStatus reports whether automatic rotation is on.
func (c *Core) GetKeyRotationStatus(ctx context.Context, keyID string) (st RotationStatus, err error) {
	o, err := c.begin(ctx, "GetKeyRotationStatus")
	if err != nil {
		return st, err
	}
	defer func() { o.end(err) }()
	k, err := c.keyByRef(ctx, keyID)
	if err != nil {
		return st, err
	}
	o.key(k.id, 0)
	if err := c.authorizeID(ctx, o, k.id, authzRequest{action: "kms:GetKeyRotationStatus"}); err != nil {
		return st, err
	}
	st = RotationStatus{KeyID: c.arn(k.id), Enabled: k.rotationEnabled}
	if k.rotationEnabled {
		st.RotationPeriodInDays, st.NextRotationDate = k.rotationPeriod, k.nextRotation
	}
	return st, nil
}

// RotateKeyOnDemand adds a new key version now (at most 10 per key, as AWS).
func (c *Core) RotateKeyOnDemand(ctx context.Context, keyID string) (arn string, err error) {
	rec, err := c.mutateKey(ctx, "RotateKeyOnDemand", keyID, func(tx *sql.Tx, k *keyRecord) error {
		if err := customerRotation(k); err != nil {
			return err
		}
		if err := rotatableSpec(k); err != nil { // part A: keyspec.go
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM key_versions WHERE key_id = ? AND rotation_type = ?`, k.id, rotationOnDemand).Scan(&n); err != nil {
			return fmt.Errorf("%w: count rotations: %v", ErrInternal, err)
		}
		if n >= maxOnDemandRotations {
			return fmt.Errorf("%w: at most %d on-demand rotations per key", ErrLimitExceeded, maxOnDemandRotations)
		}
		if err := c.rotate(ctx, tx, k.id, rotationOnDemand); err != nil {
			return err
		}
		return c.markRotationPushes(ctx, tx, k)
	})
	if err != nil {
		return "", err
	}
	// The rotation stands even if a replica can't be reached now.
	if err := c.pushPendingReplicas(ctx, rec.id); err != nil {
		c.log.Warn("multi-Region rotation push", "key", rec.id, "err", err)
	}
	return c.arn(rec.id), nil
}

// rotate adds the next version of a key inside tx.
func (c *Core) rotate(ctx context.Context, tx *sql.Tx, id, typ string) error {
	var latest uint32
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM key_versions WHERE key_id = ?`, id).Scan(&latest); err != nil {
		return fmt.Errorf("%w: latest version: %v", ErrInternal, err)
	}
	return c.addVersion(ctx, tx, id, latest+1, typ)
}

// ListKeyRotations lists the rotations of a key (versions after the first).
func (c *Core) ListKeyRotations(ctx context.Context, keyID string, limit int, marker string) (out []Rotation, next string, err error) {
	o, err := c.begin(ctx, "ListKeyRotations")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	var afterVersion int
	if after != "" {
		if _, err := fmt.Sscanf(after, "%d", &afterVersion); err != nil {
			return nil, "", fmt.Errorf("%w: marker not recognised", ErrInvalidMarker)
		}
	}
	k, err := c.keyByRef(ctx, keyID)
	if err != nil {
		return nil, "", err
	}
	o.key(k.id, 0)
	if err := c.authorizeID(ctx, o, k.id, authzRequest{action: "kms:ListKeyRotations"}); err != nil {
		return nil, "", err
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT version, created, rotation_type FROM key_versions
		WHERE key_id = ? AND version > 1 AND version > ? ORDER BY version LIMIT ?`, k.id, afterVersion, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("%w: list rotations: %v", ErrInternal, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Rotation
		var created int64
		if err := rows.Scan(&r.Version, &created, &r.RotationType); err != nil {
			return nil, "", fmt.Errorf("%w: list rotations: %v", ErrInternal, err)
		}
		r.KeyID, r.RotationDate = c.arn(k.id), time.Unix(0, created).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%w: list rotations: %v", ErrInternal, err)
	}
	out, next = page(out, limit, func(r Rotation) string { return fmt.Sprint(r.Version) })
	return out, next, nil
}

// rotateDueKeys rotates enabled keys whose next rotation date has passed.
// Disabled keys wait; they rotate once re-enabled and due.
func (c *Core) rotateDueKeys(ctx context.Context) error {
	now := c.now().UTC()
	rows, err := c.rdb.QueryContext(ctx, `SELECT id FROM keys WHERE rotation_enabled = 1 AND state = ? AND next_rotation <= ?`,
		string(KeyStateEnabled), now.UnixNano())
	if err != nil {
		return fmt.Errorf("find keys due for rotation: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		err := c.write(ctx, func(tx *sql.Tx) error {
			k, err := getKey(ctx, tx, id)
			if err != nil {
				return err
			}
			if !k.rotationEnabled || k.state != KeyStateEnabled || k.nextRotation.After(now) {
				return nil
			}
			if err := c.rotate(ctx, tx, id, rotationAutomatic); err != nil {
				return err
			}
			if err := c.markRotationPushes(ctx, tx, &k); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE keys SET next_rotation = ? WHERE id = ?`, now.AddDate(0, 0, k.rotationPeriod).UnixNano(), id)
			return err
		})
		if err != nil {
			return fmt.Errorf("rotate key %s: %w", id, err)
		}
		c.log.Info("kms key rotated", "key", id)
		c.audit.write(&auditEvent{Time: now, Operation: "RotateKey", KeyID: id, Outcome: "ok"})
		if err := c.pushPendingReplicas(ctx, id); err != nil {
			c.log.Warn("multi-Region rotation push", "key", id, "err", err)
		}
	}
	return nil
}

// markRotationPushes records that the replicas of a multi-Region primary
// need the version just added (replicapush.go).
func (c *Core) markRotationPushes(ctx context.Context, tx *sql.Tx, k *keyRecord) error {
	if k.multiRegion != multiRegionPrimary {
		return nil
	}
	return c.markReplicaPushes(ctx, tx, k.id)
}
