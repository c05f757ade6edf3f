package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func newSDKClient(t testing.TB, tc *testCore) *awskms.Client {
	t.Helper()
	srv := httptest.NewServer(callerMiddleware(NewHandler(tc.Core, nil)))
	t.Cleanup(srv.Close)
	return awskms.New(awskms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("x", "y", ""),
		RetryMaxAttempts: 1,
	})
}

func sdkKey(t testing.TB, c *awskms.Client, spec types.KeySpec, usage types.KeyUsageType) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	return aws.ToString(out.KeyMetadata.KeyId)
}

// wantAPIError checks the AWS error code an SDK call failed with.
func wantAPIError(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

func TestCreateKeyReportsAlgorithmsPerSpecAndRefusesBadCombinations(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	ok := []struct {
		spec          types.KeySpec
		usage         types.KeyUsageType
		enc, sign, mc int
	}{
		{types.KeySpecSymmetricDefault, "", 1, 0, 0},
		{types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt, 2, 0, 0},
		{types.KeySpecRsa3072, types.KeyUsageTypeSignVerify, 0, 6, 0},
		{types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify, 0, 1, 0},
		{types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify, 0, 1, 0},
		{types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify, 0, 1, 0},
		{types.KeySpecHmac224, types.KeyUsageTypeGenerateVerifyMac, 0, 0, 1},
		{types.KeySpecHmac512, types.KeyUsageTypeGenerateVerifyMac, 0, 0, 1},
	}
	for _, k := range ok {
		id := sdkKey(t, c, k.spec, k.usage)
		d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
		if err != nil {
			t.Fatal(err)
		}
		m := d.KeyMetadata
		if m.KeySpec != k.spec || len(m.EncryptionAlgorithms) != k.enc || len(m.SigningAlgorithms) != k.sign || len(m.MacAlgorithms) != k.mc {
			t.Errorf("%s: spec %s enc %v sign %v mac %v", k.spec, m.KeySpec, m.EncryptionAlgorithms, m.SigningAlgorithms, m.MacAlgorithms)
		}
	}
	bad := []struct {
		spec  types.KeySpec
		usage types.KeyUsageType
		code  string
	}{
		{types.KeySpecEccNistP256, "", "ValidationException"}, // default ENCRYPT_DECRYPT doesn't fit ECC
		{types.KeySpecHmac256, "", "ValidationException"},
		{types.KeySpecHmac256, types.KeyUsageTypeSignVerify, "ValidationException"},
		{types.KeySpecRsa2048, types.KeyUsageTypeGenerateVerifyMac, "ValidationException"},
		{types.KeySpecSymmetricDefault, types.KeyUsageTypeSignVerify, "ValidationException"},
		{"RSA_1024", types.KeyUsageTypeSignVerify, "ValidationException"},
		{types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify, "UnsupportedOperationException"},
	}
	for _, k := range bad {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: k.spec, KeyUsage: k.usage})
		wantAPIError(t, err, k.code)
	}
}

func TestSignaturesVerifyWithTheStandardLibraryAndKMS(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	rsaKey := sdkKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	cases := []struct {
		key string
		alg types.SigningAlgorithmSpec
	}{
		{rsaKey, types.SigningAlgorithmSpecRsassaPssSha256},
		{rsaKey, types.SigningAlgorithmSpecRsassaPssSha512},
		{rsaKey, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256},
		{rsaKey, types.SigningAlgorithmSpecRsassaPkcs1V15Sha384},
		{sdkKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify), types.SigningAlgorithmSpecEcdsaSha256},
		{sdkKey(t, c, types.KeySpecEccNistP384, types.KeyUsageTypeSignVerify), types.SigningAlgorithmSpecEcdsaSha384},
		{sdkKey(t, c, types.KeySpecEccNistP521, types.KeyUsageTypeSignVerify), types.SigningAlgorithmSpecEcdsaSha512},
	}
	msg := []byte("the message")
	for _, tt := range cases {
		t.Run(string(tt.alg), func(t *testing.T) {
			a := signingAlgorithms[string(tt.alg)]
			s, err := c.Sign(ctx, &awskms.SignInput{KeyId: &tt.key, Message: msg, SigningAlgorithm: tt.alg})
			if err != nil {
				t.Fatal(err)
			}
			pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &tt.key})
			if err != nil {
				t.Fatal(err)
			}
			pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			h := a.hash.New()
			h.Write(msg)
			digest := h.Sum(nil)
			var stdOK bool
			switch p := pub.(type) {
			case *rsa.PublicKey:
				if a.pss {
					stdOK = rsa.VerifyPSS(p, a.hash, digest, s.Signature, &rsa.PSSOptions{SaltLength: a.hash.Size()}) == nil
				} else {
					stdOK = rsa.VerifyPKCS1v15(p, a.hash, digest, s.Signature) == nil
				}
			case *ecdsa.PublicKey:
				stdOK = ecdsa.VerifyASN1(p, digest, s.Signature)
			}
			if !stdOK {
				t.Fatal("the standard library rejects the KMS signature")
			}
			v, err := c.Verify(ctx, &awskms.VerifyInput{KeyId: &tt.key, Message: msg, Signature: s.Signature, SigningAlgorithm: tt.alg})
			if err != nil || !v.SignatureValid {
				t.Fatalf("Verify = %v, %v", v, err)
			}
			// The same digest sent as DIGEST verifies too.
			v, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: &tt.key, Message: digest, MessageType: types.MessageTypeDigest, Signature: s.Signature, SigningAlgorithm: tt.alg})
			if err != nil || !v.SignatureValid {
				t.Fatalf("Verify DIGEST = %v, %v", v, err)
			}
			_, err = c.Verify(ctx, &awskms.VerifyInput{KeyId: &tt.key, Message: []byte("another message"), Signature: s.Signature, SigningAlgorithm: tt.alg})
			wantAPIError(t, err, "KMSInvalidSignatureException")
			_, err = c.Sign(ctx, &awskms.SignInput{KeyId: &tt.key, Message: digest[1:], MessageType: types.MessageTypeDigest, SigningAlgorithm: tt.alg})
			wantAPIError(t, err, "ValidationException")
		})
	}
	// An ECDSA algorithm on an RSA key, or on the wrong curve.
	_, err := c.Sign(ctx, &awskms.SignInput{KeyId: &rsaKey, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantAPIError(t, err, "InvalidKeyUsageException")
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: &cases[4].key, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha384})
	wantAPIError(t, err, "InvalidKeyUsageException")
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: &rsaKey, Message: make([]byte, maxSignMessage+1), SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
	wantAPIError(t, err, "ValidationException")
}

func TestRSAEncryptionInteroperatesWithTheStandardLibrary(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	key := sdkKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &key})
	if err != nil || len(pk.EncryptionAlgorithms) != 2 || len(pk.SigningAlgorithms) != 0 {
		t.Fatalf("GetPublicKey = %v, %v", pk, err)
	}
	pub, _ := x509.ParsePKIXPublicKey(pk.PublicKey)
	secret := []byte("wrapped outside ssegate")
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	alg := types.EncryptionAlgorithmSpecRsaesOaepSha256
	d, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: &key, CiphertextBlob: ct, EncryptionAlgorithm: alg})
	if err != nil || string(d.Plaintext) != string(secret) || d.EncryptionAlgorithm != alg {
		t.Fatalf("Decrypt = %v, %v", d, err)
	}
	for _, a := range []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, alg} {
		e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &key, Plaintext: secret, EncryptionAlgorithm: a})
		if err != nil || len(e.CiphertextBlob) != 256 {
			t.Fatalf("Encrypt %s = %v, %v", a, e, err)
		}
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{KeyId: &key, CiphertextBlob: e.CiphertextBlob, EncryptionAlgorithm: a})
		if err != nil || string(d.Plaintext) != string(secret) {
			t.Fatalf("Decrypt %s = %v, %v", a, d, err)
		}
	}
	// AWS's limits for RSA_2048: 214 bytes with SHA-1, 190 with SHA-256.
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &key, Plaintext: make([]byte, 190), EncryptionAlgorithm: alg})
	if err != nil {
		t.Fatalf("190 bytes: %v", err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &key, Plaintext: make([]byte, 191), EncryptionAlgorithm: alg})
	wantAPIError(t, err, "ValidationException")
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &key, Plaintext: make([]byte, 214), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	if err != nil {
		t.Fatalf("214 bytes SHA-1: %v", err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct, EncryptionAlgorithm: alg})
	wantAPIError(t, err, "ValidationException") // KeyId is required
	ct[10] ^= 1
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{KeyId: &key, CiphertextBlob: ct, EncryptionAlgorithm: alg})
	wantAPIError(t, err, "InvalidCiphertextException")
}

func TestKeysRefuseOperationsTheyWereNotMadeFor(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	sym := sdkKey(t, c, types.KeySpecSymmetricDefault, "")
	rsaEnc := sdkKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
	rsaSign := sdkKey(t, c, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
	ecc := sdkKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	mac := sdkKey(t, c, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	msg := []byte("m")
	calls := map[string]func() error{
		"Encrypt with ECC": func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &ecc, Plaintext: msg})
			return err
		},
		"Encrypt SYMMETRIC_DEFAULT with RSA": func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &rsaEnc, Plaintext: msg})
			return err
		},
		"Encrypt RSAES with symmetric": func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &sym, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		},
		"Encrypt RSAES with RSA SIGN_VERIFY": func() error {
			_, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &rsaSign, Plaintext: msg, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
			return err
		},
		"Sign with symmetric": func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: &sym, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
			return err
		},
		"Sign with RSA ENCRYPT_DECRYPT": func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: &rsaEnc, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
			return err
		},
		"Sign with HMAC": func() error {
			_, err := c.Sign(ctx, &awskms.SignInput{KeyId: &mac, Message: msg, SigningAlgorithm: types.SigningAlgorithmSpecRsassaPssSha256})
			return err
		},
		"GenerateDataKey with RSA": func() error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &rsaEnc, KeySpec: types.DataKeySpecAes256})
			return err
		},
		"GenerateDataKey with HMAC": func() error {
			_, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &mac, KeySpec: types.DataKeySpecAes256})
			return err
		},
		"GenerateMac with RSA": func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: &rsaSign, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
		"GenerateMac with symmetric": func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: &sym, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
			return err
		},
		"GenerateMac with another hash": func() error {
			_, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: &mac, Message: msg, MacAlgorithm: types.MacAlgorithmSpecHmacSha384})
			return err
		},
		"GenerateDataKeyPair under RSA": func() error {
			_, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: &rsaEnc, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
			return err
		},
		"ReEncrypt to ECC": func() error {
			e, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &sym, Plaintext: msg})
			if err != nil {
				return err
			}
			_, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: e.CiphertextBlob, DestinationKeyId: &ecc})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantAPIError(t, call(), "InvalidKeyUsageException") })
	}
	_, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &sym})
	wantAPIError(t, err, "UnsupportedOperationException")
	for _, id := range []string{rsaSign, ecc, mac} {
		_, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: &id})
		wantAPIError(t, err, "UnsupportedOperationException")
		_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: &id})
		wantAPIError(t, err, "UnsupportedOperationException")
	}
}

func TestMacsVerifyOnlyForTheSameMessageAndKey(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	for _, tt := range []struct {
		spec types.KeySpec
		alg  types.MacAlgorithmSpec
		size int
	}{
		{types.KeySpecHmac224, types.MacAlgorithmSpecHmacSha224, 28},
		{types.KeySpecHmac256, types.MacAlgorithmSpecHmacSha256, 32},
		{types.KeySpecHmac384, types.MacAlgorithmSpecHmacSha384, 48},
		{types.KeySpecHmac512, types.MacAlgorithmSpecHmacSha512, 64},
	} {
		key := sdkKey(t, c, tt.spec, types.KeyUsageTypeGenerateVerifyMac)
		other := sdkKey(t, c, tt.spec, types.KeyUsageTypeGenerateVerifyMac)
		msg := []byte("message")
		g, err := c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: &key, Message: msg, MacAlgorithm: tt.alg})
		if err != nil || len(g.Mac) != tt.size {
			t.Fatalf("GenerateMac %s = %v, %v", tt.spec, g, err)
		}
		v, err := c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: &key, Message: msg, MacAlgorithm: tt.alg, Mac: g.Mac})
		if err != nil || !v.MacValid {
			t.Fatalf("VerifyMac = %v, %v", v, err)
		}
		_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: &key, Message: []byte("messagf"), MacAlgorithm: tt.alg, Mac: g.Mac})
		wantAPIError(t, err, "KMSInvalidMacException")
		_, err = c.VerifyMac(ctx, &awskms.VerifyMacInput{KeyId: &other, Message: msg, MacAlgorithm: tt.alg, Mac: g.Mac})
		wantAPIError(t, err, "KMSInvalidMacException")
		_, err = c.GenerateMac(ctx, &awskms.GenerateMacInput{KeyId: &key, Message: make([]byte, maxMacMessage+1), MacAlgorithm: tt.alg})
		wantAPIError(t, err, "ValidationException")
	}
}

func TestDataKeyPairPrivateKeyDecryptsAndMatchesThePublicKey(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	key := sdkKey(t, c, types.KeySpecSymmetricDefault, "")
	ec := map[string]string{"purpose": "test"}
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecEccNistP384} {
		p, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: &key, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil || p.KeyPairSpec != spec {
			t.Fatalf("GenerateDataKeyPair %s = %v, %v", spec, p, err)
		}
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: p.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || string(d.Plaintext) != string(p.PrivateKeyPlaintext) {
			t.Fatalf("Decrypt private key: %v", err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(p.PrivateKeyPlaintext)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
		if err != nil || string(pub) != string(p.PublicKey) {
			t.Fatalf("public key does not match the private key (%v)", err)
		}
	}
	w, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &key, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	if err != nil || len(w.PublicKey) == 0 || len(w.PrivateKeyCiphertextBlob) == 0 {
		t.Fatalf("WithoutPlaintext = %v, %v", w, err)
	}
	_, err = c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: &key, KeyPairSpec: types.DataKeyPairSpecEccSecgP256k1})
	wantAPIError(t, err, "UnsupportedOperationException")
	_, err = c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: &key, KeyPairSpec: "HMAC_256"})
	wantAPIError(t, err, "ValidationException")
}

func TestPrivateMaterialNeverLeavesThroughTheAPI(t *testing.T) {
	tc := newTestCore(t)
	c := newSDKClient(t, tc)
	ctx := context.Background()
	key := sdkKey(t, c, types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	pk, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &key})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := tc.loadKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.ParsePKCS8PrivateKey(ck.versions[ck.latest])
	d := priv.(*ecdsa.PrivateKey).D.Bytes()
	if containsBytes(pk.PublicKey, d) || containsBytes([]byte(tc.audit.String()), d) {
		t.Fatal("private scalar found in GetPublicKey output or audit log")
	}
}

func containsBytes(hay, needle []byte) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if string(hay[i:i+len(needle)]) == string(needle) {
			return true
		}
	}
	return false
}
