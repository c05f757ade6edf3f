package policy

import "testing"

// Condition examples adapted from the AWS KMS developer guide
// ("AWS KMS condition keys", "ABAC for AWS KMS") and the IAM guide's
// pages on condition operators and multivalued context keys.

func ctxOf(kv ...string) map[string][]string {
	m := make(map[string][]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

func TestEncryptionContextStringEqualsRequiresThePair(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"matching pair", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:EncryptionContext:AppName", "ExampleApp")), Allow, ""},
		{"context key name case-insensitive", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:encryptioncontext:appname", "ExampleApp")), Allow, ""},
		{"value is case-sensitive", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:EncryptionContext:AppName", "exampleapp")), ImplicitDeny, ""},
		{"other value", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:EncryptionContext:AppName", "Other")), ImplicitDeny, ""},
		{"no encryption context", kmsReq(aliceARN, "kms:Decrypt", nil), ImplicitDeny, ""},
		{"extra pairs do not matter", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:EncryptionContext:AppName", "ExampleApp", "kms:EncryptionContext:Other", "x")), Allow, ""},
	})
}

func TestEncryptionContextStringLikeOnS3ARNPrefix(t *testing.T) {
	// The pattern S3 users write to confine a key to one bucket's objects.
	p := mustParse(t, `{"Statement":[{"Sid":"BucketOnly","Effect":"Allow","Principal":{"AWS":"*"},
	  "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::example-bucket/reports/*"}}}]}`, kmsOptions)
	arn := func(v string) map[string][]string { return ctxOf("kms:EncryptionContext:aws:s3:arn", v) }
	runEvalCases(t, p, []evalCase{
		{"object under the prefix", kmsReq(aliceARN, "kms:Decrypt", arn("arn:aws:s3:::example-bucket/reports/2024/q1.csv")), Allow, "BucketOnly"},
		{"star spans slashes", kmsReq(aliceARN, "kms:GenerateDataKey", arn("arn:aws:s3:::example-bucket/reports/a/b/c")), Allow, ""},
		{"other prefix", kmsReq(aliceARN, "kms:Decrypt", arn("arn:aws:s3:::example-bucket/private/x")), ImplicitDeny, ""},
		{"other bucket sharing a name prefix", kmsReq(aliceARN, "kms:Decrypt", arn("arn:aws:s3:::example-bucket-2/reports/x")), ImplicitDeny, ""},
		{"bucket ARN (bucket keys) is not an object ARN", kmsReq(aliceARN, "kms:Decrypt", arn("arn:aws:s3:::example-bucket")), ImplicitDeny, ""},
		{"no context", kmsReq(aliceARN, "kms:Decrypt", nil), ImplicitDeny, ""},
	})
}

func TestEncryptionContextKeysSetOperators(t *testing.T) {
	// ForAllValues: every context key must be in the list (and no context
	// at all passes, which is why AWS recommends pairing it with Null).
	all := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt",
	  "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Purpose","Department"]}}}]}`, kmsOptions)
	keys := func(ks ...string) map[string][]string { return map[string][]string{"kms:EncryptionContextKeys": ks} }
	runEvalCases(t, all, []evalCase{
		{"all: subset", kmsReq(aliceARN, "kms:Encrypt", keys("Purpose")), Allow, ""},
		{"all: exact set", kmsReq(aliceARN, "kms:Encrypt", keys("Department", "Purpose")), Allow, ""},
		{"all: an extra key", kmsReq(aliceARN, "kms:Encrypt", keys("Purpose", "Project")), ImplicitDeny, ""},
		{"all: missing key is vacuously true", kmsReq(aliceARN, "kms:Encrypt", nil), Allow, ""},
		{"all: empty set is vacuously true", kmsReq(aliceARN, "kms:Encrypt", keys()), Allow, ""},
	})

	allNonEmpty := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt",
	  "Condition":{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Purpose","Department"]},
	               "Null":{"kms:EncryptionContextKeys":"false"}}}]}`, kmsOptions)
	runEvalCases(t, allNonEmpty, []evalCase{
		{"all+null: subset", kmsReq(aliceARN, "kms:Encrypt", keys("Purpose")), Allow, ""},
		{"all+null: no context", kmsReq(aliceARN, "kms:Encrypt", nil), ImplicitDeny, ""},
	})

	anyOf := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt",
	  "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Purpose"}}}]}`, kmsOptions)
	runEvalCases(t, anyOf, []evalCase{
		{"any: present among others", kmsReq(aliceARN, "kms:Encrypt", keys("Project", "Purpose")), Allow, ""},
		{"any: absent", kmsReq(aliceARN, "kms:Encrypt", keys("Project")), ImplicitDeny, ""},
		{"any: no context", kmsReq(aliceARN, "kms:Encrypt", nil), ImplicitDeny, ""},
	})

	// Deny with ForAnyValue:StringNotEquals: refuse any key outside the list.
	denyOthers := mustParse(t, `{"Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"kms:Encrypt"},
	  {"Sid":"OnlyPurpose","Effect":"Deny","Principal":"*","Action":"kms:Encrypt",
	   "Condition":{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["Purpose"]}}}]}`, kmsOptions)
	runEvalCases(t, denyOthers, []evalCase{
		{"deny-others: only Purpose", kmsReq(aliceARN, "kms:Encrypt", keys("Purpose")), Allow, ""},
		{"deny-others: another key", kmsReq(aliceARN, "kms:Encrypt", keys("Purpose", "Project")), Deny, "OnlyPurpose"},
		{"deny-others: no context", kmsReq(aliceARN, "kms:Encrypt", nil), Allow, ""},
	})
}

func TestResourceTagABAC(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Sid":"ABAC","Effect":"Allow","Principal":{"AWS":"*"},
	  "Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
	  "Condition":{"StringEquals":{"aws:ResourceTag/Project":"Alpha"}}}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"tagged Alpha", kmsReq(aliceARN, "kms:Decrypt", ctxOf("aws:ResourceTag/Project", "Alpha")), Allow, "ABAC"},
		{"tag key case-insensitive", kmsReq(aliceARN, "kms:Decrypt", ctxOf("aws:resourcetag/project", "Alpha")), Allow, ""},
		{"tagged Beta", kmsReq(aliceARN, "kms:Decrypt", ctxOf("aws:ResourceTag/Project", "Beta")), ImplicitDeny, ""},
		{"untagged", kmsReq(aliceARN, "kms:Decrypt", ctxOf("aws:ResourceTag/Owner", "Alpha")), ImplicitDeny, ""},
	})
}

func TestResourceAliasesForAnyValueStringLike(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/finance-*"}}}]}`, kmsOptions)
	aliases := func(as ...string) map[string][]string { return map[string][]string{"kms:ResourceAliases": as} }
	runEvalCases(t, p, []evalCase{
		{"one matching alias among several", kmsReq(aliceARN, "kms:Decrypt", aliases("alias/ops", "alias/finance-prod")), Allow, ""},
		{"no matching alias", kmsReq(aliceARN, "kms:Decrypt", aliases("alias/ops", "alias/finance")), ImplicitDeny, ""},
		{"no alias", kmsReq(aliceARN, "kms:Decrypt", nil), ImplicitDeny, ""},
	})
}

func TestGrantOperationsForAllValuesLimitsGrantedOperations(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
	  "Action":"kms:CreateGrant","Resource":"*",
	  "Condition":{"ForAllValues:StringEquals":{"kms:GrantOperations":["Decrypt","Encrypt"]},
	               "StringEquals":{"kms:GranteePrincipal":"arn:aws:iam::111122223333:user/bob"}}}]}`, kmsOptions)
	ops := func(grantee string, os ...string) map[string][]string {
		return map[string][]string{"kms:GrantOperations": os, "kms:GranteePrincipal": {grantee}}
	}
	runEvalCases(t, p, []evalCase{
		{"decrypt grant to bob", kmsReq(aliceARN, "kms:CreateGrant", ops(bobARN, "Decrypt")), Allow, ""},
		{"grant adding CreateGrant", kmsReq(aliceARN, "kms:CreateGrant", ops(bobARN, "Decrypt", "CreateGrant")), ImplicitDeny, ""},
		{"grant to someone else", kmsReq(aliceARN, "kms:CreateGrant", ops(rootARN, "Decrypt")), ImplicitDeny, ""},
	})
}

func TestViaServiceIfExistsAllowsDirectCallsButNotOtherServices(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt",
	  "Condition":{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"via S3", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:ViaService", "s3.us-east-1.amazonaws.com")), Allow, ""},
		{"direct call (key missing)", kmsReq(aliceARN, "kms:Decrypt", nil), Allow, ""},
		{"via another service", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:ViaService", "ec2.us-east-1.amazonaws.com")), ImplicitDeny, ""},
	})
}

func TestDenyStringNotEqualsWithMissingKeyDenies(t *testing.T) {
	// AWS: a negated operator on a missing key is true, so this Deny
	// refuses direct calls too; it is the documented way to force S3.
	p := mustParse(t, `{"Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"kms:*"},
	  {"Sid":"OnlyViaS3","Effect":"Deny","Principal":"*","Action":"kms:Decrypt",
	   "Condition":{"StringNotEquals":{"kms:ViaService":["s3.us-east-1.amazonaws.com","s3.eu-west-1.amazonaws.com"]}}}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"via S3", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:ViaService", "s3.eu-west-1.amazonaws.com")), Allow, ""},
		{"direct", kmsReq(aliceARN, "kms:Decrypt", nil), Deny, "OnlyViaS3"},
		{"via ec2", kmsReq(aliceARN, "kms:Decrypt", ctxOf("kms:ViaService", "ec2.us-east-1.amazonaws.com")), Deny, "OnlyViaS3"},
		{"other action unaffected", kmsReq(aliceARN, "kms:Encrypt", nil), Allow, ""},
	})
}

func TestNullChecksPresence(t *testing.T) {
	p := mustParse(t, `{"Statement":[
	  {"Sid":"NeedsContext","Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Condition":{"Null":{"kms:EncryptionContextKeys":"false"}}},
	  {"Sid":"NoContext","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"Null":{"kms:EncryptionContextKeys":"true"}}}]}`, kmsOptions)
	withKeys := map[string][]string{"kms:EncryptionContextKeys": {"a"}}
	runEvalCases(t, p, []evalCase{
		{"false: present", kmsReq(aliceARN, "kms:Encrypt", withKeys), Allow, "NeedsContext"},
		{"false: absent", kmsReq(aliceARN, "kms:Encrypt", nil), ImplicitDeny, ""},
		{"false: present but empty counts as absent", kmsReq(aliceARN, "kms:Encrypt", map[string][]string{"kms:EncryptionContextKeys": {}}), ImplicitDeny, ""},
		{"true: absent", kmsReq(aliceARN, "kms:Decrypt", nil), Allow, "NoContext"},
		{"true: present", kmsReq(aliceARN, "kms:Decrypt", withKeys), ImplicitDeny, ""},
	})
}

func TestSeveralKeysAndOperatorsAreANDedAndValuesORed(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{
	  "StringEquals":{"kms:EncryptionContext:dept":["eng","ops"],"kms:CallerAccount":"111122223333"},
	  "StringLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}}]}`, kmsOptions)
	req := func(dept, acct, arn string) Request {
		return kmsReq(arn, "kms:Decrypt", ctxOf("kms:EncryptionContext:dept", dept, "kms:CallerAccount", acct, "aws:PrincipalArn", arn))
	}
	runEvalCases(t, p, []evalCase{
		{"all hold (first value)", req("eng", account, aliceARN), Allow, ""},
		{"all hold (second value)", req("ops", account, aliceARN), Allow, ""},
		{"one value wrong", req("hr", account, aliceARN), ImplicitDeny, ""},
		{"other key wrong", req("eng", "444455556666", aliceARN), ImplicitDeny, ""},
		{"other operator wrong", req("eng", account, rootARN), ImplicitDeny, ""},
	})
}
