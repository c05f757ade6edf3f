package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/store/fs"
)

// The actions of `ssegate bucket grant ... read|read-write`.
const (
	readActions      = `["s3:GetObject","s3:GetObjectTagging","s3:ListBucket","s3:GetBucketLocation"]`
	readWriteActions = `["s3:GetObject","s3:GetObjectTagging","s3:ListBucket","s3:GetBucketLocation",` +
		`"s3:PutObject","s3:DeleteObject","s3:PutObjectTagging","s3:DeleteObjectTagging",` +
		`"s3:AbortMultipartUpload","s3:ListMultipartUploadParts","s3:ListBucketMultipartUploads"]`
)

// grantPolicy is a one-statement policy allowing principal actions on the
// bucket and its objects.
func grantPolicy(bucket, principal, actions string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"grant","Effect":"Allow",`+
		`"Principal":{"AWS":%q},"Action":%s,"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`,
		principal, actions, bucket, bucket)
}

func readPolicy(bucket, principal string) string { return grantPolicy(bucket, principal, readActions) }

func (e *authzEnv) putPolicy(who, bucket, doc string) error {
	_, err := e.as(who).PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)})
	return err
}

func (e *authzEnv) mustPutPolicy(who, bucket, doc string) {
	e.t.Helper()
	if err := e.putPolicy(who, bucket, doc); err != nil {
		e.t.Fatalf("%s: put policy on %s: %v", who, bucket, err)
	}
}

func TestGrantReadThenReadWriteThenRevoke(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "k", []byte("shared"))

	e.mustPutPolicy("alice", "alice-bkt", readPolicy("alice-bkt", bobARN))
	got, err := e.get("bob", "alice-bkt", "k")
	if err != nil || string(got) != "shared" {
		t.Fatalf("bob get with read grant: %q %v", got, err)
	}
	wantOK(t, "bob list with read grant", e.list("bob", "alice-bkt"))
	_, err = e.as("bob").GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "bob location with read grant", err)
	wantDenied(t, "bob put with read grant", e.put("bob", "alice-bkt", "b", []byte("x")))
	_, err = e.as("bob").DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String("k")})
	wantDenied(t, "bob delete with read grant", err)
	wantDenied(t, "charlie-less: bob can't read the policy", func() error {
		_, err := e.as("bob").GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bkt")})
		return err
	}())
	if got := strings.Join(listBucketNames(t, e.as("bob")), ","); got != "alice-bkt" {
		t.Errorf("bob's ListBuckets with a read grant: %q", got)
	}

	e.mustPutPolicy("alice", "alice-bkt", grantPolicy("alice-bkt", bobARN, readWriteActions))
	wantOK(t, "bob put with read-write grant", e.put("bob", "alice-bkt", "b", []byte("x")))
	_, err = e.as("bob").DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String("b")})
	wantOK(t, "bob delete with read-write grant", err)
	wantDenied(t, "bob still can't put the policy", e.putPolicy("bob", "alice-bkt", readPolicy("alice-bkt", bobARN)))

	_, err = e.as("alice").DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "revoke", err)
	_, err = e.get("bob", "alice-bkt", "k")
	wantDenied(t, "bob get after revoke", err)
	wantDenied(t, "bob list after revoke", e.list("bob", "alice-bkt"))
	if got := listBucketNames(t, e.as("bob")); len(got) != 0 {
		t.Errorf("bob's ListBuckets after revoke: %v", got)
	}
}

func TestGrantToOneUserGivesNothingToAnother(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("root", "root-bkt")
	e.mustPut("root", "root-bkt", "k", []byte("v"))
	e.mustPutPolicy("root", "root-bkt", readPolicy("root-bkt", aliceARN))
	if _, err := e.get("alice", "root-bkt", "k"); err != nil {
		t.Fatalf("alice with grant: %v", err)
	}
	_, err := e.get("bob", "root-bkt", "k")
	wantDenied(t, "bob without grant", err)
}

func TestExplicitDenyBeatsOwnershipButNotRoot(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "k", []byte("v"))
	e.mustPutPolicy("alice", "alice-bkt", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",`+
		`"Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bkt/*"}]}`)
	_, err := e.get("alice", "alice-bkt", "k")
	wantDenied(t, "owner get under a Deny", err)
	wantOK(t, "owner list (not denied)", e.list("alice", "alice-bkt"))
	if _, err := e.get("root", "alice-bkt", "k"); err != nil {
		t.Fatalf("root under a Deny: %v", err)
	}
}

func TestOnlyOwnerRootOrAGrantMayPutTheBucketPolicy(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	wantDenied(t, "bob puts alice's policy", e.putPolicy("bob", "alice-bkt", readPolicy("alice-bkt", bobARN)))
	e.mustPutPolicy("root", "alice-bkt", grantPolicy("alice-bkt", bobARN, `"s3:PutBucketPolicy"`))
	wantOK(t, "bob with s3:PutBucketPolicy", e.putPolicy("bob", "alice-bkt", readPolicy("alice-bkt", bobARN)))
	wantOK(t, "bob lists after granting himself read", e.list("bob", "alice-bkt"))
}

func TestMalformedBucketPoliciesAreRefused(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	for name, doc := range map[string]string{
		"bad JSON":             `{"Version":"2012-10-17","Statement":[`,
		"not an object":        `[]`,
		"foreign resource":     grantPolicy("other-bkt", bobARN, readActions),
		"foreign object":       stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bkt-2/*"}`),
		"kms action":           stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:s3:::alice-bkt/*"}`),
		"unknown prefix":       stmt(`{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"arn:aws:s3:::alice-bkt"}`),
		"unknown condition":    stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bkt/*","Condition":{"StringEquals":{"aws:SourceIp":"1.2.3.4"}}}`),
		"no resource":          stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}`),
		"bad effect":           stmt(`{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bkt/*"}`),
		"too large (> 20 KiB)": stmt(`{"Sid":"` + strings.Repeat("x", 21<<10) + `","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::alice-bkt/*"}`),
	} {
		t.Run(name, func(t *testing.T) {
			wantS3Error(t, name, e.putPolicy("alice", "alice-bkt", doc), http.StatusBadRequest, "MalformedPolicy")
		})
	}
	_, err := e.as("alice").GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantS3Error(t, "no policy stored", err, http.StatusNotFound, "NoSuchBucketPolicy")
}

func TestGetBucketPolicyReturnsTheDocumentAsStored(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"" + bobARN +
		"\"}, \"Action\": \"s3:ListBucket\", \"Resource\": \"arn:aws:s3:::alice-bkt\"}\n}"
	e.mustPutPolicy("alice", "alice-bkt", doc)
	out, err := e.as("alice").GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "get policy", err)
	if aws.ToString(out.Policy) != doc {
		t.Fatalf("policy = %q, want %q", aws.ToString(out.Policy), doc)
	}
}

func TestDeleteObjectsWithPartialGrantDeletesOnlyAllowedKeys(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "tmp/a", []byte("1"))
	e.mustPut("alice", "alice-bkt", "keep/b", []byte("2"))
	e.mustPutPolicy("alice", "alice-bkt", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+bobARN+
		`"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::alice-bkt/tmp/*"}]}`)
	out, err := e.as("bob").DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String("alice-bkt"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("tmp/a")}, {Key: aws.String("keep/b")}}}})
	wantOK(t, "DeleteObjects", err)
	if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].Key) != "tmp/a" {
		t.Fatalf("deleted %+v, want tmp/a only", out.Deleted)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "keep/b" || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Fatalf("errors %+v, want keep/b AccessDenied", out.Errors)
	}
	if _, err := e.get("alice", "alice-bkt", "tmp/a"); err == nil {
		t.Error("tmp/a still exists")
	}
	if _, err := e.get("alice", "alice-bkt", "keep/b"); err != nil {
		t.Errorf("keep/b: %v", err)
	}
}

func TestPolicyConditionKeys(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "pub/x", []byte("1"))
	allow := func(action, resource, cond string) string {
		return `{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":"` + action + `","Resource":"` + resource + `","Condition":` + cond + `}`
	}
	e.mustPutPolicy("alice", "alice-bkt", `{"Version":"2012-10-17","Statement":[`+
		allow("s3:ListBucket", "arn:aws:s3:::alice-bkt", `{"StringLike":{"s3:prefix":"pub/*"}}`)+`,`+
		allow("s3:PutObject", "arn:aws:s3:::alice-bkt/*", `{"StringEquals":{"s3:x-amz-server-side-encryption":"AES256"}}`)+`,`+
		allow("s3:GetObject", "arn:aws:s3:::alice-bkt/*", `{"StringEquals":{"aws:username":"bob"},"Bool":{"aws:SecureTransport":"false"}}`)+
		`]}`)
	b := e.as("bob")
	_, err := b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alice-bkt"), Prefix: aws.String("pub/")})
	wantOK(t, "list with allowed prefix", err)
	_, err = b.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("alice-bkt"), Prefix: aws.String("priv/")})
	wantDenied(t, "list with other prefix", err)
	wantDenied(t, "list without prefix", e.list("bob", "alice-bkt"))

	_, err = b.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String("pub/y"), Body: strings.NewReader("y"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	wantOK(t, "put with required SSE header", err)
	wantDenied(t, "put without SSE header", e.put("bob", "alice-bkt", "pub/z", []byte("z")))

	// aws:username and aws:SecureTransport (this server is plain HTTP).
	if _, err := e.get("bob", "alice-bkt", "pub/x"); err != nil {
		t.Fatalf("get matching username and transport: %v", err)
	}
}

func TestPolicyChangeThroughAnotherGatewayAppliesWithinTheCacheTTL(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthzEnv(t, st)
	b := newAuthzEnv(t, st)
	now := time.Now()
	b.srv.now = func() time.Time { return now }
	a.mkbucket("alice", "alice-bkt")
	a.mustPut("alice", "alice-bkt", "k", []byte("v"))
	a.mustPutPolicy("alice", "alice-bkt", readPolicy("alice-bkt", bobARN))
	// Each gateway has its own KMS here, so B checks access with listings,
	// which decrypt nothing.
	if err := b.list("bob", "alice-bkt"); err != nil {
		t.Fatalf("bob through gateway B with a grant: %v", err)
	}
	_, err = a.as("alice").DeleteBucketPolicy(context.Background(), &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "revoke through A", err)
	wantDenied(t, "bob through A right after revoke", a.list("bob", "alice-bkt"))
	now = now.Add(authzCacheTTL)
	wantDenied(t, "bob through B after the cache TTL", b.list("bob", "alice-bkt"))
}

func TestPutBucketPolicyAnswers204AndNeedsNoContentMD5(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	resp := e.do("alice", http.MethodPut, "/alice-bkt?policy", []byte(readPolicy("alice-bkt", bobARN)))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	resp = e.do("alice", http.MethodGet, "/alice-bkt?policy", nil)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != readPolicy("alice-bkt", bobARN) {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
}
