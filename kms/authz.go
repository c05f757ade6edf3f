package kms

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ssegate/ssegate/kms/policy"
)

// Authorization of KMS operations (docs/authorization.md, "KMS: key
// policies and grants"): an explicit deny in the key policy refuses, an
// allow in it allows, a grant to the caller for the operation whose
// constraints hold allows, anything else is an implicit deny. Calls
// without a caller ARN are the operator's and are not checked.

var _ Authorizer = (*Core)(nil)

// Decision labels in the audit log for decisions no statement made.
const (
	decidedByOperator    = "operator"
	decidedByAWSOwned    = "aws-owned"
	decidedByAccountRoot = "account-root"
)

// authzState is what authorization needs about a key besides its row.
// It is loaded with the key and cached with it (cachedKey.authz).
type authzState struct {
	policyText string         // as stored; "" is the default policy
	policy     *policy.Policy // nil if the stored policy no longer parses: deny all
	tags       map[string]string
	aliases    []string
	grants     []grantRecord
}

// loadAuthz reads a key's policy, tags, aliases and grants.
func (c *Core) loadAuthz(ctx context.Context, rec keyRecord) (*authzState, error) {
	st := &authzState{tags: map[string]string{}}
	if err := c.rdb.QueryRowContext(ctx, `SELECT policy FROM keys WHERE id = ?`, rec.id).Scan(&st.policyText); err != nil {
		return nil, fmt.Errorf("%w: read key policy: %v", ErrInternal, err)
	}
	p, err := parseKeyPolicy(c.effectivePolicy(rec, st.policyText))
	if err != nil {
		// Fail closed: a stored policy the parser now refuses allows
		// nothing (the operator can still replace it).
		c.log.Error("stored key policy does not parse; only the operator can use the key", "key", rec.id)
	}
	st.policy = p
	rows, err := c.rdb.QueryContext(ctx, `SELECT tag_key, tag_value FROM tags WHERE key_id = ?`, rec.id)
	if err != nil {
		return nil, fmt.Errorf("%w: read tags: %v", ErrInternal, err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: read tags: %v", ErrInternal, err)
		}
		st.tags[k] = v
	}
	rows.Close()
	rows, err = c.rdb.QueryContext(ctx, `SELECT name FROM aliases WHERE key_id = ? ORDER BY name`, rec.id)
	if err != nil {
		return nil, fmt.Errorf("%w: read aliases: %v", ErrInternal, err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: read aliases: %v", ErrInternal, err)
		}
		st.aliases = append(st.aliases, a)
	}
	rows.Close()
	st.grants, err = c.keyGrants(ctx, rec.id)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// authzRequest is one key authorization question.
type authzRequest struct {
	action    string // "kms:Decrypt"
	ec        EncryptionContext
	withEC    bool   // the operation takes an encryption context
	algorithm string // kms:EncryptionAlgorithm, when the operation has one
	grant     *CreateGrantInput
}

// accessDeniedError carries AWS's message for a refused authorization.
type accessDeniedError struct{ msg string }

func (e *accessDeniedError) Error() string        { return e.msg }
func (e *accessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// record notes a decision on the audit line; a second decision in one
// operation (ReEncrypt's destination) goes to DestinationDecision.
func (o *op) record(effect, by string) {
	if o.ev.Decision == "" {
		o.ev.Decision, o.ev.DecidedBy = effect, by
		return
	}
	o.ev.DestinationDecision = effect + " " + by
}

// authorize decides whether the caller on ctx may perform r on key ck and
// records the decision on o.
func (c *Core) authorize(ctx context.Context, o *op, ck *cachedKey, r authzRequest) error {
	caller, _ := CallerFrom(ctx)
	if caller.ARN == "" {
		o.record(policy.Allow.String(), decidedByOperator)
		return nil
	}
	// The gateway's SSE-S3 key is AWS-owned: no policy, the service uses it.
	if ck.rec.hidden {
		o.record(policy.Allow.String(), decidedByAWSOwned)
		return nil
	}
	resource := c.arn(ck.rec.id)
	var d policy.Decision
	if ck.authz != nil && ck.authz.policy != nil {
		d = ck.authz.policy.Evaluate(c.policyRequest(caller, ck, resource, r))
	}
	switch d.Effect {
	case policy.Deny:
		o.record(d.Effect.String(), "policy:"+d.Statement)
		return &accessDeniedError{fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy",
			caller.ARN, r.action, resource)}
	case policy.Allow:
		o.record(d.Effect.String(), "policy:"+d.Statement)
		return nil
	}
	if ck.authz != nil {
		if g := matchGrant(ck.authz.grants, caller.ARN, r); g != nil {
			o.record(policy.Allow.String(), "grant:"+g.id)
			return nil
		}
	}
	o.record(policy.ImplicitDeny.String(), "")
	return &accessDeniedError{fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		caller.ARN, r.action, resource, r.action)}
}

// authorizeID loads key id (from the cache when fresh) and authorizes r.
func (c *Core) authorizeID(ctx context.Context, o *op, id string, r authzRequest) error {
	if caller, _ := CallerFrom(ctx); caller.ARN == "" {
		o.record(policy.Allow.String(), decidedByOperator)
		return nil
	}
	ck, err := c.loadKey(ctx, id)
	if err != nil {
		return err
	}
	return c.authorize(ctx, o, ck, r)
}

// authorizeAccount decides account-level operations (CreateKey, ListKeys,
// ListAliases, GenerateRandom, ListRetirableGrants, CreateAlias's alias
// side). AWS authorizes them by IAM policies only; ssegate has none, so
// the account root and the operator may, users may not.
func (c *Core) authorizeAccount(ctx context.Context, o *op, action string) error {
	caller, _ := CallerFrom(ctx)
	switch caller.ARN {
	case "":
		o.record(policy.Allow.String(), decidedByOperator)
		return nil
	case c.rootARN():
		o.record(policy.Allow.String(), decidedByAccountRoot)
		return nil
	}
	o.record(policy.ImplicitDeny.String(), "")
	return &accessDeniedError{fmt.Sprintf("User: %s is not authorized to perform: %s on resource: * because no identity-based policy allows the %s action",
		caller.ARN, action, action)}
}

func (c *Core) rootARN() string { return "arn:aws:iam::" + c.opts.AccountID + ":root" }

// policyRequest builds the policy question with the condition keys of
// docs/authorization.md.
func (c *Core) policyRequest(caller Caller, ck *cachedKey, resource string, r authzRequest) policy.Request {
	ctx := map[string][]string{
		"aws:PrincipalArn":  {caller.ARN},
		"kms:CallerAccount": {arnAccount(caller.ARN)},
		"kms:KeySpec":       {"SYMMETRIC_DEFAULT"},
		"kms:KeyUsage":      {"ENCRYPT_DECRYPT"},
		"kms:KeyOrigin":     {"AWS_KMS"},
		"kms:KeyManager":    {string(ck.rec.manager)},
	}
	if name, ok := strings.CutPrefix(arnResource(caller.ARN), "user/"); ok {
		ctx["aws:username"] = []string{name}
	}
	if caller.ViaService != "" {
		ctx["kms:ViaService"] = []string{caller.ViaService}
	}
	if ck.authz != nil {
		for k, v := range ck.authz.tags {
			ctx["aws:ResourceTag/"+k] = []string{v}
		}
		if len(ck.authz.aliases) > 0 {
			ctx["kms:ResourceAliases"] = slices.Clone(ck.authz.aliases)
		}
	}
	if r.withEC {
		keys := make([]string, 0, len(r.ec))
		for k, v := range r.ec {
			ctx["kms:EncryptionContext:"+k] = []string{v}
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			slices.Sort(keys)
			ctx["kms:EncryptionContextKeys"] = keys
		}
	}
	if r.algorithm != "" {
		ctx["kms:EncryptionAlgorithm"] = []string{r.algorithm}
	}
	if g := r.grant; g != nil {
		ctx["kms:GrantOperations"] = slices.Clone(g.Operations)
		ctx["kms:GranteePrincipal"] = []string{g.GranteePrincipal}
		if g.RetiringPrincipal != "" {
			ctx["kms:RetiringPrincipal"] = []string{g.RetiringPrincipal}
		}
		ctx["kms:GrantIsForAWSResource"] = []string{fmt.Sprint(caller.ViaService != "")}
	}
	return policy.Request{
		Principal: caller.ARN, Account: c.opts.AccountID,
		Action: r.action, Resource: resource, Context: ctx,
	}
}

// arnAccount returns the account field of an ARN ("" if it has none).
func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[4]
}

func arnResource(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[5]
}

// cryptoOperations take an encryption context; Authorize accepts them.
var authorizeOperations = map[string]bool{
	"Encrypt": true, "Decrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
}

// Authorize answers, for the gateway, whether the caller may perform
// in.Operation on a key with in.Context, without performing it. The audit
// line is the operation's, marked cachedDataKey. It resolves the key
// (NotFound for an unknown one) but does not check its state.
func (c *Core) Authorize(ctx context.Context, in AuthorizeInput) (err error) {
	if !authorizeOperations[in.Operation] {
		return fmt.Errorf("%w: Authorize supports Encrypt, Decrypt and GenerateDataKey*", ErrValidation)
	}
	o, err := c.begin(ctx, in.Operation)
	if err != nil {
		return err
	}
	o.ev.CachedDataKey = true
	defer func() { o.end(err) }()
	o.context(in.Context)
	id, err := c.resolveID(ctx, in.KeyID)
	if err != nil {
		return err
	}
	ck, err := c.loadKey(ctx, id)
	if err != nil {
		return err
	}
	o.key(id, 0)
	r := authzRequest{action: "kms:" + in.Operation, ec: in.Context, withEC: true}
	if in.Operation == "Encrypt" || in.Operation == "Decrypt" {
		r.algorithm = symmetricDefault
	}
	if err := c.authorize(ctx, o, ck, r); err != nil {
		return err
	}
	// Serving from a cached data key is a use of the key (deletion.go).
	c.recordUse(id)
	return nil
}
