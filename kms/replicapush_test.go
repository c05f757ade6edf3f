package kms

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// replicatedKey creates a multi-Region key in us-east-1 and replicates it
// to eu-west-1.
func replicatedKey(t *testing.T, rs map[string]*region) string {
	t.Helper()
	ctx := context.Background()
	created, err := rs["us-east-1"].client.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	key := aws.ToString(created.KeyMetadata.KeyId)
	if _, err := rs["us-east-1"].client.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: &key, ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	return key
}

// encryptIn encrypts in one region and answers the blob.
func encryptIn(t *testing.T, c *awskms.Client, key, text string) []byte {
	t.Helper()
	out, err := c.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: &key, Plaintext: []byte(text)})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return out.CiphertextBlob
}

func wantDecrypt(t *testing.T, what string, c *awskms.Client, blob []byte, text string) {
	t.Helper()
	out, err := c.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: blob})
	if err != nil || string(out.Plaintext) != text {
		t.Fatalf("%s: Decrypt = %q, %v; want %q", what, out.Plaintext, err, text)
	}
}

func TestRotatingAMultiRegionPrimaryReachesItsReplicas(t *testing.T) {
	rs := newRegions(t, "us-east-1", "eu-west-1")
	a, b := rs["us-east-1"].client, rs["eu-west-1"].client
	ctx := context.Background()
	key := replicatedKey(t, rs)
	before := encryptIn(t, a, key, "v1")

	if _, err := a.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: &key}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	after := encryptIn(t, a, key, "v2 from A")
	wantDecrypt(t, "blob made in A after rotation, in B", b, after, "v2 from A")
	wantDecrypt(t, "blob made in A before rotation, in B", b, before, "v1")
	// The replica encrypts under the new version too, readable in A.
	fromB := encryptIn(t, b, key, "v2 from B")
	if _, v, err := BlobKeyVersion(fromB); err != nil || v != 2 {
		t.Fatalf("replica encrypts under version %d (%v), want 2", v, err)
	}
	wantDecrypt(t, "blob made in B after rotation, in A", a, fromB, "v2 from B")
	rot, err := b.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: &key})
	if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != types.RotationTypeOnDemand {
		t.Fatalf("ListKeyRotations in the replica = %+v, %v", rot, err)
	}
	if p, err := rs["us-east-1"].core.PendingReplicaPushes(ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending pushes after a reachable rotation = %v, %v", p, err)
	}

	// Automatic rotation pushes the same way.
	if _, err := a.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: &key}); err != nil {
		t.Fatal(err)
	}
	core := rs["us-east-1"].core
	if _, err := core.wdb.ExecContext(ctx, `UPDATE keys SET next_rotation = 1 WHERE id = ?`, key); err != nil {
		t.Fatal(err)
	}
	if err := core.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	auto := encryptIn(t, a, key, "v3")
	if _, v, _ := BlobKeyVersion(auto); v != 3 {
		t.Fatalf("after automatic rotation the primary encrypts under version %d, want 3", v)
	}
	wantDecrypt(t, "blob after automatic rotation, in B", b, auto, "v3")
}

func TestRotationWithAnUnreachableReplicaIsRetriedByMaintenance(t *testing.T) {
	rs := newRegions(t, "us-east-1", "eu-west-1")
	a, b := rs["us-east-1"].client, rs["eu-west-1"].client
	core := rs["us-east-1"].core
	ctx := context.Background()
	key := replicatedKey(t, rs)

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	good := core.opts.Peers["eu-west-1"]
	down := good
	down.Endpoint = dead.URL
	core.opts.Peers["eu-west-1"] = down

	// The operator call path (no caller) keeps every access in this
	// goroutine, so swapping the peer is race-free.
	if _, err := core.RotateKeyOnDemand(ctx, key); err != nil {
		t.Fatalf("rotation must stand although the replica is unreachable: %v", err)
	}
	p, err := core.PendingReplicaPushes(ctx)
	if err != nil || len(p) != 1 || p[0] != key+":eu-west-1" {
		t.Fatalf("pending pushes = %v, %v; want [%s:eu-west-1]", p, err, key)
	}
	blob := encryptIn(t, a, key, "made while B was away")
	if _, err := b.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob}); err == nil {
		t.Fatal("the replica decrypted a version it was never sent")
	}
	// Still down: maintenance keeps the push pending and does not fail.
	if err := core.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := core.PendingReplicaPushes(ctx); len(p) != 1 {
		t.Fatalf("pending pushes after a failed retry = %v", p)
	}

	core.opts.Peers["eu-west-1"] = good
	if err := core.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := core.PendingReplicaPushes(ctx); len(p) != 0 {
		t.Fatalf("pending pushes after a successful retry = %v", p)
	}
	wantDecrypt(t, "blob made while the replica was away, after the retry", b, blob, "made while B was away")
}

func TestPushedVersionsMustMatchTheReplicasOwn(t *testing.T) {
	rs := newRegions(t, "us-east-1", "eu-west-1")
	key := replicatedKey(t, rs)
	b := rs["eu-west-1"].core
	ctx := WithCaller(context.Background(), Caller{ARN: "arn:aws:iam::000000000000:root"})
	params, err := b.prepareReplicaVersions(ctx, replicaKeyRequest{KeyId: key})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := parsePub(params.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// Other bytes under version 1, which the replica already holds.
	err = b.addReplicaVersions(ctx, addReplicaVersionsRequest{KeyId: key, ImportToken: params.ImportToken,
		Versions: []replicaVersion{{Version: 1, EncryptedKeyMaterial: oaepWrap(t, pub, make([]byte, 32), key)}}})
	wantErr(t, err, ErrIncorrectKeyMaterial)
	// Wrapped for another key id: the OAEP label does not match.
	err = b.addReplicaVersions(ctx, addReplicaVersionsRequest{KeyId: key, ImportToken: params.ImportToken,
		Versions: []replicaVersion{{Version: 2, EncryptedKeyMaterial: oaepWrap(t, pub, make([]byte, 32), newMRKID())}}})
	wantErr(t, err, ErrInvalidCiphertext)
	// A single-Region key takes no pushed versions.
	single, err := b.CreateKey(context.Background(), CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.prepareReplicaVersions(ctx, replicaKeyRequest{KeyId: single.KeyID})
	wantErr(t, err, ErrValidation)
}

func TestReplicaVersionPushIsForTheAccountRootOnly(t *testing.T) {
	tc := newTestCore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithCaller(r.Context(), Caller{AccessKey: "alice", ARN: aliceARN})
		NewHandler(tc.Core, nil).ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	md, err := tc.CreateKey(context.Background(), CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &peerClient{region: "us-east-1", p: RemotePeer{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"}, http: srv.Client()}
	ctx := context.Background()
	_, err = p.prepareReplicaVersions(ctx, replicaKeyRequest{KeyId: md.KeyID})
	wantErr(t, err, ErrAccessDenied)
	err = p.addReplicaVersions(ctx, addReplicaVersionsRequest{KeyId: md.KeyID, ImportToken: newImportToken(),
		Versions: []replicaVersion{{Version: 2, EncryptedKeyMaterial: []byte{1}}}})
	wantErr(t, err, ErrAccessDenied)
}
