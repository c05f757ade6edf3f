package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// The KMS JSON API is mounted on the gateway listener and is the same on
// either backend, so these tests run against the fs target over plain
// HTTP (no SSE-C is involved).

// kmsCLI wraps aws-cli's kms commands with blobs in temp files: aws-cli
// takes blobs as fileb:// and prints them base64 in JSON.
type kmsCLI struct {
	*awsCLI
	t   *testing.T
	dir string
}

func newKMSCLI(t *testing.T, tg target) *kmsCLI {
	return &kmsCLI{awsCLI: newAWS(t, tg), t: t, dir: t.TempDir()}
}

// blob writes b to a file and returns its fileb:// argument.
func (k *kmsCLI) blob(b []byte) string {
	k.t.Helper()
	p := filepath.Join(k.dir, "blob-"+randomHex(6))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		k.t.Fatal(err)
	}
	return "fileb://" + p
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

func (k *kmsCLI) createKey(extra ...string) (id, arn string) {
	k.t.Helper()
	var out struct {
		KeyMetadata struct{ KeyId, Arn, KeyState, KeySpec, KeyUsage string }
	}
	k.json(&out, append([]string{"kms", "create-key"}, extra...)...)
	m := out.KeyMetadata
	if m.KeyId == "" || m.KeyState != "Enabled" || m.KeySpec != "SYMMETRIC_DEFAULT" || m.KeyUsage != "ENCRYPT_DECRYPT" || !strings.HasSuffix(m.Arn, ":key/"+m.KeyId) {
		k.t.Fatalf("create-key = %+v", m)
	}
	return m.KeyId, m.Arn
}

// encrypt returns the raw ciphertext blob and the ARN of the key used.
func (k *kmsCLI) encrypt(keyID string, plaintext []byte, extra ...string) (blob []byte, keyARN string) {
	k.t.Helper()
	var out struct{ CiphertextBlob, KeyId string }
	k.json(&out, append([]string{"kms", "encrypt", "--key-id", keyID, "--plaintext", k.blob(plaintext)}, extra...)...)
	return b64(k.t, out.CiphertextBlob), out.KeyId
}

// tryDecrypt decrypts blob; err and stderr report an expected failure.
func (k *kmsCLI) tryDecrypt(blob []byte, extra ...string) (plaintext []byte, keyARN, stderr string, err error) {
	k.t.Helper()
	stdout, stderr, err := k.try(append([]string{"kms", "decrypt", "--ciphertext-blob", k.blob(blob)}, extra...)...)
	if err != nil {
		return nil, "", stderr, err
	}
	var out struct{ Plaintext, KeyId string }
	if err := jsonUnmarshal(stdout, &out); err != nil {
		k.t.Fatalf("decrypt output %q: %v", stdout, err)
	}
	return b64(k.t, out.Plaintext), out.KeyId, stderr, nil
}

func (k *kmsCLI) decrypt(blob []byte, extra ...string) (plaintext []byte, keyARN string) {
	k.t.Helper()
	p, arn, stderr, err := k.tryDecrypt(blob, extra...)
	if err != nil {
		k.t.Fatalf("decrypt: %v\n%s", err, stderr)
	}
	return p, arn
}

// wantError asserts that aws args fails with code in its output.
func (k *kmsCLI) wantError(code string, args ...string) {
	k.t.Helper()
	if _, stderr, err := k.try(args...); err == nil || !strings.Contains(stderr, code) {
		k.t.Errorf("aws %s: want %s, got err=%v %s", strings.Join(args, " "), code, err, stderr)
	}
}

func (k *kmsCLI) keyState(id string) string {
	k.t.Helper()
	var out struct{ KeyMetadata struct{ KeyState string } }
	k.json(&out, "kms", "describe-key", "--key-id", id)
	return out.KeyMetadata.KeyState
}

// blobKeyVersion reads the key version from a ciphertext blob header as
// docs/kms.md specifies it (format byte, 16-byte key id, uint32be version),
// to observe which version an Encrypt used.
func blobKeyVersion(t *testing.T, blob []byte) uint32 {
	t.Helper()
	if len(blob) < 21 || blob[0] != 1 {
		t.Fatalf("not a version 1 ciphertext blob (%d bytes)", len(blob))
	}
	return binary.BigEndian.Uint32(blob[17:21])
}

func TestKMSThroughAWSCLI(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	tg := startTarget(t, "fs")
	k := newKMSCLI(t, tg)
	idA, arnA := k.createKey("--description", "e2e key A", "--tags", "TagKey=team,TagValue=storage")
	idB, arnB := k.createKey("--description", "e2e key B")
	alias := "alias/e2e-" + randomHex(4)
	k.run("kms", "create-alias", "--alias-name", alias, "--target-key-id", idA)
	secret := []byte("a secret of the e2e suite " + randomHex(8))

	t.Run("describe-key by id, ARN, alias and alias ARN", func(t *testing.T) {
		aliasARN := strings.Replace(arnA, ":key/"+idA, ":"+alias, 1)
		for _, ref := range []string{idA, arnA, alias, aliasARN} {
			var out struct {
				KeyMetadata struct{ KeyId, Arn, Description string }
			}
			k.json(&out, "kms", "describe-key", "--key-id", ref)
			if out.KeyMetadata.KeyId != idA || out.KeyMetadata.Arn != arnA || out.KeyMetadata.Description != "e2e key A" {
				t.Errorf("describe-key %s = %+v", ref, out.KeyMetadata)
			}
		}
		k.wantError("NotFoundException", "kms", "describe-key", "--key-id", "alias/e2e-none-"+randomHex(4))
		k.wantError("NotFoundException", "kms", "describe-key", "--key-id", "00000000-0000-0000-0000-000000000000")
	})

	t.Run("list-keys and list-aliases", func(t *testing.T) {
		var keys struct {
			Keys []struct{ KeyId, KeyArn string }
		}
		k.json(&keys, "kms", "list-keys")
		found := map[string]string{}
		for _, key := range keys.Keys {
			found[key.KeyId] = key.KeyArn
		}
		if found[idA] != arnA || found[idB] != arnB {
			t.Errorf("list-keys lacks the created keys: %+v", keys)
		}
		var aliases struct {
			Aliases []struct{ AliasName, TargetKeyId string }
		}
		k.json(&aliases, "kms", "list-aliases")
		ok := false
		for _, a := range aliases.Aliases {
			ok = ok || (a.AliasName == alias && a.TargetKeyId == idA)
		}
		if !ok {
			t.Errorf("list-aliases lacks %s → %s: %+v", alias, idA, aliases)
		}
	})

	t.Run("alias move keeps old ciphertext readable", func(t *testing.T) {
		old, arn := k.encrypt(alias, secret)
		if arn != arnA {
			t.Fatalf("encrypt under %s used %s, want %s", alias, arn, arnA)
		}
		k.run("kms", "update-alias", "--alias-name", alias, "--target-key-id", idB)
		newer, arn := k.encrypt(alias, secret)
		if arn != arnB {
			t.Errorf("after update-alias, encrypt used %s, want %s", arn, arnB)
		}
		// Decrypt needs no key id: the blob names its key.
		for blob, wantARN := range map[*[]byte]string{&old: arnA, &newer: arnB} {
			if p, arn := k.decrypt(*blob); !bytes.Equal(p, secret) || arn != wantARN {
				t.Errorf("decrypt: key %s, plaintext ok=%v; want %s", arn, bytes.Equal(p, secret), wantARN)
			}
		}
		// Naming the wrong key is refused, as on AWS.
		if _, _, stderr, err := k.tryDecrypt(old, "--key-id", idB); err == nil || !strings.Contains(stderr, "IncorrectKeyException") {
			t.Errorf("decrypt with another key id: err=%v %s", err, stderr)
		}
		k.run("kms", "delete-alias", "--alias-name", alias)
		k.wantError("NotFoundException", "kms", "describe-key", "--key-id", alias)
		k.wantError("NotFoundException", "kms", "encrypt", "--key-id", alias, "--plaintext", k.blob(secret))
		// The keys themselves are untouched by the alias going away.
		if p, _ := k.decrypt(old); !bytes.Equal(p, secret) {
			t.Error("old ciphertext unreadable after delete-alias")
		}
	})

	t.Run("encryption context is bound", func(t *testing.T) {
		blob, _ := k.encrypt(idA, secret, "--encryption-context", "app=e2e,purpose=test")
		// Order-independent match.
		if p, _ := k.decrypt(blob, "--encryption-context", "purpose=test,app=e2e"); !bytes.Equal(p, secret) {
			t.Error("decrypt with the same context differs")
		}
		for _, ctx := range [][]string{{"--encryption-context", "app=e2e,purpose=other"}, {"--encryption-context", "app=e2e"}, nil} {
			if _, _, stderr, err := k.tryDecrypt(blob, ctx...); err == nil || !strings.Contains(stderr, "InvalidCiphertextException") {
				t.Errorf("decrypt with context %v: err=%v %s", ctx, err, stderr)
			}
		}
		// A flipped bit is InvalidCiphertextException too, never garbage.
		bad := append([]byte{}, blob...)
		bad[len(bad)-5] ^= 1
		if _, _, stderr, err := k.tryDecrypt(bad, "--encryption-context", "app=e2e,purpose=test"); err == nil || !strings.Contains(stderr, "InvalidCiphertextException") {
			t.Errorf("decrypt of a tampered blob: err=%v %s", err, stderr)
		}
	})

	t.Run("data keys", func(t *testing.T) {
		var dk struct{ Plaintext, CiphertextBlob, KeyId string }
		k.json(&dk, "kms", "generate-data-key", "--key-id", idA, "--key-spec", "AES_256", "--encryption-context", "file=x")
		plain := b64(t, dk.Plaintext)
		if len(plain) != 32 || dk.KeyId != arnA {
			t.Fatalf("generate-data-key: %d bytes under %s", len(plain), dk.KeyId)
		}
		if p, _ := k.decrypt(b64(t, dk.CiphertextBlob), "--encryption-context", "file=x"); !bytes.Equal(p, plain) {
			t.Error("the data key blob does not decrypt to the data key")
		}
		k.json(&dk, "kms", "generate-data-key", "--key-id", idA, "--number-of-bytes", "64")
		if len(b64(t, dk.Plaintext)) != 64 {
			t.Errorf("generate-data-key --number-of-bytes 64 gave %d bytes", len(b64(t, dk.Plaintext)))
		}
		var wp map[string]any
		k.json(&wp, "kms", "generate-data-key-without-plaintext", "--key-id", idB, "--key-spec", "AES_128")
		if _, has := wp["Plaintext"]; has || wp["KeyId"] != arnB {
			t.Fatalf("generate-data-key-without-plaintext = %v", wp)
		}
		if p, _ := k.decrypt(b64(t, wp["CiphertextBlob"].(string))); len(p) != 16 {
			t.Errorf("AES_128 data key decrypts to %d bytes", len(p))
		}
		k.wantError("ValidationException", "kms", "generate-data-key", "--key-id", idA, "--number-of-bytes", "1025")
	})

	t.Run("re-encrypt", func(t *testing.T) {
		blob, _ := k.encrypt(idA, secret, "--encryption-context", "a=1")
		var out struct{ CiphertextBlob, KeyId, SourceKeyId string }
		k.json(&out, "kms", "re-encrypt", "--ciphertext-blob", k.blob(blob), "--source-encryption-context", "a=1",
			"--destination-key-id", idB, "--destination-encryption-context", "b=2")
		if out.KeyId != arnB || out.SourceKeyId != arnA {
			t.Errorf("re-encrypt = %+v", out)
		}
		if p, arn := k.decrypt(b64(t, out.CiphertextBlob), "--encryption-context", "b=2"); !bytes.Equal(p, secret) || arn != arnB {
			t.Errorf("re-encrypted blob: key %s", arn)
		}
	})

	t.Run("disable and enable", func(t *testing.T) {
		blob, _ := k.encrypt(idB, secret)
		k.run("kms", "disable-key", "--key-id", idB)
		if s := k.keyState(idB); s != "Disabled" {
			t.Errorf("state after disable-key = %s", s)
		}
		k.wantError("DisabledException", "kms", "encrypt", "--key-id", idB, "--plaintext", k.blob(secret))
		if _, _, stderr, err := k.tryDecrypt(blob); err == nil || !strings.Contains(stderr, "DisabledException") {
			t.Errorf("decrypt under a disabled key: err=%v %s", err, stderr)
		}
		k.run("kms", "enable-key", "--key-id", idB)
		if p, _ := k.decrypt(blob); !bytes.Equal(p, secret) {
			t.Error("decrypt after enable-key differs")
		}
	})

	t.Run("schedule and cancel deletion", func(t *testing.T) {
		idC, _ := k.createKey("--description", "to delete")
		blob, _ := k.encrypt(idC, secret)
		k.wantError("ValidationException", "kms", "schedule-key-deletion", "--key-id", idC, "--pending-window-in-days", "6")
		var sched struct {
			KeyId, KeyState     string
			PendingWindowInDays int
			DeletionDate        any
		}
		k.json(&sched, "kms", "schedule-key-deletion", "--key-id", idC, "--pending-window-in-days", "7")
		if sched.KeyState != "PendingDeletion" || sched.PendingWindowInDays != 7 || sched.DeletionDate == nil {
			t.Errorf("schedule-key-deletion = %+v", sched)
		}
		k.wantError("KMSInvalidStateException", "kms", "encrypt", "--key-id", idC, "--plaintext", k.blob(secret))
		if _, _, stderr, err := k.tryDecrypt(blob); err == nil || !strings.Contains(stderr, "KMSInvalidStateException") {
			t.Errorf("decrypt under a key pending deletion: err=%v %s", err, stderr)
		}
		k.run("kms", "cancel-key-deletion", "--key-id", idC)
		// AWS leaves a cancelled key Disabled.
		if s := k.keyState(idC); s != "Disabled" {
			t.Errorf("state after cancel-key-deletion = %s, want Disabled", s)
		}
		k.wantError("DisabledException", "kms", "encrypt", "--key-id", idC, "--plaintext", k.blob(secret))
		k.run("kms", "enable-key", "--key-id", idC)
		if p, _ := k.decrypt(blob); !bytes.Equal(p, secret) {
			t.Error("decrypt after cancel + enable differs")
		}
	})

	t.Run("rotation", func(t *testing.T) {
		var st struct{ KeyRotationEnabled bool }
		k.json(&st, "kms", "get-key-rotation-status", "--key-id", idA)
		if st.KeyRotationEnabled {
			t.Error("a new key has rotation enabled")
		}
		k.run("kms", "enable-key-rotation", "--key-id", idA)
		k.json(&st, "kms", "get-key-rotation-status", "--key-id", idA)
		if !st.KeyRotationEnabled {
			t.Error("enable-key-rotation did not stick")
		}

		// aws-cli 2.9 predates RotateKeyOnDemand and ListKeyRotations
		// (2024): the SDK, against the same binary, does those.
		sdk := kmsSDKClient(t, tg)
		ctx := context.Background()
		before, _ := k.encrypt(idA, secret)
		if _, err := sdk.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(idA)}); err != nil {
			t.Fatalf("RotateKeyOnDemand: %v", err)
		}
		rot, err := sdk.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: aws.String(idA)})
		if err != nil || len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != kmstypes.RotationTypeOnDemand {
			t.Fatalf("ListKeyRotations = %+v, %v", rot, err)
		}
		after, _ := k.encrypt(idA, secret)
		if vb, va := blobKeyVersion(t, before), blobKeyVersion(t, after); va <= vb {
			t.Errorf("encrypt after rotation used key version %d, before %d", va, vb)
		}
		for _, blob := range [][]byte{before, after} {
			if p, arn := k.decrypt(blob); !bytes.Equal(p, secret) || arn != arnA {
				t.Error("a ciphertext of an old or new key version does not decrypt")
			}
		}
	})

	t.Run("tags", func(t *testing.T) {
		k.run("kms", "tag-resource", "--key-id", idA, "--tags", "TagKey=env,TagValue=test", "TagKey=team,TagValue=sec")
		tags := func() map[string]string {
			var out struct {
				Tags []struct{ TagKey, TagValue string }
			}
			k.json(&out, "kms", "list-resource-tags", "--key-id", idA)
			m := map[string]string{}
			for _, tag := range out.Tags {
				m[tag.TagKey] = tag.TagValue
			}
			return m
		}
		if m := tags(); len(m) != 2 || m["env"] != "test" || m["team"] != "sec" {
			t.Errorf("tags after create-key and tag-resource = %v", m)
		}
		k.run("kms", "untag-resource", "--key-id", idA, "--tag-keys", "env")
		if m := tags(); len(m) != 1 || m["team"] != "sec" {
			t.Errorf("tags after untag-resource = %v", m)
		}
	})

	t.Run("generate-random", func(t *testing.T) {
		var r1, r2 struct{ Plaintext string }
		k.json(&r1, "kms", "generate-random", "--number-of-bytes", "32")
		k.json(&r2, "kms", "generate-random", "--number-of-bytes", "32")
		if a, b := b64(t, r1.Plaintext), b64(t, r2.Plaintext); len(a) != 32 || bytes.Equal(a, b) {
			t.Errorf("generate-random: %d bytes, repeated=%v", len(a), bytes.Equal(a, b))
		}
		k.wantError("ValidationException", "kms", "generate-random", "--number-of-bytes", "1025")
	})

	t.Run("wrong secret key is refused", func(t *testing.T) {
		bad := tg
		bad.SecretKey = strings.Repeat("y", 40)
		_, stderr, err := newAWS(t, bad).try("kms", "list-keys")
		// The gateway answers KMS auth failures in KMS form; record what
		// it is, and that nothing leaks.
		t.Logf("wrong secret: %s", strings.TrimSpace(stderr))
		if err == nil || !(strings.Contains(stderr, "InvalidSignatureException") || strings.Contains(stderr, "UnrecognizedClientException") || strings.Contains(stderr, "SignatureDoesNotMatch")) {
			t.Errorf("list-keys with a wrong secret: err=%v %s", err, stderr)
		}
		bad = tg
		bad.AccessKey = "AKIDUNKNOWN" + randomUpper(9)
		if _, stderr, err := newAWS(t, bad).try("kms", "list-keys"); err == nil || !(strings.Contains(stderr, "UnrecognizedClientException") || strings.Contains(stderr, "InvalidAccessKeyId")) {
			t.Errorf("list-keys with an unknown access key: err=%v %s", err, stderr)
		} else {
			t.Logf("unknown access key: %s", strings.TrimSpace(stderr))
		}
	})
}

// kmsSDKClient is an aws-sdk-go-v2 KMS client for the gateway's KMS API.
func kmsSDKClient(t *testing.T, tg target) *kms.Client {
	t.Helper()
	return kms.New(kms.Options{
		Region:       tg.Region,
		BaseEndpoint: aws.String(tg.Endpoint),
		Credentials:  awscreds.NewStaticCredentialsProvider(tg.AccessKey, tg.SecretKey, ""),
	})
}

// TestKMSEnvelopeEncryptionWithSDK is what an application does with KMS on
// its own: a data key from GenerateDataKey encrypts a file locally with
// AES-GCM; only the wrapped key is kept beside it; later Decrypt unwraps
// the key and the file decrypts.
func TestKMSEnvelopeEncryptionWithSDK(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	tg := startTarget(t, "fs")
	c := kmsSDKClient(t, tg)
	ctx := context.Background()
	created, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("e2e envelope")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	keyID := created.KeyMetadata.KeyId
	encCtx := map[string]string{"file": "report.bin"}

	file := make([]byte, 3<<20+11)
	rand.Read(file)
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: keyID, KeySpec: kmstypes.DataKeySpecAes256, EncryptionContext: encCtx})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	sealed, nonce := gcmSeal(t, dk.Plaintext, file)
	wrapped := dk.CiphertextBlob
	clear(dk.Plaintext) // as an application must: keep only the wrapped key

	// Unwrapping needs the same context, and no key id.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped}); !isAPIError(err, "InvalidCiphertextException") {
		t.Errorf("Decrypt without the context: %v, want InvalidCiphertextException", err)
	}
	out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: encCtx})
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if out.KeyId == nil || !strings.HasSuffix(*out.KeyId, *keyID) {
		t.Errorf("Decrypt names key %v, want %s", out.KeyId, *keyID)
	}
	got := gcmOpen(t, out.Plaintext, nonce, sealed)
	if !bytes.Equal(got, file) {
		t.Fatal("file decrypted with the unwrapped data key differs")
	}

	// With the key disabled the wrapped key stays locked.
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wrapped, EncryptionContext: encCtx}); !isAPIError(err, "DisabledException") {
		t.Errorf("Decrypt under a disabled key: %v, want DisabledException", err)
	}
}

func isAPIError(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func gcmSeal(t *testing.T, key, plaintext []byte) (sealed, nonce []byte) {
	t.Helper()
	aead := newGCM(t, key)
	nonce = make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nil, nonce, plaintext, nil), nonce
}

func gcmOpen(t *testing.T, key, nonce, sealed []byte) []byte {
	t.Helper()
	p, err := newGCM(t, key).Open(nil, nonce, sealed, nil)
	if err != nil {
		t.Fatalf("open with the unwrapped data key: %v", err)
	}
	return p
}

func newGCM(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
