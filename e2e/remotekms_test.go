package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoteKMSGatewayEncryptsWithAnotherGatewaysKMS runs two ssegate
// binaries: A with the embedded KMS, and B with --kms-endpoint pointing at
// A and its own fs backend. Objects written through B are encrypted with
// data keys from A's KMS; key state on A governs reads through B; B keeps
// no key material of its own.
//
// B runs with --default-sse aws:kms: its SSE-S3 key alias
// (kms.SSES3KeyAlias) is reserved and hidden on another ssegate's KMS API,
// so SSE-S3 through B, and multipart uploads of any mode (the open
// upload's DEK is sealed with that key), cannot work today (see
// TestRemoteKMSWithoutSSES3KeyOnRemoteStoresNothing).
func TestRemoteKMSGatewayEncryptsWithAnotherGatewaysKMS(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	a := startTarget(t, "fs")
	awsA := newAWS(t, a)
	key := createKMSKey(t, awsA)

	b := target{Name: "fs", Region: a.Region, AccessKey: "E2EB" + randomUpper(16), SecretKey: randomHex(20)}
	b.Gateway = startGateway(t, gatewayOptions{
		Env: []string{
			"SSEGATE_ACCESS_KEY=" + b.AccessKey, "SSEGATE_SECRET_KEY=" + b.SecretKey,
			"SSEGATE_KMS_ACCESS_KEY=" + a.AccessKey, "SSEGATE_KMS_SECRET_KEY=" + a.SecretKey,
		},
		Args: []string{"--kms-endpoint", a.Endpoint, "--default-sse", "aws:kms"},
	})
	b.Endpoint = b.Gateway.Endpoint
	awsB := newAWS(t, b)

	bucket := bucketName("remotekms")
	awsB.run("s3", "mb", "s3://"+bucket)
	dir := t.TempDir()
	marker := []byte("REMOTE-KMS-PLAINTEXT-MARKER-" + randomHex(4))
	objects := []struct {
		key  string
		size int
		args []string
		sse  string
	}{
		// The bucket default: alias/aws/s3, created on first use on A.
		{"bucket-default", 3000, nil, "aws:kms"},
		{"sse-kms", 200 << 10, []string{"--sse", "aws:kms", "--sse-kms-key-id", key.ID}, "aws:kms"},
		{"sse-kms-alias", 5000, []string{"--sse", "aws:kms", "--sse-kms-key-id", key.Alias}, "aws:kms"},
		{"sse-kms-arn", 300<<10 + 123, []string{"--sse", "aws:kms", "--sse-kms-key-id", key.ARN}, "aws:kms"},
	}
	want := map[string][]byte{}
	for _, o := range objects {
		data := markerData(marker, o.size)
		want[o.key] = data
		src := filepath.Join(dir, o.key)
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		awsB.run(append([]string{"s3", "cp", src, "s3://" + bucket + "/" + o.key}, o.args...)...)

		var h headResult
		awsB.json(&h, "s3api", "head-object", "--bucket", bucket, "--key", o.key)
		if h.ServerSideEncryption != o.sse || h.ContentLength != int64(o.size) {
			t.Fatalf("%s: head = %+v, want %s and %d bytes", o.key, h, o.sse, o.size)
		}
		if o.args != nil && h.SSEKMSKeyId != key.ARN {
			t.Fatalf("%s: SSEKMSKeyId %q, want A's key %s", o.key, h.SSEKMSKeyId, key.ARN)
		}
		assertGetThrough(t, awsB, bucket, o.key, data)
	}

	// B has no keystore, master key or KMS audit log: every key came from A.
	for _, name := range []string{"kms.db", "master.key", "kms-audit.log"} {
		if _, err := os.Stat(filepath.Join(b.Gateway.DataDir, name)); !os.IsNotExist(err) {
			t.Errorf("B's data dir has %s (stat err %v); a remote-KMS gateway must keep no keys", name, err)
		}
	}
	scanned := 0
	filepath.WalkDir(b.Gateway.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned++
		if bytes.Contains(data, marker) {
			t.Errorf("plaintext found in B's data dir: %s", p)
		}
		return nil
	})
	if scanned < len(objects) {
		t.Fatalf("scanned %d files in B's data dir, want at least %d objects", scanned, len(objects))
	}
	// A (the KMS) stores no objects of B's.
	if _, err := os.Stat(filepath.Join(a.Gateway.DataDir, "objects", bucket)); !os.IsNotExist(err) {
		t.Fatalf("A's backend has B's bucket (stat err %v)", err)
	}

	// Disabling the key on A stops reads and writes of per-object SSE-KMS
	// objects through B (each GET asks A to decrypt its data key), with
	// the KMS error passed through as S3 does. Objects under another key
	// (the bucket default, alias/aws/s3) stay readable.
	awsA.run("kms", "disable-key", "--key-id", key.ID)
	for _, k := range []string{"sse-kms", "sse-kms-alias", "sse-kms-arn"} {
		_, stderr, err := awsB.try("s3api", "get-object", "--bucket", bucket, "--key", k, filepath.Join(dir, "out-disabled"))
		if err == nil || !strings.Contains(stderr, "KMS.DisabledException") {
			t.Fatalf("GET %s through B with the key disabled on A: err %v, stderr %s; want KMS.DisabledException", k, err, stderr)
		}
	}
	_, stderr, err := awsB.try("s3", "cp", filepath.Join(dir, "sse-kms"), "s3://"+bucket+"/after-disable", "--sse", "aws:kms", "--sse-kms-key-id", key.ID)
	if err == nil || !strings.Contains(stderr, "KMS.DisabledException") {
		t.Fatalf("PUT through B with the key disabled on A: err %v, stderr %s; want KMS.DisabledException", err, stderr)
	}
	assertGetThrough(t, awsB, bucket, "bucket-default", want["bucket-default"])

	awsA.run("kms", "enable-key", "--key-id", key.ID)
	assertGetThrough(t, awsB, bucket, "sse-kms", want["sse-kms"])
	assertGetThrough(t, awsB, bucket, "sse-kms-arn", want["sse-kms-arn"])
}

// With a remote KMS, SSE-S3 is backed by a key on the remote KMS
// (alias/aws/s3 by default, --sse-s3-key-id to choose), so SSE-S3 (the
// default) and multipart uploads in every mode work through B.
func TestRemoteKMSServesSSES3AndMultipart(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	a := startTarget(t, "fs")
	b := target{Name: "fs", Region: a.Region, AccessKey: "E2EB" + randomUpper(16), SecretKey: randomHex(20)}
	b.Gateway = startGateway(t, gatewayOptions{
		Env: []string{
			"SSEGATE_ACCESS_KEY=" + b.AccessKey, "SSEGATE_SECRET_KEY=" + b.SecretKey,
			"SSEGATE_KMS_ACCESS_KEY=" + a.AccessKey, "SSEGATE_KMS_SECRET_KEY=" + a.SecretKey,
		},
		Args: []string{"--kms-endpoint", a.Endpoint},
	})
	b.Endpoint = b.Gateway.Endpoint
	awsB := newAWS(t, b)
	bucket := bucketName("remotesses3")
	awsB.run("s3", "mb", "s3://"+bucket)
	key := createKMSKey(t, newAWS(t, a))
	dir := t.TempDir()
	small, large := filepath.Join(dir, "small"), filepath.Join(dir, "large")
	writeRandomFile(t, small, 1000)
	writeRandomFile(t, large, 9<<20) // above aws-cli's 8 MiB multipart threshold
	for i, c := range []struct {
		src  string
		args []string
		mode string
	}{
		{small, []string{"--sse", "AES256"}, "AES256"},
		{small, nil, "AES256"}, // the bucket default
		{large, nil, "AES256"}, // multipart, SSE-S3
		{large, []string{"--sse", "aws:kms", "--sse-kms-key-id", key.ID}, "aws:kms"},
	} {
		obj := fmt.Sprintf("o%d", i)
		awsB.run(append([]string{"s3", "cp", c.src, "s3://" + bucket + "/" + obj}, c.args...)...)
		head := awsB.run("s3api", "head-object", "--bucket", bucket, "--key", obj)
		if !strings.Contains(head, `"ServerSideEncryption": "`+c.mode+`"`) {
			t.Fatalf("HEAD %s: %s; want %s", obj, head, c.mode)
		}
		assertGetThrough(t, awsB, bucket, obj, mustRead(t, c.src))
	}
}

// assertGetThrough downloads bucket/key with aws s3 cp and compares it.
func assertGetThrough(t *testing.T, aws *awsCLI, bucket, key string, want []byte) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "got")
	aws.run("s3", "cp", "s3://"+bucket+"/"+key, dst)
	if got := mustRead(t, dst); !bytes.Equal(got, want) {
		t.Fatalf("GET %s: %d bytes differ from the %d written", key, len(got), len(want))
	}
}
