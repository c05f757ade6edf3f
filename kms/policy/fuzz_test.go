package policy

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse. It must never panic, must
// fail only with ErrMalformed, and a policy it accepts must evaluate the
// same way twice (Evaluate has no hidden state) and never pair a decision
// with an inconsistent statement name.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		defaultKeyPolicy, keyUsersAndAdminsPolicy, awsManagedS3KeyPolicy, tenStatementPolicy(),
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`,
		`{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"kms:Get*","NotResource":"arn:aws:kms:*:*:key/*"}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"ForAllValues:StringLikeIfExists":{"kms:EncryptionContextKeys":["a?","b*"]},"Null":{"aws:ResourceTag/x":"true"},"NumericLessThan":{"kms:KeySpec":3}}}]}`,
		`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/x*"},"Bool":{"kms:GrantIsForAWSResource":true}}}]}`,
		`{"Statement":[`, `{"a":1,"a":2}`, `{"Statement":[{}]} x`,
	} {
		f.Add([]byte(seed))
	}
	reqs := []Request{
		kmsReq(rootARN, "kms:Decrypt", nil),
		kmsReq(aliceARN, "kms:GenerateDataKey", map[string][]string{
			"kms:ViaService": {"s3.us-east-1.amazonaws.com"}, "kms:CallerAccount": {account},
			"kms:EncryptionContextKeys": {"a1", "b"}, "aws:PrincipalArn": {aliceARN}, "kms:KeySpec": {"2"},
		}),
		{Principal: "", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"},
	}
	opts := kmsOptions
	opts.Services = []string{"kms", "s3"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc, opts)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || p != nil {
				t.Fatalf("Parse = %v, %v; want nil, ErrMalformed", p, err)
			}
			return
		}
		if p.String() != string(doc) {
			t.Fatalf("String() differs from the document")
		}
		for _, r := range reqs {
			d1, d2 := p.Evaluate(r), p.Evaluate(r)
			if d1 != d2 {
				t.Fatalf("Evaluate not deterministic: %+v vs %+v", d1, d2)
			}
			if (d1.Effect == ImplicitDeny) != (d1.Statement == "") {
				t.Fatalf("decision %+v: statement name inconsistent with effect", d1)
			}
		}
	})
}
