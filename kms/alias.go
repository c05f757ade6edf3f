package kms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

const maxAliasesPerKey = 50

var aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

// checkUserAlias validates an alias name a user may create, change or
// delete: the pattern, and not under alias/aws/ (reserved for AWS-managed
// keys; AWS answers NotAuthorizedException) nor our own SSE-S3 alias.
func checkUserAlias(name string) error {
	if !aliasPattern.MatchString(name) {
		return fmt.Errorf("%w: alias must match alias/[a-zA-Z0-9/_-]{1,250}", ErrInvalidAliasName)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return fmt.Errorf("%w: the alias/aws/ prefix is reserved", ErrNotAuthorized)
	}
	if name == SSES3KeyAlias {
		return fmt.Errorf("%w: %s is reserved", ErrNotAuthorized, name)
	}
	return nil
}

// AliasEntry is a ListAliases entry.
type AliasEntry struct {
	AliasName       string
	AliasARN        string
	TargetKeyID     string
	CreationDate    time.Time
	LastUpdatedDate time.Time
}

// aliasTarget resolves the key an alias should point to; it must be a
// customer-managed key that is not pending deletion.
func (c *Core) aliasTarget(ctx context.Context, tx *sql.Tx, ref string) (keyRecord, error) {
	if strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/") {
		return keyRecord{}, fmt.Errorf("%w: TargetKeyId must be a key id or key ARN", ErrValidation)
	}
	id, err := c.resolveID(ctx, ref)
	if err != nil {
		return keyRecord{}, err
	}
	k, err := getKey(ctx, tx, id)
	if err != nil {
		return k, err
	}
	if k.hidden && isAPICall(ctx) {
		return k, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if err := customerOnly(&k); err != nil {
		return k, err
	}
	if err := notPendingDeletion(&k); err != nil {
		return k, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM aliases WHERE key_id = ?`, id).Scan(&n); err != nil {
		return k, fmt.Errorf("%w: count aliases: %v", ErrInternal, err)
	}
	if n >= maxAliasesPerKey {
		return k, fmt.Errorf("%w: a key has at most %d aliases", ErrLimitExceeded, maxAliasesPerKey)
	}
	return k, nil
}

// CreateAlias creates alias name pointing to a customer-managed key.
func (c *Core) CreateAlias(ctx context.Context, name, targetKeyID string) (err error) {
	o, err := c.begin(ctx, "CreateAlias")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if err := checkUserAlias(name); err != nil {
		return err
	}
	// The alias side is IAM's (account-level); the key side the key's.
	if err := c.authorizeAccount(ctx, o, "kms:CreateAlias"); err != nil {
		return err
	}
	if err := c.authorizeAliasKey(ctx, o, targetKeyID, "kms:CreateAlias"); err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		k, err := c.aliasTarget(ctx, tx, targetKeyID)
		if err != nil {
			return err
		}
		o.key(k.id, 0)
		now := c.now().UnixNano()
		res, err := tx.ExecContext(ctx, `INSERT INTO aliases (name, key_id, created, updated) VALUES (?,?,?,?) ON CONFLICT(name) DO NOTHING`, name, k.id, now, now)
		if err != nil {
			return fmt.Errorf("%w: create alias: %v", ErrInternal, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: alias %s", ErrAlreadyExists, name)
		}
		return nil
	})
}

// UpdateAlias points an existing alias at another customer-managed key.
func (c *Core) UpdateAlias(ctx context.Context, name, targetKeyID string) (err error) {
	o, err := c.begin(ctx, "UpdateAlias")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if err := checkUserAlias(name); err != nil {
		return err
	}
	// AWS checks kms:UpdateAlias on the key the alias leaves and on the
	// key it moves to.
	cur, err := aliasKey(ctx, c.rdb, name)
	if err != nil {
		return err
	}
	if err := c.authorizeAliasKey(ctx, o, cur, "kms:UpdateAlias"); err != nil {
		return err
	}
	if err := c.authorizeAliasKey(ctx, o, targetKeyID, "kms:UpdateAlias"); err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		if _, err := aliasKey(ctx, tx, name); err != nil {
			return err
		}
		k, err := c.aliasTarget(ctx, tx, targetKeyID)
		if err != nil {
			return err
		}
		o.key(k.id, 0)
		_, err = tx.ExecContext(ctx, `UPDATE aliases SET key_id = ?, updated = ? WHERE name = ?`, k.id, c.now().UnixNano(), name)
		if err != nil {
			return fmt.Errorf("%w: update alias: %v", ErrInternal, err)
		}
		return nil
	})
}

// DeleteAlias deletes an alias; the key is unaffected.
func (c *Core) DeleteAlias(ctx context.Context, name string) (err error) {
	o, err := c.begin(ctx, "DeleteAlias")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if err := checkUserAlias(name); err != nil {
		return err
	}
	cur, err := aliasKey(ctx, c.rdb, name)
	if err != nil {
		return err
	}
	if err := c.authorizeAliasKey(ctx, o, cur, "kms:DeleteAlias"); err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		id, err := aliasKey(ctx, tx, name)
		if err != nil {
			return err
		}
		o.key(id, 0)
		_, err = tx.ExecContext(ctx, `DELETE FROM aliases WHERE name = ?`, name)
		return err
	})
}

// authorizeAliasKey authorizes action on the key ref names (the key side
// of an alias operation), before the write transaction.
func (c *Core) authorizeAliasKey(ctx context.Context, o *op, ref, action string) error {
	if caller, _ := CallerFrom(ctx); caller.ARN == "" {
		return nil
	}
	if strings.HasPrefix(ref, "alias/") || strings.Contains(ref, ":alias/") {
		return fmt.Errorf("%w: TargetKeyId must be a key id or key ARN", ErrValidation)
	}
	id, err := c.resolveID(ctx, ref)
	if err != nil {
		return err
	}
	return c.authorizeID(ctx, o, id, authzRequest{action: action})
}

func aliasKey(ctx context.Context, q querier, name string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT key_id FROM aliases WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: alias %s", ErrNotFound, name)
	}
	if err != nil {
		return "", fmt.Errorf("%w: read alias: %v", ErrInternal, err)
	}
	return id, nil
}

// ListAliases lists aliases in name order, optionally only those of one
// key. Aliases of hidden keys are left out.
func (c *Core) ListAliases(ctx context.Context, keyID string, limit int, marker string) (out []AliasEntry, next string, err error) {
	o, err := c.begin(ctx, "ListAliases")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:ListAliases"); err != nil {
		return nil, "", err
	}
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT a.name, a.key_id, a.created, a.updated FROM aliases a JOIN keys k ON k.id = a.key_id
		WHERE k.hidden = 0 AND a.name > ?`
	args := []any{after}
	if keyID != "" {
		rec, err := c.keyByRef(ctx, keyID)
		if err != nil {
			return nil, "", err
		}
		o.key(rec.id, 0)
		q += ` AND a.key_id = ?`
		args = append(args, rec.id)
	}
	q += ` ORDER BY a.name LIMIT ?`
	args = append(args, limit+1)
	rows, err := c.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("%w: list aliases: %v", ErrInternal, err)
	}
	defer rows.Close()
	for rows.Next() {
		var a AliasEntry
		var created, updated int64
		if err := rows.Scan(&a.AliasName, &a.TargetKeyID, &created, &updated); err != nil {
			return nil, "", fmt.Errorf("%w: list aliases: %v", ErrInternal, err)
		}
		a.AliasARN = c.aliasARN(a.AliasName)
		a.CreationDate, a.LastUpdatedDate = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%w: list aliases: %v", ErrInternal, err)
	}
	out, next = page(out, limit, func(a AliasEntry) string { return a.AliasName })
	return out, next, nil
}
