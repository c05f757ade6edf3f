package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// startGateway runs `ssegate serve` in-process on a free port with its
// root credentials generated into dir/credentials.json.
func startGateway(t *testing.T, dir string) string {
	t.Helper()
	return "http://" + startServe(t, dir)
}

// startServe runs `ssegate serve --listen 127.0.0.1:0 --data-dir dir
// args...` in-process and returns the address it listens on.
func startServe(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cfg, err := parseServeConfig(append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir}, args...), env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return waitForLog(t, &logs, regexp.MustCompile(`msg=ready addr=(\S+)`), done)
}

// runUser runs `ssegate user args...` and returns the exit code and output.
func runUser(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"user"}, args...), getenv, &out, &errOut)
	return code, out.String(), errOut.String()
}

var exportLine = regexp.MustCompile(`export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)`)

// s3Status sends a signed ListBuckets with the key and returns the status.
func s3Status(t *testing.T, endpoint, ak, sk string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, endpoint+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, hex.EncodeToString(sum[:]), "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUserCommandsCreateListRotateDelete(t *testing.T) {
	dir := t.TempDir()
	endpoint := startGateway(t, dir)
	getenv := env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", dir)

	code, out, errOut := runUser(t, getenv, "create", "alice")
	m := exportLine.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "aws configure set aws_secret_access_key "+m[2]+" --profile alice") {
		t.Fatalf("user create = %d\n%s\n%s", code, out, errOut)
	}
	ak1, sk1 := m[1], m[2]
	if st := s3Status(t, endpoint, ak1, sk1); st != 200 {
		t.Fatalf("the new key gets %d on ListBuckets", st)
	}

	code, out, _ = runUser(t, getenv, "list")
	if code != 0 || !regexp.MustCompile(`alice\s+arn:aws:iam::000000000000:user/alice\s+\S+\s+`+ak1+` \(Active\)`).MatchString(out) || strings.Contains(out, sk1) {
		t.Fatalf("user list = %d\n%s", code, out)
	}

	code, out, errOut = runUser(t, getenv, "rotate-key", "alice")
	m = exportLine.FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] == ak1 || !strings.Contains(out, "Deleted access key "+ak1) {
		t.Fatalf("user rotate-key = %d\n%s\n%s", code, out, errOut)
	}
	if st := s3Status(t, endpoint, ak1, sk1); st != 403 {
		t.Fatalf("the rotated-out key gets %d, want 403", st)
	}
	if st := s3Status(t, endpoint, m[1], m[2]); st != 200 {
		t.Fatalf("the rotated-in key gets %d", st)
	}

	code, out, errOut = runUser(t, getenv, "delete", "alice")
	if code != 0 || !strings.Contains(out, "Deleted access key "+m[1]) || !strings.Contains(out, "Deleted user alice") {
		t.Fatalf("user delete = %d\n%s\n%s", code, out, errOut)
	}
	if st := s3Status(t, endpoint, m[1], m[2]); st != 403 {
		t.Fatalf("a deleted user's key gets %d", st)
	}
	if code, out, _ = runUser(t, getenv, "list"); code != 0 || strings.Contains(out, "alice") {
		t.Fatalf("user list after delete = %d\n%s", code, out)
	}
}

func TestUserCommandErrorsHaveMeaningfulExitCodes(t *testing.T) {
	dir := t.TempDir()
	endpoint := startGateway(t, dir)
	getenv := env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", dir)
	if code, _, errOut := runUser(t, getenv, "create", "bob"); code != 0 {
		t.Fatalf("create bob = %d %s", code, errOut)
	}
	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		stderr string
	}{
		{"duplicate user", getenv, []string{"create", "BOB"}, 1, "EntityAlreadyExists"},
		{"unknown user", getenv, []string{"delete", "nobody"}, 1, "NoSuchEntity"},
		{"bad name", getenv, []string{"create", "a/b"}, 1, "ValidationError"},
		{"missing name", getenv, []string{"create"}, 2, "takes 1 argument"},
		{"extra name", getenv, []string{"list", "x"}, 2, "takes 0 argument"},
		{"unknown command", getenv, []string{"frobnicate"}, 2, "unknown user command"},
		{"no command", getenv, nil, 2, "needs a command"},
		{"no credentials", env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", t.TempDir()), []string{"list"}, 2, "no root credentials"},
		{"wrong root secret", env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_ACCESS_KEY", "x", "SSEGATE_SECRET_KEY", "y"), []string{"list"}, 1, "InvalidClientTokenId"},
		{"bad endpoint", env("SSEGATE_DATA_DIR", dir), []string{"list", "--endpoint", "ftp://x"}, 2, "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runUser(t, tc.getenv, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, errOut, tc.code, tc.stderr)
			}
		})
	}
	if code, out, _ := runUser(t, getenv, "help"); code != 0 || !strings.Contains(out, "rotate-key NAME") {
		t.Fatalf("user help = %d %s", code, out)
	}
	// A user's own key may not manage users.
	_, out, _ := runUser(t, getenv, "rotate-key", "bob")
	m := exportLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rotate-key bob: %s", out)
	}
	code, _, errOut := runUser(t, env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_ACCESS_KEY", m[1], "SSEGATE_SECRET_KEY", m[2]), "create", "mallory")
	if code != 1 || !strings.Contains(errOut, "AccessDenied") {
		t.Fatalf("user key creating a user = %d %s", code, errOut)
	}
}

func TestDefaultUserEndpointFollowsServeEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "http://127.0.0.1:9900"},
		{[]string{"SSEGATE_LISTEN", ":9000"}, "http://127.0.0.1:9000"},
		{[]string{"SSEGATE_LISTEN", "0.0.0.0:9001", "SSEGATE_TLS_CERT", "c.pem"}, "https://127.0.0.1:9001"},
		{[]string{"SSEGATE_LISTEN", "10.0.0.1:9002"}, "http://10.0.0.1:9002"},
		{[]string{"SSEGATE_ENDPOINT", "https://gw.example:443", "SSEGATE_LISTEN", ":1"}, "https://gw.example:443"},
	} {
		if got := defaultUserEndpoint(env(tc.env...)); got != tc.want {
			t.Errorf("env %v: endpoint %q, want %q", tc.env, got, tc.want)
		}
	}
}

// TestUserCommandsVerifyATLSGatewayWithCACert runs the real gateway with a
// self-signed certificate: the user commands reach it only when told to
// trust that certificate, and never by skipping verification.
func TestUserCommandsVerifyATLSGatewayWithCACert(t *testing.T) {
	dir := t.TempDir()
	certs := t.TempDir()
	cert, key := writeSelfSignedCert(t, certs, "gateway")
	other, _ := writeSelfSignedCert(t, certs, "other")
	endpoint := "https://" + startServe(t, dir, "--tls-cert", cert, "--tls-key", key)
	getenv := env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", dir)

	for _, tc := range []struct {
		name   string
		getenv func(string) string
		args   []string
		code   int
		stdout string // on success
		stderr string // on failure
	}{
		{"no --ca-cert: unknown authority", getenv, []string{"list"}, 1, "", "certificate signed by unknown authority"},
		{"another CA: unknown authority", getenv, []string{"list", "--ca-cert", other}, 1, "", "certificate signed by unknown authority"},
		{"--ca-cert", getenv, []string{"create", "carol", "--ca-cert", cert}, 0, "Created user carol", ""},
		{"SSEGATE_CA_CERT", env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", dir, "SSEGATE_CA_CERT", cert), []string{"list"}, 0, "user/carol", ""},
		{"--ca-cert wins over SSEGATE_CA_CERT", env("SSEGATE_ENDPOINT", endpoint, "SSEGATE_DATA_DIR", dir, "SSEGATE_CA_CERT", other), []string{"list", "--ca-cert", cert}, 0, "user/carol", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runUser(t, tc.getenv, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant %d with %q / %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	for _, tc := range badCAFiles(t, t.TempDir()) {
		t.Run("bad file: "+tc.name, func(t *testing.T) {
			code, out, errOut := runUser(t, getenv, "create", "dave", "--ca-cert", tc.file)
			if code != 2 || !strings.Contains(errOut, "--ca-cert "+tc.file+":") || !strings.Contains(errOut, tc.why) || out != "" {
				t.Fatalf("exit %d\nstdout %s\nstderr %s\nwant 2 naming the file with %q", code, out, errOut, tc.why)
			}
		})
	}
	// The refused runs never reached the IAM API: dave does not exist.
	if code, out, errOut := runUser(t, getenv, "list", "--ca-cert", cert); code != 0 || strings.Contains(out, "dave") {
		t.Fatalf("list = %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runUser(t, getenv, "help"); code != 0 || !strings.Contains(out, "--ca-cert FILE") || !strings.Contains(out, "SSEGATE_CA_CERT") {
		t.Fatalf("user help = %d, does not document --ca-cert:\n%s", code, out)
	}
}
