package gateway

import (
	"context"
	"encoding/xml"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCreateBucketNaming(t *testing.T) {
	e := newEnv(t, false)
	cases := []struct {
		name   string
		status int
		code   string
	}{
		{"good-bucket", 200, ""},
		{"dots.are.ok", 200, ""},
		{"ab", 400, "InvalidBucketName"},
		{"UpperCase", 400, "InvalidBucketName"},
		{"under_score", 400, "InvalidBucketName"},
		{"-leading", 400, "InvalidBucketName"},
		{"trailing-", 400, "InvalidBucketName"},
		{"double..dot", 400, "InvalidBucketName"},
		{"192.168.1.1", 400, "InvalidBucketName"},
		{"xn--prefix", 400, "InvalidBucketName"},
		{"a23456789012345678901234567890123456789012345678901234567890abcd", 400, "InvalidBucketName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.do("PUT", "/"+tc.name, nil, nil), tc.status, tc.code)
		})
	}
	t.Run("existing bucket is BucketAlreadyOwnedByYou", func(t *testing.T) {
		wantStatusCode(t, e.do("PUT", "/good-bucket", nil, nil), 409, "BucketAlreadyOwnedByYou")
	})
}

func TestCreateBucketLocationConstraint(t *testing.T) {
	e := newEnv(t, false)
	body := func(lc string) []byte {
		return []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>` + lc + `</LocationConstraint></CreateBucketConfiguration>`)
	}
	wantStatusCode(t, e.do("PUT", "/lc-empty", body(""), nil), 200, "")
	wantStatusCode(t, e.do("PUT", "/lc-same", body(testRegion), nil), 200, "")
	wantStatusCode(t, e.do("PUT", "/lc-other", body("eu-west-1"), nil), 400, "InvalidLocationConstraint")
	wantStatusCode(t, e.do("PUT", "/lc-bad", []byte("<CreateBucketConfiguration>"), nil), 400, "MalformedXML")
	wantStatusCode(t, e.do("HEAD", "/lc-other", nil, nil), 404, "")
}

func TestBucketLifecycleWithAWSSDK(t *testing.T) {
	e := newEnv(t, true)
	c := e.s3()
	ctx := context.Background()
	for _, b := range []string{"b-two", "b-one"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Buckets) != 2 || aws.ToString(lb.Buckets[0].Name) != "b-one" || lb.Buckets[0].CreationDate == nil {
		t.Fatalf("ListBuckets = %+v", lb.Buckets)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("b-one")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope-none")}); err == nil {
		t.Fatal("HeadBucket on a missing bucket succeeded")
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("b-one")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation = %q, %v", loc.LocationConstraint, err)
	}
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("b-one")})
	if err != nil || ver.Status != "" {
		t.Fatalf("GetBucketVersioning = %q, %v", ver.Status, err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b-one"), Key: aws.String("k"), Body: nil}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("b-one")})
	if apiCode(err) != "BucketNotEmpty" {
		t.Fatalf("DeleteBucket of a non-empty bucket: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("b-one"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("b-one")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("b-one")})
	if apiCode(err) != "NoSuchBucket" {
		t.Fatalf("DeleteBucket twice: %v", err)
	}
	var nsb *types.NoSuchBucket
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b-one")})
	if !asErr(err, &nsb) {
		t.Fatalf("ListObjectsV2 on deleted bucket: %v", err)
	}
}

func TestUnsupportedOperationsAreNotImplemented(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "obj", []byte("x"))
	cases := []struct{ method, path string }{
		{"GET", "/bkt?acl"},
		{"PUT", "/bkt?cors"},
		{"GET", "/bkt?lifecycle"},
		{"GET", "/bkt/obj?acl"},
		{"POST", "/bkt/obj?restore"},
		{"GET", "/bkt?versions"},
		{"PATCH", "/bkt/obj"},
		{"POST", "/bkt/obj"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			wantStatusCode(t, e.do(tc.method, tc.path, nil, nil), 501, "NotImplemented")
		})
	}
}

func TestErrorBodyShape(t *testing.T) {
	e := newEnv(t, false)
	resp := e.do("GET", "/missing-bucket/some/key", nil, nil)
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b, _ := io.ReadAll(resp.Body)
	var er errorResponse
	if err := xml.Unmarshal(b, &er); err != nil {
		t.Fatal(err)
	}
	if er.Code != "NoSuchBucket" && er.Code != "NoSuchKey" || er.RequestID != resp.Header.Get("x-amz-request-id") || er.Resource != "/missing-bucket/some/key" {
		t.Fatalf("error = %+v (request id header %q)", er, resp.Header.Get("x-amz-request-id"))
	}
	if resp.Header.Get("x-amz-id-2") == "" {
		t.Error("no x-amz-id-2")
	}
}

// Until the sse layer is wired in, asking for encryption must fail loudly
// rather than store plaintext.
