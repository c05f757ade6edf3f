package kms

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/ssegate/ssegate/kms/policy"
)

const (
	// keyPolicyName is the only key policy name AWS KMS has.
	keyPolicyName    = "default"
	maxKeyPolicySize = 32 << 10
)

// keyPolicyConditionKeys are the condition keys a key policy may use
// (docs/authorization.md); a policy naming another is malformed.
var keyPolicyConditionKeys = []string{
	"kms:EncryptionContext:", "kms:EncryptionContextKeys", "aws:ResourceTag/",
	"kms:ResourceAliases", "kms:ViaService", "kms:CallerAccount", "aws:PrincipalArn",
	"aws:username", "kms:GrantOperations", "kms:GranteePrincipal", "kms:RetiringPrincipal",
	"kms:GrantIsForAWSResource", "kms:EncryptionAlgorithm", "kms:KeySpec", "kms:KeyUsage",
	"kms:KeyOrigin", "kms:KeyManager",
}

func parseKeyPolicy(doc string) (*policy.Policy, error) {
	if len(doc) > maxKeyPolicySize {
		return nil, fmt.Errorf("%w: a key policy is at most %d bytes", ErrMalformedPolicy, maxKeyPolicySize)
	}
	p, err := policy.Parse([]byte(doc), policy.ParseOptions{
		Services: []string{"kms"}, ConditionKeys: keyPolicyConditionKeys, MaxSize: maxKeyPolicySize,
	})
	if err != nil {
		// The parser's message says what is wrong, in words for the
		// policy's author; it holds no secret.
		msg := strings.TrimPrefix(err.Error(), policy.ErrMalformed.Error()+": ")
		return nil, fmt.Errorf("%w: %s", ErrMalformedPolicy, msg)
	}
	return p, nil
}

// defaultPolicyDoc is AWS's default key policy ("key-default-1"): the
// account root may do everything.
func (c *Core) defaultPolicyDoc() string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + c.opts.AccountID + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// managedPolicyDoc is AWS's policy of the AWS-managed key alias/aws/s3:
// any principal of the account may use it for cryptography through S3
// only, and the account root may read its metadata.
func (c *Core) managedPolicyDoc() string {
	return `{"Version":"2012-10-17","Id":"auto-s3-2","Statement":[` +
		`{"Sid":"Allow access through S3 for all principals in the account that are authorized to use S3","Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:CallerAccount":"` + c.opts.AccountID + `","kms:ViaService":"s3.` + c.opts.Region + `.amazonaws.com"}}},` +
		`{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + c.opts.AccountID + `:root"},"Action":["kms:Describe*","kms:Get*","kms:List*"],"Resource":"*"}]}`
}

// effectivePolicy is the policy document in force for a key whose stored
// policy column is stored ("" meaning the default for its kind).
func (c *Core) effectivePolicy(rec keyRecord, stored string) string {
	switch {
	case stored != "":
		return stored
	case rec.manager == KeyManagerAWS && !rec.hidden:
		return c.managedPolicyDoc()
	}
	return c.defaultPolicyDoc()
}

// checkNewPolicy parses doc and, unless bypass, runs AWS's lockout safety
// check: the new policy must still let the caller call PutKeyPolicy.
//
// st is the key's authorization state for the condition keys (tags,
// aliases); nil means the cached one, if any.
func (c *Core) checkNewPolicy(ctx context.Context, rec keyRecord, st *authzState, doc string, bypass bool) (*policy.Policy, error) {
	p, err := parseKeyPolicy(doc)
	if err != nil {
		return nil, err
	}
	caller, _ := CallerFrom(ctx)
	if bypass || caller.ARN == "" {
		return p, nil
	}
	ck := &cachedKey{rec: rec, authz: st}
	if cur, ok := c.cache.get(rec.id); ok && st == nil {
		ck.authz = cur.authz
	}
	req := c.policyRequest(caller, ck, c.arn(rec.id), authzRequest{action: "kms:PutKeyPolicy"})
	if p.Evaluate(req).Effect != policy.Allow {
		return nil, errLockout
	}
	return p, nil
}

// errLockout is AWS's answer, word for word, when the lockout safety
// check fails.
var errLockout error = &malformedPolicyError{"The new key policy will not allow you to update the key policy in the future."}

type malformedPolicyError struct{ msg string }

func (e *malformedPolicyError) Error() string        { return e.msg }
func (e *malformedPolicyError) Is(target error) bool { return target == ErrMalformedPolicy }

func checkPolicyName(name string) error {
	if name != "" && name != keyPolicyName {
		return fmt.Errorf("%w: PolicyName must be %q", ErrValidation, keyPolicyName)
	}
	return nil
}

// PutKeyPolicy replaces a customer-managed key's policy. name must be
// "default" (or empty).
func (c *Core) PutKeyPolicy(ctx context.Context, keyRef, name, doc string, bypassLockoutCheck bool) (err error) {
	o, err := c.begin(ctx, "PutKeyPolicy")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if err := checkPolicyName(name); err != nil {
		return err
	}
	if doc == "" {
		return fmt.Errorf("%w: Policy is required", ErrValidation)
	}
	rec, err := c.keyByRef(ctx, keyRef)
	if err != nil {
		return err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:PutKeyPolicy"}); err != nil {
		return err
	}
	// The AWS-managed key's policy is AWS's and can't be changed.
	if err := customerOnly(&rec); err != nil {
		return err
	}
	if err := notPendingDeletion(&rec); err != nil {
		return err
	}
	if _, err := c.checkNewPolicy(ctx, rec, nil, doc, bypassLockoutCheck); err != nil {
		return err
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET policy = ? WHERE id = ?`, doc, rec.id)
		if err != nil {
			return fmt.Errorf("%w: update key policy: %v", ErrInternal, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: key %s", ErrNotFound, rec.id)
		}
		return nil
	})
}

// GetKeyPolicy returns the policy document in force for a key.
func (c *Core) GetKeyPolicy(ctx context.Context, keyRef, name string) (doc string, err error) {
	o, err := c.begin(ctx, "GetKeyPolicy")
	if err != nil {
		return "", err
	}
	defer func() { o.end(err) }()
	if err := checkPolicyName(name); err != nil {
		return "", err
	}
	rec, err := c.keyByRef(ctx, keyRef)
	if err != nil {
		return "", err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:GetKeyPolicy"}); err != nil {
		return "", err
	}
	var stored string
	if err := c.rdb.QueryRowContext(ctx, `SELECT policy FROM keys WHERE id = ?`, rec.id).Scan(&stored); err != nil {
		return "", fmt.Errorf("%w: read key policy: %v", ErrInternal, err)
	}
	return c.effectivePolicy(rec, stored), nil
}

// ListKeyPolicies lists a key's policy names: always ["default"].
func (c *Core) ListKeyPolicies(ctx context.Context, keyRef string, limit int, marker string) (names []string, next string, err error) {
	o, err := c.begin(ctx, "ListKeyPolicies")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	if _, _, err := pageArgs(limit, marker); err != nil {
		return nil, "", err
	}
	rec, err := c.keyByRef(ctx, keyRef)
	if err != nil {
		return nil, "", err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:ListKeyPolicies"}); err != nil {
		return nil, "", err
	}
	if marker != "" {
		return []string{}, "", nil
	}
	return []string{keyPolicyName}, "", nil
}
