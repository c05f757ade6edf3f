package policy

import (
	"errors"
	"testing"
)

const (
	account  = "111122223333"
	rootARN  = "arn:aws:iam::111122223333:root"
	aliceARN = "arn:aws:iam::111122223333:user/alice"
	bobARN   = "arn:aws:iam::111122223333:user/bob"
	keyARN   = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

// kmsOptions is what the KMS passes for key policies
// (docs/authorization.md, "KMS: key policies and grants").
var kmsOptions = ParseOptions{
	Services: []string{"kms"},
	ConditionKeys: []string{
		"kms:EncryptionContext:", "kms:EncryptionContextKeys", "aws:ResourceTag/",
		"kms:ResourceAliases", "kms:ViaService", "kms:CallerAccount", "aws:PrincipalArn",
		"aws:username", "kms:GrantOperations", "kms:GranteePrincipal", "kms:RetiringPrincipal",
		"kms:GrantIsForAWSResource", "kms:EncryptionAlgorithm", "kms:KeySpec", "kms:KeyUsage",
		"kms:KeyOrigin", "kms:KeyManager",
	},
	MaxSize: 32 * 1024,
}

// s3Options is what the gateway passes for bucket policies.
var s3Options = ParseOptions{
	Services: []string{"s3"},
	ConditionKeys: []string{
		"aws:PrincipalArn", "aws:username", "aws:SecureTransport", "s3:prefix",
		"s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id",
	},
	RequireResource: true,
	MaxSize:         20 * 1024,
}

func mustParse(t testing.TB, doc string, opts ParseOptions) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), opts)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

// evalCase is one request against a policy and the decision expected.
type evalCase struct {
	name   string
	req    Request
	effect Effect
	stmt   string // expected Decision.Statement; "" skips the check unless effect is ImplicitDeny
}

func runEvalCases(t *testing.T, p *Policy, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Evaluate(tc.req)
			if got.Effect != tc.effect {
				t.Fatalf("Evaluate = %v (%q), want %v", got.Effect, got.Statement, tc.effect)
			}
			if tc.effect == ImplicitDeny && got.Statement != "" {
				t.Fatalf("ImplicitDeny names statement %q", got.Statement)
			}
			if tc.stmt != "" && got.Statement != tc.stmt {
				t.Fatalf("decided by %q, want %q", got.Statement, tc.stmt)
			}
		})
	}
}

func kmsReq(principal, action string, ctx map[string][]string) Request {
	return Request{Principal: principal, Account: account, Action: action, Resource: keyARN, Context: ctx}
}

func isMalformed(err error) bool { return errors.Is(err, ErrMalformed) }
