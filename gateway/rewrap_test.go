package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// opsEnv is a gateway on an fs store with an embedded KMS the test can
// reach directly, for the operator functions (Rewrap, Verify).
type opsEnv struct {
	*testEnv
	st   *fs.Store
	root string
	core *kms.Core
}

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	root := t.TempDir()
	st, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	core := newTestCore(t)
	srv, err := New(Config{Region: testRegion}, Deps{
		Store: st, KMS: core,
		Credentials: staticCreds{testAccessKey: {
			AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root",
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &opsEnv{testEnv: &testEnv{t: t, srv: srv, ts: ts}, st: st, root: root, core: core}
}

func (e *opsEnv) putKMS(bucket, key, keyID string, data []byte) {
	e.t.Helper()
	resp := e.do(http.MethodPut, "/"+bucket+"/"+key, data, map[string]string{
		"x-amz-server-side-encryption":                "aws:kms",
		"x-amz-server-side-encryption-aws-kms-key-id": keyID,
	})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("put %s/%s: %d %s", bucket, key, resp.StatusCode, s3Err(e.t, resp).Code)
	}
}

func (e *opsEnv) get(bucket, key string) []byte {
	e.t.Helper()
	resp := e.do(http.MethodGet, "/"+bucket+"/"+key, nil, nil)
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("get %s/%s: %d %v", bucket, key, resp.StatusCode, err)
	}
	return body
}

// stored returns the ciphertext and sse metadata the backend holds.
func (e *opsEnv) stored(bucket, key string) ([]byte, *sse.ObjectMeta) {
	e.t.Helper()
	rc, si, err := e.st.Get(context.Background(), bucket, key, 0, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	em, err := sse.DecodeObjectMeta(si.Meta)
	if err != nil {
		e.t.Fatal(err)
	}
	return b, em
}

func (e *opsEnv) newKey() string {
	e.t.Helper()
	md, err := e.core.CreateKey(context.Background(), kms.CreateKeyInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	return md.KeyID
}

func blobVersion(t testing.TB, blob []byte) (string, uint32) {
	t.Helper()
	id, v, err := kms.BlobKeyVersion(blob)
	if err != nil {
		t.Fatal(err)
	}
	return id, v
}

func TestRewrapAfterRotationMovesBlobsToNewestVersionAndKeepsBody(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	keyID := e.newKey()
	data := randBytes(200_000, 3)
	e.putKMS("bkt", "kms-obj", keyID, data)
	e.put("bkt", "s3-obj", data) // bucket default: SSE-S3
	e.putKMS("bkt", "empty", keyID, nil)

	before := map[string][]byte{}
	oldBlob := map[string][]byte{}
	for _, k := range []string{"kms-obj", "s3-obj", "empty"} {
		before[k], _ = e.stored("bkt", k)
		_, em := e.stored("bkt", k)
		oldBlob[k] = em.KMSBlob
	}
	if _, err := e.core.RotateKeyOnDemand(ctx, keyID); err != nil {
		t.Fatal(err)
	}

	var seen []ObjectProgress
	sum, err := Rewrap(ctx, e.st, e.core, RewrapOptions{}, func(p ObjectProgress) { seen = append(seen, p) })
	if err != nil {
		t.Fatal(err)
	}
	// The SSE-S3 key is AWS-managed style (no on-demand rotation): its
	// object is already under the newest version and is left alone.
	if sum.Scanned != 3 || sum.Rewrapped != 2 || sum.Current != 1 || sum.Failed != 0 {
		t.Fatalf("summary %+v, want 3 scanned, 2 rewrapped, 1 current", sum)
	}
	if len(seen) != 3 || seen[0].Key != "empty" || seen[2].Key != "s3-obj" || seen[2].Done != 3 {
		t.Fatalf("progress %+v: want every object once, in key order", seen)
	}
	if body, em := e.stored("bkt", "s3-obj"); !bytes.Equal(body, before["s3-obj"]) || !bytes.Equal(em.KMSBlob, oldBlob["s3-obj"]) {
		t.Error("current SSE-S3 object was rewritten")
	}
	for _, k := range []string{"kms-obj", "empty"} {
		body, em := e.stored("bkt", k)
		if !bytes.Equal(body, before[k]) {
			t.Errorf("%s: stored ciphertext changed: rewrap must not re-encrypt the body", k)
		}
		if bytes.Equal(em.KMSBlob, oldBlob[k]) {
			t.Errorf("%s: KMS blob unchanged", k)
		}
		_, oldV := blobVersion(t, oldBlob[k])
		_, newV := blobVersion(t, em.KMSBlob)
		if oldV != 1 || newV != 2 {
			t.Errorf("%s: blob version %d -> %d, want 1 -> 2", k, oldV, newV)
		}
	}
	if got := e.get("bkt", "kms-obj"); !bytes.Equal(got, data) {
		t.Error("GET after rewrap returns other bytes (SSE-KMS)")
	}
	if got := e.get("bkt", "s3-obj"); !bytes.Equal(got, data) {
		t.Error("GET after rewrap returns other bytes (SSE-S3)")
	}
	// All versions keep decrypting: the old blob still opens.
	ec := kms.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bkt/kms-obj"}
	if _, err := e.core.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: oldBlob["kms-obj"], Context: ec}); err != nil {
		t.Errorf("old version no longer decrypts its blobs: %v", err)
	}

	// A second run finds everything current and changes nothing.
	again, err := Rewrap(ctx, e.st, e.core, RewrapOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Current != 3 || again.Rewrapped != 0 || again.WouldRewrap != 0 {
		t.Fatalf("rerun summary %+v, want 3 current", again)
	}
}

func TestRewrapToKMSKeyMovesObjectsToThatKey(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	from, to := e.newKey(), e.newKey()
	data := randBytes(5000, 9)
	e.putKMS("bkt", "a", from, data)
	e.put("bkt", "b", data)
	sum, err := Rewrap(ctx, e.st, e.core, RewrapOptions{ToKMSKey: to}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rewrapped != 2 {
		t.Fatalf("summary %+v, want 2 rewrapped", sum)
	}
	for _, k := range []string{"a", "b"} {
		_, em := e.stored("bkt", k)
		id, _ := blobVersion(t, em.KMSBlob)
		if em.Mode != sse.ModeSSEKMS || id != to {
			t.Errorf("%s: mode %v key %s, want SSE-KMS under %s", k, em.Mode, id, to)
		}
		if got := e.get("bkt", k); !bytes.Equal(got, data) {
			t.Errorf("%s: GET after move returns other bytes", k)
		}
	}
	// Disabling the old key no longer matters for moved objects.
	if err := e.core.DisableKey(ctx, from); err != nil {
		t.Fatal(err)
	}
	if got := e.get("bkt", "a"); !bytes.Equal(got, data) {
		t.Error("moved object still depends on the old key")
	}
}

func TestRewrapToSSES3(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	data := randBytes(3000, 1)
	e.putKMS("bkt", "a", e.newKey(), data)
	if _, err := Rewrap(ctx, e.st, e.core, RewrapOptions{ToSSES3: true}, nil); err != nil {
		t.Fatal(err)
	}
	_, em := e.stored("bkt", "a")
	if em.Mode != sse.ModeSSES3 {
		t.Fatalf("mode %v, want SSE-S3", em.Mode)
	}
	resp := e.do(http.MethodHead, "/bkt/a", nil, nil)
	if resp.Header.Get("ETag") != `"`+md5hex(data)+`"` {
		t.Errorf("SSE-S3 ETag %s, want the plaintext MD5", resp.Header.Get("ETag"))
	}
	if got := e.get("bkt", "a"); !bytes.Equal(got, data) {
		t.Error("GET after move to SSE-S3 returns other bytes")
	}
}

func TestRewrapDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	keyID := e.newKey()
	e.putKMS("bkt", "a", keyID, []byte("hello"))
	if _, err := e.core.RotateKeyOnDemand(ctx, keyID); err != nil {
		t.Fatal(err)
	}
	_, before := e.stored("bkt", "a")
	sum, err := Rewrap(ctx, e.st, e.core, RewrapOptions{DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, after := e.stored("bkt", "a")
	if sum.WouldRewrap != 1 || sum.Rewrapped != 0 {
		t.Errorf("summary %+v, want 1 would-rewrap", sum)
	}
	if !bytes.Equal(before.KMSBlob, after.KMSBlob) {
		t.Error("dry run changed the stored blob")
	}
}

func TestRewrapSkipsSSECAndResumesAfterStartAfter(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	for _, b := range []string{"bk1", "bk2"} {
		e.mkbucket(b)
		for _, k := range []string{"x", "y"} {
			e.put(b, k, []byte(b+k))
		}
	}
	e.putSSEC("bk2", "z", []byte("z"))

	var keys []string
	summary, err := Rewrap(ctx, e.st, e.core, RewrapOptions{Scope: Scope{StartAfter: "bk1/x"}, ToKMSKey: e.newKey()},
		func(p ObjectProgress) { keys = append(keys, p.Bucket+"/"+p.Key+":"+p.Outcome) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bk1/y:rewrapped", "bk2/x:rewrapped", "bk2/y:rewrapped", "bk2/z:skipped-ssec"}
	if len(keys) != len(want) {
		t.Fatalf("visited %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("visited %v, want %v", keys, want)
		}
	}
	if summary.SkippedSSEC != 1 || summary.Rewrapped != 3 {
		t.Errorf("summary %+v", summary)
	}
}

func TestRewrapRejectsBadOptions(t *testing.T) {
	e := newOpsEnv(t)
	for name, opts := range map[string]RewrapOptions{
		"two targets":       {ToKMSKey: "alias/x", ToSSES3: true},
		"prefix no bucket":  {Scope: Scope{Prefix: "p"}},
		"start-after shape": {Scope: Scope{StartAfter: "nokey"}},
		"unknown key":       {ToKMSKey: "alias/does-not-exist"},
	} {
		if _, err := Rewrap(context.Background(), e.st, e.core, opts, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// putSSEC stores an SSE-C object through the object layer (the HTTP path
// needs TLS).
func (e *opsEnv) putSSEC(bucket, key string, data []byte) {
	e.t.Helper()
	ctx := context.Background()
	var ck sse.CustomerKey
	ck.Key[0] = 1
	sum := md5.Sum(ck.Key[:])
	ck.KeyMD5 = base64.StdEncoding.EncodeToString(sum[:])
	o := &objectLayer{store: e.st, keys: newKeyring(e.core, nil)}
	em, dek, err := o.seal(ctx, bucket, key, encSpec{Mode: sse.ModeSSEC, Customer: &ck}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	em.Size, em.ETag = int64(len(data)), opaqueETag(dek)
	md := store.Metadata{}
	if err := addSSEMeta(md, em); err != nil {
		e.t.Fatal(err)
	}
	ct, err := sse.EncryptReader(bytes.NewReader(data), dek, 0, em.Suite)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.Put(ctx, bucket, key, ct, sse.EncryptedSize(int64(len(data))), md); err != nil {
		e.t.Fatal(err)
	}
}
