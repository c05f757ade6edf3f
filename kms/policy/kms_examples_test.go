package policy

import "testing"

// The policies in this file are adapted from AWS KMS documentation
// examples (default key policy, conditions-kms, ABAC), with the decision
// the documentation states for each request.

const defaultKeyPolicy = `{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [{
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": "kms:*",
    "Resource": "*"
  }]
}`

func TestDefaultKeyPolicyAllowsRootOnlyAndUsersAreImplicitlyDenied(t *testing.T) {
	p := mustParse(t, defaultKeyPolicy, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"root may decrypt", kmsReq(rootARN, "kms:Decrypt", nil), Allow, "Enable IAM User Permissions"},
		{"root may put the key policy", kmsReq(rootARN, "kms:PutKeyPolicy", nil), Allow, ""},
		{"action case does not matter", kmsReq(rootARN, "KMS:decrypt", nil), Allow, ""},
		{"user is implicitly denied", kmsReq(aliceARN, "kms:Decrypt", nil), ImplicitDeny, ""},
		{"root of another account is denied", kmsReq("arn:aws:iam::444455556666:root", "kms:Decrypt", nil), ImplicitDeny, ""},
		{"anonymous is denied", kmsReq("", "kms:Decrypt", nil), ImplicitDeny, ""},
		{"non-kms action is denied", kmsReq(rootARN, "s3:GetObject", nil), ImplicitDeny, ""},
	})
}

func TestAccountIDPrincipalMatchesTheAccountRootOnly(t *testing.T) {
	p := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*"}}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"root", kmsReq(rootARN, "kms:Encrypt", nil), Allow, "#0"},
		{"user of the account", kmsReq(aliceARN, "kms:Encrypt", nil), ImplicitDeny, ""},
		{"ARN differing in case", kmsReq("arn:aws:iam::111122223333:ROOT", "kms:Encrypt", nil), ImplicitDeny, ""},
	})
}

func TestUserARNPrincipalIsComparedExactly(t *testing.T) {
	p := mustParse(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},"Action":"kms:Decrypt"}}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"alice", kmsReq(aliceARN, "kms:Decrypt", nil), Allow, ""},
		{"Alice in another case", kmsReq("arn:aws:iam::111122223333:user/Alice", "kms:Decrypt", nil), ImplicitDeny, ""},
		{"alice prefix", kmsReq("arn:aws:iam::111122223333:user/alice2", "kms:Decrypt", nil), ImplicitDeny, ""},
		{"root", kmsReq(rootARN, "kms:Decrypt", nil), ImplicitDeny, ""},
	})
}

const keyUsersAndAdminsPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*"},
    {"Sid": "Deny bob decryption", "Effect": "Deny",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "kms:Decrypt", "Resource": "*"},
    {"Sid": "Allow attachment of persistent resources", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
     "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}
  ]
}`

func TestKeyUserStatementWildcardsAndExplicitDeny(t *testing.T) {
	p := mustParse(t, keyUsersAndAdminsPolicy, kmsOptions)
	grantCtx := func(v string) map[string][]string { return map[string][]string{"kms:GrantIsForAWSResource": {v}} }
	runEvalCases(t, p, []evalCase{
		{"GenerateDataKey* covers GenerateDataKey", kmsReq(aliceARN, "kms:GenerateDataKey", nil), Allow, "Allow use of the key"},
		{"GenerateDataKey* covers WithoutPlaintext", kmsReq(aliceARN, "kms:GenerateDataKeyWithoutPlaintext", nil), Allow, ""},
		{"GenerateDataKey* covers GenerateDataKeyPair", kmsReq(aliceARN, "kms:GenerateDataKeyPair", nil), Allow, ""},
		{"ReEncrypt* covers ReEncryptFrom", kmsReq(aliceARN, "kms:ReEncryptFrom", nil), Allow, ""},
		{"ReEncrypt* covers ReEncryptTo", kmsReq(aliceARN, "kms:ReEncryptTo", nil), Allow, ""},
		{"user may not schedule deletion", kmsReq(aliceARN, "kms:ScheduleKeyDeletion", nil), ImplicitDeny, ""},
		{"explicit deny beats allow", kmsReq(bobARN, "kms:Decrypt", nil), Deny, "Deny bob decryption"},
		{"deny is specific to its action", kmsReq(bobARN, "kms:Encrypt", nil), Allow, ""},
		{"root is still allowed decrypt", kmsReq(rootARN, "kms:Decrypt", nil), Allow, "Enable IAM User Permissions"},
		{"grant for AWS resource", kmsReq(aliceARN, "kms:CreateGrant", grantCtx("true")), Allow, "Allow attachment of persistent resources"},
		{"Bool compares case-insensitively", kmsReq(aliceARN, "kms:CreateGrant", grantCtx("TRUE")), Allow, ""},
		{"grant not for AWS resource", kmsReq(aliceARN, "kms:CreateGrant", grantCtx("false")), ImplicitDeny, ""},
		{"Bool with the key missing is false", kmsReq(aliceARN, "kms:CreateGrant", nil), ImplicitDeny, ""},
	})
}

func TestExplicitDenyWinsWhateverTheStatementOrder(t *testing.T) {
	p := mustParse(t, `{"Statement":[
	  {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"},
	  {"Sid":"all","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"deny named by index", kmsReq(rootARN, "kms:Decrypt", nil), Deny, "#0"},
	})
}

func TestNotActionAllowsEverythingButTheNamedActions(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Sid":"NoDelete","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
	  "NotAction":["kms:ScheduleKeyDeletion","kms:Disable*"],"Resource":"*"}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"decrypt allowed", kmsReq(aliceARN, "kms:Decrypt", nil), Allow, "NoDelete"},
		{"deletion not allowed", kmsReq(aliceARN, "kms:ScheduleKeyDeletion", nil), ImplicitDeny, ""},
		{"wildcard in NotAction", kmsReq(aliceARN, "kms:DisableKeyRotation", nil), ImplicitDeny, ""},
	})
}

func TestNotPrincipalDenyAppliesToEveryoneElse(t *testing.T) {
	p := mustParse(t, `{"Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"},
	  {"Sid":"OnlyAlice","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},"Action":"kms:Decrypt"}]}`, kmsOptions)
	runEvalCases(t, p, []evalCase{
		{"alice allowed", kmsReq(aliceARN, "kms:Decrypt", nil), Allow, "#0"},
		{"bob denied", kmsReq(bobARN, "kms:Decrypt", nil), Deny, "OnlyAlice"},
		{"root denied", kmsReq(rootARN, "kms:Decrypt", nil), Deny, "OnlyAlice"},
	})
}

// awsManagedS3KeyPolicy is the shape of the policy AWS puts on alias/aws/s3.
const awsManagedS3KeyPolicy = `{
  "Version": "2012-10-17",
  "Id": "auto-s3-2",
  "Statement": [
    {"Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
     "Effect": "Allow", "Principal": {"AWS": "*"},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*",
     "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
    {"Sid": "Allow direct access to key metadata to the account",
     "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
     "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"}
  ]
}`

func TestAWSManagedKeyPolicyAllowsCryptoOnlyViaS3FromTheAccount(t *testing.T) {
	p := mustParse(t, awsManagedS3KeyPolicy, kmsOptions)
	via := func(svc, acct string) map[string][]string {
		return map[string][]string{"kms:ViaService": {svc}, "kms:CallerAccount": {acct}}
	}
	const s3 = "s3.us-east-1.amazonaws.com"
	runEvalCases(t, p, []evalCase{
		{"user through S3", kmsReq(aliceARN, "kms:GenerateDataKey", via(s3, account)), Allow, ""},
		{"condition key names are case-insensitive", kmsReq(aliceARN, "kms:Decrypt",
			map[string][]string{"KMS:VIASERVICE": {s3}, "kms:calleraccount": {account}}), Allow, ""},
		{"user directly", kmsReq(aliceARN, "kms:Decrypt", map[string][]string{"kms:CallerAccount": {account}}), ImplicitDeny, ""},
		{"user through another service", kmsReq(aliceARN, "kms:Decrypt", via("ec2.us-east-1.amazonaws.com", account)), ImplicitDeny, ""},
		{"values are case-sensitive", kmsReq(aliceARN, "kms:Decrypt", via("S3.us-east-1.amazonaws.com", account)), ImplicitDeny, ""},
		{"another account through S3", kmsReq("arn:aws:iam::444455556666:user/eve", "kms:Decrypt", via(s3, "444455556666")), ImplicitDeny, ""},
		{"root reads metadata", kmsReq(rootARN, "kms:GetKeyPolicy", nil), Allow, "Allow direct access to key metadata to the account"},
		{"root may not decrypt directly", kmsReq(rootARN, "kms:Decrypt", nil), ImplicitDeny, ""},
		{"root may not change the policy", kmsReq(rootARN, "kms:PutKeyPolicy", nil), ImplicitDeny, ""},
	})
}
