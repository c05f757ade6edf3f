package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// iamUserKeys creates user name through the gateway's IAM API with aws-cli
// (as the root) and returns a target signing as that user.
func iamUserKeys(t *testing.T, root *awsCLI, rootTarget target, name string) target {
	t.Helper()
	root.run("iam", "create-user", "--user-name", name)
	var out struct {
		AccessKey struct {
			AccessKeyID     string `json:"AccessKeyId"`
			SecretAccessKey string
		}
	}
	root.json(&out, "iam", "create-access-key", "--user-name", name)
	if out.AccessKey.AccessKeyID == "" || out.AccessKey.SecretAccessKey == "" {
		t.Fatalf("create-access-key for %s returned no key", name)
	}
	tg := rootTarget
	tg.Name = name
	tg.AccessKey, tg.SecretKey = out.AccessKey.AccessKeyID, out.AccessKey.SecretAccessKey
	return tg
}

// wantDeniedCLI checks that a client command failed with 403 AccessDenied.
func wantDeniedCLI(t *testing.T, what string, stderr string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want AccessDenied", what)
	}
	if !strings.Contains(stderr, "AccessDenied") && !strings.Contains(stderr, "403") && !strings.Contains(stderr, "Forbidden") {
		t.Fatalf("%s failed without AccessDenied/403:\n%s", what, stderr)
	}
}

// TestBucketGrantAndRevokeWithAWSCLIAndRclone: bob can't read alice's
// bucket; `ssegate bucket grant alice-bkt bob read` lets him download and
// list (aws-cli, rclone) but not upload; revoke takes it back.
func TestBucketGrantAndRevokeWithAWSCLIAndRclone(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	rootKey, rootSecret := "E2EROOT"+randomUpper(13), randomHex(20)
	g := startGateway(t, gatewayOptions{Env: []string{"SSEGATE_ACCESS_KEY=" + rootKey, "SSEGATE_SECRET_KEY=" + rootSecret}})
	rootTg := target{Name: "root", Endpoint: g.Endpoint, Region: "us-east-1", AccessKey: rootKey, SecretKey: rootSecret}
	root := newAWS(t, rootTg)
	aliceTg := iamUserKeys(t, root, rootTg, "alice")
	bobTg := iamUserKeys(t, root, rootTg, "bob")
	alice, bob := newAWS(t, aliceTg), newAWS(t, bobTg)

	bucket := bucketName("alice-bkt")
	src := makeTree(t, map[string]int{"report.bin": 300_000})
	alice.run("s3", "mb", "s3://"+bucket)
	alice.run("s3", "cp", filepath.Join(src, "report.bin"), "s3://"+bucket+"/report.bin")

	dst := t.TempDir()
	get := func() (string, error) {
		_, stderr, err := bob.try("s3", "cp", "s3://"+bucket+"/report.bin", filepath.Join(dst, "report.bin"))
		return stderr, err
	}
	stderr, err := get()
	wantDeniedCLI(t, "bob reads alice's object before a grant", stderr, err)
	rcloneBin, rcloneEnvBob := rcloneEnv(t, bobTg)
	_, stderr, err = tryCmd(rcloneEnvBob, rcloneBin, "lsl", "ssegate:"+bucket)
	if err == nil {
		t.Fatal("rclone lsl as bob succeeded before a grant")
	}

	bucketCmd := func(args ...string) string {
		t.Helper()
		env := append(cleanEnv(), "SSEGATE_ENDPOINT="+g.Endpoint, "SSEGATE_ACCESS_KEY="+rootKey, "SSEGATE_SECRET_KEY="+rootSecret)
		out, _ := runCmd(t, env, ssegateBinary(t), append([]string{"bucket"}, args...)...)
		return out
	}
	bucketCmd("grant", bucket, "bob", "read")

	if stderr, err := get(); err != nil {
		t.Fatalf("bob reads after grant: %v\n%s", err, stderr)
	}
	compareTrees(t, src, dst)
	out, _ := runCmd(t, rcloneEnvBob, rcloneBin, "lsl", "ssegate:"+bucket)
	if !strings.Contains(out, "report.bin") || !strings.Contains(out, "300000") {
		t.Fatalf("rclone lsl as bob: %q", out)
	}
	upload := filepath.Join(t.TempDir(), "bob.txt")
	if err := os.WriteFile(upload, []byte("from bob"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = bob.try("s3", "cp", upload, "s3://"+bucket+"/bob.txt")
	wantDeniedCLI(t, "bob uploads with a read grant", stderr, err)

	if pol := bucketCmd("policy", bucket); !strings.Contains(pol, "ssegate-grant-bob") {
		t.Fatalf("policy after grant: %s", pol)
	}
	bucketCmd("revoke", bucket, "bob")
	stderr, err = get()
	wantDeniedCLI(t, "bob reads after revoke", stderr, err)
	// Alice, the owner, is unaffected throughout.
	alice.run("s3", "ls", "s3://"+bucket)
}
