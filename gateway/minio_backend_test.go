package gateway

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	miniostore "github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// The object seam relies on the store recording metadata given to Complete
// and part metadata after the part's bytes; this runs the main object paths
// on a real MinIO backend to hold store/minio to that.
func TestObjectPathsOnMinIOBackend(t *testing.T) {
	srv := miniotest.StartMinIO(t)
	st, err := miniostore.New(context.Background(), miniostore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, st, true)
	e.mkbucket("mbkt")
	ctx := context.Background()
	c := e.s3()
	data := randBytes(1<<20+11, 80)

	t.Run("put without and with Content-MD5 reports plaintext facts", func(t *testing.T) {
		e.put("mbkt", "plain", data)
		if _, err := e.minio().PutObject(ctx, "mbkt", "md5", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"plain", "md5"} {
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mbkt"), Key: aws.String(k)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(h.ETag) != `"`+md5hex(data)+`"` || aws.ToInt64(h.ContentLength) != int64(len(data)) {
				t.Fatalf("%s: ETag %s size %d", k, aws.ToString(h.ETag), aws.ToInt64(h.ContentLength))
			}
		}
		rg := e.do("GET", "/mbkt/plain", nil, map[string]string{"Range": "bytes=1000-1999"})
		b, _ := io.ReadAll(rg.Body)
		if rg.StatusCode != 206 || !bytes.Equal(b, data[1000:2000]) {
			t.Fatalf("range: %d", rg.StatusCode)
		}
	})
	t.Run("multipart upload", func(t *testing.T) {
		big := randBytes(11*mib+3, 81)
		up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 * mib })
		if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("mbkt"), Key: aws.String("big"), Body: bytes.NewReader(big)}); err != nil {
			t.Fatal(err)
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mbkt"), Key: aws.String("big"), PartNumber: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(g.Body)
		if !bytes.Equal(b, big[10*mib:]) || aws.ToInt32(g.PartsCount) != 3 {
			t.Fatalf("part 3: equal %v count %d", bytes.Equal(b, big[10*mib:]), aws.ToInt32(g.PartsCount))
		}
	})
	t.Run("copy, tagging and listing", func(t *testing.T) {
		if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mbkt"), Key: aws.String("copy"), CopySource: aws.String("mbkt/plain"), Tagging: aws.String("x=1"), TaggingDirective: types.TaggingDirectiveReplace}); err != nil {
			t.Fatal(err)
		}
		tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("mbkt"), Key: aws.String("copy")})
		if err != nil || len(tg.TagSet) != 1 {
			t.Fatalf("tags %v %+v", err, tg)
		}
		lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("mbkt")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range lo.Contents {
			if aws.ToString(o.Key) == "copy" && (aws.ToInt64(o.Size) != int64(len(data)) || aws.ToString(o.ETag) != `"`+md5hex(data)+`"`) {
				t.Fatalf("listing shows %d %s", aws.ToInt64(o.Size), aws.ToString(o.ETag))
			}
		}
		if len(lo.Contents) != 4 {
			t.Fatalf("listing has %d objects, want 4", len(lo.Contents))
		}
		lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbkt")})
		if err != nil || len(lu.Uploads) != 0 {
			t.Fatalf("uploads left: %v %+v", err, lu.Uploads)
		}
	})
}
