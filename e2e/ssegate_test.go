package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGeneratedCredentialsPersistAndSecretIsShownOnce starts ssegate without
// credentials, uses the generated ones with aws-cli, restarts on the same
// data dir and checks the data and the credentials survived while the
// secret was printed only the first time.
func TestGeneratedCredentialsPersistAndSecretIsShownOnce(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	dataDir := t.TempDir()
	g := startGateway(t, gatewayOptions{DataDir: dataDir})

	raw, err := os.ReadFile(filepath.Join(dataDir, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct {
		AccessKey string `json:"access_key"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.Unmarshal(raw, &creds); err != nil || len(creds.AccessKey) != 20 || len(creds.SecretKey) != 40 {
		t.Fatalf("credentials.json: %v %q", err, creds.AccessKey)
	}
	if fi, _ := os.Stat(filepath.Join(dataDir, "credentials.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials.json mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key: %v", err)
	}
	banner := "export AWS_ACCESS_KEY_ID=" + creds.AccessKey + " AWS_SECRET_ACCESS_KEY=" + creds.SecretKey
	if log := g.log.String(); !strings.Contains(log, banner) || strings.Count(log, creds.SecretKey) != 1 {
		t.Errorf("first start must print the ready-to-paste block, with the secret exactly once:\n%s", log)
	}

	tg := target{Name: "fs", Endpoint: g.Endpoint, Region: "us-east-1", AccessKey: creds.AccessKey, SecretKey: creds.SecretKey}
	aws := newAWS(t, tg)
	bucket := bucketName("restart")
	src := makeTree(t, map[string]int{"kept.bin": 100_000})
	aws.run("s3", "mb", "s3://"+bucket)
	aws.run("s3", "cp", filepath.Join(src, "kept.bin"), "s3://"+bucket+"/kept.bin")

	// Wrong secret: refused.
	bad := tg
	bad.SecretKey = strings.Repeat("x", 40)
	if _, stderr, err := newAWS(t, bad).try("s3", "ls", "s3://"+bucket); err == nil || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Errorf("a wrong secret was not refused: err=%v %s", err, stderr)
	}

	if err := g.stop(); err != nil {
		t.Fatalf("SIGTERM did not stop ssegate cleanly: %v\n%s", err, g.log.String())
	}

	g2 := startGateway(t, gatewayOptions{DataDir: dataDir})
	if strings.Contains(g2.log.String(), creds.SecretKey) {
		t.Errorf("restart printed the secret again:\n%s", g2.log.String())
	}
	tg.Endpoint = g2.Endpoint
	aws = newAWS(t, tg)
	dst := t.TempDir()
	aws.run("s3", "cp", "s3://"+bucket+"/kept.bin", filepath.Join(dst, "kept.bin"))
	compareTrees(t, src, dst)

	// The KMS audit log records operations but never a key.
	audit, err := os.ReadFile(filepath.Join(dataDir, "kms-audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	master := strings.TrimSpace(string(mustRead(t, filepath.Join(dataDir, "master.key"))))
	if strings.Contains(string(audit), master) || strings.Contains(g2.log.String(), master) || strings.Contains(g.log.String(), master) {
		t.Error("the master key appears in a log")
	}

	// The container health check reaches the listener.
	hostPort := strings.TrimPrefix(g2.Endpoint, "http://")
	if out, stderr, err := tryCmd(cleanEnv(), ssegateBinary(t), "healthcheck", "--listen", hostPort); err != nil {
		t.Errorf("healthcheck: %v\n%s%s", err, out, stderr)
	}
}

func TestWrongMasterKeyRefusesToStart(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	dataDir := t.TempDir()
	g := startGateway(t, gatewayOptions{DataDir: dataDir})
	if err := g.stop(); err != nil {
		t.Fatal(err)
	}
	// Another master key must not open (or silently re-create) the keystore.
	// If it wrongly starts it would serve forever: the context ends it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ssegateBinary(t), "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = append(cleanEnv(), "SSEGATE_MASTER_KEY="+strings.Repeat("ab", 32))
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil || err == nil {
		t.Fatalf("ssegate started with a wrong master key:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), strings.Repeat("ab", 32)) {
		t.Errorf("the master key appears in the error output:\n%s", stderr.String())
	}
}
