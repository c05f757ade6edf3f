package kms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const (
	minPendingDays     = 7
	maxPendingDays     = 30
	defaultPendingDays = 30
)

// outcomeDeletionRefused is the audit outcome of a due deletion that was
// not carried out because the key was used after it was scheduled.
const outcomeDeletionRefused = "DeletionRefusedKeyInUse"

// ScheduleKeyDeletion puts a key in PendingDeletion for days (7..30, 0
// meaning the default 30). Encryption and decryption stop at once.
//
// When the deletion falls due it happens only if nothing tried to use the
// key since it was scheduled; otherwise it is refused, audited and retried
// at each maintenance run, the key staying PendingDeletion (unusable)
// until the operator cancels or forces the deletion.
func (c *Core) ScheduleKeyDeletion(ctx context.Context, keyID string, days int) (KeyMetadata, error) {
	return c.scheduleDeletion(ctx, "ScheduleKeyDeletion", keyID, days, false)
}

// ScheduleKeyDeletionForce schedules a deletion that happens when due even
// if the key is still being used. It is for operators (`ssegate kms`); the
// AWS API has no such flag and the API handler never calls it.
//
// Unlike ScheduleKeyDeletion it also accepts a key already pending
// deletion (typically one whose deletion was refused): the deletion is
// then forced and its waiting period starts again from now, so forcing
// never shortens the time there is to notice a mistake.
func (c *Core) ScheduleKeyDeletionForce(ctx context.Context, keyID string, days int) (KeyMetadata, error) {
	return c.scheduleDeletion(ctx, "ScheduleKeyDeletionForce", keyID, days, true)
}

func (c *Core) scheduleDeletion(ctx context.Context, op, keyID string, days int, force bool) (KeyMetadata, error) {
	if days == 0 {
		days = defaultPendingDays
	}
	rec, err := c.mutateKey(ctx, op, keyID, func(_ *sql.Tx, k *keyRecord) error {
		if days < minPendingDays || days > maxPendingDays {
			return fmt.Errorf("%w: PendingWindowInDays must be %d to %d", ErrValidation, minPendingDays, maxPendingDays)
		}
		if err := customerOnly(k); err != nil {
			return err
		}
		if !force {
			if err := notPendingDeletion(k); err != nil {
				return err
			}
		}
		now := c.now().UTC()
		k.state = KeyStatePendingDeletion
		k.pendingDays = days
		k.deletionScheduled = now
		k.deletionDate = now.Add(time.Duration(days) * 24 * time.Hour)
		k.deletionForced = force
		return nil
	})
	if err != nil {
		return KeyMetadata{}, err
	}
	return c.metadata(rec), nil
}

// CancelKeyDeletion leaves a key pending deletion Disabled, as AWS does.
func (c *Core) CancelKeyDeletion(ctx context.Context, keyID string) (KeyMetadata, error) {
	rec, err := c.mutateKey(ctx, "CancelKeyDeletion", keyID, func(_ *sql.Tx, k *keyRecord) error {
		if k.state != KeyStatePendingDeletion {
			return fmt.Errorf("%w: %s is not pending deletion", ErrInvalidState, k.id)
		}
		k.state = KeyStateDisabled
		k.pendingDays = 0
		k.deletionDate = time.Time{}
		k.deletionScheduled = time.Time{}
		k.deletionForced = false
		return nil
	})
	if err != nil {
		return KeyMetadata{}, err
	}
	return c.metadata(rec), nil
}

// usedSinceScheduled reports whether a key pending deletion was named by a
// cryptographic operation at or after the moment its deletion was
// scheduled. "At" counts: with equal timestamps we can't tell the order,
// and keeping a key is the recoverable mistake, deleting it is not.
func usedSinceScheduled(k keyRecord, lastUsed time.Time) bool {
	return !lastUsed.IsZero() && !lastUsed.Before(k.deletionScheduled)
}

// deleteDueKeys deletes keys whose deletion date has passed, with their
// versions, aliases and tags (ON DELETE CASCADE), unless they were used
// after their deletion was scheduled and the deletion was not forced.
// This is the only place key material is ever destroyed.
func (c *Core) deleteDueKeys(ctx context.Context) error {
	// The decision needs every use up to now in SQLite.
	if err := c.flushUsage(ctx); err != nil {
		return err
	}
	now := c.now().UTC()
	rows, err := c.rdb.QueryContext(ctx, `SELECT id FROM keys WHERE state = ? AND deletion_date <= ?`, string(KeyStatePendingDeletion), now.UnixNano())
	if err != nil {
		return fmt.Errorf("find keys due for deletion: %w", err)
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
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find keys due for deletion: %w", err)
	}
	// One key failing must not hold back the others.
	var errs []error
	for _, id := range ids {
		errs = append(errs, c.deleteIfUnused(ctx, id, now))
	}
	return errors.Join(errs...)
}

// deleteIfUnused decides and carries out one due deletion in one write
// transaction, re-reading the key so a CancelKeyDeletion or a forced
// reschedule that won the race is respected.
func (c *Core) deleteIfUnused(ctx context.Context, id string, now time.Time) error {
	var deleted, refused bool
	var lastUse time.Time
	err := c.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, id)
		if err != nil {
			return nil // deleted meanwhile
		}
		if k.state != KeyStatePendingDeletion || k.deletionDate.After(now) {
			return nil
		}
		// A use recorded after the flush above is in memory only; look
		// there too. A use racing with this transaction is refused by the
		// key's state anyway (PendingDeletion, then NotFound).
		lastUse = c.lastUsed(id, k.lastUsed)
		if !k.deletionForced && usedSinceScheduled(k, lastUse) {
			refused = true
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, id); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	switch {
	case refused:
		c.log.Warn("kms key deletion refused: key used after its deletion was scheduled; cancel the deletion or force it",
			"key", id, "lastUsed", lastUse)
		c.audit.write(&auditEvent{Time: now, Operation: "DeleteKey", KeyID: id, Outcome: outcomeDeletionRefused})
	case deleted:
		c.usage.forget(id)
		c.log.Info("kms key deleted", "key", id)
		c.audit.write(&auditEvent{Time: now, Operation: "DeleteKey", KeyID: id, Outcome: "ok"})
	}
	return nil
}
