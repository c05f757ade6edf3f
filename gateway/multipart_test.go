package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

const mib = 1 << 20

func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

func TestMultipartUploadOutOfOrderWithReuploadAndPartReads(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	c := e.s3()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String("bkt"), Key: aws.String("big"), ContentType: aws.String("video/x-test"),
		Metadata: map[string]string{"origin": "mpu"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := cr.UploadId
	p1, p2, p3 := randBytes(5*mib+3, 10), randBytes(5*mib+65536, 11), randBytes(12345, 12)
	upload := func(n int32, data []byte) string {
		t.Helper()
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		if want := `"` + md5hex(data) + `"`; aws.ToString(out.ETag) != want {
			t.Fatalf("part %d ETag %s, want %s", n, aws.ToString(out.ETag), want)
		}
		return aws.ToString(out.ETag)
	}
	e3 := upload(3, p3)
	upload(2, randBytes(5*mib, 99)) // replaced below
	e1 := upload(1, p1)
	e2 := upload(2, p2)

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, MaxParts: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) || aws.ToInt64(lp.Parts[1].Size) != int64(len(p2)) || aws.ToString(lp.Parts[1].ETag) != e2 {
		t.Fatalf("ListParts page 1: %+v", lp.Parts)
	}
	lp, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id, PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 3 {
		t.Fatalf("ListParts page 2: %v %+v", err, lp)
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != aws.ToString(id) {
		t.Fatalf("ListMultipartUploads: %v %+v", err, lu)
	}

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String("bkt"), Key: aws.String("big"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: aws.String(e1)}, {PartNumber: aws.Int32(2), ETag: aws.String(e2)}, {PartNumber: aws.Int32(3), ETag: aws.String(e3)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := multipartETag(p1, p2, p3); aws.ToString(done.ETag) != want {
		t.Fatalf("complete ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	whole := append(append(append([]byte{}, p1...), p2...), p3...)
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	if !bytes.Equal(body, whole) || aws.ToString(got.ContentType) != "video/x-test" || got.Metadata["origin"] != "mpu" {
		t.Fatalf("object: equal %v type %q meta %v", bytes.Equal(body, whole), aws.ToString(got.ContentType), got.Metadata)
	}
	// A range across the part 1/2 boundary.
	rg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), Range: aws.String(fmt.Sprintf("bytes=%d-%d", len(p1)-10, len(p1)+9))})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(rg.Body)
	if !bytes.Equal(rb, whole[len(p1)-10:len(p1)+10]) {
		t.Fatal("cross-part range differs")
	}
	pn, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("big"), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(pn.Body)
	if !bytes.Equal(pb, p2) || aws.ToInt32(pn.PartsCount) != 3 {
		t.Fatalf("partNumber=2: equal %v parts count %d", bytes.Equal(pb, p2), aws.ToInt32(pn.PartsCount))
	}
	wantStatusCode(t, e.do("GET", "/bkt/big?partNumber=4", nil, nil), 416, "InvalidPartNumber")
	lu, _ = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("bkt")})
	if len(lu.Uploads) != 0 {
		t.Fatalf("upload still listed after complete")
	}
}

func TestCompleteMultipartUploadValidation(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	c := e.s3()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(cr.UploadId)
	small1, small2 := []byte("first small part"), []byte("second")
	for n, d := range map[int][]byte{1: small1, 2: small2} {
		wantStatusCode(t, e.do("PUT", fmt.Sprintf("/bkt/k?partNumber=%d&uploadId=%s", n, id), d, nil), 200, "")
	}
	xmlBody := func(parts ...string) []byte {
		return []byte("<CompleteMultipartUpload>" + strings.Join(parts, "") + "</CompleteMultipartUpload>")
	}
	part := func(n int, etag string) string {
		return fmt.Sprintf("<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", n, etag)
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"descending parts", xmlBody(part(2, md5hex(small2)), part(1, md5hex(small1))), 400, "InvalidPartOrder"},
		{"duplicate parts", xmlBody(part(1, md5hex(small1)), part(1, md5hex(small1))), 400, "InvalidPartOrder"},
		{"wrong ETag", xmlBody(part(1, md5hex([]byte("x")))), 400, "InvalidPart"},
		{"missing part", xmlBody(part(7, md5hex(small1))), 400, "InvalidPart"},
		{"small non-last part", xmlBody(part(1, md5hex(small1)), part(2, md5hex(small2))), 400, "EntityTooSmall"},
		{"malformed XML", []byte("<CompleteMultipartUpload><Part>"), 400, "MalformedXML"},
		{"no parts", xmlBody(), 400, "MalformedXML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatusCode(t, e.do("POST", "/bkt/k?uploadId="+id, tc.body, nil), tc.status, tc.code)
		})
	}
	t.Run("single small last part completes", func(t *testing.T) {
		resp := e.do("POST", "/bkt/k?uploadId="+id, xmlBody(part(2, md5hex(small2))), nil)
		wantStatusCode(t, resp, 200, "")
		var res completeMultipartUploadResult
		b, _ := io.ReadAll(resp.Body)
		if err := xml.Unmarshal(b, &res); err != nil || res.ETag != multipartETag(small2) {
			t.Fatalf("result %+v (%v)", res, err)
		}
	})
	t.Run("completed upload is gone", func(t *testing.T) {
		wantStatusCode(t, e.do("POST", "/bkt/k?uploadId="+id, xmlBody(part(2, md5hex(small2))), nil), 404, "NoSuchUpload")
	})
	t.Run("bad part numbers", func(t *testing.T) {
		for _, n := range []string{"0", "10001", "x"} {
			wantStatusCode(t, e.do("PUT", "/bkt/k?partNumber="+n+"&uploadId="+id, []byte("x"), nil), 400, "InvalidArgument")
		}
	})
}

func TestAbortMultipartUpload(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	c := e.s3()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(cr.UploadId)
	wantStatusCode(t, e.do("PUT", "/bkt/k?partNumber=1&uploadId="+id, []byte("x"), nil), 200, "")
	wantStatusCode(t, e.do("DELETE", "/bkt/k?uploadId="+id, nil, nil), 204, "")
	wantStatusCode(t, e.do("DELETE", "/bkt/k?uploadId="+id, nil, nil), 404, "NoSuchUpload")
	wantStatusCode(t, e.do("PUT", "/bkt/k?partNumber=1&uploadId="+id, []byte("x"), nil), 404, "NoSuchUpload")
	wantStatusCode(t, e.do("GET", "/bkt/k?uploadId="+id, nil, nil), 404, "NoSuchUpload")
	wantStatusCode(t, e.do("HEAD", "/bkt/k", nil, nil), 404, "")
}

func TestUploadManagerAndMinioGoMultipart(t *testing.T) {
	e := newEnv(t, true)
	e.mkbucket("bkt")
	ctx := context.Background()
	data := randBytes(17*mib+5, 20)
	up := manager.NewUploader(e.s3(), func(u *manager.Uploader) { u.PartSize = 5 * mib })
	if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("sdk"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.minio().PutObject(ctx, "bkt", "mc", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{PartSize: 5 * mib}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"sdk", "mc"} {
		obj, err := e.minio().GetObject(ctx, "bkt", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %v equal=%v", key, err, bytes.Equal(got, data))
		}
		st, _ := obj.Stat()
		if !strings.HasSuffix(st.ETag, "-4") {
			t.Errorf("%s ETag %q is not a 4-part ETag", key, st.ETag)
		}
	}
}

func TestUploadPartCopy(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	src := randBytes(6*mib, 30)
	e.put("bkt", "src", src)
	c := e.s3()
	ctx := context.Background()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("bkt/src")})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: cr.UploadId, PartNumber: aws.Int32(2), CopySource: aws.String("bkt/src"), CopySourceRange: aws.String("bytes=100-199")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(p2.CopyPartResult.ETag) != `"`+md5hex(src[100:200])+`"` {
		t.Fatalf("part copy ETag %s", aws.ToString(p2.CopyPartResult.ETag))
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("dst"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := e.do("GET", "/bkt/dst", nil, nil)
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, append(append([]byte{}, src...), src[100:200]...)) {
		t.Fatal("copied parts differ")
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bkt"), Key: aws.String("dst2"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("bkt/src"), CopySourceRange: aws.String("bytes=0-99999999")})
	if err == nil {
		t.Fatal("copy of an out-of-range source range succeeded")
	}
}
