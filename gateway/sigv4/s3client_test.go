package sigv4_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/gateway/checksum"
	"github.com/ssegate/ssegate/gateway/sigv4"
)

// s3Server is a minimal PutObject/GetObject endpoint running the gateway's
// upload pipeline (sigv4 → aws-chunked → checksum); it records what it saw.
type s3Server struct {
	mu      sync.Mutex
	modes   []string
	objects map[string][]byte
}

func (s *s3Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := opts()
	o.Now = time.Now
	res, err := sigv4.Verify(r, testCreds, o)
	if err != nil {
		http.Error(w, err.Error(), 403)
		return
	}
	s.mu.Lock()
	s.modes = append(s.modes, res.PayloadHash)
	s.mu.Unlock()
	if r.Method == http.MethodGet {
		s.mu.Lock()
		b := s.objects[r.URL.Path]
		s.mu.Unlock()
		w.Write(b)
		return
	}
	body, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	exp, err := checksum.FromRequest(r.Header)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	v := checksum.NewVerifier(body, exp, body.Trailer)
	data, err := io.ReadAll(v)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if a, val := v.Checksum(); a != "" {
		w.Header().Set(a.Header(), val)
	}
	s.mu.Lock()
	s.objects[r.URL.Path] = data
	s.mu.Unlock()
	w.Header().Set("ETag", fmt.Sprintf("%q", hex.EncodeToString(v.MD5())))
}

func TestAWSSDKS3ClientRoundTrip(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			h := &s3Server{objects: map[string][]byte{}}
			var srv *httptest.Server
			if tlsOn {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			defer srv.Close()
			client := s3.New(s3.Options{
				Region:       testRegion,
				BaseEndpoint: aws.String(srv.URL),
				UsePathStyle: true,
				Credentials:  credentials.NewStaticCredentialsProvider(testAK, testSK, ""),
				HTTPClient:   srv.Client(),
			})
			data := payload(300000)
			for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
				types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
				key := "dir/a b+c~€-" + string(algo)
				out, err := client.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key),
					Body: bytes.NewReader(data), ChecksumAlgorithm: algo,
				})
				if err != nil {
					t.Fatalf("%s: %v", algo, err)
				}
				if aws.ToString(out.ETag) == "" {
					t.Fatal("no ETag")
				}
				ps := s3.NewPresignClient(client)
				req, err := ps.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				resp, err := srv.Client().Get(req.URL)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !bytes.Equal(got, data) {
					t.Fatalf("presigned GET %d: %.200s", resp.StatusCode, got)
				}
			}
			// Over TLS the SDK streams with an unsigned trailer, over HTTP it
			// signs the payload hash: both paths must have been exercised.
			want := hexsum(data)
			if tlsOn {
				want = sigv4.StreamingUnsignedTrailer
			}
			if !slices.Contains(h.modes, want) {
				t.Fatalf("payload modes seen %v, want %s among them", h.modes, want)
			}
		})
	}
}
