package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	miniosigner "github.com/minio/minio-go/v7/pkg/signer"

	"github.com/ssegate/ssegate/gateway/sigv4"
)

// verifyServer answers 200 with "<sha256 of decoded body> <trailer crc32c>"
// when the request verifies, else 403 with the error. It runs behind a
// real net/http server so Host, Content-Length and Transfer-Encoding are
// handled as in production.
func verifyServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := opts()
		o.Now = time.Now // the SDK signers use the wall clock
		res, err := sigv4.Verify(r, testCreds, o)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		pr, err := sigv4.NewPayloadReader(r, res)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h := sha256.New()
		if _, err := io.Copy(h, pr); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%x %s", h.Sum(nil), pr.Trailer().Get("x-amz-checksum-crc32c"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var sdkKeys = []string{"key", "a b", "a+b", "a%2Bb", "tilde~", "€uro/é", "dir//x", "q?=&;", "(paren)*!'"}

// s3Path encodes a key as the SDKs do (each byte outside the unreserved
// set percent-encoded, '/' kept).
func s3Path(key string) string {
	return "/bucket/" + strings.ReplaceAll(url.PathEscape(key), "+", "%2B")
}

func TestAWSSDKSignerHeaderAndPresignVerify(t *testing.T) {
	srv := verifyServer(t)
	s := awsv4.NewSigner(func(o *awsv4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}
	for _, key := range sdkKeys {
		t.Run(key, func(t *testing.T) {
			body := []byte("payload for " + key)
			r, _ := http.NewRequest(http.MethodPut, srv.URL+s3Path(key)+"?x-id=PutObject&tag=a%20b", bytes.NewReader(body))
			r.Header.Set("X-Amz-Content-Sha256", hexsum(body))
			r.Header.Set("X-Amz-Meta-Note", "  spaced   value ")
			if err := s.SignHTTP(context.Background(), creds, r, hexsum(body), "s3", testRegion, time.Now()); err != nil {
				t.Fatal(err)
			}
			if code, msg := do(t, r); code != 200 || !strings.HasPrefix(msg, hexsum(body)) {
				t.Fatalf("header-signed: %d %s", code, msg)
			}

			// The SDK presigner expects the caller to set X-Amz-Expires (the S3
			// presign client does).
			g, _ := http.NewRequest(http.MethodGet, srv.URL+s3Path(key)+"?X-Amz-Expires=900", nil)
			uri, hdr, err := s.PresignHTTP(context.Background(), creds, g, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now(),
				func(o *awsv4.SignerOptions) { o.DisableURIPathEscaping = true })
			if err != nil {
				t.Fatal(err)
			}
			p, _ := http.NewRequest(http.MethodGet, uri, nil)
			p.Header = hdr
			if code, msg := do(t, p); code != 200 {
				t.Fatalf("presigned: %d %s", code, msg)
			}
		})
	}
}

func TestAWSSDKSignerKMSVerifies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := sigv4.Verify(r, testCreds, sigv4.Options{Region: testRegion, Services: []string{"kms"}})
		if err != nil {
			http.Error(w, err.Error(), 403)
		}
	}))
	defer srv.Close()
	body := []byte(`{"KeyId":"alias/aws/s3"}`)
	r, _ := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
	err := awsv4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK},
		r, hexsum(body), "kms", testRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := do(t, r); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
}

func TestMinioGoSignersVerify(t *testing.T) {
	srv := verifyServer(t)
	data := payload(200000)
	crcTable := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Checksum(data, crcTable)
	crcB64 := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	newReq := func(key string) *http.Request {
		r, _ := http.NewRequest(http.MethodPut, srv.URL+s3Path(key), bytes.NewReader(data))
		return r
	}
	cases := map[string]func(key string) *http.Request{
		"SignV4": func(key string) *http.Request {
			r := newReq(key)
			r.Header.Set("X-Amz-Content-Sha256", hexsum(data))
			return miniosigner.SignV4(*r, testAK, testSK, "", testRegion)
		},
		"PreSignV4": func(key string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, srv.URL+s3Path(key), nil)
			return miniosigner.PreSignV4(*r, testAK, testSK, "", testRegion, 600)
		},
		"StreamingSignV4": func(key string) *http.Request {
			return miniosigner.StreamingSignV4(newReq(key), testAK, testSK, "", testRegion, int64(len(data)), time.Now().UTC(), sha256Hasher())
		},
		"StreamingSignV4Trailer": func(key string) *http.Request {
			r := newReq(key)
			r.Trailer = http.Header{"x-amz-checksum-crc32c": {crcB64}}
			return miniosigner.StreamingSignV4(r, testAK, testSK, "", testRegion, int64(len(data)), time.Now().UTC(), sha256Hasher())
		},
		"SignV4TrailerUnsigned": func(key string) *http.Request {
			r := newReq(key)
			r.ContentLength = int64(len(data))
			r.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
			return miniosigner.SignV4Trailer(*r, testAK, testSK, "", testRegion, http.Header{"x-amz-checksum-crc32c": {crcB64}})
		},
	}
	for name, build := range cases {
		for _, key := range sdkKeys {
			t.Run(name+"/"+key, func(t *testing.T) {
				code, msg := do(t, build(key))
				if code != 200 {
					t.Fatalf("%d %s", code, msg)
				}
				if name != "PreSignV4" && !strings.HasPrefix(msg, hexsum(data)) {
					t.Fatalf("decoded body differs: %s", msg)
				}
				if strings.Contains(name, "Trailer") && !strings.HasSuffix(msg, " "+crcB64) {
					t.Fatalf("trailer not delivered: %s", msg)
				}
			})
		}
	}
}

func TestMinioGoStreamingWithFlippedByteFails(t *testing.T) {
	srv := verifyServer(t)
	data := payload(100000)
	r, _ := http.NewRequest(http.MethodPut, srv.URL+"/bucket/key", bytes.NewReader(data))
	r = miniosigner.StreamingSignV4(r, testAK, testSK, "", testRegion, int64(len(data)), time.Now().UTC(), sha256Hasher())
	enc, _ := io.ReadAll(r.Body)
	enc[len(enc)-200] ^= 1
	r.Body = io.NopCloser(bytes.NewReader(enc))
	if code, msg := do(t, r); code != 400 || !strings.Contains(msg, "signature does not match") {
		t.Fatalf("%d %s", code, msg)
	}
}

func TestPathSignedInAWSEncodingVerifiesWhenSentDifferently(t *testing.T) {
	// Some clients sign the AWS encoding of a key but send it with fewer
	// escapes ("+" raw); both name the same key.
	r := newReq(t, http.MethodGet, "/bucket/a%2Bb%20c")
	signer().Sign(r, nil, "")
	sent := newReq(t, http.MethodGet, "/bucket/a+b%20c")
	sent.Header = r.Header.Clone()
	mustVerify(t, sent, opts())

	// But not a different key.
	other := newReq(t, http.MethodGet, "/bucket/a%20b%20c")
	other.Header = r.Header.Clone()
	if _, err := sigv4.Verify(other, testCreds, opts()); err == nil {
		t.Fatal("signature for key 'a+b c' accepted for 'a b c'")
	}
}

// sha256Hasher adapts sha256 to the md5simd.Hasher minio-go's streaming
// signer takes.
func sha256Hasher() interface {
	io.Writer
	Sum([]byte) []byte
	Reset()
	Size() int
	BlockSize() int
	Close()
} {
	return closer{sha256.New()}
}

type closer struct{ hash.Hash }

func (closer) Close() {}
