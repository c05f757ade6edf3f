package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ssegate/ssegate/gateway"
	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store/fs"
)

const (
	bucketTestRootKey    = "AKIDBUCKETROOT"
	bucketTestRootSecret = "bucket-root-secret-0123456789"
	bucketTestBobKey     = "AKIDBUCKETBOB"
	bucketTestBobSecret  = "bucket-bob-secret-0123456789"
)

// bucketTestGateway starts an in-process gateway with the root and the
// user bob, and returns its endpoint.
func bucketTestGateway(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(bucketTestHandler(t))
	t.Cleanup(ts.Close)
	return ts.URL
}

// bucketTestTLSGateway is bucketTestGateway over HTTPS with httptest's
// self-signed certificate, which it writes to a PEM file for --ca-cert.
func bucketTestTLSGateway(t *testing.T) (endpoint, caFile string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(bucketTestHandler(t))
	// The refused handshakes are the point of the test, not news.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	caFile = filepath.Join(t.TempDir(), "gateway.crt")
	writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
	return ts.URL, caFile
}

func bucketTestHandler(t *testing.T) http.Handler {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	core, err := kms.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), bytes.Repeat([]byte{9}, kms.MasterKeySize), kms.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	srv, err := gateway.New(gateway.Config{Region: "us-east-1"}, gateway.Deps{Store: st, KMS: core, Credentials: staticCredentials{
		{AccessKey: bucketTestRootKey, SecretKey: bucketTestRootSecret, ARN: "arn:aws:iam::000000000000:root"},
		{AccessKey: bucketTestBobKey, SecretKey: bucketTestBobSecret, ARN: "arn:aws:iam::000000000000:user/bob"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func s3As(endpoint, ak, sk string) *s3.Client {
	return s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")})
}

// runBucket runs `ssegate bucket args...` with env and returns stdout.
func runBucket(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := bucketCommand(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	if strings.Contains(out.String()+errOut.String(), bucketTestRootSecret) {
		t.Fatal("the root secret was printed")
	}
	return out.String(), err
}

func bobCanGet(t *testing.T, bob *s3.Client) error {
	t.Helper()
	out, err := bob.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("k")})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func bobCanPut(bob *s3.Client) error {
	_, err := bob.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("b"), Body: strings.NewReader("x")})
	return err
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"
}

func TestBucketGrantReadThenReadWriteThenRevoke(t *testing.T) {
	endpoint := bucketTestGateway(t)
	ctx := context.Background()
	root := s3As(endpoint, bucketTestRootKey, bucketTestRootSecret)
	bob := s3As(endpoint, bucketTestBobKey, bucketTestBobSecret)
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SSEGATE_ENDPOINT": endpoint, "SSEGATE_ACCESS_KEY": bucketTestRootKey, "SSEGATE_SECRET_KEY": bucketTestRootSecret}

	if err := bobCanGet(t, bob); !isAccessDenied(err) {
		t.Fatalf("bob before any grant: %v, want AccessDenied", err)
	}
	// Another statement of the operator's own survives every edit.
	other := `{"Version":"2012-10-17","Id":"mine","Statement":{"Sid":"keep","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::data"}}`
	if _, err := root.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("data"), Policy: aws.String(other)}); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ { // idempotent
		if out, err := runBucket(t, env, "grant", "data", "bob", "read"); err != nil || !strings.Contains(out, "granted bob read") {
			t.Fatalf("grant read: %q %v", out, err)
		}
	}
	if err := bobCanGet(t, bob); err != nil {
		t.Fatalf("bob get with read: %v", err)
	}
	if _, err := bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data")}); err != nil {
		t.Fatalf("bob list with read: %v", err)
	}
	if err := bobCanPut(bob); !isAccessDenied(err) {
		t.Fatalf("bob put with read: %v, want AccessDenied", err)
	}

	if _, err := runBucket(t, env, "grant", "data", "bob", "read-write"); err != nil {
		t.Fatal(err)
	}
	if err := bobCanPut(bob); err != nil {
		t.Fatalf("bob put with read-write: %v", err)
	}
	out, err := runBucket(t, env, "policy", "data")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID        string `json:"Id"`
		Statement []json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("policy output is not JSON: %v\n%s", err, out)
	}
	var g struct {
		Sid       string
		Principal map[string]string
		Action    []string
		Resource  []string
	}
	if doc.ID != "mine" || len(doc.Statement) != 2 {
		t.Fatalf("policy after grants: %s", out)
	}
	if err := json.Unmarshal(doc.Statement[1], &g); err != nil || g.Sid != "ssegate-grant-bob" ||
		g.Principal["AWS"] != "arn:aws:iam::000000000000:user/bob" || len(g.Action) != len(grantActions["read-write"]) ||
		strings.Join(g.Resource, ",") != "arn:aws:s3:::data,arn:aws:s3:::data/*" {
		t.Fatalf("grant statement: %v %+v", err, g)
	}
	if !strings.Contains(string(doc.Statement[0]), `"Sid":"keep"`) && !strings.Contains(string(doc.Statement[0]), `"Sid": "keep"`) {
		t.Fatalf("first statement is not the operator's: %s", doc.Statement[0])
	}

	if out, err := runBucket(t, env, "revoke", "data", "bob"); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if err := bobCanGet(t, bob); !isAccessDenied(err) {
		t.Fatalf("bob after revoke: %v, want AccessDenied", err)
	}
	if out, err := runBucket(t, env, "revoke", "data", "bob"); err != nil || !strings.Contains(out, "no grant") {
		t.Fatalf("second revoke: %q %v", out, err)
	}
	pol, err := root.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("data")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"keep"`) || strings.Contains(aws.ToString(pol.Policy), "ssegate-grant-bob") {
		t.Fatalf("policy after revoke: %v %s", err, aws.ToString(pol.Policy))
	}
}

func TestBucketRevokeOfTheLastGrantDeletesThePolicy(t *testing.T) {
	endpoint := bucketTestGateway(t)
	root := s3As(endpoint, bucketTestRootKey, bucketTestRootSecret)
	if _, err := root.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SSEGATE_ENDPOINT": endpoint, "SSEGATE_ACCESS_KEY": bucketTestRootKey, "SSEGATE_SECRET_KEY": bucketTestRootSecret}
	if _, err := runBucket(t, env, "grant", "data", "bob", "read"); err != nil {
		t.Fatal(err)
	}
	if _, err := runBucket(t, env, "revoke", "data", "bob"); err != nil {
		t.Fatal(err)
	}
	_, err := root.GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("data")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucketPolicy" {
		t.Fatalf("policy after the last revoke: %v, want NoSuchBucketPolicy", err)
	}
}

func TestBucketCommandReadsCredentialsFromTheDataDirWithoutCreatingThem(t *testing.T) {
	endpoint := bucketTestGateway(t)
	dir := t.TempDir()
	_, err := runBucket(t, map[string]string{"SSEGATE_ENDPOINT": endpoint}, "policy", "data", "--data-dir", dir)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("without credentials: %v, want ErrConfig", err)
	}
	if _, err := os.Stat(filepath.Join(dir, credentialsFile)); err == nil {
		t.Fatal("the client created a credentials file")
	}
	data, _ := json.Marshal(rootCredentials{AccessKey: bucketTestRootKey, SecretKey: bucketTestRootSecret})
	if err := os.WriteFile(filepath.Join(dir, credentialsFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	root := s3As(endpoint, bucketTestRootKey, bucketTestRootSecret)
	if _, err := root.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := runBucket(t, map[string]string{"SSEGATE_ENDPOINT": endpoint, "SSEGATE_DATA_DIR": dir}, "grant", "data", "bob", "read"); err != nil {
		t.Fatalf("grant with credentials.json: %v", err)
	}
}

func TestBucketCommandRefusesBadArguments(t *testing.T) {
	env := map[string]string{"SSEGATE_ACCESS_KEY": "a", "SSEGATE_SECRET_KEY": "b", "SSEGATE_ENDPOINT": "http://127.0.0.1:1"}
	for name, args := range map[string][]string{
		"no command":       {},
		"unknown command":  {"share", "b", "u"},
		"missing access":   {"grant", "b", "bob"},
		"bad access":       {"grant", "b", "bob", "admin"},
		"bad user name":    {"grant", "b", "bob/x", "read"},
		"too many args":    {"revoke", "b", "bob", "read"},
		"bad account id":   {"grant", "b", "bob", "read", "--account-id", "12"},
		"half credentials": {"policy", "b"},
	} {
		e := env
		if name == "half credentials" {
			e = map[string]string{"SSEGATE_ACCESS_KEY": "a"}
		}
		if _, err := runBucket(t, e, args...); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if out, err := runBucket(t, env, "help"); err != nil || !strings.Contains(out, "grant BUCKET USER") || !strings.Contains(out, "SSEGATE_ENDPOINT") {
		t.Fatalf("help: %v\n%s", err, out)
	}
}

// TestBucketCommandsVerifyATLSGatewayWithCACert: against a gateway with a
// self-signed certificate the bucket commands work only when told to trust
// that certificate; a bad --ca-cert is a usage error (exit 2).
func TestBucketCommandsVerifyATLSGatewayWithCACert(t *testing.T) {
	endpoint, caFile := bucketTestTLSGateway(t)
	other, _ := writeSelfSignedCert(t, t.TempDir(), "other")
	root := s3.New(s3.Options{BaseEndpoint: aws.String(endpoint), UsePathStyle: true, Region: "us-east-1",
		HTTPClient:  &http.Client{Transport: &http.Transport{TLSClientConfig: mustClientTLSConfig(t, caFile)}},
		Credentials: credentials.NewStaticCredentialsProvider(bucketTestRootKey, bucketTestRootSecret, "")})
	if _, err := root.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SSEGATE_ENDPOINT": endpoint, "SSEGATE_ACCESS_KEY": bucketTestRootKey, "SSEGATE_SECRET_KEY": bucketTestRootSecret}
	with := func(k, v string) func(string) string {
		return func(name string) string {
			if name == k {
				return v
			}
			return vars[name]
		}
	}
	runExit := func(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(append([]string{"bucket"}, args...), getenv, &out, &errOut)
		if strings.Contains(out.String()+errOut.String(), bucketTestRootSecret) {
			t.Fatal("the root secret was printed")
		}
		return code, out.String(), errOut.String()
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no --ca-cert: unknown authority", with("", ""), []string{"policy", "data"}, 1, "", "certificate signed by unknown authority"},
		{"another CA: unknown authority", with("", ""), []string{"grant", "data", "bob", "read", "--ca-cert", other}, 1, "", "certificate signed by unknown authority"},
		{"--ca-cert", with("", ""), []string{"grant", "data", "bob", "read", "--ca-cert", caFile}, 0, "granted bob read", ""},
		{"SSEGATE_CA_CERT", with("SSEGATE_CA_CERT", caFile), []string{"policy", "data"}, 0, "ssegate-grant-bob", ""},
		{"--ca-cert wins over SSEGATE_CA_CERT", with("SSEGATE_CA_CERT", other), []string{"revoke", "data", "bob", "--ca-cert", caFile}, 0, "revoked bob", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runExit(t, tc.getenv, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant %d with %q / %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	for _, tc := range badCAFiles(t, t.TempDir()) {
		t.Run("bad file: "+tc.name, func(t *testing.T) {
			code, out, errOut := runExit(t, with("", ""), "grant", "data", "bob", "read", "--ca-cert", tc.file)
			if code != 2 || !strings.Contains(errOut, "--ca-cert "+tc.file+":") || !strings.Contains(errOut, tc.why) || out != "" {
				t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant 2 naming the file with %q", code, out, errOut, tc.why)
			}
		})
	}
	// The refused grants never reached the gateway.
	if _, err := root.GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String("data")}); !isNoSuchBucketPolicy(err) {
		t.Fatalf("policy after refused grants: %v, want NoSuchBucketPolicy", err)
	}
	if out, err := runBucket(t, vars, "help"); err != nil || !strings.Contains(out, "-ca-cert") || !strings.Contains(out, "SSEGATE_CA_CERT") {
		t.Fatalf("help does not document --ca-cert: %v\n%s", err, out)
	}
}

func mustClientTLSConfig(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	cfg, err := clientTLSConfig(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func isNoSuchBucketPolicy(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucketPolicy"
}
