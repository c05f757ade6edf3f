package sse

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSealUnsealRoundTrip(t *testing.T) {
	kek := detBytes("kek", 32)
	dek := detKey("dek")
	for _, mode := range []Mode{ModeSSES3, ModeSSEKMS, ModeSSEC} {
		sk, err := Seal(kek, dek, mode, "bucket", "a/b")
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unseal(kek, sk, mode, "bucket", "a/b")
		if err != nil || got != dek {
			t.Fatalf("%v: unseal = %v, err %v", mode, got == dek, err)
		}
	}
}

func TestUnsealRefusesOtherContext(t *testing.T) {
	kek := detBytes("kek", 32)
	dek := detKey("dek")
	sk, err := Seal(kek, dek, ModeSSES3, "bucket", "obj")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name           string
		kek            []byte
		mode           Mode
		bucket, object string
	}{
		{"wrong kek", detBytes("other", 32), ModeSSES3, "bucket", "obj"},
		{"other mode", kek, ModeSSEKMS, "bucket", "obj"},
		{"other bucket", kek, ModeSSES3, "bucket2", "obj"},
		{"other object", kek, ModeSSES3, "bucket", "obj2"},
		// Length-prefixed names: moving a byte between them must not collide.
		{"shifted names", kek, ModeSSES3, "bucketo", "bj"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Unseal(c.kek, sk, c.mode, c.bucket, c.object); !errors.Is(err, ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
		})
	}
}

func TestUnsealDetectsEveryByteFlip(t *testing.T) {
	kek := detBytes("kek", 32)
	sk, _ := Seal(kek, detKey("dek"), ModeSSEC, "b", "o")
	for i := range sk {
		bad := sk
		bad[i] ^= 0x01
		if _, err := Unseal(kek, bad, ModeSSEC, "b", "o"); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip at %d: err = %v", i, err)
		}
	}
}

func TestSealRejectsBadKEKLength(t *testing.T) {
	if _, err := Seal(make([]byte, 16), detKey("d"), ModeSSES3, "b", "o"); err == nil {
		t.Fatal("16-byte KEK accepted")
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	kek := detBytes("kek", 32)
	a, _ := Seal(kek, detKey("d"), ModeSSES3, "b", "o")
	b, _ := Seal(kek, detKey("d"), ModeSSES3, "b", "o")
	if a == b {
		t.Fatal("two seals of the same key are identical: nonce not random")
	}
}

func TestSSECKeyCheck(t *testing.T) {
	var key, other [32]byte
	copy(key[:], detBytes("customer", 32))
	copy(other[:], detBytes("customer2", 32))
	salt := detBytes("salt", 16)
	h := SSECKeyHash(key, salt)
	if err := CheckSSECKey(key, salt, h); err != nil {
		t.Fatalf("right key refused: %v", err)
	}
	if err := CheckSSECKey(other, salt, h); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong key: err = %v", err)
	}
	if err := CheckSSECKey(key, detBytes("salt2", 16), h); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("wrong salt: err = %v", err)
	}
	kek := DeriveSSECKEK(key, salt)
	if bytes.Equal(kek, h) || bytes.Contains(kek, key[:]) || bytes.Equal(DeriveSSECKEK(key, detBytes("s", 16)), kek) {
		t.Fatal("KEK must differ from the check value and depend on the salt")
	}
}

func TestSecretsAreNotPrinted(t *testing.T) {
	dek := detKey("dek")
	ck := CustomerKey{KeyMD5: "x"}
	copy(ck.Key[:], detBytes("ck", 32))
	for _, v := range []any{dek, &dek, ck, &ck, Request{Mode: ModeSSEC, CustomerKey: &ck}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range [][]byte{dek[:], ck.Key[:]} {
				if strings.Contains(out, fmt.Sprintf("%x", string(secret))) || strings.Contains(out, fmt.Sprint(secret[0:4])) {
					t.Fatalf("%s of %T prints key material: %s", verb, v, out)
				}
			}
		}
	}
}

func TestPartKeysAreIndependent(t *testing.T) {
	dek := detKey("dek")
	seen := map[string]int{}
	for _, n := range []int{0, 1, 2, 10000} {
		k := string(partKey(dek, n))
		if prev, dup := seen[k]; dup {
			t.Fatalf("parts %d and %d share a key", prev, n)
		}
		seen[k] = n
	}
	if bytes.Equal(partKey(dek, 0), metaKey(dek)) {
		t.Fatal("body and metadata keys collide")
	}
}

func TestMACKeyCompletesMetadataWithoutTheObjectKey(t *testing.T) {
	kek := bytes.Repeat([]byte{1}, KeySize)
	dek, _ := NewObjectKey()
	m := &ObjectMeta{Mode: ModeSSES3, Suite: SuiteAES256GCM, KMSKeyARN: "arn", KMSBlob: []byte("blob")}
	if err := m.SealKey(kek, dek, "b", "o"); err != nil {
		t.Fatal(err)
	}
	mk, err := m.MACKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeObjectMeta(enc)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.VerifyMAC(bytes.Repeat([]byte{9}, len(mk))); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong MAC key accepted: %v", err)
	}
	if err := d.VerifyMAC(mk); err != nil {
		t.Fatal(err)
	}
	d.Size, d.ETag = 10, "0123456789abcdef0123456789abcdef-1"
	d.Parts = []PartLayout{{Number: 1, PlainSize: 10}}
	enc2, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeObjectMeta(enc2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.UnsealKey(kek, "b", "o"); err != nil {
		t.Fatalf("metadata completed with the MAC key does not verify with the object key: %v", err)
	}
	if f.Size != 10 || f.ETag != "0123456789abcdef0123456789abcdef-1" {
		t.Fatalf("completed metadata lost fields: %+v", f)
	}
}
