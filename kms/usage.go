package kms

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// usageTracker remembers, in memory, the last time each key was named by a
// cryptographic operation, so the data path never writes to SQLite.
// flushUsage moves it to keys.last_used: from the maintenance loop, before
// every deletion decision and on Close.
//
// Entries exist only for keys that were found in the keystore, so the map
// is bounded by the number of keys, not by what callers send.
type usageTracker struct {
	mu   sync.Mutex
	last map[string]time.Time // not yet flushed
}

func newUsageTracker() *usageTracker {
	return &usageTracker{last: map[string]time.Time{}}
}

func (u *usageTracker) touch(id string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if at.After(u.last[id]) {
		u.last[id] = at
	}
}

// get returns the unflushed last use of id, the zero time if none.
func (u *usageTracker) get(id string) time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last[id]
}

// take hands the unflushed uses to a flush and forgets them.
func (u *usageTracker) take() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.last
	u.last = map[string]time.Time{}
	return out
}

// forget drops a deleted key's unflushed use.
func (u *usageTracker) forget(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.last, id)
}

// putBack returns uses a failed flush could not store, keeping any newer
// use recorded meanwhile.
func (u *usageTracker) putBack(m map[string]time.Time) {
	for id, at := range m {
		u.touch(id, at)
	}
}

// recordUse notes that a cryptographic operation named key id. It is
// called for attempts that fail on the key's state too: an Encrypt or a
// Decrypt refused because the key is pending deletion is exactly the sign
// that someone still needs the key (AWS recommends alarming on those).
func (c *Core) recordUse(id string) { c.usage.touch(id, c.now().UTC()) }

// flushUsage stores the unflushed uses in keys.last_used (never moving it
// backwards). It does not clear the key cache: last_used is not part of
// the state the data path reads.
func (c *Core) flushUsage(ctx context.Context) error {
	pending := c.usage.take()
	if len(pending) == 0 {
		return nil
	}
	err := func() error {
		tx, err := c.wdb.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET last_used = max(last_used, ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range pending {
			if _, err := stmt.ExecContext(ctx, at.UnixNano(), id); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		c.usage.putBack(pending)
		return fmt.Errorf("%w: store key usage: %v", ErrInternal, err)
	}
	return nil
}

// lastUsed merges the flushed and unflushed last use of a key.
func (c *Core) lastUsed(id string, flushed time.Time) time.Time {
	if m := c.usage.get(id); m.After(flushed) {
		return m
	}
	return flushed
}
