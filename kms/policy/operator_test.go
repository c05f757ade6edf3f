package policy

import (
	"fmt"
	"testing"
)

// TestConditionOperatorSemantics pins each operator's AWS behaviour for a
// present single value, several values, and a missing key.
func TestConditionOperatorSemantics(t *testing.T) {
	type tc struct {
		op, key, policyValues string // policyValues is JSON
		ctx                   []string
		missing               bool
		want                  bool
	}
	const k = "kms:EncryptionContext:k"
	cases := []tc{
		{"StringEquals", k, `"a"`, []string{"a"}, false, true},
		{"StringEquals", k, `"a"`, []string{"A"}, false, false},
		{"StringEquals", k, `["a","b"]`, []string{"b"}, false, true},
		{"StringEquals", k, `"a"`, []string{"x", "a"}, false, true}, // any context value
		{"StringEquals", k, `"a"`, nil, true, false},
		{"StringEquals", k, `"a*"`, []string{"ab"}, false, false}, // no wildcards
		{"StringNotEquals", k, `"a"`, []string{"b"}, false, true},
		{"StringNotEquals", k, `"a"`, []string{"a"}, false, false},
		{"StringNotEquals", k, `"a"`, []string{"b", "a"}, false, false}, // some value matches
		{"StringNotEquals", k, `"a"`, nil, true, true},                  // missing key: negated is true
		{"StringNotEqualsIfExists", k, `"a"`, nil, true, true},
		{"StringEqualsIfExists", k, `"a"`, nil, true, true},
		{"StringEqualsIfExists", k, `"a"`, []string{"b"}, false, false},
		{"StringEqualsIgnoreCase", k, `"ABC"`, []string{"abc"}, false, true},
		{"StringNotEqualsIgnoreCase", k, `"ABC"`, []string{"abc"}, false, false},
		{"StringLike", k, `"a*c"`, []string{"a/b:c"}, false, true},
		{"StringLike", k, `"a?c"`, []string{"abc"}, false, true},
		{"StringLike", k, `"a?c"`, []string{"ac"}, false, false},
		{"StringLike", k, `"A*"`, []string{"abc"}, false, false}, // case-sensitive
		{"StringLike", k, `"*"`, []string{""}, false, true},
		{"StringNotLike", k, `"a*"`, []string{"bcd"}, false, true},
		{"StringNotLike", k, `"a*"`, []string{"abc"}, false, false},
		{"StringNotLike", k, `"a*"`, nil, true, true},
		{"ArnEquals", k, `"arn:aws:iam::111122223333:user/alice"`, []string{aliceARN}, false, true},
		{"ArnLike", k, `"arn:aws:iam::*:user/*"`, []string{aliceARN}, false, true},
		{"ArnLike", k, `"arn:aws:iam::*:user/*"`, []string{rootARN}, false, false},
		{"ArnLike", k, `"arn:aws:iam::1111*:*"`, []string{"arn:aws:iam::111122223333:x"}, false, true},
		{"ArnLike", k, `"arn:aws:iam::*:user/alice"`, []string{"arn:aws:iam::1:2:user/alice"}, false, false}, // '*' stays in its component
		{"ArnLike", k, `"arn:aws:iam::*:user/*"`, []string{"not-an-arn"}, false, false},
		{"ArnNotLike", k, `"arn:aws:iam::*:user/*"`, []string{rootARN}, false, true},
		{"ArnNotEquals", k, `"arn:aws:iam::111122223333:user/alice"`, []string{aliceARN}, false, false},
		{"NumericEquals", k, `10`, []string{"10.0"}, false, true},
		{"NumericEquals", k, `"10"`, []string{"11"}, false, false},
		{"NumericEquals", k, `10`, []string{"ten"}, false, false},
		{"NumericNotEquals", k, `10`, []string{"11"}, false, true},
		{"NumericNotEquals", k, `10`, nil, true, true},
		{"NumericLessThan", k, `10`, []string{"9"}, false, true},
		{"NumericLessThan", k, `10`, []string{"10"}, false, false},
		{"NumericLessThanEquals", k, `10`, []string{"10"}, false, true},
		{"NumericGreaterThan", k, `10`, []string{"10"}, false, false},
		{"NumericGreaterThan", k, `10`, []string{"10.5"}, false, true},
		{"NumericGreaterThanEquals", k, `10`, []string{"10"}, false, true},
		{"NumericLessThan", k, `10`, nil, true, false},
		{"Bool", k, `true`, []string{"True"}, false, true},
		{"Bool", k, `"false"`, []string{"true"}, false, false},
		{"Bool", k, `"false"`, nil, true, false},
		{"Null", k, `"true"`, nil, true, true},
		{"Null", k, `"true"`, []string{"x"}, false, false},
		{"Null", k, `"false"`, []string{"x"}, false, true},
		{"Null", k, `"false"`, nil, true, false},
		{"ForAnyValue:StringEquals", k, `["a","b"]`, []string{"c", "b"}, false, true},
		{"ForAnyValue:StringEquals", k, `["a","b"]`, []string{"c"}, false, false},
		{"ForAnyValue:StringEquals", k, `"a"`, nil, true, false},
		{"ForAnyValue:StringEqualsIfExists", k, `"a"`, nil, true, true},
		{"ForAnyValue:StringNotEquals", k, `["a","b"]`, []string{"a", "c"}, false, true},
		{"ForAnyValue:StringNotEquals", k, `["a","b"]`, []string{"a", "b"}, false, false},
		{"ForAllValues:StringEquals", k, `["a","b"]`, []string{"a", "b"}, false, true},
		{"ForAllValues:StringEquals", k, `["a","b"]`, []string{"a", "c"}, false, false},
		{"ForAllValues:StringEquals", k, `"a"`, nil, true, true},
		{"ForAllValues:StringNotEquals", k, `["a","b"]`, []string{"c", "d"}, false, true},
		{"ForAllValues:StringNotEquals", k, `["a","b"]`, []string{"c", "a"}, false, false},
		{"ForAllValues:StringLike", k, `"x-*"`, []string{"x-1", "x-2"}, false, true},
		{"ForAllValues:StringLike", k, `"x-*"`, []string{"x-1", "y-2"}, false, false},
	}
	for i, c := range cases {
		name := fmt.Sprintf("%d/%s %s ctx=%q missing=%v", i, c.op, c.policyValues, c.ctx, c.missing)
		t.Run(name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{%q:{%q:%s}}}}`, c.op, c.key, c.policyValues)
			p := mustParse(t, doc, kmsOptions)
			ctx := map[string][]string{"unrelated": {"a"}}
			if !c.missing {
				ctx[c.key] = c.ctx
			}
			got := p.Evaluate(kmsReq(aliceARN, "kms:Decrypt", ctx)).Effect == Allow
			if got != c.want {
				t.Fatalf("condition held = %v, want %v", got, c.want)
			}
		})
	}
}

func TestContextKeysDifferingOnlyInCaseAreAllConsulted(t *testing.T) {
	// Encryption context keys are case-sensitive in KMS, so a request can
	// carry "Dept" and "dept"; condition key names are not, so a negated
	// operator must see both values and a Deny must not be dodged.
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"},
	  {"Sid":"NotFinance","Effect":"Deny","Principal":"*","Action":"kms:Decrypt",
	   "Condition":{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}}]}`, kmsOptions)
	for _, ctx := range []map[string][]string{
		{"kms:EncryptionContext:Dept": {"eng"}, "kms:EncryptionContext:dept": {"finance"}},
		{"kms:EncryptionContext:Dept": {"finance"}, "kms:EncryptionContext:dept": {"eng"}},
		{"kms:encryptioncontext:DEPT": {"finance"}},
	} {
		if d := p.Evaluate(kmsReq(aliceARN, "kms:Decrypt", ctx)); d.Effect != Deny {
			t.Errorf("ctx %v: %v, want Deny", ctx, d)
		}
	}
}

func TestContextKeyThatFoldsToThePolicyKeyCannotDodgeADeny(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"},
	  {"Sid":"NoSecret","Effect":"Deny","Principal":"*","Action":"kms:Decrypt",
	   "Condition":{"StringEquals":{"kms:EncryptionContext:key":"secret"}}}]}`, kmsOptions)
	// U+212A KELVIN SIGN folds to 'k' but is three bytes long.
	ctx := map[string][]string{"kms:EncryptionContext:\u212Aey": {"secret"}}
	if d := p.Evaluate(kmsReq(aliceARN, "kms:Decrypt", ctx)); d.Effect != Deny {
		t.Fatalf("Evaluate = %v, want Deny", d)
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"*", "anything/at:all", false, true},
		{"a*", "a", false, true},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"*ab", "aab", false, true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
		{"?", "é", false, true},
		{"??", "é", false, false},
		{"kms:generatedatakey*", "kms:GenerateDataKeyPair", true, true},
		{"kms:generatedatakey*", "kms:GenerateDataKeyPair", false, false},
		{"kms:decrypt", "kms:decryptx", true, false},
		{"kms:*crypt", "kms:Decrypt", true, true},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s, c.fold); got != c.want {
			t.Errorf("wildcardMatch(%q, %q, %v) = %v, want %v", c.pattern, c.s, c.fold, got, c.want)
		}
	}
}
