package gateway

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCopyObject(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("src-bkt")
	e.mkbucket("dst-bkt")
	c := e.s3()
	ctx := context.Background()
	data := randBytes(200000, 40)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src-bkt"), Key: aws.String("dir/src obj"), Body: bytesReader(data),
		ContentType: aws.String("text/x-src"), Metadata: map[string]string{"k": "v"}, Tagging: aws.String("t=1")})
	if err != nil {
		t.Fatal(err)
	}
	etag := `"` + md5hex(data) + `"`

	t.Run("COPY directive keeps headers and tags", func(t *testing.T) {
		out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst-bkt"), Key: aws.String("copy1"), CopySource: aws.String("src-bkt/dir/src%20obj")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.CopyObjectResult.ETag) != etag || out.CopyObjectResult.LastModified == nil {
			t.Fatalf("CopyObjectResult %+v", out.CopyObjectResult)
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst-bkt"), Key: aws.String("copy1")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(h.ContentType) != "text/x-src" || h.Metadata["k"] != "v" || aws.ToInt64(h.ContentLength) != int64(len(data)) || aws.ToString(h.ETag) != etag {
			t.Fatalf("copy head: %q %v %d %s", aws.ToString(h.ContentType), h.Metadata, aws.ToInt64(h.ContentLength), aws.ToString(h.ETag))
		}
		tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("dst-bkt"), Key: aws.String("copy1")})
		if err != nil || len(tg.TagSet) != 1 {
			t.Fatalf("tags: %v %+v", err, tg)
		}
	})
	t.Run("REPLACE directive takes request headers", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst-bkt"), Key: aws.String("copy2"), CopySource: aws.String("src-bkt/dir/src%20obj"),
			MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/new"), Metadata: map[string]string{"n": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst-bkt"), Key: aws.String("copy2")})
		if aws.ToString(h.ContentType) != "text/new" || h.Metadata["n"] != "1" || h.Metadata["k"] != "" {
			t.Fatalf("replaced head: %q %v", aws.ToString(h.ContentType), h.Metadata)
		}
		resp := e.do("GET", "/dst-bkt/copy2", nil, nil)
		got, _ := io.ReadAll(resp.Body)
		if md5hex(got) != md5hex(data) {
			t.Fatal("copied body differs")
		}
	})
	t.Run("self copy without changes is refused", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src-bkt"), Key: aws.String("dir/src obj"), CopySource: aws.String("src-bkt/dir/src%20obj")})
		if apiCode(err) != "InvalidRequest" {
			t.Fatalf("self copy: %v", err)
		}
	})
	t.Run("self copy with REPLACE updates metadata", func(t *testing.T) {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src-bkt"), Key: aws.String("dir/src obj"), CopySource: aws.String("src-bkt/dir/src%20obj"),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"k": "v2"}})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src-bkt"), Key: aws.String("dir/src obj")})
		if h.Metadata["k"] != "v2" || aws.ToString(h.ETag) != etag {
			t.Fatalf("after self copy: %v %s", h.Metadata, aws.ToString(h.ETag))
		}
	})
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"if-match ok", map[string]string{"x-amz-copy-source-if-match": etag}, 200, ""},
		{"if-match fails", map[string]string{"x-amz-copy-source-if-match": `"nope"`}, 412, "PreconditionFailed"},
		{"if-none-match fails", map[string]string{"x-amz-copy-source-if-none-match": etag}, 412, "PreconditionFailed"},
		{"if-unmodified-since fails", map[string]string{"x-amz-copy-source-if-unmodified-since": past}, 412, "PreconditionFailed"},
		{"if-modified-since ok", map[string]string{"x-amz-copy-source-if-modified-since": past}, 200, ""},
		{"missing source", map[string]string{"x-amz-copy-source": "/src-bkt/nope"}, 404, "NoSuchKey"},
		{"bad directive", map[string]string{"x-amz-metadata-directive": "MERGE"}, 400, "InvalidArgument"},
		{"bad source", map[string]string{"x-amz-copy-source": "nobucketkey"}, 400, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"x-amz-copy-source": "/src-bkt/dir/src%20obj"}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			wantStatusCode(t, e.do("PUT", "/dst-bkt/cond", nil, hdr), tc.status, tc.code)
		})
	}
}

func TestObjectTagging(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	c := e.s3()
	ctx := context.Background()
	e.put("bkt", "obj", []byte("tagged"))
	_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("obj"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("b"), Value: aws.String("2")}, {Key: aws.String("a"), Value: aws.String("x y&z")}}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("obj")})
	if err != nil || len(out.TagSet) != 2 || aws.ToString(out.TagSet[0].Key) != "a" || aws.ToString(out.TagSet[0].Value) != "x y&z" {
		t.Fatalf("GetObjectTagging: %v %+v", err, out)
	}
	g := e.do("GET", "/bkt/obj", nil, nil)
	if g.Header.Get("x-amz-tagging-count") != "2" {
		t.Fatalf("x-amz-tagging-count %q", g.Header.Get("x-amz-tagging-count"))
	}
	if b, _ := io.ReadAll(g.Body); string(b) != "tagged" {
		t.Fatal("tagging changed the body")
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	out, _ = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("obj")})
	if len(out.TagSet) != 0 {
		t.Fatalf("tags after delete: %+v", out.TagSet)
	}

	tagXMLBody := func(n int, key, val string) []byte {
		s := "<Tagging><TagSet>"
		for i := 0; i < n; i++ {
			s += "<Tag><Key>" + key + string(rune('a'+i)) + "</Key><Value>" + val + "</Value></Tag>"
		}
		return []byte(s + "</TagSet></Tagging>")
	}
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'x'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"eleven tags", tagXMLBody(11, "k", "v"), 400, "BadRequest"},
		{"key too long", tagXMLBody(1, long(128), "v"), 400, "InvalidTag"},
		{"value too long", tagXMLBody(1, "k", long(257)), 400, "InvalidTag"},
		{"malformed", []byte("<Tagging><TagSet>"), 400, "MalformedXML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.do("PUT", "/bkt/obj?tagging", tc.body, nil), tc.status, tc.code)
		})
	}
	wantStatusCode(t, e.do("PUT", "/bkt/obj", []byte("x"), map[string]string{"x-amz-tagging": "a=1&a=2"}), 400, "InvalidTag")
	wantStatusCode(t, e.do("GET", "/bkt/missing?tagging", nil, nil), 404, "NoSuchKey")
}
