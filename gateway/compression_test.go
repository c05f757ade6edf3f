package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/sse"
)

func TestCompressionIsOptInByContentTypeAndTransparent(t *testing.T) {
	e := newSSEEnv(t, Config{Compression: sse.CompressionConfig{Enabled: true}}, nil, true)
	e.mkbucket("cmp")
	c := e.s3()
	ctx := context.Background()
	var text bytes.Buffer
	for i := 0; text.Len() < 3<<20; i++ {
		fmt.Fprintf(&text, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	plain := text.Bytes()
	ck := newCustomerKey(5)
	cases := []struct {
		name, ctype string
		mode        sseMode
		compressed  bool
	}{
		{"text sse-s3", "text/plain", sseMode{name: "sse-s3", sse: types.ServerSideEncryptionAes256}, true},
		{"json sse-kms", "application/json", sseMode{name: "sse-kms", sse: types.ServerSideEncryptionAwsKms}, true},
		{"png is not compressed", "image/png", sseMode{name: "sse-s3", sse: types.ServerSideEncryptionAes256}, false},
		{"sse-c is never compressed", "text/plain", sseMode{name: "sse-c", ssec: &ck}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := strings.ReplaceAll(tc.name, " ", "-")
			in := &s3.PutObjectInput{Bucket: aws.String("cmp"), Key: aws.String(key), Body: bytes.NewReader(plain), ContentType: aws.String(tc.ctype)}
			tc.mode.applyPut(in)
			out, err := c.PutObject(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode.sse == types.ServerSideEncryptionAes256 {
				sum := md5.Sum(plain)
				if got := strings.Trim(aws.ToString(out.ETag), `"`); got != hex.EncodeToString(sum[:]) {
					t.Fatalf("ETag %s, want the plaintext MD5", got)
				}
			}
			dataPath, _ := findObjectFiles(t, e.root, "cmp", key)
			st, err := os.Stat(dataPath)
			if err != nil {
				t.Fatal(err)
			}
			if small := st.Size() < int64(len(plain))/4; small != tc.compressed {
				t.Fatalf("stored %d bytes for %d plaintext; compressed=%v, want %v", st.Size(), len(plain), small, tc.compressed)
			}
			if raw, _ := os.ReadFile(dataPath); bytes.Contains(raw, []byte("quick brown fox")) {
				t.Fatal("plaintext on the backend")
			}
			for _, rng := range []string{"", "bytes=0-0", "bytes=1000000-1300000", "bytes=-17", "bytes=262140-262150"} {
				gin := &s3.GetObjectInput{Bucket: aws.String("cmp"), Key: aws.String(key)}
				if rng != "" {
					gin.Range = aws.String(rng)
				}
				tc.mode.applyGet(gin)
				got, err := c.GetObject(ctx, gin)
				if err != nil {
					t.Fatalf("GET %s: %v", rng, err)
				}
				b, err := io.ReadAll(got.Body)
				got.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				want := plain
				switch rng {
				case "bytes=0-0":
					want = plain[:1]
				case "bytes=1000000-1300000":
					want = plain[1000000:1300001]
				case "bytes=-17":
					want = plain[len(plain)-17:]
				case "bytes=262140-262150":
					want = plain[262140:262151]
				}
				if !bytes.Equal(b, want) {
					t.Fatalf("GET %q returned %d bytes that differ from the plaintext", rng, len(b))
				}
			}
			hin := &s3.HeadObjectInput{Bucket: aws.String("cmp"), Key: aws.String(key)}
			tc.mode.applyHead(hin)
			h, err := c.HeadObject(ctx, hin)
			if err != nil || aws.ToInt64(h.ContentLength) != int64(len(plain)) {
				t.Fatalf("HEAD: %v, size %d", err, aws.ToInt64(h.ContentLength))
			}
		})
	}
}
