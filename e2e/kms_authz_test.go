package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kmsPolicyFile writes a key policy (the root's default statement plus
// extra statements) to a file for `aws kms put-key-policy --policy file://`.
func kmsPolicyFile(t *testing.T, extra ...string) string {
	t.Helper()
	stmts := append([]string{`{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}`}, extra...)
	p := filepath.Join(t.TempDir(), "policy.json")
	doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

// TestKMSAuthorizationThroughS3WithAWSCLIAndRclone is issue 7's proof: two
// users with separate credentials, a bucket both may use, and keys whose
// policies and grants decide who gets the plaintext.
func TestKMSAuthorizationThroughS3WithAWSCLIAndRclone(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	rootKey, rootSecret := "E2EROOT"+randomUpper(13), randomHex(20)
	g := startGateway(t, gatewayOptions{Env: []string{"SSEGATE_ACCESS_KEY=" + rootKey, "SSEGATE_SECRET_KEY=" + rootSecret}})
	rootTg := target{Name: "root", Endpoint: g.Endpoint, Region: "us-east-1", AccessKey: rootKey, SecretKey: rootSecret}
	root := newAWS(t, rootTg)
	aliceTg, bobTg := iamUserKeys(t, root, rootTg, "alice"), iamUserKeys(t, root, rootTg, "bob")
	noteSecret([]byte(aliceTg.SecretKey))
	noteSecret([]byte(bobTg.SecretKey))
	alice, bob := newAWS(t, aliceTg), newAWS(t, bobTg)
	const aliceARN, bobARN = "arn:aws:iam::000000000000:user/alice", "arn:aws:iam::000000000000:user/bob"
	const via = `"kms:ViaService":"s3.us-east-1.amazonaws.com"`

	// One bucket both users may read and write: only keys separate them.
	bucket := bucketName("team")
	root.run("s3", "mb", "s3://"+bucket)
	bp := filepath.Join(t.TempDir(), "bucket-policy.json")
	os.WriteFile(bp, []byte(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"AWS":[%q,%q]},"Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],
		"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`, aliceARN, bobARN, bucket, bucket)), 0o600)
	root.run("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", "file://"+bp)

	kc := newKMSCLI(t, rootTg)
	blue, _ := kc.createKey("--tags", "TagKey=Project,TagValue=blue")
	red, _ := kc.createKey("--tags", "TagKey=Project,TagValue=red")

	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s3url := func(key string) string { return "s3://" + bucket + "/" + key }
	put := func(who *awsCLI, key, keyID, content string) (string, error) {
		_, stderr, err := who.try("s3", "cp", file("up-"+randomHex(4), content), s3url(key), "--sse", "aws:kms", "--sse-kms-key-id", keyID)
		return stderr, err
	}
	get := func(who *awsCLI, key string) (string, string, error) {
		out := filepath.Join(dir, "down-"+randomHex(4))
		_, stderr, err := who.try("s3", "cp", s3url(key), out)
		if err != nil {
			return "", stderr, err
		}
		return string(mustRead(t, out)), "", nil
	}
	mustGet := func(who *awsCLI, name, key, want string) {
		t.Helper()
		got, stderr, err := get(who, key)
		if err != nil || got != want {
			t.Fatalf("%s GET %s = %q, %v\n%s", name, key, got, err, stderr)
		}
	}
	denied := func(what string, stderr string, err error) {
		t.Helper()
		wantDeniedCLI(t, what, stderr, err)
	}

	// Role separation. The default key policy is the root's alone, so
	// alice may not even write with the key.
	stderr, err := put(alice, "alice/plan", blue, "alice's plan")
	denied("alice PUT under the default key policy", stderr, err)
	aliceUses := `{"Sid":"alice","Effect":"Allow","Principal":{"AWS":"` + aliceARN + `"},"Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{` + via + `}}}`
	bobPrefix := `{"Sid":"bob-prefix","Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*",
		"Condition":{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::` + bucket + `/bob/*"}}}`
	root.run("kms", "put-key-policy", "--key-id", blue, "--policy-name", "default", "--policy", kmsPolicyFile(t, aliceUses, bobPrefix))
	if stderr, err := put(alice, "alice/plan", blue, "alice's plan"); err != nil {
		t.Fatalf("alice PUT with kms:GenerateDataKey: %v\n%s", err, stderr)
	}
	mustGet(alice, "alice", "alice/plan", "alice's plan")
	_, stderr, err = get(bob, "alice/plan")
	denied("bob GET of alice's object (bucket access, no key access)", stderr, err)

	// A condition on the object ARN limits bob to his prefix.
	if stderr, err := put(bob, "bob/notes", blue, "bob's notes"); err != nil {
		t.Fatalf("bob PUT in his prefix: %v\n%s", err, stderr)
	}
	mustGet(bob, "bob", "bob/notes", "bob's notes")
	stderr, err = put(bob, "team/notes", blue, "x")
	denied("bob PUT outside his prefix", stderr, err)

	// The same through rclone (S3 path, different client).
	rcBin, rcEnv := rcloneEnv(t, bobTg)
	if out, stderr, err := tryCmd(rcEnv, rcBin, "cat", "ssegate:"+bucket+"/bob/notes"); err != nil || out != "bob's notes" {
		t.Fatalf("rclone cat as bob = %q, %v\n%s", out, err, stderr)
	}
	if _, stderr, err := tryCmd(rcEnv, rcBin, "cat", "ssegate:"+bucket+"/alice/plan"); err == nil {
		t.Fatalf("rclone cat of alice's object as bob succeeded")
	} else if !strings.Contains(stderr, "AccessDenied") && !strings.Contains(stderr, "403") {
		t.Fatalf("rclone cat as bob failed without 403:\n%s", stderr)
	}

	// ABAC: one statement on both keys, effective by the key's tag.
	abac := `{"Sid":"abac","Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":["kms:GenerateDataKey*","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Project":"blue"}}}`
	root.run("kms", "put-key-policy", "--key-id", red, "--policy-name", "default", "--policy", kmsPolicyFile(t, abac))
	stderr, err = put(bob, "abac/x", red, "red data")
	denied("bob PUT with the red-tagged key", stderr, err)
	root.run("kms", "tag-resource", "--key-id", red, "--tags", "TagKey=Project,TagValue=blue")
	if stderr, err := put(bob, "abac/x", red, "red data"); err != nil {
		t.Fatalf("bob PUT after the key was tagged blue: %v\n%s", err, stderr)
	}
	mustGet(bob, "bob", "abac/x", "red data")

	// A grant with an encryption-context constraint: bob may decrypt one
	// object of alice's, and only that one.
	if stderr, err := put(alice, "shared/doc", blue, "shared doc"); err != nil {
		t.Fatalf("alice PUT shared/doc: %v\n%s", err, stderr)
	}
	var grant struct{ GrantId, GrantToken string }
	root.json(&grant, "kms", "create-grant", "--key-id", blue, "--grantee-principal", bobARN,
		"--retiring-principal", bobARN, "--operations", "Decrypt",
		"--constraints", `EncryptionContextSubset={aws:s3:arn=arn:aws:s3:::`+bucket+`/shared/doc}`)
	if grant.GrantId == "" || grant.GrantToken == "" {
		t.Fatalf("create-grant = %+v", grant)
	}
	mustGet(bob, "bob (grant)", "shared/doc", "shared doc")
	_, stderr, err = get(bob, "alice/plan")
	denied("bob GET outside the grant's context", stderr, err)
	var listed struct {
		Grants []struct{ GrantId, GranteePrincipal string }
	}
	root.json(&listed, "kms", "list-grants", "--key-id", blue)
	if len(listed.Grants) != 1 || listed.Grants[0].GrantId != grant.GrantId || listed.Grants[0].GranteePrincipal != bobARN {
		t.Fatalf("list-grants = %+v", listed)
	}
	// alice is neither grantee nor retiring principal: she can't retire it.
	_, stderr, err = alice.try("kms", "retire-grant", "--grant-token", grant.GrantToken)
	if err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("alice retire-grant: %v\n%s", err, stderr)
	}
	bob.run("kms", "retire-grant", "--grant-token", grant.GrantToken)
	_, stderr, err = get(bob, "shared/doc")
	denied("bob GET after he retired the grant", stderr, err)

	// A second grant, revoked by the root.
	root.json(&grant, "kms", "create-grant", "--key-id", blue, "--grantee-principal", bobARN, "--operations", "Decrypt")
	mustGet(bob, "bob (second grant)", "shared/doc", "shared doc")
	root.run("kms", "revoke-grant", "--key-id", blue, "--grant-id", grant.GrantId)
	_, stderr, err = get(bob, "shared/doc")
	denied("bob GET after the root revoked the grant", stderr, err)

	// An explicit deny beats alice's allow.
	aliceDeny := `{"Sid":"no-alice","Effect":"Deny","Principal":{"AWS":"` + aliceARN + `"},"Action":"kms:Decrypt","Resource":"*"}`
	root.run("kms", "put-key-policy", "--key-id", blue, "--policy-name", "default", "--policy", kmsPolicyFile(t, aliceUses, bobPrefix, aliceDeny))
	_, stderr, err = get(alice, "alice/plan")
	denied("alice GET under an explicit deny", stderr, err)

	// Users can't change key policies (the policy doesn't allow them), and
	// a malformed policy is refused whoever sends it.
	_, stderr, err = alice.try("kms", "put-key-policy", "--key-id", blue, "--policy-name", "default", "--policy", kmsPolicyFile(t, aliceUses))
	if err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("alice put-key-policy: %v\n%s", err, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringSortOf":{"kms:ViaService":"x"}}}]}`), 0o600)
	_, stderr, err = root.try("kms", "put-key-policy", "--key-id", blue, "--policy-name", "default", "--policy", "file://"+bad)
	if err == nil || !strings.Contains(stderr, "MalformedPolicyDocumentException") {
		t.Fatalf("malformed put-key-policy: %v\n%s", err, stderr)
	}

	// Every decision is audited, allow and deny, with the caller.
	audit := string(mustRead(t, filepath.Join(g.DataDir, "kms-audit.log")))
	for _, want := range []string{bobARN, aliceARN, `"Deny"`, `"Allow"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("the KMS audit log has no %s", want)
		}
	}
}
