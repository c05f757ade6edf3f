package kmstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"slices"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"

	_ "crypto/sha512" // SHA-384 for ECDSA_SHA_384
)

// runAsymmetric: asymmetric and HMAC keys (issue 11 part A). Every
// signature and RSA ciphertext is also checked with Go's crypto against
// the DER public key GetPublicKey returns, so the service can't agree
// with itself on a wrong answer.
func runAsymmetric(t *testing.T, newService func(t *testing.T) kms.Service) {
	t.Run("SignaturesVerifyWithGoCryptoAndTamperingIsInvalidSignature", func(t *testing.T) {
		s := newService(t)
		a := need[Asymmetric](t, s)
		ctx := context.Background()
		keys := map[string]kms.KeyMetadata{}
		for _, spec := range []string{"RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384"} {
			keys[spec] = createSpecKey(t, s, spec, "SIGN_VERIFY")
		}
		msg := []byte("the message ssegate signs")
		for _, tc := range []struct {
			spec, alg string
			hash      crypto.Hash
		}{
			{"RSA_2048", "RSASSA_PSS_SHA_256", crypto.SHA256},
			{"RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", crypto.SHA256},
			{"ECC_NIST_P256", "ECDSA_SHA_256", crypto.SHA256},
			{"ECC_NIST_P384", "ECDSA_SHA_384", crypto.SHA384},
		} {
			md := keys[tc.spec]
			h := tc.hash.New()
			h.Write(msg)
			digest := h.Sum(nil)
			for _, msgType := range []string{"RAW", "DIGEST"} {
				t.Run(tc.alg+"/"+msgType, func(t *testing.T) {
					pk, err := a.GetPublicKey(ctx, md.KeyID)
					if err != nil {
						t.Fatalf("GetPublicKey: %v", err)
					}
					if pk.KeyID != md.ARN || pk.KeySpec != tc.spec || pk.KeyUsage != "SIGN_VERIFY" || !slices.Contains(pk.SigningAlgorithms, tc.alg) {
						t.Fatalf("GetPublicKey = %s %s %s %v; want %s %s SIGN_VERIFY with %s", pk.KeyID, pk.KeySpec, pk.KeyUsage, pk.SigningAlgorithms, md.ARN, tc.spec, tc.alg)
					}
					pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
					if err != nil {
						t.Fatalf("public key DER does not parse: %v", err)
					}
					in := msg
					if msgType == "DIGEST" {
						in = digest
					}
					sig, err := a.Sign(ctx, kms.SignInput{KeyID: md.KeyID, Message: in, MessageType: msgType, SigningAlgorithm: tc.alg})
					if err != nil {
						t.Fatalf("Sign: %v", err)
					}
					if sig.KeyID != md.ARN || sig.SigningAlgorithm != tc.alg {
						t.Fatalf("Sign answered key %s algorithm %s", sig.KeyID, sig.SigningAlgorithm)
					}
					goVerify(t, pub, tc.alg, tc.hash, digest, sig.Signature)

					// The service verifies its own signature, either form
					// of the message (RAW and DIGEST sign the same digest).
					for _, v := range []struct {
						msg  []byte
						kind string
					}{{msg, "RAW"}, {digest, "DIGEST"}} {
						arn, err := a.Verify(ctx, kms.VerifyInput{KeyID: md.ARN, Message: v.msg, MessageType: v.kind, SigningAlgorithm: tc.alg, Signature: sig.Signature})
						if err != nil || arn != md.ARN {
							t.Fatalf("Verify(%s) = %q, %v; want %s", v.kind, arn, err, md.ARN)
						}
					}
					tamperedMsg := bytes.Clone(in)
					tamperedMsg[0] ^= 1
					_, err = a.Verify(ctx, kms.VerifyInput{KeyID: md.KeyID, Message: tamperedMsg, MessageType: msgType, SigningAlgorithm: tc.alg, Signature: sig.Signature})
					wantErr(t, err, kms.ErrInvalidSignature)
					tamperedSig := bytes.Clone(sig.Signature)
					tamperedSig[len(tamperedSig)/2] ^= 1
					_, err = a.Verify(ctx, kms.VerifyInput{KeyID: md.KeyID, Message: in, MessageType: msgType, SigningAlgorithm: tc.alg, Signature: tamperedSig})
					wantErr(t, err, kms.ErrInvalidSignature)
				})
			}
		}
	})

	t.Run("RSAOAEPFromGoCryptoDecryptsAndTamperingIsInvalidCiphertext", func(t *testing.T) {
		s := newService(t)
		a := need[Asymmetric](t, s)
		ctx := context.Background()
		md := createSpecKey(t, s, "RSA_2048", "ENCRYPT_DECRYPT")
		pk, err := a.GetPublicKey(ctx, md.KeyID)
		if err != nil {
			t.Fatalf("GetPublicKey: %v", err)
		}
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil {
			t.Fatalf("public key DER does not parse: %v", err)
		}
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok || rsaPub.Size() != 256 {
			t.Fatalf("public key is %T, want a 2048-bit RSA key", pub)
		}
		for _, tc := range []struct {
			alg  string
			hash func() hash.Hash
		}{{"RSAES_OAEP_SHA_256", sha256.New}, {"RSAES_OAEP_SHA_1", sha1.New}} {
			t.Run(tc.alg, func(t *testing.T) {
				if !slices.Contains(pk.EncryptionAlgorithms, tc.alg) {
					t.Fatalf("EncryptionAlgorithms %v lack %s", pk.EncryptionAlgorithms, tc.alg)
				}
				secret := []byte("wrapped by a client that only has the public key")
				ct, err := rsa.EncryptOAEP(tc.hash(), rand.Reader, rsaPub, secret, nil)
				if err != nil {
					t.Fatal(err)
				}
				out, err := a.DecryptRSA(ctx, kms.AsymmetricInput{KeyID: md.ARN, Data: ct, Algorithm: tc.alg})
				if err != nil || !bytes.Equal(out.Plaintext, secret) || out.KeyID != md.ARN {
					t.Fatalf("DecryptRSA = %q (%s), %v; want the secret", out.Plaintext, out.KeyID, err)
				}
				// The service's own ciphertext decrypts too.
				enc, err := a.EncryptRSA(ctx, kms.AsymmetricInput{KeyID: md.KeyID, Data: secret, Algorithm: tc.alg})
				if err != nil || enc.KeyID != md.ARN || len(enc.CiphertextBlob) != 256 {
					t.Fatalf("EncryptRSA = %d bytes (%s), %v", len(enc.CiphertextBlob), enc.KeyID, err)
				}
				out, err = a.DecryptRSA(ctx, kms.AsymmetricInput{KeyID: md.KeyID, Data: enc.CiphertextBlob, Algorithm: tc.alg})
				if err != nil || !bytes.Equal(out.Plaintext, secret) {
					t.Fatalf("DecryptRSA(EncryptRSA) = %q, %v", out.Plaintext, err)
				}
				tampered := bytes.Clone(ct)
				tampered[10] ^= 1
				out, err = a.DecryptRSA(ctx, kms.AsymmetricInput{KeyID: md.KeyID, Data: tampered, Algorithm: tc.alg})
				wantErr(t, err, kms.ErrInvalidCiphertext)
				if len(out.Plaintext) != 0 {
					t.Fatal("failed DecryptRSA returned plaintext")
				}
			})
		}
		// The other OAEP hash does not open the ciphertext.
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, []byte("x"), nil)
		_, err = a.DecryptRSA(ctx, kms.AsymmetricInput{KeyID: md.KeyID, Data: ct, Algorithm: "RSAES_OAEP_SHA_1"})
		wantErr(t, err, kms.ErrInvalidCiphertext)
	})

	t.Run("HMACGenerateVerifyAndWrongMacIsInvalidMac", func(t *testing.T) {
		s := newService(t)
		m := need[MAC](t, s)
		ctx := context.Background()
		md := createSpecKey(t, s, "HMAC_256", "GENERATE_VERIFY_MAC")
		msg := []byte("authenticate me")
		out, err := m.GenerateMac(ctx, kms.MacInput{KeyID: md.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_256"})
		if err != nil {
			t.Fatalf("GenerateMac: %v", err)
		}
		if len(out.Mac) != 32 || out.KeyID != md.ARN || out.MacAlgorithm != "HMAC_SHA_256" {
			t.Fatalf("GenerateMac = %d bytes, %s, %s", len(out.Mac), out.KeyID, out.MacAlgorithm)
		}
		again, err := m.GenerateMac(ctx, kms.MacInput{KeyID: md.ARN, Message: msg, MacAlgorithm: "HMAC_SHA_256"})
		if err != nil || !bytes.Equal(again.Mac, out.Mac) {
			t.Fatalf("GenerateMac is not deterministic: %v", err)
		}
		arn, err := m.VerifyMac(ctx, kms.MacInput{KeyID: md.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_256", Mac: out.Mac})
		if err != nil || arn != md.ARN {
			t.Fatalf("VerifyMac = %q, %v; want %s", arn, err, md.ARN)
		}
		wrong := bytes.Clone(out.Mac)
		wrong[31] ^= 1
		_, err = m.VerifyMac(ctx, kms.MacInput{KeyID: md.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_256", Mac: wrong})
		wantErr(t, err, kms.ErrInvalidMac)
		_, err = m.VerifyMac(ctx, kms.MacInput{KeyID: md.KeyID, Message: []byte("authenticate mE"), MacAlgorithm: "HMAC_SHA_256", Mac: out.Mac})
		wantErr(t, err, kms.ErrInvalidMac)
		// Another HMAC key's MAC of the same message is wrong here.
		other := createSpecKey(t, s, "HMAC_256", "GENERATE_VERIFY_MAC")
		_, err = m.VerifyMac(ctx, kms.MacInput{KeyID: other.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_256", Mac: out.Mac})
		wantErr(t, err, kms.ErrInvalidMac)
	})

	t.Run("WrongKeyUsageIsInvalidKeyUsage", func(t *testing.T) {
		s := newService(t)
		a := need[Asymmetric](t, s)
		m := need[MAC](t, s)
		ctx := context.Background()
		sym := createKey(t, s, "")
		signP256 := createSpecKey(t, s, "ECC_NIST_P256", "SIGN_VERIFY")
		encRSA := createSpecKey(t, s, "RSA_2048", "ENCRYPT_DECRYPT")
		mac := createSpecKey(t, s, "HMAC_256", "GENERATE_VERIFY_MAC")
		msg := []byte("m")
		cases := []struct {
			name string
			call func() error
		}{
			{"Sign with a symmetric key", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: sym.KeyID, Message: msg, SigningAlgorithm: "ECDSA_SHA_256"})
				return err
			}},
			{"Sign with an ENCRYPT_DECRYPT RSA key", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: encRSA.KeyID, Message: msg, SigningAlgorithm: "RSASSA_PSS_SHA_256"})
				return err
			}},
			{"Sign with a P-256 key and a P-384 algorithm", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: signP256.KeyID, Message: msg, SigningAlgorithm: "ECDSA_SHA_384"})
				return err
			}},
			{"EncryptRSA with a SIGN_VERIFY key", func() error {
				_, err := a.EncryptRSA(ctx, kms.AsymmetricInput{KeyID: signP256.KeyID, Data: msg, Algorithm: "RSAES_OAEP_SHA_256"})
				return err
			}},
			{"GenerateMac with a symmetric key", func() error {
				_, err := m.GenerateMac(ctx, kms.MacInput{KeyID: sym.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_256"})
				return err
			}},
			{"GenerateMac with a MAC algorithm of another size", func() error {
				_, err := m.GenerateMac(ctx, kms.MacInput{KeyID: mac.KeyID, Message: msg, MacAlgorithm: "HMAC_SHA_512"})
				return err
			}},
			{"Encrypt with an HMAC key", func() error {
				_, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: mac.KeyID, Plaintext: msg})
				return err
			}},
			{"GenerateDataKey with an RSA key", func() error {
				_, err := s.GenerateDataKey(ctx, kms.GenerateDataKeyInput{KeyID: encRSA.KeyID})
				return err
			}},
			{"GenerateDataKeyPair under a SIGN_VERIFY key", func() error {
				_, err := a.GenerateDataKeyPair(ctx, kms.DataKeyPairInput{KeyID: signP256.KeyID, KeyPairSpec: "ECC_NIST_P256"})
				return err
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), kms.ErrInvalidKeyUsage) })
		}
	})

	t.Run("MalformedAsymmetricAndMacRequestsAreValidationErrors", func(t *testing.T) {
		s := newService(t)
		a := need[Asymmetric](t, s)
		m := need[MAC](t, s)
		ctx := context.Background()
		sign := createSpecKey(t, s, "ECC_NIST_P256", "SIGN_VERIFY")
		mac := createSpecKey(t, s, "HMAC_256", "GENERATE_VERIFY_MAC")
		sym := createKey(t, s, "")
		cases := []struct {
			name string
			call func() error
		}{
			{"Sign without an algorithm", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: sign.KeyID, Message: []byte("m")})
				return err
			}},
			{"Sign a DIGEST of the wrong length", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: sign.KeyID, Message: make([]byte, 31), MessageType: "DIGEST", SigningAlgorithm: "ECDSA_SHA_256"})
				return err
			}},
			{"Sign an empty message", func() error {
				_, err := a.Sign(ctx, kms.SignInput{KeyID: sign.KeyID, SigningAlgorithm: "ECDSA_SHA_256"})
				return err
			}},
			{"GenerateMac of an empty message", func() error {
				_, err := m.GenerateMac(ctx, kms.MacInput{KeyID: mac.KeyID, MacAlgorithm: "HMAC_SHA_256"})
				return err
			}},
			{"GenerateDataKeyPair of an unknown spec", func() error {
				_, err := a.GenerateDataKeyPair(ctx, kms.DataKeyPairInput{KeyID: sym.KeyID, KeyPairSpec: "RSA_1024"})
				return err
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), kms.ErrValidation) })
		}
	})

	t.Run("DataKeyPairPrivateKeyDecryptsFromBlobAndMatchesPublicKey", func(t *testing.T) {
		s := newService(t)
		a := need[Asymmetric](t, s)
		ctx := context.Background()
		md := createKey(t, s, "")
		ec := kms.EncryptionContext{"purpose": "data key pair"}
		for _, spec := range []string{"ECC_NIST_P256", "RSA_2048"} {
			t.Run(spec, func(t *testing.T) {
				p, err := a.GenerateDataKeyPair(ctx, kms.DataKeyPairInput{KeyID: md.KeyID, Context: ec, KeyPairSpec: spec})
				if err != nil {
					t.Fatalf("GenerateDataKeyPair: %v", err)
				}
				if p.KeyID != md.ARN || p.KeyPairSpec != spec {
					t.Fatalf("pair is %s under %s; want %s under %s", p.KeyPairSpec, p.KeyID, spec, md.ARN)
				}
				if bytes.Contains(p.PrivateKeyCiphertextBlob, p.PrivateKeyPlaintext) {
					t.Fatal("ciphertext blob contains the plaintext private key")
				}
				checkPair(t, p.PrivateKeyPlaintext, p.PublicKey)
				out, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: p.PrivateKeyCiphertextBlob, Context: ec})
				if err != nil || !bytes.Equal(out.Plaintext, p.PrivateKeyPlaintext) || out.KeyID != md.ARN {
					t.Fatalf("Decrypt(private key blob): %v; want the plaintext private key", err)
				}
				_, err = s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: p.PrivateKeyCiphertextBlob})
				wantErr(t, err, kms.ErrInvalidCiphertext)

				np, err := a.GenerateDataKeyPairWithoutPlaintext(ctx, kms.DataKeyPairInput{KeyID: md.ARN, Context: ec, KeyPairSpec: spec})
				if err != nil {
					t.Fatalf("GenerateDataKeyPairWithoutPlaintext: %v", err)
				}
				if len(np.PrivateKeyPlaintext) != 0 {
					t.Fatal("...WithoutPlaintext returned the plaintext private key")
				}
				out, err = s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: np.PrivateKeyCiphertextBlob, Context: ec})
				if err != nil {
					t.Fatalf("Decrypt(private key blob without plaintext): %v", err)
				}
				checkPair(t, out.Plaintext, np.PublicKey)
				if bytes.Equal(np.PublicKey, p.PublicKey) {
					t.Fatal("two data key pairs have the same public key")
				}
			})
		}
	})
}

// goVerify checks a signature over digest with Go's crypto only.
func goVerify(t *testing.T, pub any, alg string, h crypto.Hash, digest, sig []byte) {
	t.Helper()
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RSASSA_PSS_") {
			// AWS KMS uses a salt as long as the hash.
			err = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest, sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			t.Fatal("crypto/ecdsa rejects the service's ECDSA signature")
		}
	default:
		t.Fatalf("public key is %T", pub)
	}
	if err != nil {
		t.Fatalf("crypto/rsa rejects the service's %s signature: %v", alg, err)
	}
}

// checkPair parses a PKCS#8 private key and checks it is the private half
// of a DER SubjectPublicKeyInfo.
func checkPair(t *testing.T, privDER, pubDER []byte) {
	t.Helper()
	priv, err := x509.ParsePKCS8PrivateKey(privDER)
	if err != nil {
		t.Fatalf("private key is not PKCS#8: %v", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		t.Fatalf("private key is %T, not a signer", priv)
	}
	derived, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(derived, pubDER) {
		t.Fatal("the private key does not match the public key")
	}
}
