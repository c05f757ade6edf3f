package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func importSDKClient(t testing.TB, url, region string) *awskms.Client {
	t.Helper()
	return awskms.New(awskms.Options{
		Region: region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
	})
}

func newImportSDK(t *testing.T) (*testCore, *awskms.Client) {
	t.Helper()
	tc := newTestCore(t)
	srv := httptest.NewServer(callerMiddleware(NewHandler(tc.Core, nil)))
	t.Cleanup(srv.Close)
	return tc, importSDKClient(t, srv.URL, "us-east-1")
}

// wrapFor fetches import parameters for key and wraps material as AWS's
// documentation tells users to (OAEP with SHA-256 and MGF1-SHA-256).
func wrapFor(t *testing.T, c *awskms.Client, key *string, material []byte) (token, wrapped []byte) {
	t.Helper()
	p, err := c.GetParametersForImport(context.Background(), &awskms.GetParametersForImportInput{
		KeyId: key, WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048,
	})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatalf("PublicKey is not DER SPKI: %v", err)
	}
	wrapped, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.ImportToken, wrapped
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func wantBYOKErr[E error](t *testing.T, what string, err error) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("%s: error = %v, want %T", what, err, e)
	}
}

// wantBYOKCode is for error types the SDK has no Go type for.
func wantBYOKCode(t *testing.T, code, what string, err error) {
	t.Helper()
	var e smithy.APIError
	if !errors.As(err, &e) || e.ErrorCode() != code {
		t.Fatalf("%s: error = %v, want %s", what, err, code)
	}
}

func TestImportedKeyMaterialLifecycleWithSDK(t *testing.T) {
	_, c := newImportSDK(t)
	ctx := context.Background()
	created, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	key := created.KeyMetadata.KeyId
	if created.KeyMetadata.KeyState != types.KeyStatePendingImport || created.KeyMetadata.Origin != types.OriginTypeExternal || created.KeyMetadata.Enabled {
		t.Fatalf("new EXTERNAL key = %+v", created.KeyMetadata)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("x")})
	wantBYOKErr[*types.KMSInvalidStateException](t, "Encrypt before import", err)

	material := randomBytes(t, 32)
	token, wrapped := wrapFor(t, c, key, material)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled || d.KeyMetadata.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("DescribeKey after import = %+v, %v", d, err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}

	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: key})
	wantBYOKErr[*types.UnsupportedOperationException](t, "EnableKeyRotation of an imported key", err)
	_, err = c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: key})
	wantBYOKErr[*types.UnsupportedOperationException](t, "RotateKeyOnDemand of an imported key", err)

	if _, err := c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: key}); err != nil {
		t.Fatalf("DeleteImportedKeyMaterial: %v", err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantBYOKErr[*types.KMSInvalidStateException](t, "Decrypt after DeleteImportedKeyMaterial", err)

	// Other material is refused: it could never open the old ciphertexts.
	token, wrapped = wrapFor(t, c, key, randomBytes(t, 32))
	_, err = c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	wantBYOKErr[*types.IncorrectKeyMaterialException](t, "re-import of other material", err)

	token, wrapped = wrapFor(t, c, key, material)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("re-import of the same material: %v", err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt after re-import = %q, %v", dec.Plaintext, err)
	}
}

func TestImportKeyMaterialErrors(t *testing.T) {
	tc, c := newImportSDK(t)
	ctx := context.Background()
	newExternal := func() *string {
		created, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
		if err != nil {
			t.Fatal(err)
		}
		return created.KeyMetadata.KeyId
	}
	key, other := newExternal(), newExternal()
	material := randomBytes(t, 32)
	token, wrapped := wrapFor(t, c, key, material)
	otherToken, _ := wrapFor(t, c, other, material)
	forever := types.ExpirationModelTypeKeyMaterialDoesNotExpire
	imp := func(in awskms.ImportKeyMaterialInput) error {
		if in.KeyId == nil {
			in.KeyId = key
		}
		_, err := c.ImportKeyMaterial(ctx, &in)
		return err
	}
	wantBYOKErr[*types.InvalidImportTokenException](t, "garbage token",
		imp(awskms.ImportKeyMaterialInput{ImportToken: []byte("not a token"), EncryptedKeyMaterial: wrapped, ExpirationModel: forever}))
	wantBYOKErr[*types.InvalidImportTokenException](t, "token of another key",
		imp(awskms.ImportKeyMaterialInput{ImportToken: otherToken, EncryptedKeyMaterial: wrapped, ExpirationModel: forever}))
	wantBYOKErr[*types.InvalidImportTokenException](t, "well-formed unknown token",
		imp(awskms.ImportKeyMaterialInput{ImportToken: newImportToken(), EncryptedKeyMaterial: wrapped, ExpirationModel: forever}))
	wantBYOKErr[*types.InvalidCiphertextException](t, "material wrapped under another key",
		imp(awskms.ImportKeyMaterialInput{ImportToken: otherToken, KeyId: other, EncryptedKeyMaterial: wrapped, ExpirationModel: forever}))
	wantBYOKCode(t, "ValidationException", "KEY_MATERIAL_EXPIRES without ValidTo",
		imp(awskms.ImportKeyMaterialInput{ImportToken: token, EncryptedKeyMaterial: wrapped}))
	wantBYOKCode(t, "ValidationException", "ValidTo in the past",
		imp(awskms.ImportKeyMaterialInput{ImportToken: token, EncryptedKeyMaterial: wrapped, ValidTo: aws.Time(tc.clock.Now().Add(-time.Hour))}))
	wantBYOKCode(t, "ValidationException", "DOES_NOT_EXPIRE with ValidTo",
		imp(awskms.ImportKeyMaterialInput{ImportToken: token, EncryptedKeyMaterial: wrapped, ExpirationModel: forever, ValidTo: aws.Time(tc.clock.Now().Add(time.Hour))}))

	// The wrapping key must not decrypt short material into a key.
	pk := mustWrappingKey(t, c, other)
	short, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, pk.pub, randomBytes(t, 16), nil)
	wantBYOKErr[*types.IncorrectKeyMaterialException](t, "16 bytes of material",
		imp(awskms.ImportKeyMaterialInput{KeyId: other, ImportToken: pk.token, EncryptedKeyMaterial: short, ExpirationModel: forever}))

	tc.clock.Advance(importTokenValidity + time.Second)
	wantBYOKErr[*types.ExpiredImportTokenException](t, "token older than 24 h",
		imp(awskms.ImportKeyMaterialInput{ImportToken: token, EncryptedKeyMaterial: wrapped, ExpirationModel: forever}))

	plain, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: plain.KeyMetadata.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantBYOKErr[*types.UnsupportedOperationException](t, "GetParametersForImport of an AWS_KMS key", err)
	_, err = c.DeleteImportedKeyMaterial(ctx, &awskms.DeleteImportedKeyMaterialInput{KeyId: plain.KeyMetadata.KeyId})
	wantBYOKErr[*types.UnsupportedOperationException](t, "DeleteImportedKeyMaterial of an AWS_KMS key", err)
	_, err = c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: key,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: "RSA_1024"})
	wantBYOKCode(t, "ValidationException", "RSA_1024 wrapping key", err)
	_, err = c.GetParametersForImport(ctx, &awskms.GetParametersForImportInput{KeyId: key,
		WrappingAlgorithm: "RSAES_PKCS1_V1_5", WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantBYOKCode(t, "ValidationException", "PKCS#1 v1.5 wrapping", err)
	_, err = c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal, MultiRegion: aws.Bool(true)})
	wantBYOKErr[*types.UnsupportedOperationException](t, "multi-Region imported key", err)
}

type wrappingKey struct {
	pub   *rsa.PublicKey
	token []byte
}

func mustWrappingKey(t *testing.T, c *awskms.Client, key *string) wrappingKey {
	t.Helper()
	p, err := c.GetParametersForImport(context.Background(), &awskms.GetParametersForImportInput{
		KeyId: key, WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha1, WrappingKeySpec: types.WrappingKeySpecRsa3072,
	})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ParametersValidTo == nil || p.ParametersValidTo.IsZero() {
		t.Fatal("no ParametersValidTo")
	}
	return wrappingKey{pub: pk.(*rsa.PublicKey), token: p.ImportToken}
}

func TestImportWithOAEPSHA1(t *testing.T) {
	_, c := newImportSDK(t)
	ctx := context.Background()
	created, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	key := created.KeyMetadata.KeyId
	wk := mustWrappingKey(t, c, key)
	if wk.pub.N.BitLen() != 3072 {
		t.Fatalf("RSA_3072 wrapping key has %d bits", wk.pub.N.BitLen())
	}
	wrapped, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, wk.pub, randomBytes(t, 32), nil)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: wk.token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("ImportKeyMaterial with RSAES_OAEP_SHA_1: %v", err)
	}
}

func TestExpiredImportedMaterialMakesKeyUnusable(t *testing.T) {
	tc, c := newImportSDK(t)
	ctx := context.Background()
	created, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	key := created.KeyMetadata.KeyId
	material := randomBytes(t, 32)
	token, wrapped := wrapFor(t, c, key, material)
	validTo := tc.clock.Now().Add(time.Hour).Truncate(time.Second)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(validTo)}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	d, _ := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
	if d.KeyMetadata.ValidTo == nil || !d.KeyMetadata.ValidTo.Equal(validTo) || d.KeyMetadata.ExpirationModel != types.ExpirationModelTypeKeyMaterialExpires {
		t.Fatalf("DescribeKey ValidTo = %v, model %q; want %v", d.KeyMetadata.ValidTo, d.KeyMetadata.ExpirationModel, validTo)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Hour)
	// Refused on use at once, before maintenance ran.
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantBYOKErr[*types.KMSInvalidStateException](t, "Decrypt with expired material", err)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: key})
	if d.KeyMetadata.KeyState != types.KeyStatePendingImport {
		t.Fatalf("state after maintenance = %s, want PendingImport", d.KeyMetadata.KeyState)
	}
	// The same material brings the key and its ciphertexts back.
	token, wrapped = wrapFor(t, c, key, material)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: key, ImportToken: token, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "x" {
		t.Fatalf("Decrypt after re-import = %q, %v", dec.Plaintext, err)
	}
}

// TestImportedMaterialNeverStoredInClear: the keystore holds the material
// sealed and the fingerprint, never the 32 bytes themselves.
func TestImportedMaterialNeverStoredInClear(t *testing.T) {
	tc, c := newImportSDK(t)
	ctx := context.Background()
	created, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternal})
	material := randomBytes(t, 32)
	token, wrapped := wrapFor(t, c, created.KeyMetadata.KeyId, material)
	if _, err := c.ImportKeyMaterial(ctx, &awskms.ImportKeyMaterialInput{KeyId: created.KeyMetadata.KeyId, ImportToken: token,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	for _, suffix := range []string{"", "-wal"} {
		raw, _ := readFileIfExists(tc.path + suffix)
		if bytes.Contains(raw, material) {
			t.Fatalf("kms.db%s contains the imported material in clear", suffix)
		}
	}
	if bytes.Contains([]byte(tc.audit.String()), material) {
		t.Fatal("audit log contains the material")
	}
}

// FuzzParseImportToken: only this KMS's token framing parses, to a row key
// of 64 hex digits.
func FuzzParseImportToken(f *testing.F) {
	f.Add(newImportToken())
	f.Add([]byte(importTokenMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, tok []byte) {
		id, err := parseImportToken(tok)
		if err != nil {
			wantErr(t, err, ErrInvalidImportToken)
			return
		}
		if len(id) != 2*importTokenRandomSize || !bytes.HasPrefix(tok, []byte(importTokenMagic)) {
			t.Fatalf("accepted %x as %q", tok, id)
		}
	})
}

func readFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
