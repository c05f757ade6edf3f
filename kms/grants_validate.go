package kms

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
)

// Validation of CreateGrant requests: which operations a grant may name,
// for which keys, with which constraints, and when a grantee's new grant
// is no wider than its own.

// keyGrantOperations are the operations a grant may allow per kind of key,
// besides CreateGrant, RetireGrant and DescribeKey, which fit every key.
var keyGrantOperations = struct{ symmetric, rsaEncrypt, signVerify, mac map[string]bool }{
	symmetric: map[string]bool{"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
		"ReEncryptFrom": true, "ReEncryptTo": true, "GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true},
	rsaEncrypt: map[string]bool{"Encrypt": true, "Decrypt": true, "GetPublicKey": true, "ReEncryptFrom": true, "ReEncryptTo": true},
	signVerify: map[string]bool{"Sign": true, "Verify": true, "GetPublicKey": true},
	mac:        map[string]bool{"GenerateMac": true, "VerifyMac": true},
}

// grantOpsFitKey refuses grant operations the key can't perform, as AWS
// does: Sign on a symmetric key, Decrypt on an HMAC key, and so on.
func grantOpsFitKey(k keyRecord, ops []string) error {
	fit := keyGrantOperations.symmetric
	switch {
	case k.keyUsage == "SIGN_VERIFY":
		fit = keyGrantOperations.signVerify
	case k.keyUsage == "GENERATE_VERIFY_MAC":
		fit = keyGrantOperations.mac
	case k.keySpec != "SYMMETRIC_DEFAULT": // RSA for encryption
		fit = keyGrantOperations.rsaEncrypt
	}
	for _, op := range ops {
		if !fit[op] && op != "CreateGrant" && op != "RetireGrant" && op != "DescribeKey" {
			return fmt.Errorf("%w: %s is not a grant operation for a %s %s key", ErrValidation, op, k.keySpec, k.keyUsage)
		}
	}
	return nil
}

// grantOperations are the operations a grant on a symmetric key may allow;
// contextOperations are those that take an encryption context, the only
// ones a constrained grant may list (with CreateGrant and RetireGrant).
var (
	grantOperations = map[string]bool{
		"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
		"ReEncryptFrom": true, "ReEncryptTo": true, "CreateGrant": true, "RetireGrant": true, "DescribeKey": true,
		"GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
		// Asymmetric and HMAC keys (issue 11); they take no context.
		"Sign": true, "Verify": true, "GetPublicKey": true, "GenerateMac": true, "VerifyMac": true,
	}
	contextOperations = map[string]bool{
		"Decrypt": true, "Encrypt": true, "GenerateDataKey": true, "GenerateDataKeyWithoutPlaintext": true,
		"ReEncryptFrom": true, "ReEncryptTo": true, "GenerateDataKeyPair": true, "GenerateDataKeyPairWithoutPlaintext": true,
		"CreateGrant": true, "RetireGrant": true,
	}
	principalPattern = regexp.MustCompile(`^arn:aws:iam::[0-9]{12}:(root|user/[A-Za-z0-9+=,.@_/-]{1,512}|role/[A-Za-z0-9+=,.@_/-]{1,512})$`)
	grantNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]{1,256}$`)
	grantIDPattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// grantNarrows says whether a grant created under the authority of parent
// (a grantee's CreateGrant) allows no more than parent does.
func grantNarrows(parent *grantRecord, child *CreateGrantInput) bool {
	for _, op := range child.Operations {
		if !parent.allows(op) {
			return false
		}
	}
	pc := parent.constraints
	if pc.empty() {
		return true
	}
	cc := child.Constraints
	if cc.empty() {
		return false
	}
	if pc.EncryptionContextEquals != nil && !maps.Equal(pc.EncryptionContextEquals, cc.EncryptionContextEquals) {
		return false
	}
	for k, v := range pc.EncryptionContextSubset {
		sv, inSubset := cc.EncryptionContextSubset[k]
		ev, inEquals := cc.EncryptionContextEquals[k]
		if !(inSubset && sv == v) && !(inEquals && ev == v) {
			return false
		}
	}
	return true
}

func validatePrincipal(field, arn string) error {
	if !principalPattern.MatchString(arn) {
		return fmt.Errorf("%w: %s must be an IAM principal ARN", ErrValidation, field)
	}
	return nil
}

// validateGrant checks a CreateGrant request and normalises its operations
// (sorted, without duplicates).
func validateGrant(in *CreateGrantInput) error {
	if err := validatePrincipal("GranteePrincipal", in.GranteePrincipal); err != nil {
		return err
	}
	if in.RetiringPrincipal != "" {
		if err := validatePrincipal("RetiringPrincipal", in.RetiringPrincipal); err != nil {
			return err
		}
	}
	if in.Name != "" && !grantNamePattern.MatchString(in.Name) {
		return fmt.Errorf("%w: Name must match [a-zA-Z0-9:/_-]{1,256}", ErrValidation)
	}
	if len(in.Operations) == 0 {
		return fmt.Errorf("%w: Operations must not be empty", ErrValidation)
	}
	for _, op := range in.Operations {
		if !grantOperations[op] {
			return fmt.Errorf("%w: %q is not a grant operation", ErrValidation, op)
		}
	}
	ops := slices.Clone(in.Operations)
	slices.Sort(ops)
	in.Operations = slices.Compact(ops)
	if in.Constraints.empty() {
		in.Constraints = nil
		return nil
	}
	for _, m := range []map[string]string{in.Constraints.EncryptionContextEquals, in.Constraints.EncryptionContextSubset} {
		if len(m) > maxConstraintPairs {
			return fmt.Errorf("%w: a grant constraint has at most %d pairs", ErrValidation, maxConstraintPairs)
		}
		if err := validateContext(m); err != nil {
			return err
		}
	}
	for _, op := range in.Operations {
		if !contextOperations[op] {
			return fmt.Errorf("%w: grant constraints are not allowed with the %s operation", ErrValidation, op)
		}
	}
	return nil
}

func sameGrant(g grantRecord, in CreateGrantInput) bool {
	if g.grantee != in.GranteePrincipal || g.retiring != in.RetiringPrincipal || !slices.Equal(g.operations, in.Operations) {
		return false
	}
	a, b := g.constraints, in.Constraints
	if a.empty() || b.empty() {
		return a.empty() && b.empty()
	}
	return maps.Equal(a.EncryptionContextEquals, b.EncryptionContextEquals) && maps.Equal(a.EncryptionContextSubset, b.EncryptionContextSubset)
}
