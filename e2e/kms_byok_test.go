package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireOpenSSL fails under CI (a missing dependency is a failure there)
// and skips elsewhere.
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not found (required under CI)")
		}
		t.Skip("openssl not found")
	}
	return p
}

// TestKMSImportedKeyMaterialWithOpenSSL is issue 11's BYOK proof: key
// material made and wrapped outside ssegate with openssl, imported with
// aws-cli, protecting an S3 object; deleting the material makes the object
// unreadable, re-importing the same material makes it readable again,
// and material past its ValidTo stops working by itself.
func TestKMSImportedKeyMaterialWithOpenSSL(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	openssl := requireOpenSSL(t)
	tg := startTarget(t, "fs")
	k := newKMSCLI(t, tg)
	dir := t.TempDir()

	var created struct {
		KeyMetadata struct{ KeyId, KeyState, Origin string }
	}
	k.json(&created, "kms", "create-key", "--origin", "EXTERNAL")
	key := created.KeyMetadata.KeyId
	if created.KeyMetadata.KeyState != "PendingImport" || created.KeyMetadata.Origin != "EXTERNAL" {
		t.Fatalf("create-key --origin EXTERNAL = %+v", created.KeyMetadata)
	}
	k.wantError("KMSInvalidStateException", "kms", "encrypt", "--key-id", key, "--plaintext", k.blob([]byte("x")))

	material := make([]byte, 32)
	rand.Read(material)
	materialFile := filepath.Join(dir, "material.bin")
	if err := os.WriteFile(materialFile, material, 0o600); err != nil {
		t.Fatal(err)
	}
	importMaterial := func(materialFile string, extra ...string) error {
		t.Helper()
		var params struct{ ImportToken, PublicKey string }
		k.json(&params, "kms", "get-parameters-for-import", "--key-id", key,
			"--wrapping-algorithm", "RSAES_OAEP_SHA_256", "--wrapping-key-spec", "RSA_2048")
		pub := filepath.Join(dir, "pub.der")
		wrapped := filepath.Join(dir, "wrapped.bin")
		os.WriteFile(pub, b64(t, params.PublicKey), 0o600)
		runCmd(t, nil, openssl, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", materialFile, "-out", wrapped,
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
		w, err := os.ReadFile(wrapped)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range extra {
			if a == validToSoon {
				// Computed at the last moment: aws-cli and openssl take seconds here.
				extra[i] = time.Now().Add(15 * time.Second).UTC().Format(time.RFC3339)
			}
		}
		args := append([]string{"kms", "import-key-material", "--key-id", key,
			"--import-token", k.blob(b64(t, params.ImportToken)), "--encrypted-key-material", k.blob(w)}, extra...)
		_, stderr, err := k.try(args...)
		if err != nil {
			return &cliError{stderr}
		}
		return nil
	}
	if err := importMaterial(materialFile, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE"); err != nil {
		t.Fatalf("import-key-material: %v", err)
	}
	var desc struct {
		KeyMetadata struct{ KeyState, Origin, ExpirationModel string }
	}
	k.json(&desc, "kms", "describe-key", "--key-id", key)
	if desc.KeyMetadata.KeyState != "Enabled" || desc.KeyMetadata.Origin != "EXTERNAL" || desc.KeyMetadata.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" {
		t.Fatalf("describe-key after import = %+v", desc.KeyMetadata)
	}
	blob, _ := k.encrypt(key, []byte("byok"))
	if pt, _ := k.decrypt(blob); string(pt) != "byok" {
		t.Fatalf("decrypt = %q", pt)
	}

	// An S3 object under the imported key.
	bucket := bucketName("byok")
	k.run("s3api", "create-bucket", "--bucket", bucket)
	body := filepath.Join(dir, "body")
	want := writeRandomFile(t, body, 10_000)
	k.run("s3api", "put-object", "--bucket", bucket, "--key", "obj", "--body", body,
		"--server-side-encryption", "aws:kms", "--ssekms-key-id", key)
	get := func() (string, error) {
		out := filepath.Join(dir, "got-"+randomHex(4))
		_, stderr, err := k.try("s3api", "get-object", "--bucket", bucket, "--key", "obj", out)
		if err != nil {
			return stderr, err
		}
		if got := mustRead(t, out); !bytes.Equal(got, want) {
			t.Fatal("object read back differs")
		}
		return "", nil
	}
	if stderr, err := get(); err != nil {
		t.Fatalf("get-object under the imported key: %v\n%s", err, stderr)
	}

	k.run("kms", "delete-imported-key-material", "--key-id", key)
	if s := k.keyState(key); s != "PendingImport" {
		t.Fatalf("state after delete-imported-key-material = %s", s)
	}
	if stderr, err := get(); err == nil || !strings.Contains(stderr, "KMS.") {
		t.Fatalf("get-object after the material was deleted: err=%v %s; want a KMS error", err, stderr)
	}
	k.wantError("KMSInvalidStateException", "kms", "decrypt", "--ciphertext-blob", k.blob(blob))

	// Other material is refused; the same material restores everything.
	other := make([]byte, 32)
	rand.Read(other)
	otherFile := filepath.Join(dir, "other.bin")
	os.WriteFile(otherFile, other, 0o600)
	if err := importMaterial(otherFile, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE"); err == nil || !strings.Contains(err.Error(), "IncorrectKeyMaterialException") {
		t.Fatalf("import of other material: %v, want IncorrectKeyMaterialException", err)
	}
	k.wantError("InvalidImportTokenException", "kms", "import-key-material", "--key-id", key,
		"--import-token", k.blob([]byte("forged")), "--encrypted-key-material", k.blob([]byte("x")),
		"--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE")
	k.wantError("ValidationException", "kms", "import-key-material", "--key-id", key,
		"--import-token", k.blob([]byte("forged")), "--encrypted-key-material", k.blob([]byte("x")),
		"--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if err := importMaterial(materialFile, "--expiration-model", "KEY_MATERIAL_DOES_NOT_EXPIRE"); err != nil {
		t.Fatalf("re-import of the same material: %v", err)
	}
	if stderr, err := get(); err != nil {
		t.Fatalf("get-object after re-import: %v\n%s", err, stderr)
	}
	if pt, _ := k.decrypt(blob); string(pt) != "byok" {
		t.Fatalf("decrypt after re-import = %q", pt)
	}

	// Material with a ValidTo a few seconds ahead stops working when it
	// passes (checked on use; maintenance later marks the key).
	if err := importMaterial(materialFile, "--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", validToSoon); err != nil {
		t.Fatalf("import with ValidTo: %v", err)
	}
	k.json(&desc, "kms", "describe-key", "--key-id", key)
	if desc.KeyMetadata.ExpirationModel != "KEY_MATERIAL_EXPIRES" {
		t.Fatalf("ExpirationModel = %q", desc.KeyMetadata.ExpirationModel)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, _, stderr, err := k.tryDecrypt(blob)
		if err != nil {
			if !strings.Contains(stderr, "KMSInvalidStateException") {
				t.Fatalf("decrypt after ValidTo: %s", stderr)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("material still usable long after its ValidTo")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if stderr, err := get(); err == nil || !strings.Contains(stderr, "KMS.") {
		t.Fatalf("get-object after ValidTo: err=%v %s; want a KMS error", err, stderr)
	}
}

const validToSoon = "VALID-TO-SOON"

type cliError struct{ stderr string }

func (e *cliError) Error() string { return e.stderr }
