package kmstest

import (
	"context"
	"testing"

	"github.com/ssegate/ssegate/kms"
)

// The optional interfaces below are the operations of issue 11 beyond
// kms.Service, with exactly the signatures of *kms.Core. Run uses each
// when the service has it and skips its cases otherwise, so a backend
// without them can still run the base suite; RequireAll makes their
// absence a failure for the backends that must have them (*kms.Core and
// *kms.Remote).

// Asymmetric is the RSA and ECC key family: Sign, Verify, GetPublicKey,
// RSA Encrypt/Decrypt and data key pairs.
type Asymmetric interface {
	Sign(ctx context.Context, in kms.SignInput) (kms.SignOutput, error)
	Verify(ctx context.Context, in kms.VerifyInput) (keyARN string, err error)
	GetPublicKey(ctx context.Context, keyID string) (kms.PublicKeyOutput, error)
	EncryptRSA(ctx context.Context, in kms.AsymmetricInput) (kms.EncryptOutput, error)
	DecryptRSA(ctx context.Context, in kms.AsymmetricInput) (kms.DecryptOutput, error)
	GenerateDataKeyPair(ctx context.Context, in kms.DataKeyPairInput) (kms.DataKeyPair, error)
	GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in kms.DataKeyPairInput) (kms.DataKeyPair, error)
}

// MAC is the HMAC key family.
type MAC interface {
	GenerateMac(ctx context.Context, in kms.MacInput) (kms.MacOutput, error)
	VerifyMac(ctx context.Context, in kms.MacInput) (keyARN string, err error)
}

// Importer is imported key material (BYOK, Origin EXTERNAL).
type Importer interface {
	GetParametersForImport(ctx context.Context, keyID, algorithm, spec string) (kms.ImportParameters, error)
	ImportKeyMaterial(ctx context.Context, in kms.ImportKeyMaterialInput) error
	DeleteImportedKeyMaterial(ctx context.Context, keyID string) error
}

// PolicyAdmin is key policy management.
type PolicyAdmin interface {
	PutKeyPolicy(ctx context.Context, keyRef, name, doc string, bypassLockoutCheck bool) error
	GetKeyPolicy(ctx context.Context, keyRef, name string) (doc string, err error)
	ListKeyPolicies(ctx context.Context, keyRef string, limit int, marker string) (names []string, next string, err error)
}

// Granter is grant management.
type Granter interface {
	CreateGrant(ctx context.Context, in kms.CreateGrantInput) (grantID, token string, err error)
	ListGrants(ctx context.Context, keyRef, grantID, grantee string, limit int, marker string) (grants []kms.Grant, next string, err error)
	RetireGrant(ctx context.Context, token, keyRef, grantID string) error
	RevokeGrant(ctx context.Context, keyRef, grantID string) error
}

// ReEncrypter moves a ciphertext to another key.
type ReEncrypter interface {
	ReEncrypt(ctx context.Context, in kms.ReEncryptInput) (kms.ReEncryptOutput, error)
}

// RequireAll fails the test unless s implements every optional interface
// of the suite (Admin included), so that no case of Run is skipped.
func RequireAll(t testing.TB, s kms.Service) {
	t.Helper()
	missing := func(name string) { t.Errorf("%T does not implement kmstest.%s", s, name) }
	if _, ok := s.(Admin); !ok {
		missing("Admin")
	}
	if _, ok := s.(Asymmetric); !ok {
		missing("Asymmetric")
	}
	if _, ok := s.(MAC); !ok {
		missing("MAC")
	}
	if _, ok := s.(Importer); !ok {
		missing("Importer")
	}
	if _, ok := s.(PolicyAdmin); !ok {
		missing("PolicyAdmin")
	}
	if _, ok := s.(Granter); !ok {
		missing("Granter")
	}
	if _, ok := s.(ReEncrypter); !ok {
		missing("ReEncrypter")
	}
	if t.Failed() {
		t.FailNow()
	}
}

// need returns s as T, or skips the test: the service lacks the optional
// interface (RequireAll is what turns that into a failure).
func need[T any](t *testing.T, s kms.Service) T {
	t.Helper()
	v, ok := s.(T)
	if !ok {
		var zero *T
		t.Skipf("%T does not implement %T; case skipped", s, zero)
	}
	return v
}

// createSpecKey creates a key of a given KeySpec and KeyUsage.
func createSpecKey(t *testing.T, s kms.Service, spec, usage string) kms.KeyMetadata {
	t.Helper()
	md, err := s.CreateKey(context.Background(), kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatalf("CreateKey(%s, %s): %v", spec, usage, err)
	}
	if md.KeySpec != spec || md.KeyUsage != usage || md.KeyState != kms.KeyStateEnabled {
		t.Fatalf("CreateKey(%s, %s) metadata = spec %s usage %s state %s", spec, usage, md.KeySpec, md.KeyUsage, md.KeyState)
	}
	return md
}
