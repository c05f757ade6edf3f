package kms

import (
	"context"
	"fmt"
)

// Key policy and grant operations of the KMS JSON API (field names as in
// the AWS API reference).

func opPutKeyPolicy(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId                          string
		PolicyName                     string
		Policy                         string
		BypassPolicyLockoutSafetyCheck bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.PutKeyPolicy(ctx, in.KeyId, in.PolicyName, in.Policy, in.BypassPolicyLockoutSafetyCheck)
}

func opGetKeyPolicy(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct{ KeyId, PolicyName string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	doc, err := c.GetKeyPolicy(ctx, in.KeyId, in.PolicyName)
	if err != nil {
		return nil, err
	}
	return struct{ Policy, PolicyName string }{doc, keyPolicyName}, nil
}

func opListKeyPolicies(ctx context.Context, c *Core, body []byte) (any, error) {
	in, limit, err := decodePage(body)
	if err != nil {
		return nil, err
	}
	names, next, err := c.ListKeyPolicies(ctx, in.KeyId, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyNames []string
		pageResponse
	}{names, pageOf(next)}, nil
}

type grantConstraintsJSON struct {
	EncryptionContextEquals map[string]string `json:",omitempty"`
	EncryptionContextSubset map[string]string `json:",omitempty"`
}

func opCreateGrant(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId             string
		GranteePrincipal  string
		RetiringPrincipal string
		Operations        []string
		Constraints       *grantConstraintsJSON
		GrantTokens       []string
		Name              string
		DryRun            bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, fmt.Errorf("%w: DryRun is not supported", ErrUnsupported)
	}
	if err := c.CheckGrantTokens(ctx, in.GrantTokens); err != nil {
		return nil, err
	}
	cg := CreateGrantInput{
		KeyID: in.KeyId, GranteePrincipal: in.GranteePrincipal, RetiringPrincipal: in.RetiringPrincipal,
		Operations: in.Operations, Name: in.Name,
	}
	if in.Constraints != nil {
		cg.Constraints = &GrantConstraints{
			EncryptionContextEquals: in.Constraints.EncryptionContextEquals,
			EncryptionContextSubset: in.Constraints.EncryptionContextSubset,
		}
	}
	id, token, err := c.CreateGrant(ctx, cg)
	if err != nil {
		return nil, err
	}
	return struct{ GrantToken, GrantId string }{token, id}, nil
}

type grantJSON struct {
	KeyId             string
	GrantId           string
	Name              string `json:",omitempty"`
	CreationDate      *epoch
	GranteePrincipal  string
	RetiringPrincipal string `json:",omitempty"`
	IssuingAccount    string
	Operations        []string
	Constraints       *grantConstraintsJSON `json:",omitempty"`
}

type grantsResponse struct {
	Grants []grantJSON
	pageResponse
}

func grantsOut(grants []Grant, next string) grantsResponse {
	out := grantsResponse{Grants: []grantJSON{}, pageResponse: pageOf(next)}
	for _, g := range grants {
		e := grantJSON{
			KeyId: g.KeyID, GrantId: g.GrantID, Name: g.Name, CreationDate: ts(g.CreationDate),
			GranteePrincipal: g.GranteePrincipal, RetiringPrincipal: g.RetiringPrincipal,
			IssuingAccount: g.IssuingAccount, Operations: g.Operations,
		}
		if g.Constraints != nil {
			e.Constraints = &grantConstraintsJSON{g.Constraints.EncryptionContextEquals, g.Constraints.EncryptionContextSubset}
		}
		out.Grants = append(out.Grants, e)
	}
	return out
}

func opListGrants(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		pageRequest
		GrantId          string
		GranteePrincipal string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	limit, err := in.limit()
	if err != nil {
		return nil, err
	}
	grants, next, err := c.ListGrants(ctx, in.KeyId, in.GrantId, in.GranteePrincipal, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return grantsOut(grants, next), nil
}

func opListRetirableGrants(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		Limit             *int
		Marker            string
		RetiringPrincipal string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	limit, err := pageRequest{Limit: in.Limit}.limit()
	if err != nil {
		return nil, err
	}
	grants, next, err := c.ListRetirableGrants(ctx, in.RetiringPrincipal, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return grantsOut(grants, next), nil
}

func opRetireGrant(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		GrantToken string
		KeyId      string
		GrantId    string
		DryRun     bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, fmt.Errorf("%w: DryRun is not supported", ErrUnsupported)
	}
	return struct{}{}, c.RetireGrant(ctx, in.GrantToken, in.KeyId, in.GrantId)
}

func opRevokeGrant(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId   string
		GrantId string
		DryRun  bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, fmt.Errorf("%w: DryRun is not supported", ErrUnsupported)
	}
	return struct{}{}, c.RevokeGrant(ctx, in.KeyId, in.GrantId)
}
