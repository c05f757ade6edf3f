package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// awaitCLIFailure polls until an aws-cli command fails with want in its
// stderr (a deleted key stops working within the gateway's 5 s cache).
func awaitCLIFailure(t *testing.T, a *awsCLI, want string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, stderr, err := a.try(args...)
		if err != nil && strings.Contains(stderr, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws %s still answers without %s: err=%v\n%s", strings.Join(args, " "), want, err, stderr)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, not an assertion
	}
}

// TestIAMUsersWithAWSCLIAndUserCommand: the root manages users with
// `aws iam`; a user works on its own bucket with its own key;
// `ssegate user rotate-key` retires the old key; `ssegate user delete`
// removes the user.
func TestIAMUsersWithAWSCLIAndUserCommand(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	rootKey, rootSecret := "E2EROOT"+randomUpper(13), randomHex(20)
	g := startGateway(t, gatewayOptions{Env: []string{"SSEGATE_ACCESS_KEY=" + rootKey, "SSEGATE_SECRET_KEY=" + rootSecret}})
	rootTg := target{Name: "root", Endpoint: g.Endpoint, Region: "us-east-1", AccessKey: rootKey, SecretKey: rootSecret}
	root := newAWS(t, rootTg)

	var user struct {
		User struct{ UserName, UserId, Arn string }
	}
	root.json(&user, "iam", "create-user", "--user-name", "carol")
	if user.User.UserName != "carol" || user.User.Arn != "arn:aws:iam::000000000000:user/carol" || !strings.HasPrefix(user.User.UserId, "AIDA") {
		t.Fatalf("create-user = %+v", user)
	}
	var key struct {
		AccessKey struct{ UserName, AccessKeyId, SecretAccessKey, Status string }
	}
	root.json(&key, "iam", "create-access-key", "--user-name", "carol")
	if key.AccessKey.UserName != "carol" || len(key.AccessKey.SecretAccessKey) != 40 || key.AccessKey.Status != "Active" {
		t.Fatalf("create-access-key = %+v", key.AccessKey.AccessKeyId)
	}
	var users struct{ Users []struct{ UserName string } }
	root.json(&users, "iam", "list-users")
	if len(users.Users) != 1 || users.Users[0].UserName != "carol" {
		t.Fatalf("list-users = %+v", users)
	}
	var keys struct {
		AccessKeyMetadata []struct{ AccessKeyId, Status string }
	}
	root.json(&keys, "iam", "list-access-keys", "--user-name", "carol")
	if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].AccessKeyId != key.AccessKey.AccessKeyId {
		t.Fatalf("list-access-keys = %+v", keys)
	}
	if got := strings.Count(g.log.String(), key.AccessKey.SecretAccessKey); got != 0 {
		t.Fatalf("the gateway log holds the new secret %d times", got)
	}

	carolTg := rootTg
	carolTg.Name, carolTg.AccessKey, carolTg.SecretKey = "carol", key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey
	carol := newAWS(t, carolTg)
	bucket := bucketName("carol")
	src := makeTree(t, map[string]int{"notes.txt": 123_456})
	carol.run("s3", "mb", "s3://"+bucket)
	carol.run("s3", "cp", filepath.Join(src, "notes.txt"), "s3://"+bucket+"/notes.txt")
	if ls := carol.run("s3", "ls", "s3://"+bucket+"/"); !strings.Contains(ls, " 123456 notes.txt") {
		t.Fatalf("carol's s3 ls:\n%s", ls)
	}
	// A user may not manage users.
	_, stderr, err := carol.try("iam", "create-user", "--user-name", "mallory")
	if err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("carol's create-user: err=%v\n%s", err, stderr)
	}

	userEnv := append(cleanEnv(), "SSEGATE_ENDPOINT="+g.Endpoint, "SSEGATE_ACCESS_KEY="+rootKey, "SSEGATE_SECRET_KEY="+rootSecret)
	out, _ := runCmd(t, userEnv, ssegateBinary(t), "user", "rotate-key", "carol")
	m := regexp.MustCompile(`export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)`).FindStringSubmatch(out)
	if m == nil || m[1] == key.AccessKey.AccessKeyId {
		t.Fatalf("ssegate user rotate-key printed no new key:\n%s", out)
	}
	awaitCLIFailure(t, carol, "InvalidAccessKeyId", "s3", "ls", "s3://"+bucket+"/")
	carolTg.AccessKey, carolTg.SecretKey = m[1], m[2]
	carol = newAWS(t, carolTg)
	dst := t.TempDir()
	carol.run("s3", "cp", "s3://"+bucket+"/notes.txt", filepath.Join(dst, "notes.txt"))
	compareTrees(t, src, dst)

	out, _ = runCmd(t, userEnv, ssegateBinary(t), "user", "delete", "carol")
	if !strings.Contains(out, "Deleted user carol") {
		t.Fatalf("ssegate user delete:\n%s", out)
	}
	root.json(&users, "iam", "list-users")
	if len(users.Users) != 0 {
		t.Fatalf("list-users after delete = %+v", users)
	}
	awaitCLIFailure(t, carol, "InvalidAccessKeyId", "s3", "ls", "s3://"+bucket+"/")
	_, stderr, err = root.try("iam", "get-user", "--user-name", "carol")
	if err == nil || !strings.Contains(stderr, "NoSuchEntity") {
		t.Fatalf("get-user of a deleted user: err=%v\n%s", err, stderr)
	}
	for _, secret := range []string{key.AccessKey.SecretAccessKey, m[2], rootSecret} {
		if strings.Contains(g.log.String(), secret) {
			t.Fatal("a secret is in the gateway log")
		}
	}
}
