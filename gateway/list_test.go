package gateway

import (
	"context"
	"encoding/xml"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

func seedKeys(e *testEnv, bucket string, keys ...string) {
	e.t.Helper()
	for _, k := range keys {
		e.put(bucket, k, []byte("data-"+k))
	}
}

func TestListObjectsV2PaginatesWithDelimiterAndShowsPlaintextFacts(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	seedKeys(e, "bkt", "a/1", "a/2", "b", "c/x/y", "d")
	c := e.s3()
	ctx := context.Background()
	var keys, prefixes []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if int(aws.ToInt32(out.KeyCount)) != len(out.Contents)+len(out.CommonPrefixes) {
			t.Errorf("KeyCount %d != %d", aws.ToInt32(out.KeyCount), len(out.Contents)+len(out.CommonPrefixes))
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			if want := int64(len("data-" + aws.ToString(o.Key))); aws.ToInt64(o.Size) != want {
				t.Errorf("%s size %d, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), want)
			}
			if want := `"` + md5hex([]byte("data-"+aws.ToString(o.Key))) + `"`; aws.ToString(o.ETag) != want {
				t.Errorf("%s ETag %s, want %s", aws.ToString(o.Key), aws.ToString(o.ETag), want)
			}
		}
		for _, cp := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
	}
	if pages != 2 || len(keys) != 2 || keys[0] != "b" || keys[1] != "d" || len(prefixes) != 2 || prefixes[0] != "a/" || prefixes[1] != "c/" {
		t.Fatalf("pages %d keys %v prefixes %v", pages, keys, prefixes)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), Prefix: aws.String("a/"), StartAfter: aws.String("a/1")})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "a/2" {
		t.Fatalf("start-after: %v %+v", err, out)
	}
}

func TestListObjectsV1MarkerAndNextMarker(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	seedKeys(e, "bkt", "k1", "k2", "k3", "p/1", "p/2")
	get := func(q string) listBucketResult {
		t.Helper()
		resp := e.do("GET", "/bkt?"+q, nil, nil)
		wantStatusCode(t, resp, 200, "")
		b, _ := io.ReadAll(resp.Body)
		var res listBucketResult
		if err := xml.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	r := get("max-keys=2")
	if !r.IsTruncated || len(r.Contents) != 2 || r.NextMarker != "" {
		t.Fatalf("page 1: truncated %v contents %d next %q", r.IsTruncated, len(r.Contents), r.NextMarker)
	}
	r = get("marker=k2")
	if len(r.Contents) != 3 || r.Contents[0].Key != "k3" || r.IsTruncated {
		t.Fatalf("after marker: %+v", r.Contents)
	}
	r = get("delimiter=/&max-keys=3")
	if !r.IsTruncated || r.NextMarker != "k3" {
		t.Fatalf("NextMarker with delimiter = %q (truncated %v)", r.NextMarker, r.IsTruncated)
	}
	r = get("max-keys=0")
	if len(r.Contents) != 0 || r.IsTruncated {
		t.Fatalf("max-keys=0: %+v", r)
	}
	// minio-go lists with v2 by default and v1 on request.
	n := 0
	for o := range e.minio().ListObjects(context.Background(), "bkt", minio.ListObjectsOptions{Recursive: true, UseV1: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("minio-go v1 listing found %d objects", n)
	}
}

func TestListEncodingTypeURL(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	seedKeys(e, "bkt", "with space/and+plus")
	resp := e.do("GET", "/bkt?list-type=2&encoding-type=url", nil, nil)
	wantStatusCode(t, resp, 200, "")
	b, _ := io.ReadAll(resp.Body)
	var res listBucketResult
	if err := xml.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.EncodingType != "url" || len(res.Contents) != 1 || res.Contents[0].Key != "with%20space/and%2Bplus" {
		t.Fatalf("encoded listing: %+v", res)
	}
}

func TestListRejectsBadParameters(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	for _, q := range []string{"max-keys=-1", "max-keys=abc", "encoding-type=base64", "list-type=2&continuation-token=%21%21"} {
		t.Run(q, func(t *testing.T) {
			wantStatusCode(t, e.do("GET", "/bkt?"+q, nil, nil), 400, "InvalidArgument")
		})
	}
	wantStatusCode(t, e.do("GET", "/nosuchbucket?list-type=2", nil, nil), 404, "NoSuchBucket")
}
