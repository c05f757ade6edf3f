package gateway

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store/fs"
)

// kmsAuthzEnv is an authzEnv whose embedded KMS the test can reach, to
// change key policies and grants as the operator.
type kmsAuthzEnv struct {
	*authzEnv
	core *kms.Core
}

func newKMSAuthzEnv(t *testing.T) *kmsAuthzEnv {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	core := newTestCore(t)
	srv, err := New(Config{Region: testRegion}, Deps{Store: st, KMS: core, Credentials: authzPrincipals})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &kmsAuthzEnv{authzEnv: &authzEnv{t: t, srv: srv, ts: ts}, core: core}
}

// bucketReadWritePolicy lets principal read bucket through S3, so that only the key
// stands between it and the plaintext.
func bucketReadWritePolicy(bucket, principal string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"read","Effect":"Allow",
		"Principal":{"AWS":%q},"Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],
		"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`, principal, bucket, bucket)
}

// keyPolicy is the default policy plus statements for users.
func keyPolicy(extra string) string {
	return `{"Version":"2012-10-17","Statement":[
		{"Sid":"root","Effect":"Allow","Principal":{"AWS":"` + rootARN + `"},"Action":"kms:*","Resource":"*"}` + extra + `]}`
}

func (e *kmsAuthzEnv) putKMS(who, bucket, key, keyID string, bucketKey bool, data []byte) error {
	_, err := e.as(who).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytesReader(data),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(keyID),
		BucketKeyEnabled: aws.Bool(bucketKey),
	})
	return err
}

func TestRoleSeparationUserWithBucketAccessButNoKeyAccessIsDenied(t *testing.T) {
	for _, bucketKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("bucketKey=%v", bucketKey), func(t *testing.T) {
			ctx := context.Background()
			e := newKMSAuthzEnv(t)
			km, err := e.core.CreateKey(ctx, kms.CreateKeyInput{Description: "role separation"})
			if err != nil {
				t.Fatal(err)
			}
			e.mkbucket("alice", "sep")
			if _, err := e.as("alice").PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
				Bucket: aws.String("sep"), Policy: aws.String(bucketReadWritePolicy("sep", bobARN)),
			}); err != nil {
				t.Fatal(err)
			}
			// alice owns the bucket but may not use the key yet: the
			// default key policy is the account root's alone.
			wantDenied(t, "alice PUT with a key she may not use", e.putKMS("alice", "sep", "secret", km.KeyID, bucketKey, []byte("s3cr3t")))

			if err := e.core.PutKeyPolicy(ctx, km.KeyID, "default", keyPolicy(`,
				{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},
				 "Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*",
				 "Condition":{"StringEquals":{"kms:ViaService":"s3.`+testRegion+`.amazonaws.com"}}}`), false); err != nil {
				t.Fatal(err)
			}
			wantOK(t, "alice PUT", e.putKMS("alice", "sep", "secret", km.KeyID, bucketKey, []byte("s3cr3t")))
			if got, err := e.get("alice", "sep", "secret"); err != nil || string(got) != "s3cr3t" {
				t.Fatalf("alice GET = %q, %v", got, err)
			}
			// bob may read the bucket, and alice's GET has just cached the
			// bucket key: he still must not get the plaintext.
			_, err = e.get("bob", "sep", "secret")
			wantDenied(t, "bob GET without kms:Decrypt", err)
			wantDenied(t, "bob PUT without kms:GenerateDataKey", e.putKMS("bob", "sep", "bob", km.KeyID, bucketKey, []byte("x")))
			// HEAD needs no key permission, as in S3.
			if _, err := e.as("bob").HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sep"), Key: aws.String("secret")}); err != nil {
				t.Fatalf("bob HEAD: %v", err)
			}

			// A grant of Decrypt makes it readable, revoking it makes it
			// unreadable again, at once.
			grantID, _, err := e.core.CreateGrant(ctx, kms.CreateGrantInput{
				KeyID: km.KeyID, GranteePrincipal: bobARN, Operations: []string{"Decrypt"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := e.get("bob", "sep", "secret"); err != nil || string(got) != "s3cr3t" {
				t.Fatalf("bob GET with a grant = %q, %v", got, err)
			}
			if err := e.core.RevokeGrant(ctx, km.KeyID, grantID); err != nil {
				t.Fatal(err)
			}
			_, err = e.get("bob", "sep", "secret")
			wantDenied(t, "bob GET after the grant was revoked", err)

			// An explicit deny beats alice's allow.
			if err := e.core.PutKeyPolicy(ctx, km.KeyID, "default", keyPolicy(`,
				{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:*","Resource":"*"},
				{"Sid":"noalice","Effect":"Deny","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:Decrypt","Resource":"*"}`), false); err != nil {
				t.Fatal(err)
			}
			_, err = e.get("alice", "sep", "secret")
			wantDenied(t, "alice GET under an explicit deny", err)
			// The root, through S3, is governed by the key policy too.
			if got, err := e.get("root", "sep", "secret"); err != nil || string(got) != "s3cr3t" {
				t.Fatalf("root GET = %q, %v", got, err)
			}
		})
	}
}

func TestKMSPolicyConditionOnObjectARNLimitsAUserToAPrefix(t *testing.T) {
	ctx := context.Background()
	e := newKMSAuthzEnv(t)
	km, err := e.core.CreateKey(ctx, kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	e.mkbucket("root", "shared")
	if _, err := e.as("root").PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
		Bucket: aws.String("shared"), Policy: aws.String(bucketReadWritePolicy("shared", bobARN)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.core.PutKeyPolicy(ctx, km.KeyID, "default", keyPolicy(`,
		{"Sid":"bob-prefix","Effect":"Allow","Principal":{"AWS":"`+bobARN+`"},
		 "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
		 "Condition":{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::shared/bob/*"}}}`), false); err != nil {
		t.Fatal(err)
	}
	wantOK(t, "bob PUT in his prefix", e.putKMS("bob", "shared", "bob/notes", km.KeyID, false, []byte("mine")))
	wantDenied(t, "bob PUT outside his prefix", e.putKMS("bob", "shared", "team/notes", km.KeyID, false, []byte("x")))
	wantOK(t, "root PUT", e.putKMS("root", "shared", "team/plan", km.KeyID, false, []byte("plan")))
	if got, err := e.get("bob", "shared", "bob/notes"); err != nil || string(got) != "mine" {
		t.Fatalf("bob GET in prefix = %q, %v", got, err)
	}
	_, err = e.get("bob", "shared", "team/plan")
	wantDenied(t, "bob GET outside his prefix", err)
}

func TestAWSManagedKeyIsUsableByEveryUserThroughS3(t *testing.T) {
	ctx := context.Background()
	e := newKMSAuthzEnv(t)
	e.mkbucket("bob", "bobs")
	_, err := e.as("bob").PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bobs"), Key: aws.String("k"), Body: bytesReader([]byte("via s3")),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms,
	})
	wantOK(t, "bob PUT with alias/aws/s3", err)
	if got, err := e.get("bob", "bobs", "k"); err != nil || string(got) != "via s3" {
		t.Fatalf("bob GET = %q, %v", got, err)
	}
}

func TestSSEKMSWithANonSymmetricKeyIsInvalidKeyUsage(t *testing.T) {
	ctx := context.Background()
	e := newKMSAuthzEnv(t)
	for _, in := range []kms.CreateKeyInput{
		{KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT"},
		{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"},
		{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"},
	} {
		km, err := e.core.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		e.mkbucket("root", "asym-"+strings.ToLower(strings.ReplaceAll(in.KeySpec, "_", "-")))
		err = e.putKMS("root", "asym-"+strings.ToLower(strings.ReplaceAll(in.KeySpec, "_", "-")), "k", km.KeyID, false, []byte("x"))
		wantS3Error(t, in.KeySpec, err, 400, "KMS.InvalidKeyUsageException")
	}
}
