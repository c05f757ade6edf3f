package policy

import (
	"strings"
	"testing"
)

func TestParseRefusesMalformedPolicies(t *testing.T) {
	stmt := func(body string) string { return `{"Version":"2012-10-17","Statement":[{` + body + `}]}` }
	base := `"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"`
	big := `{"Statement":[{` + base + `,"Sid":"` + strings.Repeat("x", 33*1024) + `"}]}`
	cases := []struct {
		name, doc string
		opts      ParseOptions
		wantMsg   string // a fragment the user-facing message must contain
	}{
		{"bad JSON", `{"Statement":[`, kmsOptions, "JSON"},
		{"not an object", `[]`, kmsOptions, "object"},
		{"trailing garbage", stmt(base) + ` x`, kmsOptions, "after"},
		{"second document", stmt(base) + `{}`, kmsOptions, "after"},
		{"duplicate key", `{"Statement":[{` + base + `,"Effect":"Deny"}]}`, kmsOptions, "duplicate"},
		{"duplicate top-level key", `{"Statement":[{` + base + `}],"Statement":[]}`, kmsOptions, "duplicate"},
		{"unknown top-level field", `{"Statement":[{` + base + `}],"Foo":1}`, kmsOptions, "Foo"},
		{"unknown statement field", stmt(base + `,"Actions":"kms:Encrypt"`), kmsOptions, "Actions"},
		{"field names are case-sensitive", stmt(`"effect":"Allow","Principal":"*","Action":"kms:Decrypt"`), kmsOptions, "effect"},
		{"bad Version", `{"Version":"2012-10-18","Statement":[{` + base + `}]}`, kmsOptions, "Version"},
		{"Version not a string", `{"Version":2012,"Statement":[{` + base + `}]}`, kmsOptions, "Version"},
		{"missing Statement", `{"Version":"2012-10-17"}`, kmsOptions, "Statement"},
		{"empty Statement", `{"Statement":[]}`, kmsOptions, "empty"},
		{"Statement a string", `{"Statement":"x"}`, kmsOptions, "Statement"},
		{"bad Effect", stmt(`"Effect":"allow","Principal":"*","Action":"kms:Decrypt"`), kmsOptions, "Effect"},
		{"missing Effect", stmt(`"Principal":"*","Action":"kms:Decrypt"`), kmsOptions, "Effect"},
		{"missing Principal", stmt(`"Effect":"Allow","Action":"kms:Decrypt"`), kmsOptions, "Principal"},
		{"Principal and NotPrincipal", stmt(base + `,"NotPrincipal":"*"`), kmsOptions, "NotPrincipal"},
		{"NotPrincipal with Allow", stmt(`"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:Decrypt"`), kmsOptions, "NotPrincipal"},
		{"Principal a bare ARN", stmt(`"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"kms:Decrypt"`), kmsOptions, "Principal"},
		{"Principal empty object", stmt(`"Effect":"Allow","Principal":{},"Action":"kms:Decrypt"`), kmsOptions, "Principal"},
		{"Principal unsupported type", stmt(`"Effect":"Allow","Principal":{"Federated":"x"},"Action":"kms:Decrypt"`), kmsOptions, "Federated"},
		{"Principal wildcard in ARN", stmt(`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"kms:Decrypt"`), kmsOptions, "principal"},
		{"Principal short account", stmt(`"Effect":"Allow","Principal":{"AWS":"1111"},"Action":"kms:Decrypt"`), kmsOptions, "principal"},
		{"Principal empty array", stmt(`"Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:Decrypt"`), kmsOptions, "empty"},
		{"missing Action", stmt(`"Effect":"Allow","Principal":"*"`), kmsOptions, "Action"},
		{"Action and NotAction", stmt(base + `,"NotAction":"kms:Encrypt"`), kmsOptions, "NotAction"},
		{"Action not a string", stmt(`"Effect":"Allow","Principal":"*","Action":7`), kmsOptions, "Action"},
		{"Action array with a number", stmt(`"Effect":"Allow","Principal":"*","Action":["kms:Decrypt",7]`), kmsOptions, "strings"},
		{"foreign service action", stmt(`"Effect":"Allow","Principal":"*","Action":"iam:CreateUser"`), kmsOptions, "service"},
		{"s3 action in key policy", stmt(`"Effect":"Allow","Principal":"*","Action":"s3:GetObject"`), kmsOptions, "service"},
		{"action without prefix", stmt(`"Effect":"Allow","Principal":"*","Action":"Decrypt"`), kmsOptions, "action"},
		{"action with empty name", stmt(`"Effect":"Allow","Principal":"*","Action":"kms:"`), kmsOptions, "action"},
		{"Resource and NotResource", stmt(base + `,"Resource":"*","NotResource":"*"`), kmsOptions, "NotResource"},
		{"Resource not an ARN", stmt(base + `,"Resource":"bucket/*"`), kmsOptions, "ARN"},
		{"ArnLike value with too few components", stmt(base + `,"Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:*"}}`), kmsOptions, "ARN"},
		{"missing Resource in a bucket policy", stmt(`"Effect":"Allow","Principal":"*","Action":"s3:GetObject"`), s3Options, "Resource"},
		{"unknown operator", stmt(base + `,"Condition":{"StringEqualz":{"kms:ViaService":"x"}}`), kmsOptions, "StringEqualz"},
		{"date operator unsupported", stmt(base + `,"Condition":{"DateLessThan":{"kms:ViaService":"x"}}`), kmsOptions, "DateLessThan"},
		{"IP operator unsupported", stmt(base + `,"Condition":{"IpAddress":{"kms:ViaService":"x"}}`), kmsOptions, "IpAddress"},
		{"bad set prefix", stmt(base + `,"Condition":{"ForSomeValues:StringEquals":{"kms:ViaService":"x"}}`), kmsOptions, "ForSomeValues"},
		{"Null with IfExists", stmt(base + `,"Condition":{"NullIfExists":{"kms:ViaService":"true"}}`), kmsOptions, "Null"},
		{"unknown condition key", stmt(base + `,"Condition":{"StringEquals":{"kms:ViaServices":"x"}}`), kmsOptions, "kms:ViaServices"},
		{"prefix key without suffix", stmt(base + `,"Condition":{"StringEquals":{"kms:EncryptionContext:":"x"}}`), kmsOptions, "condition key"},
		{"kms key in a bucket policy", stmt(`"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"x"}}`), s3Options, "condition key"},
		{"empty Condition", stmt(base + `,"Condition":{}`), kmsOptions, "Condition"},
		{"empty operator block", stmt(base + `,"Condition":{"StringEquals":{}}`), kmsOptions, "StringEquals"},
		{"condition value null", stmt(base + `,"Condition":{"StringEquals":{"kms:ViaService":null}}`), kmsOptions, "values"},
		{"condition value empty array", stmt(base + `,"Condition":{"StringEquals":{"kms:ViaService":[]}}`), kmsOptions, "no values"},
		{"Bool value not boolean", stmt(base + `,"Condition":{"Bool":{"kms:GrantIsForAWSResource":"yes"}}`), kmsOptions, "true or false"},
		{"Numeric value not a number", stmt(base + `,"Condition":{"NumericLessThan":{"kms:KeySpec":"ten"}}`), kmsOptions, "number"},
		{"policy variable in condition", stmt(base + `,"Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/${aws:username}"}}`), kmsOptions, "variables"},
		{"policy variable in resource", stmt(`"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"`), s3Options, "variables"},
		{"duplicate Sid", `{"Statement":[{"Sid":"a",` + base + `},{"Sid":"a",` + base + `}]}`, kmsOptions, "Sid"},
		{"too large", big, kmsOptions, "limit"},
		{"too deep", `{"Statement":[{` + base + `,"Condition":{"StringEquals":{"kms:ViaService":[[[[[[["x"]]]]]]]}}}]}`, kmsOptions, "deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc), tc.opts)
			if !isMalformed(err) {
				t.Fatalf("Parse = %v, %v; want ErrMalformed", p, err)
			}
			if p != nil {
				t.Fatalf("Parse returned a policy with an error")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("message %q does not mention %q", err, tc.wantMsg)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("message is %d bytes; it must not echo the document", len(err.Error()))
			}
		})
	}
}

func TestParseAcceptsTheDocumentedForms(t *testing.T) {
	cases := []struct{ name, doc string }{
		{"no Version (2008-10-17 semantics)", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`},
		{"old Version", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`},
		{"Statement as an object", `{"Version":"2012-10-17","Id":"x","Statement":{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*"}}`},
		{"AWS principal list", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/a","*"]},"Action":["kms:Decrypt"]}]}`},
		{"Service principal", `{"Statement":[{"Effect":"Allow","Principal":{"Service":["s3.amazonaws.com"]},"Action":"kms:Decrypt"}]}`},
		{"set and IfExists together", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"ForAllValues:StringLikeIfExists":{"kms:EncryptionContextKeys":"a*"}}}]}`},
		{"numeric condition as JSON number", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"NumericLessThanEquals":{"kms:KeySpec":10.5}}}]}`},
		{"ArnLike with wildcard", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/ops-*"}}}]}`},
		{"whitespace around", "\n  " + `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.doc, kmsOptions)
			if p.String() != tc.doc {
				t.Fatalf("String() = %q, want the document as given", p.String())
			}
		})
	}
}

func TestMalformedMessageQuotesOnlyAnExcerpt(t *testing.T) {
	long := strings.Repeat("A", 500)
	_, err := Parse([]byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"`+long+`":{"kms:ViaService":"x"}}}]}`), kmsOptions)
	if !isMalformed(err) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), strings.Repeat("A", 60)) {
		t.Fatalf("message echoes too much: %q", err)
	}
}
