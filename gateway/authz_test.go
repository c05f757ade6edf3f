package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

const (
	rootARN  = "arn:aws:iam::000000000000:root"
	aliceARN = "arn:aws:iam::000000000000:user/alice"
	bobARN   = "arn:aws:iam::000000000000:user/bob"
)

// authzPrincipals are the credentials of the authorization tests: the
// account root and two users.
var authzPrincipals = staticCreds{
	"AKIDROOT":  {AccessKey: "AKIDROOT", SecretKey: "root-secret-0123456789", ARN: rootARN},
	"AKIDALICE": {AccessKey: "AKIDALICE", SecretKey: "alice-secret-0123456789", ARN: aliceARN},
	"AKIDBOB":   {AccessKey: "AKIDBOB", SecretKey: "bob-secret-0123456789", ARN: bobARN},
}

var principalKeys = map[string]string{"root": "AKIDROOT", "alice": "AKIDALICE", "bob": "AKIDBOB"}

type authzEnv struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
}

// newAuthzEnv starts a gateway with root, alice and bob on st (a fresh fs
// store when nil).
func newAuthzEnv(t testing.TB, st store.Store) *authzEnv {
	t.Helper()
	if st == nil {
		var err error
		if st, err = fs.New(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := New(Config{Region: testRegion}, Deps{Store: st, KMS: newTestCore(t), Credentials: authzPrincipals})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &authzEnv{t: t, srv: srv, ts: ts}
}

func (e *authzEnv) cred(who string) Credential {
	e.t.Helper()
	c, ok := authzPrincipals[principalKeys[who]]
	if !ok {
		e.t.Fatalf("no principal %q", who)
	}
	return c
}

// as is an aws-sdk-go-v2 S3 client signing as who ("root", "alice", "bob").
func (e *authzEnv) as(who string) *s3.Client {
	c := e.cred(who)
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.ts.URL),
		UsePathStyle: true,
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
		HTTPClient:   e.ts.Client(),
	})
}

// minioAs is a minio-go client signing as who.
func (e *authzEnv) minioAs(who string) *minio.Client {
	e.t.Helper()
	c := e.cred(who)
	mc, err := minio.New(strings.TrimPrefix(e.ts.URL, "http://"), &minio.Options{
		Creds: miniocreds.NewStaticV4(c.AccessKey, c.SecretKey, ""), Region: testRegion,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return mc
}

func (e *authzEnv) mkbucket(who, bucket string) {
	e.t.Helper()
	if _, err := e.as(who).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		e.t.Fatalf("%s: create bucket %s: %v", who, bucket, err)
	}
}

func (e *authzEnv) put(who, bucket, key string, data []byte) error {
	_, err := e.as(who).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	return err
}

func (e *authzEnv) get(who, bucket, key string) ([]byte, error) {
	out, err := e.as(who).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (e *authzEnv) list(who, bucket string) error {
	_, err := e.as(who).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	return err
}

func (e *authzEnv) mustPut(who, bucket, key string, data []byte) {
	e.t.Helper()
	if err := e.put(who, bucket, key, data); err != nil {
		e.t.Fatalf("%s: put %s/%s: %v", who, bucket, key, err)
	}
}

// wantS3Error checks an SDK error's HTTP status and (when the operation has
// a body) S3 error code.
func wantS3Error(t testing.TB, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %d %s", what, status, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: %v, want an HTTP %d", what, err, status)
	}
	if re.HTTPStatusCode() != status {
		t.Fatalf("%s: status %d, want %d (%v)", what, re.HTTPStatusCode(), status, err)
	}
	var ae smithy.APIError
	if code != "" && errors.As(err, &ae) && ae.ErrorCode() != code && !(status == 403 && ae.ErrorCode() == "Forbidden") && !(status == 404 && ae.ErrorCode() == "NotFound") {
		t.Fatalf("%s: code %q, want %q", what, ae.ErrorCode(), code)
	}
}

// do sends a raw request signed as who with the payload hash of body.
func (e *authzEnv) do(who, method, path string, body []byte) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	payload := hexSHA256Of(body)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	c := e.cred(who)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey},
		req, payload, "s3", testRegion, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantDenied(t testing.TB, what string, err error) {
	t.Helper()
	wantS3Error(t, what, err, http.StatusForbidden, "AccessDenied")
}

func wantOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestEveryRouteHasAnAuthorizationRule(t *testing.T) {
	srv := newAuthzEnv(t, nil).srv
	var routes []route
	routes = append(routes, srv.serviceRoutes()...)
	routes = append(routes, srv.bucketRoutes()...)
	routes = append(routes, srv.objectRoutes()...)
	for _, rt := range routes {
		_, inTable := opActions[rt.op]
		if inTable == opsCheckedInHandler[rt.op] {
			t.Errorf("op %s: in action table %v, checked in handler %v; want exactly one", rt.op, inTable, opsCheckedInHandler[rt.op])
		}
	}
}

func TestPrincipalOfParsesRootAndUserARNs(t *testing.T) {
	for _, tc := range []struct {
		arn           string
		account, user string
		root          bool
	}{
		{rootARN, "000000000000", "", true},
		{aliceARN, "000000000000", "alice", false},
		{"arn:aws:iam::111122223333:user/a.b@c", "111122223333", "a.b@c", false},
		{"arn:aws:iam::000000000000:user/", "000000000000", "", false},
		{"arn:aws:iam::000000000000:role/x", "000000000000", "", false},
		{"", "", "", false},
		{"arn:aws:iam:::root", "", "", false},
		{"root", "", "", false},
	} {
		p := principalOf(tc.arn)
		if p.account != tc.account || p.user != tc.user || p.root != tc.root || p.arn != tc.arn {
			t.Errorf("principalOf(%q) = %+v", tc.arn, p)
		}
	}
}

func TestBucketOwnerHasFullAccess(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "alice-bkt")
	a := e.as("alice")
	e.mustPut("alice", "alice-bkt", "k", []byte("hello"))
	got, err := e.get("alice", "alice-bkt", "k")
	if err != nil || string(got) != "hello" {
		t.Fatalf("owner get: %q %v", got, err)
	}
	wantOK(t, "list", e.list("alice", "alice-bkt"))
	_, err = a.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String("k")})
	wantOK(t, "head object", err)
	_, err = a.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "head bucket", err)
	_, err = a.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String("k2"), CopySource: aws.String("alice-bkt/k")})
	wantOK(t, "copy", err)
	_, err = a.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("alice-bkt"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	wantOK(t, "put tagging", err)
	_, err = a.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "get encryption", err)
	for _, k := range []string{"k", "k2"} {
		_, err = a.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alice-bkt"), Key: aws.String(k)})
		wantOK(t, "delete "+k, err)
	}
	_, err = a.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "delete bucket", err)
}

func TestOtherUserIsDeniedEveryOperationOnABucketItDoesNotOwn(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "k", []byte("secret data"))
	b := e.as("bob")
	bk, key := aws.String("alice-bkt"), aws.String("k")
	for name, call := range map[string]func() error{
		"GetObject": func() error { _, err := e.get("bob", "alice-bkt", "k"); return err },
		"PutObject": func() error { return e.put("bob", "alice-bkt", "new", []byte("x")) },
		"PutObjectOverwrite": func() error {
			return e.put("bob", "alice-bkt", "k", []byte("x"))
		},
		"ListObjectsV2": func() error { return e.list("bob", "alice-bkt") },
		"ListObjects": func() error {
			_, err := b.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bk})
			return err
		},
		"HeadObject": func() error {
			_, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bk, Key: key})
			return err
		},
		"HeadBucket": func() error {
			_, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: bk})
			return err
		},
		"DeleteObject": func() error {
			_, err := b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bk, Key: key})
			return err
		},
		"DeleteBucket": func() error {
			_, err := b.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bk})
			return err
		},
		"GetObjectTagging": func() error {
			_, err := b.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: bk, Key: key})
			return err
		},
		"CreateMultipartUpload": func() error {
			_, err := b.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bk, Key: key})
			return err
		},
		"ListMultipartUploads": func() error {
			_, err := b.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: bk})
			return err
		},
		"GetBucketEncryption": func() error {
			_, err := b.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: bk})
			return err
		},
		"DeleteBucketEncryption": func() error {
			_, err := b.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: bk})
			return err
		},
		"GetBucketLocation": func() error {
			_, err := b.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: bk})
			return err
		},
		"GetBucketPolicy": func() error {
			_, err := b.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: bk})
			return err
		},
		"DeleteBucketPolicy": func() error {
			_, err := b.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: bk})
			return err
		},
		"PutBucketPolicy": func() error {
			_, err := b.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bk, Policy: aws.String(readPolicy("alice-bkt", bobARN))})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) { wantDenied(t, name, call()) })
	}
	// Nothing bob tried changed alice's object.
	got, err := e.get("alice", "alice-bkt", "k")
	if err != nil || string(got) != "secret data" {
		t.Fatalf("alice's object after bob's attempts: %q %v", got, err)
	}
}

func TestMissingBucketIsNoSuchBucketBeforeAccessDenied(t *testing.T) {
	e := newAuthzEnv(t, nil)
	_, err := e.get("bob", "no-such-bkt", "k")
	wantS3Error(t, "get", err, http.StatusNotFound, "NoSuchBucket")
	wantS3Error(t, "list", e.list("bob", "no-such-bkt"), http.StatusNotFound, "NoSuchBucket")
	_, err = e.as("bob").DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String("no-such-bkt"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
	wantS3Error(t, "delete objects", err, http.StatusNotFound, "NoSuchBucket")
}

func TestRootMayDoEverythingOnUsersBuckets(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "k", []byte("v"))
	got, err := e.get("root", "alice-bkt", "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("root get: %q %v", got, err)
	}
	wantOK(t, "root list", e.list("root", "alice-bkt"))
	wantOK(t, "root put", e.put("root", "alice-bkt", "r", []byte("r")))
	// The owner still owns what the root wrote into the bucket.
	if _, err := e.get("alice", "alice-bkt", "r"); err != nil {
		t.Fatalf("alice reading root's object in her bucket: %v", err)
	}
}

func TestCopySourceInAnotherUsersBucketIsDenied(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "alice-bkt")
	e.mkbucket("bob", "bob-bkt")
	e.mustPut("alice", "alice-bkt", "k", bytes.Repeat([]byte("a"), 1000))
	b := e.as("bob")

	_, err := b.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-bkt"), Key: aws.String("stolen"), CopySource: aws.String("alice-bkt/k")})
	wantDenied(t, "CopyObject from alice's bucket", err)

	up, err := b.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bob-bkt"), Key: aws.String("stolen-mp")})
	wantOK(t, "create upload in own bucket", err)
	_, err = b.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bob-bkt"), Key: aws.String("stolen-mp"),
		UploadId: up.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("alice-bkt/k")})
	wantDenied(t, "UploadPartCopy from alice's bucket", err)

	for _, k := range []string{"stolen", "stolen-mp"} {
		if _, err := b.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bob-bkt"), Key: aws.String(k)}); err == nil {
			t.Errorf("%s exists after a denied copy", k)
		}
	}
	// Alice may copy her object into... only her own buckets: not bob's.
	_, err = e.as("alice").CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-bkt"), Key: aws.String("gift"), CopySource: aws.String("alice-bkt/k")})
	wantDenied(t, "CopyObject into bob's bucket", err)
}

func TestPresignedGetOfAnotherUsersObjectIsDenied(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "k", []byte("private"))
	for _, tc := range []struct {
		who    string
		status int
	}{{"bob", http.StatusForbidden}, {"alice", http.StatusOK}, {"root", http.StatusOK}} {
		u, err := e.minioAs(tc.who).PresignedGetObject(context.Background(), "alice-bkt", "k", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("%s presigned GET: %d, want %d", tc.who, resp.StatusCode, tc.status)
		}
		if tc.status != http.StatusOK && bytes.Contains(body, []byte("private")) {
			t.Fatalf("%s: denied response carries the object", tc.who)
		}
	}
}

func TestDeleteObjectsByOtherUserReportsEachKeyDenied(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mustPut("alice", "alice-bkt", "a", []byte("1"))
	e.mustPut("alice", "alice-bkt", "b", []byte("2"))
	out, err := e.as("bob").DeleteObjects(context.Background(), &s3.DeleteObjectsInput{Bucket: aws.String("alice-bkt"),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}}}})
	wantOK(t, "DeleteObjects (per-key errors, not a request failure)", err)
	if len(out.Deleted) != 0 || len(out.Errors) != 2 {
		t.Fatalf("deleted %d, errors %d; want 0, 2", len(out.Deleted), len(out.Errors))
	}
	for _, er := range out.Errors {
		if aws.ToString(er.Code) != "AccessDenied" {
			t.Errorf("key %s: code %q, want AccessDenied", aws.ToString(er.Key), aws.ToString(er.Code))
		}
	}
	for _, k := range []string{"a", "b"} {
		if _, err := e.get("alice", "alice-bkt", k); err != nil {
			t.Errorf("%s gone after a denied DeleteObjects: %v", k, err)
		}
	}
}

func listBucketNames(t testing.TB, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	sort.Strings(names)
	return names
}

func TestListBucketsShowsAUserOnlyItsOwnBuckets(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mkbucket("bob", "bob-bkt")
	e.mkbucket("root", "root-bkt")
	for who, want := range map[string]string{
		"alice": "alice-bkt",
		"bob":   "bob-bkt",
		"root":  "alice-bkt,bob-bkt,root-bkt",
	} {
		if got := strings.Join(listBucketNames(t, e.as(who)), ","); got != want {
			t.Errorf("%s sees %q, want %q", who, got, want)
		}
	}
}

func TestCreateBucketThatExistsNamesItsOwner(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	e.mkbucket("root", "root-bkt")
	for _, tc := range []struct {
		who, bucket, code string
	}{
		{"alice", "alice-bkt", "BucketAlreadyOwnedByYou"},
		{"bob", "alice-bkt", "BucketAlreadyExists"},
		{"root", "alice-bkt", "BucketAlreadyOwnedByYou"},
		{"alice", "root-bkt", "BucketAlreadyExists"},
	} {
		_, err := e.as(tc.who).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(tc.bucket)})
		wantS3Error(t, tc.who+" creates "+tc.bucket, err, http.StatusConflict, tc.code)
	}
	// bob's failed attempt did not make him the owner.
	wantDenied(t, "bob lists alice-bkt", e.list("bob", "alice-bkt"))
}

func TestBucketRecreatedByAnotherUserBelongsToItsNewCreator(t *testing.T) {
	e := newAuthzEnv(t, nil)
	ctx := context.Background()
	e.mkbucket("alice", "shared-name")
	_, err := e.as("alice").DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("shared-name")})
	wantOK(t, "delete", err)
	e.mkbucket("bob", "shared-name")
	wantOK(t, "bob lists his new bucket", e.list("bob", "shared-name"))
	wantDenied(t, "alice lists bob's bucket of her old name", e.list("alice", "shared-name"))
}

func TestGetBucketPolicyWithoutPolicyIsNoSuchBucketPolicy(t *testing.T) {
	e := newAuthzEnv(t, nil)
	e.mkbucket("alice", "alice-bkt")
	_, err := e.as("alice").GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantS3Error(t, "get policy", err, http.StatusNotFound, "NoSuchBucketPolicy")
	_, err = e.as("alice").DeleteBucketPolicy(context.Background(), &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-bkt")})
	wantOK(t, "delete absent policy", err)
	_, err = e.as("alice").GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("no-such-bkt")})
	wantS3Error(t, "get policy of missing bucket", err, http.StatusNotFound, "NoSuchBucket")
}

func TestUnreadableOwnerRecordFailsClosed(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newAuthzEnv(t, st)
	e.mkbucket("alice", "alice-bkt")
	if err := st.PutBucketConfig(context.Background(), "alice-bkt", ownerConfigName, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	e.srv.authzCache.invalidate("alice-bkt")
	wantS3Error(t, "alice lists with a corrupt owner record", e.list("alice", "alice-bkt"), http.StatusInternalServerError, "InternalError")
	wantOK(t, "root lists", e.list("root", "alice-bkt"))
}

func TestCredentialWithoutPrincipalARNMayDoNothing(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Region: testRegion}, Deps{Store: st, KMS: newTestCore(t),
		Credentials: staticCreds{testAccessKey: {AccessKey: testAccessKey, SecretKey: testSecretKey}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{t: t, srv: srv, ts: ts}
	wantStatusCode(t, e.do("PUT", "/no-arn-bkt", nil, nil), http.StatusForbidden, "AccessDenied")
	if _, err := st.HeadBucket(context.Background(), "no-arn-bkt"); err == nil {
		t.Fatal("bucket created by a credential without an ARN")
	}
}
