package gateway

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssegate/ssegate/kms"
)

// countingKMS counts calls into the real embedded KMS (no fake behaviour:
// every call is served by kms.Core).
type countingKMS struct {
	kms.Service
	gen, dec atomic.Int64
}

func (c *countingKMS) GenerateDataKey(ctx context.Context, in kms.GenerateDataKeyInput) (kms.DataKey, error) {
	c.gen.Add(1)
	return c.Service.GenerateDataKey(ctx, in)
}

func (c *countingKMS) Decrypt(ctx context.Context, in kms.DecryptInput) (kms.DecryptOutput, error) {
	c.dec.Add(1)
	return c.Service.Decrypt(ctx, in)
}

func newTestCore(t testing.TB) *kms.Core {
	t.Helper()
	mk := bytes.Repeat([]byte{7}, kms.MasterKeySize)
	core, err := kms.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), mk, kms.Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	return core
}

func TestKeyringSSES3UsesOneBucketKeyForABurst(t *testing.T) {
	ctx := context.Background()
	svc := &countingKMS{Service: newTestCore(t)}
	kr := newKeyring(svc, nil)
	spec := kekSpec{SSES3: true, Bucket: "b", Object: "o1"}
	a, err := kr.newKEK(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Object = "o2"
	b, err := kr.newKEK(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Blob, b.Blob) || svc.gen.Load() != 1 {
		t.Fatalf("want one cached bucket key, got %d GenerateDataKey calls", svc.gen.Load())
	}
	got, err := kr.openKEK(ctx, spec, a.Blob)
	if err != nil || !bytes.Equal(got.Key, a.Key) {
		t.Fatalf("openKEK: %v", err)
	}
	if svc.dec.Load() != 0 {
		t.Fatalf("open of a freshly generated bucket key called Decrypt %d times", svc.dec.Load())
	}
	// Another bucket gets its own key.
	c, err := kr.newKEK(ctx, kekSpec{SSES3: true, Bucket: "other", Object: "o1"})
	if err != nil || bytes.Equal(c.Blob, a.Blob) {
		t.Fatalf("other bucket shares the key (err %v)", err)
	}
}

func TestKeyringBucketKeyExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	svc := &countingKMS{Service: newTestCore(t)}
	kr := newKeyring(svc, func() time.Time { return now })
	spec := kekSpec{SSES3: true, Bucket: "b", Object: "o"}
	a, _ := kr.newKEK(ctx, spec)
	now = now.Add(bucketKeyTTL + time.Second)
	b, err := kr.newKEK(ctx, spec)
	if err != nil || bytes.Equal(a.Blob, b.Blob) || svc.gen.Load() != 2 {
		t.Fatalf("expired bucket key reused (err %v, calls %d)", err, svc.gen.Load())
	}
	// The old blob still opens (through the KMS) after expiry.
	got, err := kr.openKEK(ctx, spec, a.Blob)
	if err != nil || !bytes.Equal(got.Key, a.Key) || svc.dec.Load() != 1 {
		t.Fatalf("open of expired blob: err %v, decrypts %d", err, svc.dec.Load())
	}
}

func TestKeyringSSEKMSCallsKMSPerObjectAndBindsObjectARN(t *testing.T) {
	ctx := context.Background()
	core := newTestCore(t)
	svc := &countingKMS{Service: core}
	kr := newKeyring(svc, nil)
	key, err := core.CreateKey(ctx, kms.CreateKeyInput{Description: "t"})
	if err != nil {
		t.Fatal(err)
	}
	spec := kekSpec{KMSKeyID: key.KeyID, Bucket: "b", Object: "o", Context: kms.EncryptionContext{"dept": "x"}}
	a, err := kr.newKEK(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyARN != key.ARN {
		t.Fatalf("KeyARN %q, want %q", a.KeyARN, key.ARN)
	}
	if _, err := kr.openKEK(ctx, spec, a.Blob); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.openKEK(ctx, spec, a.Blob); err != nil {
		t.Fatal(err)
	}
	if svc.dec.Load() != 2 {
		t.Fatalf("per-object SSE-KMS must call Decrypt on every open, got %d", svc.dec.Load())
	}
	moved := spec
	moved.Object = "elsewhere"
	if _, err := kr.openKEK(ctx, moved, a.Blob); !errors.Is(err, kms.ErrInvalidCiphertext) {
		t.Fatalf("blob opened under another object's ARN: %v", err)
	}
	wrongCtx := spec
	wrongCtx.Context = kms.EncryptionContext{"dept": "y"}
	if _, err := kr.openKEK(ctx, wrongCtx, a.Blob); !errors.Is(err, kms.ErrInvalidCiphertext) {
		t.Fatalf("blob opened with another context: %v", err)
	}
	if err := core.DisableKey(ctx, key.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.openKEK(ctx, spec, a.Blob); !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("disabled key: got %v, want ErrDisabled", err)
	}
	if _, err := kr.newKEK(ctx, spec); !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("disabled key on PUT: got %v, want ErrDisabled", err)
	}
}

func TestKeyringDefaultSSEKMSKeyIsAWSManaged(t *testing.T) {
	ctx := context.Background()
	core := newTestCore(t)
	kr := newKeyring(core, nil)
	a, err := kr.newKEK(ctx, kekSpec{Bucket: "b", Object: "o"})
	if err != nil {
		t.Fatal(err)
	}
	md, err := core.DescribeKey(ctx, kms.AWSManagedS3Alias)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyARN != md.ARN || md.KeyManager != kms.KeyManagerAWS {
		t.Fatalf("default key %q (%s), want %q (AWS)", a.KeyARN, md.KeyManager, md.ARN)
	}
}
