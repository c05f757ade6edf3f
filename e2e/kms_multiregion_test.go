package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestMultiRegionKeysAcrossTwoGateways is the issue 11 multi-Region proof
// with aws-cli and two ssegate processes acting as us-east-1 (A) and
// eu-west-1 (B) of one account, each configured with --kms-peer naming the
// other and its root credentials: a key created multi-Region in A and
// replicated to B decrypts in either region what the other encrypted,
// also after a rotation on the primary; UpdatePrimaryRegion swaps the
// roles; an SSE-KMS object under the mrk key round-trips through A.
func TestMultiRegionKeysAcrossTwoGateways(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	a := target{Name: "fs", Region: "us-east-1", AccessKey: "E2EMRKA" + randomUpper(13), SecretKey: randomHex(20)}
	b := target{Name: "fs", Region: "eu-west-1", AccessKey: "E2EMRKB" + randomUpper(13), SecretKey: randomHex(20)}
	// A's address must be known before B starts (B's peer is A), and A
	// starts after B (A's peer is B): reserve a free port for A.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addrA := l.Addr().String()
	l.Close()

	peerEnv := func(self, peer target, peerURL string) []string {
		pre := "SSEGATE_KMS_PEER_" + strings.ToUpper(strings.ReplaceAll(peer.Region, "-", "_")) + "_"
		return []string{"SSEGATE_ACCESS_KEY=" + self.AccessKey, "SSEGATE_SECRET_KEY=" + self.SecretKey,
			"SSEGATE_KMS_PEERS=" + peer.Region + "=" + peerURL,
			pre + "ACCESS_KEY=" + peer.AccessKey, pre + "SECRET_KEY=" + peer.SecretKey}
	}
	b.Gateway = startGateway(t, gatewayOptions{Args: []string{"--region", b.Region},
		Env: peerEnv(b, a, "http://"+addrA)})
	b.Endpoint = b.Gateway.Endpoint
	a.Gateway = startGateway(t, gatewayOptions{Args: []string{"--region", a.Region, "--listen", addrA, "--kms-peer", b.Region + "=" + b.Endpoint},
		Env: peerEnv(a, b, b.Endpoint)})
	a.Endpoint = a.Gateway.Endpoint
	if a.Endpoint != "http://"+addrA {
		t.Fatalf("A listens on %s, want the reserved %s", a.Endpoint, addrA)
	}
	kmsA, kmsB := newKMSCLI(t, a), newKMSCLI(t, b)

	key, arnA := kmsA.createKey("--multi-region", "--description", "e2e mrk")
	if !strings.HasPrefix(key, "mrk-") || arnA != "arn:aws:kms:us-east-1:000000000000:key/"+key {
		t.Fatalf("create-key --multi-region = %s %s", key, arnA)
	}
	var rep struct {
		ReplicaKeyMetadata struct{ Arn, KeyState string }
	}
	kmsA.json(&rep, "kms", "replicate-key", "--key-id", key, "--replica-region", b.Region, "--description", "e2e replica")
	arnB := "arn:aws:kms:eu-west-1:000000000000:key/" + key
	if rep.ReplicaKeyMetadata.Arn != arnB || rep.ReplicaKeyMetadata.KeyState != "Enabled" {
		t.Fatalf("replicate-key = %+v, want %s Enabled", rep.ReplicaKeyMetadata, arnB)
	}

	crossCheck := func(what string) {
		t.Helper()
		fromA, _ := kmsA.encrypt(key, []byte("A: "+what))
		if got, arn := kmsB.decrypt(fromA); string(got) != "A: "+what || arn != arnB {
			t.Fatalf("%s: B decrypted A's blob to %q under %s", what, got, arn)
		}
		fromB, arn := kmsB.encrypt(key, []byte("B: "+what))
		if arn != arnB {
			t.Fatalf("%s: B encrypted under %s, want %s", what, arn, arnB)
		}
		if got, arn := kmsA.decrypt(fromB); string(got) != "B: "+what || arn != arnA {
			t.Fatalf("%s: A decrypted B's blob to %q under %s", what, got, arn)
		}
	}
	crossCheck("before rotation")
	old, _ := kmsA.encrypt(key, []byte("old version"))

	// aws-cli 2.9 has no rotate-key-on-demand or list-key-rotations.
	ctx := context.Background()
	sdkA, sdkB := kmsSDKClient(t, a), kmsSDKClient(t, b)
	if _, err := sdkA.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(key)}); err != nil {
		t.Fatalf("RotateKeyOnDemand in A: %v", err)
	}
	rot, err := sdkB.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(key)})
	if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != kmstypes.RotationTypeOnDemand {
		t.Fatalf("rotations known to the replica = %+v, %v; want the on-demand one pushed by A", rot, err)
	}
	crossCheck("after rotation")
	if got, _ := kmsB.decrypt(old); string(got) != "old version" {
		t.Fatalf("pre-rotation blob in B = %q", got)
	}
	if _, err := sdkB.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(key)}); err == nil {
		t.Fatal("a replica rotated on its own")
	}

	// An SSE-KMS object under the mrk key, through A.
	bucket := bucketName("mrk")
	kmsA.run("s3", "mb", "s3://"+bucket)
	data := markerData([]byte("MRK-PLAINTEXT-"+randomHex(4)), 200<<10)
	src := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	kmsA.run("s3", "cp", src, "s3://"+bucket+"/obj", "--sse", "aws:kms", "--sse-kms-key-id", key)
	var head struct{ ServerSideEncryption, SSEKMSKeyId string }
	kmsA.json(&head, "s3api", "head-object", "--bucket", bucket, "--key", "obj")
	if head.ServerSideEncryption != "aws:kms" || !strings.HasSuffix(head.SSEKMSKeyId, key) {
		t.Fatalf("head-object = %+v, want aws:kms under %s", head, key)
	}
	assertGetThrough(t, kmsA.awsCLI, bucket, "obj", data)
	if raw := readAllUnder(t, a.Gateway.DataDir); bytes.Contains(raw, []byte("MRK-PLAINTEXT-")) {
		t.Fatal("A's data dir holds the object's plaintext")
	}

	// UpdatePrimaryRegion swaps the roles; describe-key shows it on both.
	kmsB.wantError("KMSInvalidStateException", "kms", "update-primary-region", "--key-id", key, "--primary-region", a.Region)
	kmsA.run("kms", "update-primary-region", "--key-id", key, "--primary-region", b.Region)
	for _, side := range []struct {
		cli  *kmsCLI
		arn  string
		role string
	}{{kmsA, arnA, "REPLICA"}, {kmsB, arnB, "PRIMARY"}} {
		var d struct {
			KeyMetadata struct {
				Arn                      string
				MultiRegion              bool
				MultiRegionConfiguration struct {
					MultiRegionKeyType string
					PrimaryKey         struct{ Arn, Region string }
					ReplicaKeys        []struct{ Arn, Region string }
				}
			}
		}
		side.cli.json(&d, "kms", "describe-key", "--key-id", key)
		m := d.KeyMetadata
		mrc := m.MultiRegionConfiguration
		if m.Arn != side.arn || !m.MultiRegion || mrc.MultiRegionKeyType != side.role ||
			mrc.PrimaryKey.Region != b.Region || mrc.PrimaryKey.Arn != arnB ||
			len(mrc.ReplicaKeys) != 1 || mrc.ReplicaKeys[0].Region != a.Region || mrc.ReplicaKeys[0].Arn != arnA {
			t.Fatalf("describe-key in %s after update-primary-region = %+v, want %s with primary eu-west-1", side.arn, m, side.role)
		}
	}
	crossCheck("after the primary moved")
	assertGetThrough(t, kmsA.awsCLI, bucket, "obj", data)
}

// readAllUnder concatenates every regular file under dir.
func readAllUnder(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a file removed meanwhile (temp files)
		}
		all = append(all, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}
