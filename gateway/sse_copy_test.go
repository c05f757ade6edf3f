package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/sse"
)

func (m sseMode) applyCopyDest(in *s3.CopyObjectInput) {
	if m.sse != "" {
		in.ServerSideEncryption = m.sse
	}
	if m.kmsKey != "" {
		in.SSEKMSKeyId = aws.String(m.kmsKey)
	}
	if m.ssec != nil {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func (m sseMode) applyCopySource(in *s3.CopyObjectInput) {
	if m.ssec != nil {
		in.CopySourceSSECustomerAlgorithm, in.CopySourceSSECustomerKey, in.CopySourceSSECustomerKeyMD5 = aws.String("AES256"), aws.String(m.ssec.b64), aws.String(m.ssec.md5b64)
	}
}

func TestSSECopyObjectBetweenEveryPairOfModes(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("cpb")
	k := e.kmsKey()
	ck1, ck2 := newCustomerKey(1), newCustomerKey(2)
	modes := []sseMode{
		{name: "SSE-S3", sse: types.ServerSideEncryptionAes256, wantSSE: "AES256"},
		{name: "SSE-KMS", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID, wantSSE: "aws:kms", wantARN: k.ARN},
		{name: "SSE-C", ssec: &ck1},
	}
	destModes := append(modes, sseMode{name: "SSE-C other key", ssec: &ck2})
	c := e.s3()
	ctx := context.Background()
	for si, src := range modes {
		for _, single := range []bool{true, false} {
			// A multipart source checks that the part layout travels.
			srcKey := fmt.Sprintf("src-%d-%v", si, single)
			var body []byte
			if single {
				body = randBytes(200000, byte(si))
				in := &s3.PutObjectInput{Bucket: aws.String("cpb"), Key: aws.String(srcKey), Body: bytes.NewReader(body)}
				src.applyPut(in)
				if _, err := c.PutObject(ctx, in); err != nil {
					t.Fatal(err)
				}
			} else {
				body = putMultipart(t, c, src, "cpb", srcKey, 5<<20+3, 11)
			}
			for di, dst := range destModes {
				t.Run(fmt.Sprintf("%s(single=%v)->%s", src.name, single, dst.name), func(t *testing.T) {
					dstKey := fmt.Sprintf("dst-%d-%v-%d", si, single, di)
					in := &s3.CopyObjectInput{Bucket: aws.String("cpb"), Key: aws.String(dstKey), CopySource: aws.String("cpb/" + srcKey)}
					src.applyCopySource(in)
					dst.applyCopyDest(in)
					out, err := c.CopyObject(ctx, in)
					if err != nil {
						t.Fatal(err)
					}
					dst.check(t, "CopyObject", sseFields{out.ServerSideEncryption, out.SSEKMSKeyId, out.SSECustomerAlgorithm, out.SSECustomerKeyMD5, out.BucketKeyEnabled, out.SSEKMSEncryptionContext})
					etag := aws.ToString(out.CopyObjectResult.ETag)
					if single {
						dst.checkETag(t, "CopyObject", etag, body)
					} else if mm := hex32Suffix.FindStringSubmatch(etag); (mm == nil || mm[1] != "2") && !(dst.plainETag() && etag == `"`+md5hex(body)+`"`) {
						// An SSE-S3 copy of a multipart object may carry the
						// plaintext MD5 (what AWS CopyObject does) or keep
						// the "-N" form; anything else is wrong.
						t.Errorf("multipart copy ETag %s, want <hex>-2 or the plaintext MD5", etag)
					}
					gin := &s3.GetObjectInput{Bucket: aws.String("cpb"), Key: aws.String(dstKey)}
					dst.applyGet(gin)
					got, gout := getAll(t, c, gin)
					if !bytes.Equal(got, body) {
						t.Fatal("copy body differs")
					}
					if aws.ToString(gout.ETag) != etag {
						t.Errorf("GET ETag %s, copy said %s", aws.ToString(gout.ETag), etag)
					}
					dst.check(t, "GET", sseFields{gout.ServerSideEncryption, gout.SSEKMSKeyId, gout.SSECustomerAlgorithm, gout.SSECustomerKeyMD5, gout.BucketKeyEnabled, nil})
					// A ranged read across the copy's part boundary.
					gin.Range = aws.String(fmt.Sprintf("bytes=%d-%d", len(body)/2-5, len(body)-2))
					got, _ = getAll(t, c, gin)
					if !bytes.Equal(got, body[len(body)/2-5:len(body)-1]) {
						t.Error("ranged read of copy differs")
					}
				})
			}
			// An SSE-C source without its copy-source key is refused.
			if src.ssec != nil {
				_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("cpb"), Key: aws.String("nokey"), CopySource: aws.String("cpb/" + srcKey)})
				wantAPIError(t, err, 400, "InvalidRequest")
				wrong := sseMode{ssec: &ck2}
				in := &s3.CopyObjectInput{Bucket: aws.String("cpb"), Key: aws.String("nokey"), CopySource: aws.String("cpb/" + srcKey)}
				wrong.applyCopySource(in)
				_, err = c.CopyObject(ctx, in)
				wantAPIError(t, err, 403, "AccessDenied")
			}
		}
	}
}

// putMultipart uploads a two-part object (sizes a, b) in mode m.
func putMultipart(t testing.TB, c *s3.Client, m sseMode, bucket, key string, a, b int) []byte {
	t.Helper()
	ctx := context.Background()
	cin := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	m.applyCreate(cin)
	cout, err := c.CreateMultipartUpload(ctx, cin)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	var done []types.CompletedPart
	for i, n := range []int{a, b} {
		p := randBytes(n, byte(i+7))
		pin := &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cout.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}
		m.applyPart(pin)
		pout, err := c.UploadPart(ctx, pin)
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: pout.ETag})
		all = append(all, p...)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cout.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	return all
}

func TestSSESelfCopyRotatesKeysAndRefusesNoChange(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("rot")
	k1, k2 := e.kmsKey(), e.kmsKey()
	ck := newCustomerKey(5)
	c := e.s3()
	ctx := context.Background()
	body := randBytes(150000, 1)
	steps := []sseMode{
		{name: "SSE-KMS k1", sse: types.ServerSideEncryptionAwsKms, kmsKey: k1.KeyID, wantSSE: "aws:kms", wantARN: k1.ARN},
		{name: "SSE-KMS k2", sse: types.ServerSideEncryptionAwsKms, kmsKey: k2.ARN, wantSSE: "aws:kms", wantARN: k2.ARN},
		{name: "SSE-C", ssec: &ck},
		{name: "SSE-S3", sse: types.ServerSideEncryptionAes256, wantSSE: "AES256"},
	}
	in := &s3.PutObjectInput{Bucket: aws.String("rot"), Key: aws.String("o"), Body: bytes.NewReader(body)}
	steps[0].applyPut(in)
	if _, err := c.PutObject(ctx, in); err != nil {
		t.Fatal(err)
	}
	prev := steps[0]
	for _, next := range steps[1:] {
		t.Run(prev.name+"->"+next.name, func(t *testing.T) {
			// Without a change the self-copy is refused, and the object stays.
			nc := &s3.CopyObjectInput{Bucket: aws.String("rot"), Key: aws.String("o"), CopySource: aws.String("rot/o")}
			prev.applyCopySource(nc)
			_, err := c.CopyObject(ctx, nc)
			wantAPIError(t, err, 400, "InvalidRequest")

			cp := &s3.CopyObjectInput{Bucket: aws.String("rot"), Key: aws.String("o"), CopySource: aws.String("rot/o")}
			prev.applyCopySource(cp)
			next.applyCopyDest(cp)
			if _, err := c.CopyObject(ctx, cp); err != nil {
				t.Fatal(err)
			}
			hin := &s3.HeadObjectInput{Bucket: aws.String("rot"), Key: aws.String("o")}
			next.applyHead(hin)
			hout, err := c.HeadObject(ctx, hin)
			if err != nil {
				t.Fatal(err)
			}
			next.check(t, "HEAD", sseFields{hout.ServerSideEncryption, hout.SSEKMSKeyId, hout.SSECustomerAlgorithm, hout.SSECustomerKeyMD5, hout.BucketKeyEnabled, nil})
			gin := &s3.GetObjectInput{Bucket: aws.String("rot"), Key: aws.String("o")}
			next.applyGet(gin)
			if got, _ := getAll(t, c, gin); !bytes.Equal(got, body) {
				t.Fatal("body changed by rotation")
			}
		})
		prev = next
	}
	// After rotating away from k1, disabling k1 no longer matters.
	if err := e.core.DisableKey(ctx, k1.KeyID); err != nil {
		t.Fatal(err)
	}
	if got, _ := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String("rot"), Key: aws.String("o")}); !bytes.Equal(got, body) {
		t.Fatal("body after disabling the old key")
	}
}

func TestSSEUploadPartCopyRangeFromSSECIntoSSEKMS(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("upc")
	k := e.kmsKey()
	ck := newCustomerKey(4)
	src := sseMode{ssec: &ck}
	c := e.s3()
	ctx := context.Background()
	body := randBytes(6<<20+100, 3)
	in := &s3.PutObjectInput{Bucket: aws.String("upc"), Key: aws.String("src"), Body: bytes.NewReader(body)}
	src.applyPut(in)
	if _, err := c.PutObject(ctx, in); err != nil {
		t.Fatal(err)
	}
	dst := sseMode{sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID, wantSSE: "aws:kms", wantARN: k.ARN}
	cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("upc"), Key: aws.String("dst")}
	dst.applyCreate(cin)
	cout, err := c.CreateMultipartUpload(ctx, cin)
	if err != nil {
		t.Fatal(err)
	}
	ranges := [][2]int{{1, 5<<20 + 1}, {65530, 65540}}
	var want []byte
	var done []types.CompletedPart
	for i, r := range ranges {
		pin := &s3.UploadPartCopyInput{
			Bucket: aws.String("upc"), Key: aws.String("dst"), UploadId: cout.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			CopySource: aws.String("upc/src"), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1])),
			CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(ck.b64), CopySourceSSECustomerKeyMD5: aws.String(ck.md5b64),
		}
		pout, err := c.UploadPartCopy(ctx, pin)
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		dst.check(t, "UploadPartCopy", sseFields{pout.ServerSideEncryption, pout.SSEKMSKeyId, pout.SSECustomerAlgorithm, pout.SSECustomerKeyMD5, pout.BucketKeyEnabled, nil})
		part := body[r[0] : r[1]+1]
		if aws.ToString(pout.CopyPartResult.ETag) != `"`+md5hex(part)+`"` {
			t.Errorf("part %d ETag %s, want plaintext MD5", i+1, aws.ToString(pout.CopyPartResult.ETag))
		}
		want = append(want, part...)
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: pout.CopyPartResult.ETag})
	}
	// Without the source key the part copy is refused.
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("upc"), Key: aws.String("dst"), UploadId: cout.UploadId, PartNumber: aws.Int32(3), CopySource: aws.String("upc/src")})
	wantAPIError(t, err, 400, "InvalidRequest")
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("upc"), Key: aws.String("dst"), UploadId: cout.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	got, gout := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String("upc"), Key: aws.String("dst")})
	if !bytes.Equal(got, want) {
		t.Fatal("body differs")
	}
	dst.check(t, "GET", sseFields{gout.ServerSideEncryption, gout.SSEKMSKeyId, gout.SSECustomerAlgorithm, gout.SSECustomerKeyMD5, gout.BucketKeyEnabled, nil})
}

func TestSSEDefaultBucketEncryptionAppliesAndIsOverridden(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("def")
	k, k2 := e.kmsKey(), e.kmsKey()
	c := e.s3()
	ctx := context.Background()
	_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("def"), ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(k.KeyID)}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ck := newCustomerKey(6)
	for _, tc := range []struct {
		req, want sseMode
	}{
		{sseMode{name: "no headers"}, sseMode{wantSSE: "aws:kms", wantARN: k.ARN}},
		{sseMode{name: "AES256 header", sse: types.ServerSideEncryptionAes256}, sseMode{wantSSE: "AES256"}},
		{sseMode{name: "other KMS key", sse: types.ServerSideEncryptionAwsKms, kmsKey: k2.KeyID}, sseMode{wantSSE: "aws:kms", wantARN: k2.ARN}},
		{sseMode{name: "SSE-C", ssec: &ck}, sseMode{ssec: &ck}},
	} {
		t.Run(tc.req.name, func(t *testing.T) {
			in := &s3.PutObjectInput{Bucket: aws.String("def"), Key: aws.String(tc.req.name), Body: bytes.NewReader([]byte("x"))}
			tc.req.applyPut(in)
			out, err := c.PutObject(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.check(t, "PUT", sseFields{out.ServerSideEncryption, out.SSEKMSKeyId, out.SSECustomerAlgorithm, out.SSECustomerKeyMD5, out.BucketKeyEnabled, nil})
		})
	}
	// Multipart uploads get the default too.
	cout, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("def"), Key: aws.String("mpu")})
	if err != nil {
		t.Fatal(err)
	}
	sseMode{wantSSE: "aws:kms", wantARN: k.ARN}.check(t, "CreateMultipartUpload", sseFields{cout.ServerSideEncryption, cout.SSEKMSKeyId, nil, nil, nil, nil})

	if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("def")}); err != nil {
		t.Fatal(err)
	}
	resp := e.do(http.MethodPut, "/def/after", []byte("x"), nil)
	wantStatusCode(t, resp, 200, "")
	if resp.Header.Get(sse.HeaderSSE) != "AES256" || resp.Header.Get(sse.HeaderSSEKMSKeyID) != "" {
		t.Errorf("after DeleteBucketEncryption: %q %q, want AES256", resp.Header.Get(sse.HeaderSSE), resp.Header.Get(sse.HeaderSSEKMSKeyID))
	}
}
