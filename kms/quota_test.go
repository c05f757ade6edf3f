package kms

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func newQuotaCore(t testing.TB, q Quotas) (*Core, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), randomMaster(t), Options{
		Now: clock.Now, MaintenanceInterval: -1, Quotas: q,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

func TestRequestQuotasAreSharedPerClassAndThrottle(t *testing.T) {
	c, clock := newQuotaCore(t, Quotas{SymmetricPerSecond: 2, ECCPerSecond: 1, HMACPerSecond: -1})
	ctx := context.Background()
	sym, err := c.CreateKey(ctx, CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ecc, err := c.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: usageSign})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := c.CreateKey(ctx, CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: usageMAC})
	if err != nil {
		t.Fatal(err)
	}
	// Two callers share the symmetric bucket of 2.
	alice := WithCaller(ctx, Caller{AccessKey: "alice"})
	bob := WithCaller(ctx, Caller{AccessKey: "bob"})
	if _, err := c.Encrypt(alice, EncryptInput{KeyID: sym.KeyID, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateDataKey(bob, GenerateDataKeyInput{KeyID: sym.KeyID}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(bob, EncryptInput{KeyID: sym.KeyID, Plaintext: []byte("x")})
	wantErr(t, err, ErrThrottled)
	// Other classes have their own buckets.
	sign := SignInput{KeyID: ecc.KeyID, Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}
	if _, err := c.Sign(ctx, sign); err != nil {
		t.Fatal(err)
	}
	_, err = c.Sign(ctx, sign)
	wantErr(t, err, ErrThrottled)
	for range 5 { // HMAC quota is off
		if _, err := c.GenerateMac(ctx, MacInput{KeyID: mac.KeyID, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}); err != nil {
			t.Fatal(err)
		}
	}
	// A second later the buckets have refilled.
	clock.Advance(time.Second)
	if _, err := c.Encrypt(bob, EncryptInput{KeyID: sym.KeyID, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if _, err := c.Sign(ctx, sign); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestKeysPerAccountQuotaIsLimitExceeded(t *testing.T) {
	c, _ := newQuotaCore(t, Quotas{KeysPerAccount: 2})
	ctx := context.Background()
	for range 2 {
		if _, err := c.CreateKey(ctx, CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateKey(ctx, CreateKeyInput{})
	wantErr(t, err, ErrLimitExceeded)
	_, err = c.CreateKey(ctx, CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: usageMAC})
	wantErr(t, err, ErrLimitExceeded)
}

func TestQuotaDefaultsAreAWSs(t *testing.T) {
	l := newQuotaLimiter(Quotas{}, time.Now)
	if l.keys != 100000 || l.buckets[classRSA].rate != 500 || l.buckets[classECC].rate != 300 || l.buckets[classSymmetric].rate != 100000 {
		t.Fatalf("defaults: keys %d rsa %v ecc %v sym %v", l.keys, l.buckets[classRSA].rate, l.buckets[classECC].rate, l.buckets[classSymmetric].rate)
	}
	if off := newQuotaLimiter(Quotas{RSAPerSecond: -1}, time.Now); off.buckets[classRSA] != nil {
		t.Fatal("negative RSA quota should turn it off")
	}
}

// FuzzVerifySignature feeds arbitrary signatures and digests to Verify:
// it must answer valid, invalid or a validation error, never panic, and
// never accept a signature it didn't make.
func FuzzVerifySignature(f *testing.F) {
	c, _ := newQuotaCore(f, Quotas{ECCPerSecond: -1, RSAPerSecond: -1})
	ctx := context.Background()
	k, err := c.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: usageSign})
	if err != nil {
		f.Fatal(err)
	}
	good, err := c.Sign(ctx, SignInput{KeyID: k.KeyID, Message: []byte("seed"), SigningAlgorithm: "ECDSA_SHA_256"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("seed"), good.Signature, false)
	f.Add(make([]byte, 32), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, true)
	f.Fuzz(func(t *testing.T, msg, sig []byte, digest bool) {
		in := VerifyInput{KeyID: k.KeyID, Message: msg, Signature: sig, SigningAlgorithm: "ECDSA_SHA_256"}
		if digest {
			in.MessageType = messageDigest
		}
		_, err := c.Verify(ctx, in)
		if err == nil && !(string(msg) == "seed" && string(sig) == string(good.Signature)) {
			// ECDSA signatures are randomized, so only ours verifies.
			t.Fatalf("Verify accepted a forged signature %x for %x", sig, msg)
		}
	})
}

// FuzzDecryptRSA: arbitrary RSA ciphertexts fail with
// InvalidCiphertextException or a validation error, never a panic.
func FuzzDecryptRSA(f *testing.F) {
	c, _ := newQuotaCore(f, Quotas{RSAPerSecond: -1})
	ctx := context.Background()
	k, err := c.CreateKey(ctx, CreateKeyInput{KeySpec: "RSA_2048", KeyUsage: usageEncrypt})
	if err != nil {
		f.Fatal(err)
	}
	ct, err := c.EncryptRSA(ctx, AsymmetricInput{KeyID: k.KeyID, Data: []byte("x"), Algorithm: "RSAES_OAEP_SHA_256"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct.CiphertextBlob)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		out, err := c.DecryptRSA(ctx, AsymmetricInput{KeyID: k.KeyID, Data: blob, Algorithm: "RSAES_OAEP_SHA_256"})
		if err == nil && string(out.Plaintext) != "x" {
			t.Fatalf("DecryptRSA accepted %x", blob)
		}
		if err != nil && errorType(err) != "InvalidCiphertextException" {
			t.Fatalf("DecryptRSA error type %s", errorType(err))
		}
	})
}
