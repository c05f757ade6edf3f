package kms

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Imported key material, key policies and grants on the remote client,
// with the same signatures and error semantics as *Core.

// GetParametersForImport returns an RSA wrapping public key and an import
// token for importing material into an EXTERNAL key.
func (r *Remote) GetParametersForImport(ctx context.Context, keyID, algorithm, spec string) (ImportParameters, error) {
	out, err := r.client.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{
		KeyId: aws.String(keyID), WrappingAlgorithm: types.AlgorithmSpec(algorithm), WrappingKeySpec: types.WrappingKeySpec(spec),
	})
	if err != nil {
		return ImportParameters{}, remoteErr(err)
	}
	return ImportParameters{KeyID: aws.ToString(out.KeyId), ImportToken: out.ImportToken, PublicKey: out.PublicKey,
		ParametersValidTo: aws.ToTime(out.ParametersValidTo)}, nil
}

// ImportKeyMaterial imports wrapped key material with the token of a
// GetParametersForImport call. A zero ValidTo is not sent.
func (r *Remote) ImportKeyMaterial(ctx context.Context, in ImportKeyMaterialInput) error {
	req := &awskms.ImportKeyMaterialInput{
		KeyId: aws.String(in.KeyID), ImportToken: in.ImportToken, EncryptedKeyMaterial: in.EncryptedKeyMaterial,
		ExpirationModel: types.ExpirationModelType(in.ExpirationModel),
	}
	if !in.ValidTo.IsZero() {
		req.ValidTo = aws.Time(in.ValidTo)
	}
	_, err := r.client.ImportKeyMaterial(ctx, req)
	return remoteErr(err)
}

// DeleteImportedKeyMaterial deletes a key's imported material; the key
// becomes PendingImport.
func (r *Remote) DeleteImportedKeyMaterial(ctx context.Context, keyID string) error {
	_, err := r.client.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: aws.String(keyID)})
	return remoteErr(err)
}

// PutKeyPolicy replaces a key's policy; name is "default" or empty.
func (r *Remote) PutKeyPolicy(ctx context.Context, keyRef, name, doc string, bypassLockoutCheck bool) error {
	_, err := r.client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{
		KeyId: aws.String(keyRef), PolicyName: optionalString(name), Policy: aws.String(doc),
		BypassPolicyLockoutSafetyCheck: bypassLockoutCheck,
	})
	return remoteErr(err)
}

// GetKeyPolicy returns a key's policy document.
func (r *Remote) GetKeyPolicy(ctx context.Context, keyRef, name string) (string, error) {
	out, err := r.client.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(keyRef), PolicyName: optionalString(name)})
	if err != nil {
		return "", remoteErr(err)
	}
	return aws.ToString(out.Policy), nil
}

// pageLimit sends a limit only when the caller set one, so the server's
// default applies otherwise (as Core's limit 0 does).
func pageLimit(limit int) *int32 {
	if limit == 0 {
		return nil
	}
	return aws.Int32(int32(limit))
}

// nextMarker is the marker of the next page, "" when there is none.
func nextMarker(truncated bool, marker *string) string {
	if !truncated {
		return ""
	}
	return aws.ToString(marker)
}

// ListKeyPolicies lists a key's policy names (always "default").
func (r *Remote) ListKeyPolicies(ctx context.Context, keyRef string, limit int, marker string) ([]string, string, error) {
	out, err := r.client.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{
		KeyId: aws.String(keyRef), Limit: pageLimit(limit), Marker: optionalString(marker),
	})
	if err != nil {
		return nil, "", remoteErr(err)
	}
	return out.PolicyNames, nextMarker(out.Truncated, out.NextMarker), nil
}

// CreateGrant creates a grant and returns its id and token.
func (r *Remote) CreateGrant(ctx context.Context, in CreateGrantInput) (grantID, token string, err error) {
	req := &awskms.CreateGrantInput{
		KeyId: aws.String(in.KeyID), GranteePrincipal: aws.String(in.GranteePrincipal),
		RetiringPrincipal: optionalString(in.RetiringPrincipal), Name: optionalString(in.Name),
	}
	for _, op := range in.Operations {
		req.Operations = append(req.Operations, types.GrantOperation(op))
	}
	if in.Constraints != nil {
		req.Constraints = &types.GrantConstraints{
			EncryptionContextEquals: in.Constraints.EncryptionContextEquals,
			EncryptionContextSubset: in.Constraints.EncryptionContextSubset,
		}
	}
	out, err := r.client.CreateGrant(ctx, req)
	if err != nil {
		return "", "", remoteErr(err)
	}
	return aws.ToString(out.GrantId), aws.ToString(out.GrantToken), nil
}

// ListGrants lists a key's grants, optionally one grant or one grantee's.
func (r *Remote) ListGrants(ctx context.Context, keyRef, grantID, grantee string, limit int, marker string) ([]Grant, string, error) {
	out, err := r.client.ListGrants(ctx, &awskms.ListGrantsInput{
		KeyId: aws.String(keyRef), GrantId: optionalString(grantID), GranteePrincipal: optionalString(grantee),
		Limit: pageLimit(limit), Marker: optionalString(marker),
	})
	if err != nil {
		return nil, "", remoteErr(err)
	}
	grants := make([]Grant, 0, len(out.Grants))
	for _, g := range out.Grants {
		e := Grant{
			KeyID: aws.ToString(g.KeyId), GrantID: aws.ToString(g.GrantId), Name: aws.ToString(g.Name),
			CreationDate: aws.ToTime(g.CreationDate), GranteePrincipal: aws.ToString(g.GranteePrincipal),
			RetiringPrincipal: aws.ToString(g.RetiringPrincipal), IssuingAccount: aws.ToString(g.IssuingAccount),
		}
		for _, op := range g.Operations {
			e.Operations = append(e.Operations, string(op))
		}
		if c := g.Constraints; c != nil && (c.EncryptionContextEquals != nil || c.EncryptionContextSubset != nil) {
			e.Constraints = &GrantConstraints{EncryptionContextEquals: c.EncryptionContextEquals, EncryptionContextSubset: c.EncryptionContextSubset}
		}
		grants = append(grants, e)
	}
	return grants, nextMarker(out.Truncated, out.NextMarker), nil
}

// RetireGrant deletes a grant named by its token or by key and grant id.
func (r *Remote) RetireGrant(ctx context.Context, token, keyRef, grantID string) error {
	_, err := r.client.RetireGrant(ctx, &awskms.RetireGrantInput{
		GrantToken: optionalString(token), KeyId: optionalString(keyRef), GrantId: optionalString(grantID),
	})
	return remoteErr(err)
}

// RevokeGrant deletes a grant; the key policy must allow kms:RevokeGrant.
func (r *Remote) RevokeGrant(ctx context.Context, keyRef, grantID string) error {
	_, err := r.client.RevokeGrant(ctx, &awskms.RevokeGrantInput{KeyId: aws.String(keyRef), GrantId: aws.String(grantID)})
	return remoteErr(err)
}
