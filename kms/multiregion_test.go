package kms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

type region struct {
	name   string
	core   *Core
	client *awskms.Client
	url    string
}

// newRegions starts one core per region name, each serving the KMS API
// and configured with the others as peers. The test middleware stands in
// for SigV4 (every caller is the account root).
func newRegions(t *testing.T, names ...string) map[string]*region {
	t.Helper()
	out := map[string]*region{}
	handlers := map[string]*atomic.Value{}
	for _, n := range names {
		h := &atomic.Value{}
		handlers[n] = h
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.Load().(http.Handler).ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		out[n] = &region{name: n, url: srv.URL}
	}
	for _, n := range names {
		peers := map[string]RemotePeer{}
		for _, p := range names {
			if p != n {
				peers[p] = RemotePeer{Endpoint: out[p].url, AccessKey: "root", SecretKey: "secret"}
			}
		}
		c, err := Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), randomMaster(t),
			Options{Region: n, MaintenanceInterval: -1, Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		handlers[n].Store(callerMiddleware(NewHandler(c, nil)))
		out[n].core = c
		out[n].client = importSDKClient(t, out[n].url, n)
	}
	return out
}

var mrkIDPattern = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)

func TestMultiRegionKeyReplicatesAndDecryptsAcrossRegions(t *testing.T) {
	rs := newRegions(t, "us-east-1", "eu-west-1")
	a, b := rs["us-east-1"].client, rs["eu-west-1"].client
	ctx := context.Background()
	created, err := a.CreateKey(ctx, &awskms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("mrk")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	key := created.KeyMetadata.KeyId
	if !mrkIDPattern.MatchString(*key) || !aws.ToBool(created.KeyMetadata.MultiRegion) {
		t.Fatalf("multi-Region key = %+v", created.KeyMetadata)
	}
	mrc := created.KeyMetadata.MultiRegionConfiguration
	if mrc == nil || mrc.MultiRegionKeyType != types.MultiRegionKeyTypePrimary || aws.ToString(mrc.PrimaryKey.Region) != "us-east-1" {
		t.Fatalf("MultiRegionConfiguration = %+v", mrc)
	}
	encA, err := a.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("from A"), EncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if encA.CiphertextBlob[0] != blobVersion2 {
		t.Fatalf("blob version = %#x, want 2 for an mrk key", encA.CiphertextBlob[0])
	}
	// Before replication region B doesn't know the key.
	_, err = b.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: encA.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	wantBYOKErr[*types.InvalidCiphertextException](t, "Decrypt in B before replication", err)

	rep, err := a.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: key, ReplicaRegion: aws.String("eu-west-1"), Description: aws.String("replica")})
	if err != nil {
		t.Fatalf("ReplicateKey: %v", err)
	}
	wantARN := "arn:aws:kms:eu-west-1:000000000000:key/" + *key
	if aws.ToString(rep.ReplicaKeyMetadata.Arn) != wantARN || rep.ReplicaKeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("replica = %s %s, want %s Enabled", aws.ToString(rep.ReplicaKeyMetadata.Arn), rep.ReplicaKeyMetadata.KeyState, wantARN)
	}
	d, err := b.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
	if err != nil {
		t.Fatal(err)
	}
	mrc = d.KeyMetadata.MultiRegionConfiguration
	if aws.ToString(d.KeyMetadata.Arn) != wantARN || mrc.MultiRegionKeyType != types.MultiRegionKeyTypeReplica ||
		aws.ToString(mrc.PrimaryKey.Region) != "us-east-1" || len(mrc.ReplicaKeys) != 1 || aws.ToString(mrc.ReplicaKeys[0].Region) != "eu-west-1" {
		t.Fatalf("replica DescribeKey = %s %+v", aws.ToString(d.KeyMetadata.Arn), mrc)
	}
	d, _ = a.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
	if r := d.KeyMetadata.MultiRegionConfiguration.ReplicaKeys; len(r) != 1 || aws.ToString(r[0].Arn) != wantARN {
		t.Fatalf("primary's ReplicaKeys = %+v", r)
	}

	dec, err := b.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: encA.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || string(dec.Plaintext) != "from A" || aws.ToString(dec.KeyId) != wantARN {
		t.Fatalf("Decrypt in B = %q %s, %v", dec.Plaintext, aws.ToString(dec.KeyId), err)
	}
	encB, err := b.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(wantARN), Plaintext: []byte("from B")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := a.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: encB.CiphertextBlob}); err != nil || string(dec.Plaintext) != "from B" {
		t.Fatalf("Decrypt in A of B's blob = %q, %v", dec.Plaintext, err)
	}

	_, err = a.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: key, ReplicaRegion: aws.String("eu-west-1")})
	wantBYOKErr[*types.AlreadyExistsException](t, "second replica in the same region", err)
	_, err = b.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: key, ReplicaRegion: aws.String("us-east-1")})
	wantBYOKErr[*types.UnsupportedOperationException](t, "ReplicateKey of a replica", err)
	_, err = a.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: key, ReplicaRegion: aws.String("ap-south-1")})
	wantBYOKCode(t, "ValidationException", "replica in a region without a peer", err)
	_, err = b.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: key})
	wantBYOKErr[*types.UnsupportedOperationException](t, "rotating a replica", err)
	single, _ := a.CreateKey(ctx, &awskms.CreateKeyInput{})
	_, err = a.ReplicateKey(ctx, &awskms.ReplicateKeyInput{KeyId: single.KeyMetadata.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	wantBYOKErr[*types.UnsupportedOperationException](t, "ReplicateKey of a single-Region key", err)

	// UpdatePrimaryRegion swaps the roles on both sides.
	_, err = b.UpdatePrimaryRegion(ctx, &awskms.UpdatePrimaryRegionInput{KeyId: key, PrimaryRegion: aws.String("eu-west-1")})
	wantBYOKErr[*types.KMSInvalidStateException](t, "UpdatePrimaryRegion called on a replica", err)
	if _, err := a.UpdatePrimaryRegion(ctx, &awskms.UpdatePrimaryRegionInput{KeyId: key, PrimaryRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatalf("UpdatePrimaryRegion: %v", err)
	}
	for name, c := range map[string]*awskms.Client{"us-east-1": a, "eu-west-1": b} {
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
		if err != nil {
			t.Fatal(err)
		}
		mrc := d.KeyMetadata.MultiRegionConfiguration
		want := types.MultiRegionKeyTypeReplica
		if name == "eu-west-1" {
			want = types.MultiRegionKeyTypePrimary
		}
		if mrc.MultiRegionKeyType != want || aws.ToString(mrc.PrimaryKey.Region) != "eu-west-1" {
			t.Fatalf("%s after UpdatePrimaryRegion: %+v", name, mrc)
		}
	}
	if dec, err := a.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: encB.CiphertextBlob}); err != nil || string(dec.Plaintext) != "from B" {
		t.Fatalf("Decrypt in A after the swap = %q, %v", dec.Plaintext, err)
	}
}

// TestPeerOperationsAreForTheAccountRootOnly: a user with a full key
// policy still can't create a replica or push material.
func TestPeerOperationsAreForTheAccountRootOnly(t *testing.T) {
	tc := newTestCore(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := WithCaller(r.Context(), Caller{AccessKey: "alice", ARN: aliceARN})
		NewHandler(tc.Core, nil).ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	p := &peerClient{region: "us-east-1", p: RemotePeer{Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"}, http: srv.Client()}
	ctx := context.Background()
	_, err := p.createReplica(ctx, createReplicaRequest{KeyId: newMRKID(), PrimaryRegion: "eu-west-1"})
	wantErr(t, err, ErrAccessDenied)
	_, err = p.importReplica(ctx, importReplicaRequest{KeyId: newMRKID(), ImportToken: newImportToken(), KeyState: "Enabled"})
	wantErr(t, err, ErrAccessDenied)
	err = p.updatePrimary(ctx, updatePrimaryRequest{KeyId: newMRKID(), PrimaryRegion: "us-east-1"})
	wantErr(t, err, ErrAccessDenied)
}

func TestReplicaMaterialOnlyUnwrapsForItsKey(t *testing.T) {
	rs := newRegions(t, "us-east-1", "eu-west-1")
	b := rs["eu-west-1"].core
	ctx := WithCaller(context.Background(), Caller{ARN: "arn:aws:iam::000000000000:root"})
	id := newMRKID()
	created, err := b.createReplicaKey(ctx, createReplicaRequest{KeyId: id, PrimaryRegion: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Material wrapped with another key id as OAEP label is refused.
	other := newMRKID()
	pub, err := parsePub(created.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := oaepWrap(t, pub, make([]byte, 32), other)
	_, err = b.importReplicaMaterial(ctx, importReplicaRequest{KeyId: id, ImportToken: created.ImportToken, KeyState: "Enabled",
		Versions: []replicaVersion{{Version: 1, EncryptedKeyMaterial: wrapped}}})
	wantErr(t, err, ErrInvalidCiphertext)
	// A replica is never overwritten once created.
	good := oaepWrap(t, pub, make([]byte, 32), id)
	if _, err := b.importReplicaMaterial(ctx, importReplicaRequest{KeyId: id, ImportToken: created.ImportToken, KeyState: "Enabled",
		Versions: []replicaVersion{{Version: 1, EncryptedKeyMaterial: good}}}); err != nil {
		t.Fatal(err)
	}
	_, err = b.createReplicaKey(ctx, createReplicaRequest{KeyId: id, PrimaryRegion: "us-east-1"})
	wantErr(t, err, ErrAlreadyExists)
	_, err = b.importReplicaMaterial(ctx, importReplicaRequest{KeyId: id, ImportToken: created.ImportToken, KeyState: "Enabled",
		Versions: []replicaVersion{{Version: 2, EncryptedKeyMaterial: good}}})
	wantErr(t, err, ErrInvalidState)
}

func TestResolveIDAcceptsMultiRegionIDs(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	md, err := tc.CreateKey(ctx, CreateKeyInput{MultiRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{md.KeyID, md.ARN} {
		if got, err := tc.DescribeKey(ctx, ref); err != nil || got.KeyID != md.KeyID || got.MultiRegion != multiRegionPrimary {
			t.Fatalf("DescribeKey(%s) = %+v, %v", ref, got, err)
		}
	}
	for _, ref := range []string{strings.ToUpper(md.KeyID), "mrk-123", "mrk-" + strings.Repeat("g", 32)} {
		_, err := tc.DescribeKey(ctx, ref)
		wantErr(t, err, ErrNotFound)
	}
}

// TestGoldenBlobV2StillDecrypts pins blob format version 2 (mrk key ids).
func TestGoldenBlobV2StillDecrypts(t *testing.T) {
	fields := readGolden(t, "testdata/blob-v2.txt")
	material, _ := hex.DecodeString(fields["material"])
	blob, _ := hex.DecodeString(fields["blob"])
	h, _, err := parseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if h.id() != fields["key"] || !h.mrk || h.version != 3 {
		t.Fatalf("header = %s v%d", h.id(), h.version)
	}
	pt, err := openBlob(blob, h, material, EncryptionContext{"b": "2", "a": "1"})
	if err != nil || string(pt) != fields["plaintext"] {
		t.Fatalf("golden blob: %q, %v", pt, err)
	}
	// The version byte is authenticated: the same bytes as a v1 blob of
	// the UUID with equal bytes don't open.
	v1 := append([]byte{blobVersion1}, blob[1:]...)
	h1, _, err := parseBlob(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openBlob(v1, h1, material, EncryptionContext{"b": "2", "a": "1"}); err == nil {
		t.Fatal("a v2 blob relabelled as v1 opened")
	}
}

func parsePub(spki []byte) (*rsa.PublicKey, error) {
	pk, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, err
	}
	return pk.(*rsa.PublicKey), nil
}

func oaepWrap(t *testing.T, pub *rsa.PublicKey, material []byte, label string) []byte {
	t.Helper()
	b, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, []byte(label))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
