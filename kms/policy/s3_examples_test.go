package policy

import "testing"

func s3Req(principal, action, resource string, ctx map[string][]string) Request {
	return Request{Principal: principal, Account: account, Action: action, Resource: resource, Context: ctx}
}

func TestBucketPolicyBucketAndObjectResources(t *testing.T) {
	// The shape `ssegate bucket grant BUCKET alice read` writes, plus a
	// deny of unencrypted uploads as in AWS's S3 examples.
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"ssegate-grant-alice","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
	   "Action":["s3:GetObject","s3:GetObjectTagging","s3:ListBucket","s3:GetBucketLocation"],
	   "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]},
	  {"Sid":"DenyUnencrypted","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::photos/*",
	   "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
	  {"Sid":"PublicThumbs","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/thumbs/????.jpg"}]}`, s3Options)
	sse := func(v string) map[string][]string { return ctxOf("s3:x-amz-server-side-encryption", v) }
	runEvalCases(t, p, []evalCase{
		{"list the bucket", s3Req(aliceARN, "s3:ListBucket", "arn:aws:s3:::photos", nil), Allow, "ssegate-grant-alice"},
		{"get an object", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::photos/2024/cat.jpg", nil), Allow, ""},
		{"object key with colons", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::photos/a:b:c", nil), Allow, ""},
		{"another bucket", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::photos2/cat.jpg", nil), ImplicitDeny, ""},
		{"resource case-sensitive", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::Photos/cat.jpg", nil), ImplicitDeny, ""},
		{"put not granted", s3Req(aliceARN, "s3:PutObject", "arn:aws:s3:::photos/x", sse("aws:kms")), ImplicitDeny, ""},
		{"unencrypted put denied", s3Req(bobARN, "s3:PutObject", "arn:aws:s3:::photos/x", sse("AES256")), Deny, "DenyUnencrypted"},
		{"put without the header denied", s3Req(bobARN, "s3:PutObject", "arn:aws:s3:::photos/x", nil), Deny, "DenyUnencrypted"},
		{"? matches one character", s3Req("", "s3:GetObject", "arn:aws:s3:::photos/thumbs/0001.jpg", nil), Allow, "PublicThumbs"},
		{"? does not match two", s3Req("", "s3:GetObject", "arn:aws:s3:::photos/thumbs/00001.jpg", nil), ImplicitDeny, ""},
		{"? matches a multi-byte character", s3Req("", "s3:GetObject", "arn:aws:s3:::photos/thumbs/ü001.jpg", nil), Allow, ""},
	})
}

func TestNotResourceAppliesOutsideTheNamedResources(t *testing.T) {
	p := mustParse(t, `{"Statement":[{"Sid":"OnlyPublic","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},
	  "Action":"s3:*","NotResource":["arn:aws:s3:::pub","arn:aws:s3:::pub/*"]},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"s3:*Object*","Resource":"*"}]}`, s3Options)
	runEvalCases(t, p, []evalCase{
		{"inside", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::pub/x", nil), Allow, "#1"},
		{"s3:*Object* covers PutObjectTagging", s3Req(aliceARN, "s3:PutObjectTagging", "arn:aws:s3:::pub/x", nil), Allow, "#1"},
		{"s3:*Object* does not cover ListBucket", s3Req(aliceARN, "s3:ListBucket", "arn:aws:s3:::pub", nil), ImplicitDeny, ""},
		{"outside", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::secret/x", nil), Deny, "OnlyPublic"},
	})
}

func TestSecureTransportBoolDeny(t *testing.T) {
	p := mustParse(t, `{"Statement":[
	  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
	  {"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],
	   "Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, s3Options)
	runEvalCases(t, p, []evalCase{
		{"https", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::b/k", ctxOf("aws:SecureTransport", "true")), Allow, ""},
		{"http", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::b/k", ctxOf("aws:SecureTransport", "false")), Deny, "TLSOnly"},
		{"key missing: Bool is false, no deny", s3Req(aliceARN, "s3:GetObject", "arn:aws:s3:::b/k", nil), Allow, ""},
	})
}
