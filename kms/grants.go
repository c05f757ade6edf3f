package kms

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Grants (docs/authorization.md): a grant lets a grantee principal use a
// key for some operations, optionally only with a given encryption
// context. Grants take effect at once; a grant token names a grant.

const (
	defaultMaxGrantsPerKey = 50000
	maxGrantTokens         = 10
	maxConstraintPairs     = 8
	grantTokenPrefix       = "gt1"
)

// GrantConstraints limit a grant to requests whose encryption context
// equals (EncryptionContextEquals) or includes (EncryptionContextSubset)
// the given pairs.
type GrantConstraints struct {
	EncryptionContextEquals map[string]string `json:",omitempty"`
	EncryptionContextSubset map[string]string `json:",omitempty"`
}

func (gc *GrantConstraints) empty() bool {
	return gc == nil || gc.EncryptionContextEquals == nil && gc.EncryptionContextSubset == nil
}

// satisfiedBy reports whether a request's encryption context meets gc.
func (gc *GrantConstraints) satisfiedBy(ec EncryptionContext) bool {
	if gc.empty() {
		return true
	}
	if gc.EncryptionContextEquals != nil && !maps.Equal(gc.EncryptionContextEquals, map[string]string(ec)) {
		return false
	}
	for k, v := range gc.EncryptionContextSubset {
		if got, ok := ec[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// CreateGrantInput is CreateGrant's request.
type CreateGrantInput struct {
	KeyID             string
	GranteePrincipal  string
	RetiringPrincipal string
	Operations        []string
	Constraints       *GrantConstraints
	Name              string
}

// Grant is a ListGrants / ListRetirableGrants entry.
type Grant struct {
	KeyID             string // key ARN
	GrantID           string
	Name              string
	CreationDate      time.Time
	GranteePrincipal  string
	RetiringPrincipal string
	IssuingAccount    string
	Operations        []string
	Constraints       *GrantConstraints
}

// grantRecord is one row of the grants table.
type grantRecord struct {
	id, keyID, name, grantee, retiring, issuer, token string
	operations                                        []string
	constraints                                       *GrantConstraints
	created                                           time.Time
}

func (g *grantRecord) allows(op string) bool { return slices.Contains(g.operations, op) }

const grantColumns = `id, key_id, name, grantee, retiring, operations, constraints, issuer, token, created`

func scanGrant(r rowScanner) (grantRecord, error) {
	var g grantRecord
	var ops, cons string
	var created int64
	if err := r.Scan(&g.id, &g.keyID, &g.name, &g.grantee, &g.retiring, &ops, &cons, &g.issuer, &g.token, &created); err != nil {
		return g, err
	}
	g.operations = strings.Split(ops, ",")
	if cons != "" {
		g.constraints = &GrantConstraints{}
		if err := json.Unmarshal([]byte(cons), g.constraints); err != nil {
			return g, fmt.Errorf("grant %s constraints: %v", g.id, err)
		}
	}
	g.created = time.Unix(0, created).UTC()
	return g, nil
}

// keyGrants reads every grant of a key (loaded with the key for authorize).
func (c *Core) keyGrants(ctx context.Context, keyID string) ([]grantRecord, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE key_id = ? ORDER BY id`, keyID)
	if err != nil {
		return nil, fmt.Errorf("%w: read grants: %v", ErrInternal, err)
	}
	defer rows.Close()
	var out []grantRecord
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("%w: read grants: %v", ErrInternal, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: read grants: %v", ErrInternal, err)
	}
	return out, nil
}

// matchGrant returns a grant that lets principal perform r, if any.
func matchGrant(grants []grantRecord, principal string, r authzRequest) *grantRecord {
	op := strings.TrimPrefix(r.action, "kms:")
	for i := range grants {
		g := &grants[i]
		if g.grantee != principal || !g.allows(op) {
			continue
		}
		if r.grant != nil {
			// A grantee may pass on no more than its grant allows: the
			// same or fewer operations, under constraints at least as
			// strict (AWS: "the same or fewer permissions").
			if !grantNarrows(g, r.grant) {
				continue
			}
		} else if r.withEC && !g.constraints.satisfiedBy(r.ec) {
			continue
		}
		return g
	}
	return nil
}

func (c *Core) maxGrantsPerKey() int {
	if c.opts.MaxGrantsPerKey > 0 {
		return c.opts.MaxGrantsPerKey
	}
	return defaultMaxGrantsPerKey
}

func newGrantIDAndToken() (id, token string, err error) {
	b := make([]byte, 32+16)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("%w: random", ErrInternal)
	}
	id = hex.EncodeToString(b[:32])
	return id, grantTokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// CreateGrant creates a grant on a key and returns its id and token. A
// grant with the same Name and the same parameters is not created twice:
// its id and token are returned again (AWS's idempotence by Name).
func (c *Core) CreateGrant(ctx context.Context, in CreateGrantInput) (grantID, token string, err error) {
	o, err := c.begin(ctx, "CreateGrant")
	if err != nil {
		return "", "", err
	}
	defer func() { o.end(err) }()
	if err := validateGrant(&in); err != nil {
		return "", "", err
	}
	rec, err := c.keyByRef(ctx, in.KeyID)
	if err != nil {
		return "", "", err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:CreateGrant", grant: &in}); err != nil {
		return "", "", err
	}
	if err := grantOpsFitKey(rec.withDefaults(), in.Operations); err != nil {
		return "", "", err
	}
	if err := notPendingDeletion(&rec); err != nil {
		return "", "", err
	}
	issuer := c.rootARN()
	if caller, _ := CallerFrom(ctx); caller.ARN != "" {
		issuer = caller.ARN
	}
	var cons string
	if in.Constraints != nil {
		b, err := json.Marshal(in.Constraints)
		if err != nil {
			return "", "", fmt.Errorf("%w: encode constraints", ErrInternal)
		}
		cons = string(b)
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		if in.Name != "" {
			rows, err := tx.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE key_id = ? AND name = ?`, rec.id, in.Name)
			if err != nil {
				return fmt.Errorf("%w: read grants: %v", ErrInternal, err)
			}
			for rows.Next() {
				g, err := scanGrant(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("%w: read grants: %v", ErrInternal, err)
				}
				if sameGrant(g, in) {
					grantID, token = g.id, g.token
				}
			}
			rows.Close()
			if grantID != "" {
				return nil
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM grants WHERE key_id = ?`, rec.id).Scan(&n); err != nil {
			return fmt.Errorf("%w: count grants: %v", ErrInternal, err)
		}
		if n >= c.maxGrantsPerKey() {
			return fmt.Errorf("%w: a key has at most %d grants", ErrLimitExceeded, c.maxGrantsPerKey())
		}
		id, tok, err := newGrantIDAndToken()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO grants (`+grantColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			id, rec.id, in.Name, in.GranteePrincipal, in.RetiringPrincipal, strings.Join(in.Operations, ","), cons, issuer, tok, c.now().UnixNano())
		if err != nil {
			return fmt.Errorf("%w: insert grant: %v", ErrInternal, err)
		}
		grantID, token = id, tok
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return grantID, token, nil
}

func (c *Core) grantEntry(g grantRecord) Grant {
	return Grant{
		KeyID: c.arn(g.keyID), GrantID: g.id, Name: g.name, CreationDate: g.created,
		GranteePrincipal: g.grantee, RetiringPrincipal: g.retiring, IssuingAccount: c.rootARN(),
		Operations: slices.Clone(g.operations), Constraints: g.constraints,
	}
}

func (c *Core) queryGrants(ctx context.Context, q string, args ...any) ([]Grant, error) {
	rows, err := c.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: list grants: %v", ErrInternal, err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("%w: list grants: %v", ErrInternal, err)
		}
		out = append(out, c.grantEntry(g))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: list grants: %v", ErrInternal, err)
	}
	return out, nil
}

// ListGrants lists a key's grants in grant id order, optionally only one
// grant or one grantee's.
func (c *Core) ListGrants(ctx context.Context, keyRef, grantID, grantee string, limit int, marker string) (out []Grant, next string, err error) {
	o, err := c.begin(ctx, "ListGrants")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	if grantID != "" && !grantIDPattern.MatchString(grantID) {
		return nil, "", fmt.Errorf("%w: malformed grant id", ErrInvalidGrantID)
	}
	rec, err := c.keyByRef(ctx, keyRef)
	if err != nil {
		return nil, "", err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:ListGrants"}); err != nil {
		return nil, "", err
	}
	q := `SELECT ` + grantColumns + ` FROM grants WHERE key_id = ? AND id > ?`
	args := []any{rec.id, after}
	if grantID != "" {
		q += ` AND id = ?`
		args = append(args, grantID)
	}
	if grantee != "" {
		q += ` AND grantee = ?`
		args = append(args, grantee)
	}
	out, err = c.queryGrants(ctx, q+` ORDER BY id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	out, next = page(out, limit, func(g Grant) string { return g.GrantID })
	return out, next, nil
}

// ListRetirableGrants lists, across keys, the grants a principal may
// retire. It is an account-level operation (root and operator only).
func (c *Core) ListRetirableGrants(ctx context.Context, retiring string, limit int, marker string) (out []Grant, next string, err error) {
	o, err := c.begin(ctx, "ListRetirableGrants")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:ListRetirableGrants"); err != nil {
		return nil, "", err
	}
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	if err := validatePrincipal("RetiringPrincipal", retiring); err != nil {
		return nil, "", err
	}
	out, err = c.queryGrants(ctx, `SELECT g.id, g.key_id, g.name, g.grantee, g.retiring, g.operations, g.constraints, g.issuer, g.token, g.created
		FROM grants g JOIN keys k ON k.id = g.key_id WHERE k.hidden = 0 AND g.retiring = ? AND g.id > ? ORDER BY g.id LIMIT ?`, retiring, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	out, next = page(out, limit, func(g Grant) string { return g.GrantID })
	return out, next, nil
}

// grantByToken finds the grant a token names.
func (c *Core) grantByToken(ctx context.Context, token string) (grantRecord, error) {
	g, err := scanGrant(c.rdb.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE token = ?`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("%w: unknown grant token", ErrInvalidGrantToken)
	}
	if err != nil {
		return g, fmt.Errorf("%w: read grant: %v", ErrInternal, err)
	}
	return g, nil
}

func (c *Core) grantByID(ctx context.Context, keyID, grantID string) (grantRecord, error) {
	if !grantIDPattern.MatchString(grantID) {
		return grantRecord{}, fmt.Errorf("%w: malformed grant id", ErrInvalidGrantID)
	}
	g, err := scanGrant(c.rdb.QueryRowContext(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = ? AND key_id = ?`, grantID, keyID))
	if errors.Is(err, sql.ErrNoRows) {
		return g, fmt.Errorf("%w: grant %s not found", ErrNotFound, grantID)
	}
	if err != nil {
		return g, fmt.Errorf("%w: read grant: %v", ErrInternal, err)
	}
	return g, nil
}

// CheckGrantTokens validates the GrantTokens of a request: at most 10,
// each naming an existing grant (InvalidGrantTokenException otherwise).
// Grants here take effect at once, so a valid token adds no permission.
func (c *Core) CheckGrantTokens(ctx context.Context, tokens []string) error {
	if len(tokens) > maxGrantTokens {
		return fmt.Errorf("%w: at most %d grant tokens", ErrValidation, maxGrantTokens)
	}
	for _, t := range tokens {
		if !strings.HasPrefix(t, grantTokenPrefix) || len(t) > 8192 {
			return fmt.Errorf("%w: unknown grant token", ErrInvalidGrantToken)
		}
		var n int
		if err := c.rdb.QueryRowContext(ctx, `SELECT count(*) FROM grants WHERE token = ?`, t).Scan(&n); err != nil {
			return fmt.Errorf("%w: read grant: %v", ErrInternal, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: unknown grant token", ErrInvalidGrantToken)
		}
	}
	return nil
}

// RetireGrant deletes a grant named by its token or by key and grant id.
// The retiring principal, the grantee when the grant allows RetireGrant,
// the account root and the operator may retire it.
func (c *Core) RetireGrant(ctx context.Context, token, keyRef, grantID string) (err error) {
	o, err := c.begin(ctx, "RetireGrant")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	var g grantRecord
	switch {
	case token != "":
		if g, err = c.grantByToken(ctx, token); err != nil {
			return err
		}
		if grantID != "" && grantID != g.id {
			return fmt.Errorf("%w: GrantId does not match the grant token", ErrInvalidGrantID)
		}
		if keyRef != "" {
			id, err := c.resolveID(ctx, keyRef)
			if err != nil {
				return err
			}
			if id != g.keyID {
				return fmt.Errorf("%w: KeyId does not match the grant token", ErrValidation)
			}
		}
	case keyRef != "" && grantID != "":
		id, err := c.resolveID(ctx, keyRef)
		if err != nil {
			return err
		}
		if g, err = c.grantByID(ctx, id, grantID); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: GrantToken, or KeyId and GrantId, are required", ErrValidation)
	}
	o.key(g.keyID, 0)
	caller, _ := CallerFrom(ctx)
	switch {
	case caller.ARN == "":
		o.record("Allow", decidedByOperator)
	case caller.ARN == c.rootARN():
		o.record("Allow", decidedByAccountRoot)
	case caller.ARN == g.retiring:
		o.record("Allow", "retiring-principal:"+g.id)
	case caller.ARN == g.grantee && g.allows("RetireGrant"):
		o.record("Allow", "grant:"+g.id)
	default:
		o.record("ImplicitDeny", "")
		return &accessDeniedError{fmt.Sprintf("User: %s is not authorized to perform: kms:RetireGrant on resource: %s because it is neither the retiring principal nor a grantee allowed to retire the grant",
			caller.ARN, c.arn(g.keyID))}
	}
	return c.deleteGrant(ctx, g.keyID, g.id)
}

// RevokeGrant deletes a grant; the key policy must allow kms:RevokeGrant.
func (c *Core) RevokeGrant(ctx context.Context, keyRef, grantID string) (err error) {
	o, err := c.begin(ctx, "RevokeGrant")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	rec, err := c.keyByRef(ctx, keyRef)
	if err != nil {
		return err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:RevokeGrant"}); err != nil {
		return err
	}
	if _, err := c.grantByID(ctx, rec.id, grantID); err != nil {
		return err
	}
	return c.deleteGrant(ctx, rec.id, grantID)
}

func (c *Core) deleteGrant(ctx context.Context, keyID, grantID string) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = ? AND key_id = ?`, grantID, keyID)
		if err != nil {
			return fmt.Errorf("%w: delete grant: %v", ErrInternal, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: grant %s not found", ErrNotFound, grantID)
		}
		return nil
	})
}
