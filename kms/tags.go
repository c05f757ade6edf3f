package kms

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// Tag is a key's tag.
type Tag struct {
	Key, Value string
}

func validateTags(tags map[string]string) error {
	for k, v := range tags {
		if err := validateTagKey(k); err != nil {
			return err
		}
		if len(v) > maxTagValueLen {
			return fmt.Errorf("%w: tag value too long", ErrTagException)
		}
	}
	return nil
}

func validateTagKey(k string) error {
	if k == "" || len(k) > maxTagKeyLen {
		return fmt.Errorf("%w: tag key must be 1 to %d characters", ErrTagException, maxTagKeyLen)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return fmt.Errorf("%w: tag keys starting with aws: are reserved", ErrTagException)
	}
	return nil
}

// TagResource adds or replaces tags on a customer-managed key.
func (c *Core) TagResource(ctx context.Context, keyID string, tags map[string]string) error {
	_, err := c.mutateKey(ctx, "TagResource", keyID, func(tx *sql.Tx, k *keyRecord) error {
		if err := validateTags(tags); err != nil {
			return err
		}
		if err := customerOnly(k); err != nil {
			return err
		}
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		for tk, tv := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?,?,?)
				ON CONFLICT(key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value`, k.id, tk, tv); err != nil {
				return fmt.Errorf("%w: tag: %v", ErrInternal, err)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tags WHERE key_id = ?`, k.id).Scan(&n); err != nil {
			return fmt.Errorf("%w: count tags: %v", ErrInternal, err)
		}
		if n > maxTags {
			return fmt.Errorf("%w: a key has at most %d tags", ErrLimitExceeded, maxTags)
		}
		return nil
	})
	return err
}

// UntagResource removes tags; absent tag keys are ignored, as AWS.
func (c *Core) UntagResource(ctx context.Context, keyID string, tagKeys []string) error {
	_, err := c.mutateKey(ctx, "UntagResource", keyID, func(tx *sql.Tx, k *keyRecord) error {
		for _, tk := range tagKeys {
			if err := validateTagKey(tk); err != nil {
				return err
			}
		}
		if err := customerOnly(k); err != nil {
			return err
		}
		if err := notPendingDeletion(k); err != nil {
			return err
		}
		for _, tk := range tagKeys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE key_id = ? AND tag_key = ?`, k.id, tk); err != nil {
				return fmt.Errorf("%w: untag: %v", ErrInternal, err)
			}
		}
		return nil
	})
	return err
}

// ListResourceTags lists a key's tags in tag key order.
func (c *Core) ListResourceTags(ctx context.Context, keyID string, limit int, marker string) (tags []Tag, next string, err error) {
	o, err := c.begin(ctx, "ListResourceTags")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	rec, err := c.keyByRef(ctx, keyID)
	if err != nil {
		return nil, "", err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:ListResourceTags"}); err != nil {
		return nil, "", err
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT tag_key, tag_value FROM tags WHERE key_id = ? AND tag_key > ? ORDER BY tag_key LIMIT ?`, rec.id, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("%w: list tags: %v", ErrInternal, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, "", fmt.Errorf("%w: list tags: %v", ErrInternal, err)
		}
		tags = append(tags, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%w: list tags: %v", ErrInternal, err)
	}
	tags, next = page(tags, limit, func(t Tag) string { return t.Key })
	return tags, next, nil
}
