package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/kms/kmstest"
	"github.com/ssegate/ssegate/store/fs"
)

// newKMSGateway starts a real gateway with the embedded KMS mounted, so
// KMS requests go through the gateway's SigV4 verification (service
// "kms") before kms.NewHandler sees them.
func newKMSGateway(t testing.TB) *httptest.Server {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	core := newTestCore(t)
	srv, err := New(Config{Region: testRegion}, Deps{
		Store:  st,
		KMS:    core,
		KMSAPI: kms.NewHandler(core, nil),
		Credentials: staticCreds{testAccessKey: {
			AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func newRemoteKMS(t testing.TB, url, accessKey, secretKey string) *kms.Remote {
	t.Helper()
	r, err := kms.NewRemote(context.Background(), kms.RemoteConfig{
		Endpoint: url, Region: testRegion, AccessKey: accessKey, SecretKey: secretKey,
	})
	if err != nil {
		t.Fatalf("NewRemote: %v", err)
	}
	return r
}

// TestRemoteKMSThroughGatewayConformance runs the KMS conformance suite
// with kms.Remote against a gateway, i.e. with real SigV4 for service kms.
func TestRemoteKMSThroughGatewayConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kms.Service {
		r := newRemoteKMS(t, newKMSGateway(t).URL, testAccessKey, testSecretKey)
		kmstest.RequireAll(t, r)
		return r
	})
}

// awsErrorCode returns the AWS error type an SDK client decoded, which is
// only possible when the gateway answered in the KMS JSON protocol.
func awsErrorCode(t *testing.T, err error) string {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	return apiErr.ErrorCode()
}

// TestRemoteKMSAuthFailuresAreKMSErrors: a KMS client must get a JSON
// __type it understands (as AWS KMS answers), never S3 XML.
func TestRemoteKMSAuthFailuresAreKMSErrors(t *testing.T) {
	ts := newKMSGateway(t)
	ctx := context.Background()
	sdk := func(ak, sk string) *awskms.Client {
		return awskms.New(awskms.Options{
			Region: testRegion, BaseEndpoint: aws.String(ts.URL),
			Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
		})
	}
	for _, tc := range []struct {
		name, ak, sk, wantType string
	}{
		{"wrong secret", testAccessKey, "not-the-secret", "InvalidSignatureException"},
		{"unknown access key", "AKIDUNKNOWN", testSecretKey, "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdk(tc.ak, tc.sk).ListKeys(ctx, &awskms.ListKeysInput{})
			if got := awsErrorCode(t, err); got != tc.wantType {
				t.Fatalf("SDK error type %q, want %q (err %v)", got, tc.wantType, err)
			}
			if strings.Contains(err.Error(), tc.sk) {
				t.Fatal("error message contains the secret key")
			}
			// kms.Remote keeps the AWS type in its error and, having no
			// auth sentinel, maps it to ErrInternal: to an S3 client behind
			// a misconfigured gateway this is a server-side failure.
			_, err = newRemoteKMS(t, ts.URL, tc.ak, tc.sk).DescribeKey(ctx, kms.AWSManagedS3Alias)
			if err == nil || !strings.Contains(err.Error(), tc.wantType) || !errors.Is(err, kms.ErrInternal) {
				t.Fatalf("Remote error %v; want ErrInternal naming %s", err, tc.wantType)
			}
			if errors.Is(err, kms.ErrNotFound) || errors.Is(err, kms.ErrDisabled) {
				t.Fatalf("auth failure %v maps to a key-state sentinel", err)
			}
		})
	}
}

// TestKMSRequestErrorsAreJSON posts raw KMS requests and checks status,
// content type and __type: unauthenticated, unknown operation (signed),
// and bad signature.
func TestKMSRequestErrorsAreJSON(t *testing.T) {
	ts := newKMSGateway(t)
	for _, tc := range []struct {
		name, target, secret string
		sign                 bool
		wantStatus           int
		wantType             string
	}{
		{"unsigned", "TrentService.ListKeys", "", false, http.StatusBadRequest, "MissingAuthenticationTokenException"},
		{"unknown operation", "TrentService.FrobnicateKey", testSecretKey, true, http.StatusBadRequest, "UnknownOperationException"},
		{"bad signature", "TrentService.ListKeys", "wrong", true, http.StatusBadRequest, "InvalidSignatureException"},
		{"other service target", "Foo_20120810.ListTables", testSecretKey, true, http.StatusBadRequest, "UnknownOperationException"},
		{"known operation", "TrentService.ListKeys", testSecretKey, true, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, ts.URL+"/", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", tc.target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if tc.sign {
				signKMS(t, req, []byte("{}"), tc.secret)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
				t.Fatalf("Content-Type %q, want application/x-amz-json-1.1; body %s", ct, body)
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
			if e.Type != tc.wantType {
				t.Fatalf("__type %q, want %q; body %s", e.Type, tc.wantType, body)
			}
		})
	}
}

// signKMS signs req with SigV4 for service kms, as the AWS SDKs do (no
// X-Amz-Content-Sha256 header).
func signKMS(t *testing.T, req *http.Request, body []byte, secret string) {
	t.Helper()
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "kms", testRegion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
}
