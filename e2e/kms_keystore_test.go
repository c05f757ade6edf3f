package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExternalKeyStoreWithAnotherGatewayAsKeyManager is the issue 11
// part C proof with aws-cli and two ssegate processes: B is the external
// key manager (its KMS holds the external key), A has a custom key store
// pointing at B. An SSE-KMS object through A under a key in that store is
// readable while the store is connected, unreadable with the KMS error
// while it is disconnected, readable again after reconnecting; with B
// stopped, connecting fails as AWS says it does.
//
// The objects use SSE-KMS without a bucket key: a bucket key would let
// the gateway's cache serve reads for up to 5 minutes after a disconnect.
func TestExternalKeyStoreWithAnotherGatewayAsKeyManager(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	// aws-cli wants an XKS secret of 43 to 64 characters (AWS's limits).
	b := target{Name: "fs", Region: "us-east-1", AccessKey: "E2EXKS" + randomUpper(14), SecretKey: randomHex(22)}
	b.Gateway = startGateway(t, gatewayOptions{Env: []string{"SSEGATE_ACCESS_KEY=" + b.AccessKey, "SSEGATE_SECRET_KEY=" + b.SecretKey}})
	b.Endpoint = b.Gateway.Endpoint
	noteSecret([]byte(b.SecretKey)) // A seals it as the store credential: no log may show it
	kmsB := newKMSCLI(t, b)
	extKeyID, _ := kmsB.createKey("--description", "external key for A")

	a := startTarget(t, "fs")
	kmsA := newKMSCLI(t, a)
	var created struct{ CustomKeyStoreId string }
	kmsA.json(&created, "kms", "create-custom-key-store", "--custom-key-store-name", "xks-"+randomHex(4),
		"--custom-key-store-type", "EXTERNAL_KEY_STORE", "--xks-proxy-connectivity", "PUBLIC_ENDPOINT",
		"--xks-proxy-uri-endpoint", b.Endpoint, "--xks-proxy-uri-path", "/kms/xks/v1",
		"--xks-proxy-authentication-credential", "AccessKeyId="+b.AccessKey+",RawSecretAccessKey="+b.SecretKey)
	store := created.CustomKeyStoreId
	if !strings.HasPrefix(store, "cks-") || len(store) != 21 {
		t.Fatalf("CustomKeyStoreId %q", store)
	}
	state := func() (string, string) {
		t.Helper()
		var out struct {
			CustomKeyStores []struct{ ConnectionState, ConnectionErrorCode string }
		}
		kmsA.json(&out, "kms", "describe-custom-key-stores", "--custom-key-store-id", store)
		if len(out.CustomKeyStores) != 1 {
			t.Fatalf("describe-custom-key-stores: %+v", out)
		}
		return out.CustomKeyStores[0].ConnectionState, out.CustomKeyStores[0].ConnectionErrorCode
	}
	if s, _ := state(); s != "DISCONNECTED" {
		t.Fatalf("new store is %s, want DISCONNECTED", s)
	}
	kmsA.run("kms", "connect-custom-key-store", "--custom-key-store-id", store)
	if s, _ := state(); s != "CONNECTED" {
		t.Fatalf("after connect: %s", s)
	}

	var key struct {
		KeyMetadata struct {
			KeyId, Origin, CustomKeyStoreId string
			XksKeyConfiguration             struct{ Id string }
		}
	}
	kmsA.json(&key, "kms", "create-key", "--origin", "EXTERNAL_KEY_STORE", "--custom-key-store-id", store, "--xks-key-id", extKeyID)
	m := key.KeyMetadata
	if m.Origin != "EXTERNAL_KEY_STORE" || m.CustomKeyStoreId != store || m.XksKeyConfiguration.Id != extKeyID {
		t.Fatalf("create-key = %+v", m)
	}
	_, stderr, err := kmsA.try("kms", "create-key", "--origin", "EXTERNAL_KEY_STORE", "--custom-key-store-id", store,
		"--xks-key-id", "00000000-0000-4000-8000-000000000000")
	if err == nil || !strings.Contains(stderr, "XksKeyNotFoundException") {
		t.Fatalf("create-key on a missing external key: err %v, stderr %s", err, stderr)
	}

	bucket := bucketName("xks")
	kmsA.run("s3", "mb", "s3://"+bucket)
	data := markerData([]byte("XKS-PLAINTEXT-"+randomHex(4)), 300<<10)
	src := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	kmsA.run("s3", "cp", src, "s3://"+bucket+"/obj", "--sse", "aws:kms", "--sse-kms-key-id", m.KeyId)
	assertGetThrough(t, kmsA.awsCLI, bucket, "obj", data)

	get := func() (string, error) {
		_, stderr, err := kmsA.try("s3api", "get-object", "--bucket", bucket, "--key", "obj", filepath.Join(t.TempDir(), "got"))
		return stderr, err
	}
	kmsA.run("kms", "disconnect-custom-key-store", "--custom-key-store-id", store)
	if stderr, err := get(); err == nil || !strings.Contains(stderr, "KMS.KMSInvalidStateException") {
		t.Fatalf("GET with the store disconnected: err %v, stderr %s", err, stderr)
	}
	_, stderr, err = kmsA.try("kms", "delete-custom-key-store", "--custom-key-store-id", store)
	if err == nil || !strings.Contains(stderr, "CustomKeyStoreHasCMKsException") {
		t.Fatalf("delete-custom-key-store with a key: err %v, stderr %s", err, stderr)
	}
	kmsA.run("kms", "connect-custom-key-store", "--custom-key-store-id", store)
	assertGetThrough(t, kmsA.awsCLI, bucket, "obj", data)

	// The key material lives in B: with B gone, A's key is unusable and
	// the store cannot connect.
	if err := b.Gateway.stop(); err != nil {
		t.Logf("stopping B: %v", err)
	}
	if stderr, err := get(); err == nil || !strings.Contains(stderr, "KMS.KMSInvalidStateException") {
		t.Fatalf("GET with the key manager stopped: err %v, stderr %s", err, stderr)
	}
	kmsA.run("kms", "disconnect-custom-key-store", "--custom-key-store-id", store)
	_, stderr, err = kmsA.try("kms", "connect-custom-key-store", "--custom-key-store-id", store)
	if err == nil || !strings.Contains(stderr, "XksProxyUriUnreachableException") {
		t.Fatalf("connect with B stopped: err %v, stderr %s", err, stderr)
	}
	if s, code := state(); s != "FAILED" || code != "XKS_PROXY_NOT_REACHABLE" {
		t.Fatalf("after a failed connect: %s %s, want FAILED XKS_PROXY_NOT_REACHABLE", s, code)
	}
}
