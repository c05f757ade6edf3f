package kms

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Users and access keys (docs/authorization.md, "Principals"). They live in
// the keystore because the keystore is already the one sealed, backed-up
// place for secrets: an access key secret is sealed under the master key
// like key material, with the access key id as AAD.

const (
	purposeAccessSecret = "access-secret"

	// MaxAccessKeysPerUser is IAM's limit (LimitExceeded above it).
	MaxAccessKeysPerUser = 2
	// AccessKeyCacheTTL bounds how long a found access key is trusted from
	// memory: a key deleted or deactivated (here or by another process
	// sharing kms.db) stops working within this time.
	AccessKeyCacheTTL = 5 * time.Second

	maxUserNameLen      = 64
	accessKeyIDLen      = 20
	accessSecretLen     = 40
	maxCachedAccessKeys = 10000
)

// Access key statuses (UpdateAccessKey).
const (
	AccessKeyActive   = "Active"
	AccessKeyInactive = "Inactive"
)

// User is an IAM-style user of the account.
type User struct {
	Name    string
	ID      string // "AIDA" + 16 characters
	ARN     string // arn:aws:iam::<account>:user/<name>
	Created time.Time
}

// AccessKey is a user's access key. Secret is set only in the answer of
// CreateAccessKey; String and LogValue never show it.
type AccessKey struct {
	UserName    string
	AccessKeyID string
	Secret      string
	Status      string // AccessKeyActive or AccessKeyInactive
	Created     time.Time
}

// String hides the secret.
func (k AccessKey) String() string {
	return fmt.Sprintf("AccessKey{User:%s ID:%s Status:%s}", k.UserName, k.AccessKeyID, k.Status)
}

// GoString hides the secret from %#v.
func (k AccessKey) GoString() string { return k.String() }

// MarshalJSON hides the secret from accidental JSON logging; callers that
// must show it (CreateAccessKey answers) copy the field themselves.
func (k AccessKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ UserName, AccessKeyID, Status string }{k.UserName, k.AccessKeyID, k.Status})
}

// UserARN is the ARN of the user name in this Core's account.
func (c *Core) UserARN(name string) string {
	return "arn:aws:iam::" + c.opts.AccountID + ":user/" + name
}

// AccountID is the account this Core's keys and users belong to.
func (c *Core) AccountID() string { return c.opts.AccountID }

// CheckUserName applies IAM's user name rules: 1–64 characters of
// [A-Za-z0-9+=,.@_-].
func CheckUserName(name string) error {
	if name == "" || len(name) > maxUserNameLen {
		return fmt.Errorf("%w: user name must be 1 to %d characters", ErrValidation, maxUserNameLen)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)
		if !ok {
			return fmt.Errorf("%w: user name may contain only letters, digits and +=,.@_-", ErrValidation)
		}
	}
	return nil
}

// checkAccessKeyID refuses ids that cannot be ours before touching SQLite.
func checkAccessKeyID(id string) error {
	if len(id) < 16 || len(id) > 128 {
		return ErrAccessKeyNotFound
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return ErrAccessKeyNotFound
		}
	}
	return nil
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// randomString draws n characters uniformly from alphabet (crypto/rand,
// rejection sampling so no character is more likely than another).
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never fails (Go ≥ 1.24 crashes instead)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// NewCredentials draws a fresh access key id ("AKIA" and 16 upper-case
// alphanumerics) and a 40-character secret, the shape AWS clients expect;
// the root credentials use it too.
func NewCredentials() (accessKeyID, secret string) {
	return "AKIA" + randomString(accessKeyIDLen-4, idAlphabet), randomString(accessSecretLen, secretAlphabet)
}

// CreateUser creates a user (IAM CreateUser). Names are unique ignoring
// case: "Alice" after "alice" is ErrAlreadyExists.
func (c *Core) CreateUser(ctx context.Context, name string) (User, error) {
	o, err := c.begin(ctx, "CreateUser")
	if err != nil {
		return User{}, err
	}
	u, err := c.createUser(ctx, name)
	o.endUser(err, name, "")
	return u, err
}

func (c *Core) createUser(ctx context.Context, name string) (User, error) {
	if err := CheckUserName(name); err != nil {
		return User{}, err
	}
	u := User{Name: name, ID: "AIDA" + randomString(16, idAlphabet), ARN: c.UserARN(name), Created: c.now().UTC()}
	err := c.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, name).Scan(&n); err != nil {
			return fmt.Errorf("%w: read users: %v", ErrInternal, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: user %s", ErrAlreadyExists, name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, id, created) VALUES (?, ?, ?)`, name, u.ID, unixNano(u.Created)); err != nil {
			return fmt.Errorf("%w: insert user: %v", ErrInternal, err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUser returns the user named name (any case).
func (c *Core) GetUser(ctx context.Context, name string) (User, error) {
	if CheckUserName(name) != nil {
		return User{}, ErrUserNotFound
	}
	var u User
	var created int64
	err := c.rdb.QueryRowContext(ctx, `SELECT name, id, created FROM users WHERE name = ?`, name).Scan(&u.Name, &u.ID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: read user: %v", ErrInternal, err)
	}
	u.ARN, u.Created = c.UserARN(u.Name), fromUnixNano(created)
	return u, nil
}

// ListUsers returns every user, ordered by name.
func (c *Core) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT name, id, created FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("%w: list users: %v", ErrInternal, err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.Name, &u.ID, &created); err != nil {
			return nil, fmt.Errorf("%w: list users: %v", ErrInternal, err)
		}
		u.ARN, u.Created = c.UserARN(u.Name), fromUnixNano(created)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list users: %v", ErrInternal, err)
	}
	return out, nil
}

// DeleteUser deletes a user without access keys; with keys it is
// ErrDeleteConflict, as in IAM (delete the keys first).
func (c *Core) DeleteUser(ctx context.Context, name string) error {
	o, err := c.begin(ctx, "DeleteUser")
	if err != nil {
		return err
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		canon, err := userInTx(ctx, tx, name)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM access_keys WHERE user_name = ?`, canon).Scan(&n); err != nil {
			return fmt.Errorf("%w: read access keys: %v", ErrInternal, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: user %s still has %d access keys", ErrDeleteConflict, canon, n)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, canon); err != nil {
			return fmt.Errorf("%w: delete user: %v", ErrInternal, err)
		}
		return nil
	})
	o.endUser(err, name, "")
	return err
}

// userInTx returns the stored spelling of the user name.
func userInTx(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	if CheckUserName(name) != nil {
		return "", ErrUserNotFound
	}
	var canon string
	err := tx.QueryRowContext(ctx, `SELECT name FROM users WHERE name = ?`, name).Scan(&canon)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrUserNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%w: read user: %v", ErrInternal, err)
	}
	return canon, nil
}

// CreateAccessKey gives the user a new active access key. The answer is
// the only place its secret ever appears; the keystore holds it sealed.
func (c *Core) CreateAccessKey(ctx context.Context, user string) (AccessKey, error) {
	o, err := c.begin(ctx, "CreateAccessKey")
	if err != nil {
		return AccessKey{}, err
	}
	id, secret := NewCredentials()
	k := AccessKey{
		AccessKeyID: id,
		Secret:      secret,
		Status:      AccessKeyActive,
		Created:     c.now().UTC(),
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		canon, err := userInTx(ctx, tx, user)
		if err != nil {
			return err
		}
		k.UserName = canon
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM access_keys WHERE user_name = ?`, canon).Scan(&n); err != nil {
			return fmt.Errorf("%w: read access keys: %v", ErrInternal, err)
		}
		if n >= MaxAccessKeysPerUser {
			return fmt.Errorf("%w: user %s already has %d access keys", ErrLimitExceeded, canon, n)
		}
		// c.write holds c.mu for reading: use c.master directly.
		sealed, err := seal(c.master, k.AccessKeyID, 0, purposeAccessSecret, []byte(k.Secret))
		if err != nil {
			return fmt.Errorf("%w: seal access key", ErrInternal)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO access_keys (access_key, user_name, sealed_secret, status, created) VALUES (?, ?, ?, ?, ?)`,
			k.AccessKeyID, canon, sealed, k.Status, unixNano(k.Created))
		if err != nil {
			return fmt.Errorf("%w: insert access key: %v", ErrInternal, err)
		}
		return nil
	})
	o.endUser(err, user, k.AccessKeyID)
	if err != nil {
		return AccessKey{}, err
	}
	return k, nil
}

// ListAccessKeys lists the user's access keys, without secrets.
func (c *Core) ListAccessKeys(ctx context.Context, user string) ([]AccessKey, error) {
	u, err := c.GetUser(ctx, user)
	if err != nil {
		return nil, err
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT access_key, status, created FROM access_keys WHERE user_name = ? ORDER BY created, access_key`, u.Name)
	if err != nil {
		return nil, fmt.Errorf("%w: list access keys: %v", ErrInternal, err)
	}
	defer rows.Close()
	var out []AccessKey
	for rows.Next() {
		k := AccessKey{UserName: u.Name}
		var created int64
		if err := rows.Scan(&k.AccessKeyID, &k.Status, &created); err != nil {
			return nil, fmt.Errorf("%w: list access keys: %v", ErrInternal, err)
		}
		k.Created = fromUnixNano(created)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list access keys: %v", ErrInternal, err)
	}
	return out, nil
}

// UpdateAccessKey sets a key's status to AccessKeyActive or
// AccessKeyInactive. An inactive key fails authentication.
func (c *Core) UpdateAccessKey(ctx context.Context, user, accessKey, status string) error {
	o, err := c.begin(ctx, "UpdateAccessKey")
	if err != nil {
		return err
	}
	if status != AccessKeyActive && status != AccessKeyInactive {
		err = fmt.Errorf("%w: status must be Active or Inactive", ErrValidation)
		o.endUser(err, user, accessKey)
		return err
	}
	err = c.changeAccessKey(ctx, user, accessKey, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE access_keys SET status = ? WHERE access_key = ?`, status, accessKey)
		return err
	})
	o.endUser(err, user, accessKey)
	return err
}

// DeleteAccessKey deletes the user's access key.
func (c *Core) DeleteAccessKey(ctx context.Context, user, accessKey string) error {
	o, err := c.begin(ctx, "DeleteAccessKey")
	if err != nil {
		return err
	}
	err = c.changeAccessKey(ctx, user, accessKey, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM access_keys WHERE access_key = ?`, accessKey)
		return err
	})
	o.endUser(err, user, accessKey)
	return err
}

// changeAccessKey runs fn on an access key that must belong to user, then
// drops the key from this process's lookup cache.
func (c *Core) changeAccessKey(ctx context.Context, user, accessKey string, fn func(tx *sql.Tx) error) error {
	if err := checkAccessKeyID(accessKey); err != nil {
		return err
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		canon, err := userInTx(ctx, tx, user)
		if err != nil {
			return err
		}
		var owner string
		err = tx.QueryRowContext(ctx, `SELECT user_name FROM access_keys WHERE access_key = ?`, accessKey).Scan(&owner)
		// Another user's key is as unknown as a missing one (IAM's
		// NoSuchEntity), so the answer does not reveal who owns it.
		if errors.Is(err, sql.ErrNoRows) || err == nil && !strings.EqualFold(owner, canon) {
			return ErrAccessKeyNotFound
		}
		if err != nil {
			return fmt.Errorf("%w: read access key: %v", ErrInternal, err)
		}
		if err := fn(tx); err != nil {
			return fmt.Errorf("%w: change access key: %v", ErrInternal, err)
		}
		return nil
	})
	c.akCache.forget(accessKey)
	return err
}

// LookupAccessKey resolves an active access key for SigV4 verification:
// the owner's ARN and the secret. ok is false for unknown and inactive
// keys. Found keys are cached for at most AccessKeyCacheTTL; unknown ones
// are not, so a new key works at once and a flood of made-up ids cannot
// fill the cache.
func (c *Core) LookupAccessKey(ctx context.Context, accessKey string) (arn, secret string, ok bool, err error) {
	if checkAccessKeyID(accessKey) != nil {
		return "", "", false, nil
	}
	now := c.now()
	if e, hit := c.akCache.get(accessKey, now); hit {
		return e.arn, e.secret, true, nil
	}
	gen := c.akCache.generation()
	var user, status string
	var sealed []byte
	err = c.rdb.QueryRowContext(ctx, `SELECT user_name, sealed_secret, status FROM access_keys WHERE access_key = ?`, accessKey).Scan(&user, &sealed, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("%w: read access key: %v", ErrInternal, err)
	}
	if status != AccessKeyActive {
		return "", "", false, nil
	}
	plain, err := unseal(c.masterKey(), accessKey, 0, purposeAccessSecret, sealed)
	if err != nil {
		// Never the sealed bytes or why: only which key.
		return "", "", false, fmt.Errorf("%w: access key %s does not unseal", ErrInternal, accessKey)
	}
	arn, secret = c.UserARN(user), string(plain)
	clear(plain)
	c.akCache.put(accessKey, akEntry{arn: arn, secret: secret, expires: now.Add(AccessKeyCacheTTL)}, gen)
	return arn, secret, true, nil
}

// akEntry is a found, active access key.
type akEntry struct {
	arn, secret string
	expires     time.Time
}

// accessKeyCache is the LookupAccessKey cache. Its zero value is ready.
type accessKeyCache struct {
	mu      sync.Mutex
	entries map[string]akEntry
	// gen counts forgets: a lookup that read the database before a local
	// change must not put its (possibly stale) answer back afterwards.
	gen uint64
}

func (a *accessKeyCache) get(id string, now time.Time) (akEntry, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.entries[id]
	if !ok || !now.Before(e.expires) {
		return akEntry{}, false
	}
	return e, true
}

func (a *accessKeyCache) generation() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

func (a *accessKeyCache) put(id string, e akEntry, gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if gen != a.gen {
		return
	}
	if a.entries == nil || len(a.entries) >= maxCachedAccessKeys {
		a.entries = map[string]akEntry{}
	}
	a.entries[id] = e
}

func (a *accessKeyCache) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	delete(a.entries, id)
}

// userAuditEvent is an audit line of a user or access key operation: the
// common fields plus the user and access key it concerns (never a secret).
type userAuditEvent struct {
	auditEvent
	UserName        string `json:"userName,omitempty"`
	UserAccessKeyID string `json:"userAccessKeyId,omitempty"`
}

// endUser is end for user operations: it writes the audit line with the
// user name and access key id the operation was about.
func (o *op) endUser(err error, user, accessKey string) {
	o.ev.Outcome = "ok"
	if err != nil {
		o.ev.Outcome = errorType(err)
	}
	b, mErr := json.Marshal(userAuditEvent{auditEvent: o.ev, UserName: user, UserAccessKeyID: accessKey})
	if mErr != nil {
		return
	}
	a := o.c.audit
	a.mu.Lock()
	defer a.mu.Unlock()
	a.w.Write(append(b, '\n')) //nolint:errcheck // as auditor.write: audit failures must not fail requests
}
