package gateway

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// allModes returns every way of asking for encryption that the matrix
// tests cover, with keys created in e's KMS.
func allModes(t testing.TB, e *sseEnv) []sseMode {
	t.Helper()
	k := e.kmsKey()
	e.alias("alias/sse-matrix", k.KeyID)
	aliasARN := strings.Replace(k.ARN, "key/"+k.KeyID, "alias/sse-matrix", 1)
	ck := newCustomerKey(3)
	return []sseMode{
		{name: "SSE-S3 explicit", sse: types.ServerSideEncryptionAes256, wantSSE: "AES256"},
		{name: "SSE-S3 server default", wantSSE: "AES256"},
		{name: "SSE-KMS key id", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID, wantSSE: "aws:kms", wantARN: k.ARN},
		{name: "SSE-KMS key ARN", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.ARN, wantSSE: "aws:kms", wantARN: k.ARN},
		{name: "SSE-KMS alias", sse: types.ServerSideEncryptionAwsKms, kmsKey: "alias/sse-matrix", wantSSE: "aws:kms", wantARN: k.ARN},
		{name: "SSE-KMS alias ARN", sse: types.ServerSideEncryptionAwsKms, kmsKey: aliasARN, wantSSE: "aws:kms", wantARN: k.ARN},
		// wantARN filled in once alias/aws/s3 exists (it is made on first use).
		{name: "SSE-KMS aws/s3", sse: types.ServerSideEncryptionAwsKms, wantSSE: "aws:kms"},
		{name: "SSE-C", ssec: &ck},
	}
}

// resolveManaged fills in the ARN of alias/aws/s3 after one PUT made it.
func resolveManaged(t testing.TB, e *sseEnv, modes []sseMode, bucket string) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("warm"), Body: bytes.NewReader([]byte("x")), ServerSideEncryption: types.ServerSideEncryptionAwsKms}
	if _, err := e.s3().PutObject(context.Background(), in); err != nil {
		t.Fatalf("SSE-KMS PUT with no key id: %v", err)
	}
	arn := e.keyARN("alias/aws/s3")
	for i := range modes {
		if modes[i].wantSSE == "aws:kms" && modes[i].wantARN == "" {
			modes[i].wantARN = arn
		}
	}
}

func TestSSESinglePutRoundTripsInEveryMode(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("single")
	modes := allModes(t, e)
	resolveManaged(t, e, modes, "single")
	c := e.s3()
	ctx := context.Background()
	sizes := []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3 << 20}
	for mi, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			etags := map[string]string{}
			for _, size := range sizes {
				key := fmt.Sprintf("m%d/obj-%d", mi, size)
				body := randBytes(size, byte(mi+size))
				in := &s3.PutObjectInput{Bucket: aws.String("single"), Key: aws.String(key), Body: bytes.NewReader(body)}
				m.applyPut(in)
				out, err := c.PutObject(ctx, in)
				if err != nil {
					t.Fatalf("put %d bytes: %v", size, err)
				}
				m.check(t, "PUT", sseFields{out.ServerSideEncryption, out.SSEKMSKeyId, out.SSECustomerAlgorithm, out.SSECustomerKeyMD5, out.BucketKeyEnabled, out.SSEKMSEncryptionContext})
				m.checkETag(t, "PUT", aws.ToString(out.ETag), body)
				etags[key] = aws.ToString(out.ETag)

				gin := &s3.GetObjectInput{Bucket: aws.String("single"), Key: aws.String(key)}
				m.applyGet(gin)
				got, gout := getAll(t, c, gin)
				if !bytes.Equal(got, body) {
					t.Fatalf("GET %d bytes: body differs (got %d bytes)", size, len(got))
				}
				if aws.ToString(gout.ETag) != aws.ToString(out.ETag) {
					t.Errorf("GET ETag %s, PUT said %s", aws.ToString(gout.ETag), aws.ToString(out.ETag))
				}
				m.check(t, "GET", sseFields{gout.ServerSideEncryption, gout.SSEKMSKeyId, gout.SSECustomerAlgorithm, gout.SSECustomerKeyMD5, gout.BucketKeyEnabled, nil})

				hin := &s3.HeadObjectInput{Bucket: aws.String("single"), Key: aws.String(key)}
				m.applyHead(hin)
				hout, err := c.HeadObject(ctx, hin)
				if err != nil {
					t.Fatalf("head: %v", err)
				}
				if aws.ToInt64(hout.ContentLength) != int64(size) || aws.ToString(hout.ETag) != aws.ToString(out.ETag) {
					t.Errorf("HEAD size %d etag %s, want %d %s", aws.ToInt64(hout.ContentLength), aws.ToString(hout.ETag), size, aws.ToString(out.ETag))
				}
				m.check(t, "HEAD", sseFields{hout.ServerSideEncryption, hout.SSEKMSKeyId, hout.SSECustomerAlgorithm, hout.SSECustomerKeyMD5, hout.BucketKeyEnabled, nil})
			}

			// Ranges of the 3 MiB object, across package (64 KiB) boundaries
			// and from the end.
			key := fmt.Sprintf("m%d/obj-%d", mi, 3<<20)
			body := randBytes(3<<20, byte(mi+(3<<20)))
			for _, r := range []struct {
				hdr        string
				start, end int // inclusive
			}{
				{"bytes=0-0", 0, 0},
				{"bytes=65535-65536", 65535, 65536},
				{"bytes=65500-200000", 65500, 200000},
				{"bytes=1048576-", 1048576, 3<<20 - 1},
				{"bytes=-1", 3<<20 - 1, 3<<20 - 1},
				{"bytes=-70000", 3<<20 - 70000, 3<<20 - 1},
				{"bytes=3145000-9999999", 3145000, 3<<20 - 1},
			} {
				gin := &s3.GetObjectInput{Bucket: aws.String("single"), Key: aws.String(key), Range: aws.String(r.hdr)}
				m.applyGet(gin)
				got, gout := getAll(t, c, gin)
				if !bytes.Equal(got, body[r.start:r.end+1]) {
					t.Errorf("range %s: %d bytes, wrong content", r.hdr, len(got))
				}
				wantCR := fmt.Sprintf("bytes %d-%d/%d", r.start, r.end, len(body))
				if aws.ToString(gout.ContentRange) != wantCR {
					t.Errorf("range %s: Content-Range %q, want %q", r.hdr, aws.ToString(gout.ContentRange), wantCR)
				}
			}

			// ListObjectsV2 reports plaintext sizes and the PUT ETags.
			lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("single"), Prefix: aws.String(fmt.Sprintf("m%d/", mi))})
			if err != nil {
				t.Fatal(err)
			}
			if len(lo.Contents) != len(sizes) {
				t.Fatalf("listed %d objects, want %d", len(lo.Contents), len(sizes))
			}
			for _, o := range lo.Contents {
				var size int
				fmt.Sscanf(aws.ToString(o.Key)[strings.LastIndex(aws.ToString(o.Key), "-")+1:], "%d", &size)
				if aws.ToInt64(o.Size) != int64(size) || aws.ToString(o.ETag) != etags[aws.ToString(o.Key)] {
					t.Errorf("list %s: size %d etag %s, want %d %s", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag), size, etags[aws.ToString(o.Key)])
				}
			}
		})
	}
}

func TestSSEMultipartWithOddPartSizesInEveryMode(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("mpu")
	modes := allModes(t, e)
	resolveManaged(t, e, modes, "mpu")
	c := e.s3()
	ctx := context.Background()
	sizes := []int{5<<20 + 1, 5<<20 + 7, 3}
	for mi, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			key := fmt.Sprintf("obj-%d", mi)
			cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key)}
			m.applyCreate(cin)
			cout, err := c.CreateMultipartUpload(ctx, cin)
			if err != nil {
				t.Fatal(err)
			}
			m.check(t, "CreateMultipartUpload", sseFields{cout.ServerSideEncryption, cout.SSEKMSKeyId, cout.SSECustomerAlgorithm, cout.SSECustomerKeyMD5, cout.BucketKeyEnabled, cout.SSEKMSEncryptionContext})
			var parts [][]byte
			var done []types.CompletedPart
			// Upload in reverse order: parts are independent.
			for i := len(sizes) - 1; i >= 0; i-- {
				p := randBytes(sizes[i], byte(10*mi+i))
				pin := &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: cout.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}
				m.applyPart(pin)
				pout, err := c.UploadPart(ctx, pin)
				if err != nil {
					t.Fatalf("part %d: %v", i+1, err)
				}
				if aws.ToString(pout.ETag) != `"`+md5hex(p)+`"` {
					t.Errorf("part %d ETag %s, want plaintext MD5", i+1, aws.ToString(pout.ETag))
				}
				m.check(t, "UploadPart", sseFields{pout.ServerSideEncryption, pout.SSEKMSKeyId, pout.SSECustomerAlgorithm, pout.SSECustomerKeyMD5, pout.BucketKeyEnabled, nil})
				done = append([]types.CompletedPart{{PartNumber: aws.Int32(int32(i + 1)), ETag: pout.ETag}}, done...)
				parts = append([][]byte{p}, parts...)
			}
			out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: cout.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
			if err != nil {
				t.Fatal(err)
			}
			// Complete takes no SSE-C key, so S3 does not echo it there.
			cm := m
			cm.ssec = nil
			cm.check(t, "CompleteMultipartUpload", sseFields{out.ServerSideEncryption, out.SSEKMSKeyId, nil, nil, out.BucketKeyEnabled, nil})
			etag := aws.ToString(out.ETag)
			mm := hex32Suffix.FindStringSubmatch(etag)
			if mm == nil || mm[1] != "3" {
				t.Fatalf("multipart ETag %s, want \"<32 hex>-3\"", etag)
			}
			if m.plainETag() && etag != multipartETag(parts...) {
				t.Errorf("multipart ETag %s, want %s", etag, multipartETag(parts...))
			}
			if !m.plainETag() && etag == multipartETag(parts...) {
				t.Errorf("multipart ETag %s reveals the part MD5s in mode %s", etag, m.name)
			}
			whole := bytes.Join(parts, nil)
			b1, b2 := sizes[0], sizes[0]+sizes[1]
			for _, r := range []struct {
				hdr        string
				start, end int
			}{
				{"", 0, len(whole) - 1},
				{fmt.Sprintf("bytes=%d-%d", b1-10, b1+10), b1 - 10, b1 + 10},
				{fmt.Sprintf("bytes=%d-%d", b1-1, b1), b1 - 1, b1},
				{fmt.Sprintf("bytes=%d-%d", b1-70000, b2+1), b1 - 70000, b2 + 1},
				{fmt.Sprintf("bytes=%d-", b2-1), b2 - 1, len(whole) - 1},
				{"bytes=-5", len(whole) - 5, len(whole) - 1},
				{"bytes=-3", len(whole) - 3, len(whole) - 1},
			} {
				gin := &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key)}
				if r.hdr != "" {
					gin.Range = aws.String(r.hdr)
				}
				m.applyGet(gin)
				got, gout := getAll(t, c, gin)
				if !bytes.Equal(got, whole[r.start:r.end+1]) {
					t.Errorf("range %q: %d bytes, wrong content", r.hdr, len(got))
				}
				if aws.ToString(gout.ETag) != etag {
					t.Errorf("range %q: ETag %s, want %s", r.hdr, aws.ToString(gout.ETag), etag)
				}
			}
			// GET ?partNumber=2 returns exactly part 2.
			gin := &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), PartNumber: aws.Int32(2)}
			m.applyGet(gin)
			got, gout := getAll(t, c, gin)
			if !bytes.Equal(got, parts[1]) || aws.ToInt32(gout.PartsCount) != 3 {
				t.Errorf("partNumber=2: %d bytes (parts count %d), want part 2 of 3", len(got), aws.ToInt32(gout.PartsCount))
			}
			hin := &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key)}
			m.applyHead(hin)
			hout, err := c.HeadObject(ctx, hin)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt64(hout.ContentLength) != int64(len(whole)) || aws.ToString(hout.ETag) != etag {
				t.Errorf("HEAD size %d etag %s, want %d %s", aws.ToInt64(hout.ContentLength), aws.ToString(hout.ETag), len(whole), etag)
			}
			m.check(t, "HEAD", sseFields{hout.ServerSideEncryption, hout.SSEKMSKeyId, hout.SSECustomerAlgorithm, hout.SSECustomerKeyMD5, hout.BucketKeyEnabled, nil})
			lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("mpu"), Prefix: aws.String(key)})
			if err != nil || len(lo.Contents) != 1 {
				t.Fatalf("list: %v, %d objects", err, len(lo.Contents))
			}
			if aws.ToInt64(lo.Contents[0].Size) != int64(len(whole)) || aws.ToString(lo.Contents[0].ETag) != etag {
				t.Errorf("list: size %d etag %s, want %d %s", aws.ToInt64(lo.Contents[0].Size), aws.ToString(lo.Contents[0].ETag), len(whole), etag)
			}
		})
	}
}

// The minio-go client's own encrypt package must interoperate too.
func TestSSEMinioClientRoundTrips(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("mcb")
	k := e.kmsKey()
	kmsSSE, err := encrypt.NewSSEKMS(k.KeyID, map[string]string{"project": "x"})
	if err != nil {
		t.Fatal(err)
	}
	ssec, err := encrypt.NewSSEC(newCustomerKey(9).raw)
	if err != nil {
		t.Fatal(err)
	}
	mc := e.minio()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		enc     encrypt.ServerSide
		wantHdr string
	}{
		{"SSE-S3", encrypt.NewSSE(), "AES256"},
		{"SSE-KMS", kmsSSE, "aws:kms"},
		{"SSE-C", ssec, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := randBytes(100000, 4)
			if _, err := mc.PutObject(ctx, "mcb", tc.name, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ServerSideEncryption: tc.enc}); err != nil {
				t.Fatal(err)
			}
			var gopts minio.GetObjectOptions
			var sopts minio.StatObjectOptions
			if tc.enc.Type() == encrypt.SSEC {
				gopts.ServerSideEncryption, sopts.ServerSideEncryption = tc.enc, tc.enc
			}
			obj, err := mc.GetObject(ctx, "mcb", tc.name, gopts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(obj); err != nil {
				t.Fatal(err)
			}
			obj.Close()
			if !bytes.Equal(buf.Bytes(), body) {
				t.Fatal("body differs")
			}
			st, err := mc.StatObject(ctx, "mcb", tc.name, sopts)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size != int64(len(body)) || st.Metadata.Get("X-Amz-Server-Side-Encryption") != tc.wantHdr {
				t.Errorf("stat: size %d sse %q, want %d %q", st.Size, st.Metadata.Get("X-Amz-Server-Side-Encryption"), len(body), tc.wantHdr)
			}
			if tc.enc.Type() == encrypt.KMS && st.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id") != k.ARN {
				t.Errorf("stat: kms key %q, want %q", st.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), k.ARN)
			}
		})
	}
}
