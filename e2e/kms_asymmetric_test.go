package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openssl runs openssl and fails the test on error.
func openssl(t *testing.T, args ...string) string {
	t.Helper()
	bin := requireTool(t, "openssl")
	out, _ := runCmd(t, cleanEnv(), bin, args...)
	return out
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// publicKeyPEM fetches a key's public key with get-public-key and converts
// it (DER SubjectPublicKeyInfo) to PEM with openssl, which also checks that
// it parses outside ssegate.
func publicKeyPEM(t *testing.T, k *kmsCLI, keyID, dir string) string {
	t.Helper()
	var out struct{ PublicKey, KeySpec, KeyUsage string }
	k.json(&out, "kms", "get-public-key", "--key-id", keyID)
	der := writeFile(t, dir, keyID+".der", b64(t, out.PublicKey))
	pem := filepath.Join(dir, keyID+".pem")
	openssl(t, "pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem)
	return pem
}

// createSpecKey creates a key of spec and usage and checks DescribeKey's
// answer names them.
func createSpecKey(t *testing.T, k *kmsCLI, spec, usage string) (id, arn string) {
	t.Helper()
	var out struct {
		KeyMetadata struct{ KeyId, Arn, KeyState, KeySpec, KeyUsage string }
	}
	k.json(&out, "kms", "create-key", "--key-spec", spec, "--key-usage", usage)
	m := out.KeyMetadata
	if m.KeyId == "" || m.KeyState != "Enabled" || m.KeySpec != spec || m.KeyUsage != usage {
		t.Fatalf("create-key %s %s = %+v", spec, usage, m)
	}
	return m.KeyId, m.Arn
}

// TestKMSAsymmetricAndHMACWithAWSCLIAndOpenSSL is issue 11's proof for
// asymmetric and HMAC keys: signatures made by ssegate verify with openssl,
// data encrypted by openssl with the public key decrypts in ssegate, MACs
// verify, and keys refuse the wrong purpose.
func TestKMSAsymmetricAndHMACWithAWSCLIAndOpenSSL(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	tg := startTarget(t, "fs")
	k := newKMSCLI(t, tg)
	dir := t.TempDir()
	msg := writeFile(t, dir, "msg", []byte("a message signed by ssegate "+randomHex(8)))
	other := writeFile(t, dir, "other", []byte("another message"))

	sign := func(keyID, alg string) string {
		t.Helper()
		var out struct{ Signature, SigningAlgorithm string }
		k.json(&out, "kms", "sign", "--key-id", keyID, "--message", "fileb://"+msg, "--message-type", "RAW", "--signing-algorithm", alg)
		if out.SigningAlgorithm != alg {
			t.Fatalf("sign %s: algorithm %q", alg, out.SigningAlgorithm)
		}
		return writeFile(t, dir, "sig-"+alg, b64(t, out.Signature))
	}
	verifyKMS := func(keyID, alg, sig, message string) (bool, string) {
		t.Helper()
		out, stderr, err := k.try("kms", "verify", "--key-id", keyID, "--message", "fileb://"+message, "--message-type", "RAW",
			"--signing-algorithm", alg, "--signature", "fileb://"+sig)
		if err != nil {
			return false, stderr
		}
		return strings.Contains(out, `"SignatureValid": true`), ""
	}

	t.Run("RSA signatures verify with openssl", func(t *testing.T) {
		id, _ := createSpecKey(t, k, "RSA_2048", "SIGN_VERIFY")
		pem := publicKeyPEM(t, k, id, dir)
		for alg, opts := range map[string][]string{
			"RSASSA_PSS_SHA_256":        {"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"},
			"RSASSA_PKCS1_V1_5_SHA_256": nil,
		} {
			sig := sign(id, alg)
			args := append([]string{"dgst", "-sha256", "-verify", pem}, opts...)
			if out := openssl(t, append(args, "-signature", sig, msg)...); !strings.Contains(out, "Verified OK") {
				t.Errorf("openssl does not verify %s: %q", alg, out)
			}
			if ok, stderr := verifyKMS(id, alg, sig, msg); !ok {
				t.Errorf("kms verify %s: %s", alg, stderr)
			}
			if ok, stderr := verifyKMS(id, alg, sig, other); ok || !strings.Contains(stderr, "KMSInvalidSignatureException") {
				t.Errorf("kms verify of another message with the %s signature: valid=%v %s", alg, ok, stderr)
			}
		}
	})

	t.Run("ECDSA signatures verify with openssl", func(t *testing.T) {
		for spec, hash := range map[string]string{"ECC_NIST_P256": "sha256", "ECC_NIST_P384": "sha384"} {
			id, _ := createSpecKey(t, k, spec, "SIGN_VERIFY")
			pem := publicKeyPEM(t, k, id, dir)
			alg := "ECDSA_SHA_" + strings.TrimPrefix(hash, "sha")
			sig := sign(id, alg)
			if out := openssl(t, "dgst", "-"+hash, "-verify", pem, "-signature", sig, msg); !strings.Contains(out, "Verified OK") {
				t.Errorf("openssl does not verify %s %s: %q", spec, alg, out)
			}
			k.wantError("InvalidKeyUsageException", "kms", "encrypt", "--key-id", id, "--plaintext", "fileb://"+msg)
		}
	})

	t.Run("openssl encrypts with the public key, ssegate decrypts", func(t *testing.T) {
		id, _ := createSpecKey(t, k, "RSA_3072", "ENCRYPT_DECRYPT")
		pem := publicKeyPEM(t, k, id, dir)
		secret := []byte("wrapped by openssl " + randomHex(8))
		in := writeFile(t, dir, "secret", secret)
		ct := filepath.Join(dir, "secret.enc")
		openssl(t, "pkeyutl", "-encrypt", "-pubin", "-inkey", pem, "-in", in, "-out", ct,
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
		var out struct{ Plaintext, EncryptionAlgorithm string }
		k.json(&out, "kms", "decrypt", "--key-id", id, "--encryption-algorithm", "RSAES_OAEP_SHA_256", "--ciphertext-blob", "fileb://"+ct)
		if got := b64(t, out.Plaintext); !bytes.Equal(got, secret) {
			t.Errorf("decrypt = %q, want %q", got, secret)
		}
		// An RSA key does not make data keys.
		k.wantError("InvalidKeyUsageException", "kms", "generate-data-key", "--key-id", id, "--key-spec", "AES_256")
	})

	t.Run("HMAC", func(t *testing.T) {
		id, _ := createSpecKey(t, k, "HMAC_256", "GENERATE_VERIFY_MAC")
		var out struct{ Mac, MacAlgorithm string }
		k.json(&out, "kms", "generate-mac", "--key-id", id, "--message", "fileb://"+msg, "--mac-algorithm", "HMAC_SHA_256")
		mac := writeFile(t, dir, "mac", b64(t, out.Mac))
		if len(b64(t, out.Mac)) != 32 {
			t.Fatalf("HMAC_SHA_256 of %d bytes", len(b64(t, out.Mac)))
		}
		got := k.run("kms", "verify-mac", "--key-id", id, "--message", "fileb://"+msg, "--mac-algorithm", "HMAC_SHA_256", "--mac", "fileb://"+mac)
		if !strings.Contains(got, `"MacValid": true`) {
			t.Errorf("verify-mac = %s", got)
		}
		k.wantError("KMSInvalidMacException", "kms", "verify-mac", "--key-id", id, "--message", "fileb://"+other, "--mac-algorithm", "HMAC_SHA_256", "--mac", "fileb://"+mac)
		k.wantError("InvalidKeyUsageException", "kms", "sign", "--key-id", id, "--message", "fileb://"+msg, "--message-type", "RAW", "--signing-algorithm", "ECDSA_SHA_256")
		k.wantError("UnsupportedOperationException", "kms", "enable-key-rotation", "--key-id", id)
	})

	t.Run("data key pairs parse with openssl and match their public key", func(t *testing.T) {
		wrap, _ := k.createKey()
		var out struct{ PrivateKeyPlaintext, PrivateKeyCiphertextBlob, PublicKey, KeyPairSpec string }
		k.json(&out, "kms", "generate-data-key-pair", "--key-id", wrap, "--key-pair-spec", "ECC_NIST_P256")
		priv := writeFile(t, dir, "pair.der", b64(t, out.PrivateKeyPlaintext))
		derived := filepath.Join(dir, "pair-pub.der")
		openssl(t, "pkey", "-inform", "DER", "-in", priv, "-pubout", "-outform", "DER", "-out", derived)
		if !bytes.Equal(mustRead(t, derived), b64(t, out.PublicKey)) {
			t.Error("the public key does not belong to the private key")
		}
		plain, _ := k.decrypt(b64(t, out.PrivateKeyCiphertextBlob))
		if !bytes.Equal(plain, b64(t, out.PrivateKeyPlaintext)) {
			t.Error("the encrypted private key does not decrypt to the plaintext one")
		}
	})
}
