package policy

import (
	"fmt"
	"strings"
	"testing"
)

// tenStatementPolicy is a realistic large key policy: admins, users,
// service-only use, tag and context conditions, a trailing Deny.
func tenStatementPolicy() string {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[`)
	b.WriteString(`{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`)
	for i := 0; i < 7; i++ {
		fmt.Fprintf(&b, `,{"Sid":"Users%d","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/u%d","arn:aws:iam::111122223333:user/v%d"]},`+
			`"Action":["kms:Encrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*",`+
			`"Condition":{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::bucket%d/*"},"StringEquals":{"aws:ResourceTag/Project":"p%d"}}}`, i, i, i, i, i)
	}
	b.WriteString(`,{"Sid":"ViaS3","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",` +
		`"Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.us-east-1.amazonaws.com"}}}`)
	b.WriteString(`,{"Sid":"DenyOutsideS3","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*",` +
		`"Condition":{"StringNotEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"},"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/locked-*"}}}`)
	b.WriteString(`]}`)
	return b.String()
}

// BenchmarkEvaluate measures the per-request cost of a 10-statement key
// policy for a request that walks every statement before an Allow.
func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, tenStatementPolicy(), kmsOptions)
	req := kmsReq(aliceARN, "kms:Decrypt", map[string][]string{
		"kms:ViaService":                   {"s3.us-east-1.amazonaws.com"},
		"kms:CallerAccount":                {account},
		"kms:EncryptionContext:aws:s3:arn": {"arn:aws:s3:::bucket3/some/object/key"},
		"aws:ResourceTag/Project":          {"p3"},
		"kms:ResourceAliases":              {"alias/a", "alias/b"},
	})
	if d := p.Evaluate(req); d.Effect != Allow || d.Statement != "ViaS3" {
		b.Fatalf("Evaluate = %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(req)
	}
}

func BenchmarkParse(b *testing.B) {
	doc := []byte(tenStatementPolicy())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc, kmsOptions); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEvaluateIsSafeForConcurrentUse(t *testing.T) {
	p := mustParse(t, tenStatementPolicy(), kmsOptions)
	reqs := []Request{
		kmsReq(rootARN, "kms:Decrypt", nil),
		kmsReq("arn:aws:iam::111122223333:user/u2", "kms:Encrypt", map[string][]string{
			"kms:EncryptionContext:aws:s3:arn": {"arn:aws:s3:::bucket2/x"}, "aws:ResourceTag/Project": {"p2"}}),
		kmsReq(aliceARN, "kms:Decrypt", map[string][]string{"kms:ResourceAliases": {"alias/locked-1"}}),
	}
	want := []Effect{Allow, Allow, Deny}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				for j, r := range reqs {
					if d := p.Evaluate(r); d.Effect != want[j] {
						done <- fmt.Errorf("request %d: %v, want %v", j, d.Effect, want[j])
						return
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
