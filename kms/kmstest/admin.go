package kmstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"
)

// runAdmin: imported key material, key policies, grants and ReEncrypt
// (issue 11 parts B and the authorization operations). The caller is the
// operator or the account root, so authorization always allows; these
// cases check the bookkeeping, docs/authorization.md the decisions.
func runAdmin(t *testing.T, newService func(t *testing.T) kms.Service) {
	t.Run("ImportedMaterialRoundTripDeleteAndReimport", func(t *testing.T) {
		s := newService(t)
		imp := need[Importer](t, s)
		ctx := context.Background()
		md, err := s.CreateKey(ctx, kms.CreateKeyInput{Origin: "EXTERNAL", Description: "byok"})
		if err != nil {
			t.Fatalf("CreateKey(Origin EXTERNAL): %v", err)
		}
		if md.KeyState != kms.KeyStatePendingImport || md.Origin != "EXTERNAL" || md.Enabled {
			t.Fatalf("new EXTERNAL key: state %s origin %q enabled %v; want PendingImport EXTERNAL disabled", md.KeyState, md.Origin, md.Enabled)
		}
		_, err = s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("x")})
		wantErr(t, err, kms.ErrInvalidState)

		material := make([]byte, 32)
		if _, err := rand.Read(material); err != nil {
			t.Fatal(err)
		}
		importMaterial(t, s, imp, md, material)
		got, err := s.DescribeKey(ctx, md.KeyID)
		if err != nil || got.KeyState != kms.KeyStateEnabled || !got.Enabled || got.Origin != "EXTERNAL" {
			t.Fatalf("DescribeKey after import = state %s origin %q, %v; want Enabled EXTERNAL", got.KeyState, got.Origin, err)
		}
		ec := kms.EncryptionContext{"byok": "1"}
		enc, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("under my own key"), Context: ec})
		if err != nil {
			t.Fatalf("Encrypt with imported material: %v", err)
		}
		out, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: ec})
		if err != nil || string(out.Plaintext) != "under my own key" || out.KeyID != md.ARN {
			t.Fatalf("Decrypt = %q (%s), %v", out.Plaintext, out.KeyID, err)
		}

		if err := imp.DeleteImportedKeyMaterial(ctx, md.KeyID); err != nil {
			t.Fatalf("DeleteImportedKeyMaterial: %v", err)
		}
		got, err = s.DescribeKey(ctx, md.KeyID)
		if err != nil || got.KeyState != kms.KeyStatePendingImport {
			t.Fatalf("DescribeKey after delete = %s, %v; want PendingImport", got.KeyState, err)
		}
		_, err = s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: ec})
		wantErr(t, err, kms.ErrInvalidState)
		_, err = s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("x")})
		wantErr(t, err, kms.ErrInvalidState)

		// Other material is refused: old ciphertexts must stay decryptable
		// by the key's one material only.
		other := bytes.Clone(material)
		other[0] ^= 1
		p, err := imp.GetParametersForImport(ctx, md.KeyID, "RSAES_OAEP_SHA_256", "RSA_2048")
		if err != nil {
			t.Fatalf("GetParametersForImport: %v", err)
		}
		err = imp.ImportKeyMaterial(ctx, kms.ImportKeyMaterialInput{KeyID: md.KeyID, ImportToken: p.ImportToken,
			EncryptedKeyMaterial: wrapMaterial(t, p.PublicKey, other), ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"})
		wantErr(t, err, kms.ErrIncorrectKeyMaterial)

		importMaterial(t, s, imp, md, material)
		out, err = s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: ec})
		if err != nil || string(out.Plaintext) != "under my own key" {
			t.Fatalf("Decrypt after re-import = %q, %v", out.Plaintext, err)
		}
	})

	t.Run("ImportOnlyIntoExternalKeysWithAValidToken", func(t *testing.T) {
		s := newService(t)
		imp := need[Importer](t, s)
		ctx := context.Background()
		native := createKey(t, s, "")
		_, err := imp.GetParametersForImport(ctx, native.KeyID, "RSAES_OAEP_SHA_256", "RSA_2048")
		wantErr(t, err, kms.ErrUnsupported)
		ext, err := s.CreateKey(ctx, kms.CreateKeyInput{Origin: "EXTERNAL"})
		if err != nil {
			t.Fatalf("CreateKey(Origin EXTERNAL): %v", err)
		}
		p, err := imp.GetParametersForImport(ctx, ext.KeyID, "RSAES_OAEP_SHA_256", "RSA_2048")
		if err != nil {
			t.Fatalf("GetParametersForImport: %v", err)
		}
		wrapped := wrapMaterial(t, p.PublicKey, make([]byte, 32))
		badToken := bytes.Clone(p.ImportToken)
		badToken[len(badToken)-1] ^= 1
		err = imp.ImportKeyMaterial(ctx, kms.ImportKeyMaterialInput{KeyID: ext.KeyID, ImportToken: badToken,
			EncryptedKeyMaterial: wrapped, ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"})
		wantErr(t, err, kms.ErrInvalidImportToken)
		got, err := s.DescribeKey(ctx, ext.KeyID)
		if err != nil || got.KeyState != kms.KeyStatePendingImport {
			t.Fatalf("after a refused import the key is %s, %v; want PendingImport", got.KeyState, err)
		}
	})

	t.Run("KeyPolicyPutGetListAndMalformedIsRefused", func(t *testing.T) {
		s := newService(t)
		pa := need[PolicyAdmin](t, s)
		ctx := context.Background()
		md := createKey(t, s, "")
		names, next, err := pa.ListKeyPolicies(ctx, md.KeyID, 0, "")
		if err != nil || !slices.Equal(names, []string{"default"}) || next != "" {
			t.Fatalf("ListKeyPolicies = %v %q, %v; want [default]", names, next, err)
		}
		def, err := pa.GetKeyPolicy(ctx, md.ARN, "default")
		if err != nil || !strings.Contains(def, `"kms:*"`) || !strings.Contains(def, ":root") {
			t.Fatalf("default GetKeyPolicy = %s, %v; want the account root allowed kms:*", def, err)
		}
		doc := `{"Version":"2012-10-17","Id":"conformance","Statement":[{"Sid":"RootDoesAll","Effect":"Allow",` +
			`"Principal":{"AWS":"arn:aws:iam::` + accountOf(t, md.ARN) + `:root"},"Action":"kms:*","Resource":"*"}]}`
		if err := pa.PutKeyPolicy(ctx, md.KeyID, "default", doc, false); err != nil {
			t.Fatalf("PutKeyPolicy: %v", err)
		}
		got, err := pa.GetKeyPolicy(ctx, md.KeyID, "")
		if err != nil || !strings.Contains(got, `"RootDoesAll"`) || !strings.Contains(got, `"conformance"`) {
			t.Fatalf("GetKeyPolicy after put = %s, %v; want the policy put", got, err)
		}
		for _, bad := range []string{
			`not json`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Principal":"*","Action":"kms:*","Resource":"*"}]}`,
			`{"Version":"2012-10-17","Statement":[]}`,
		} {
			err := pa.PutKeyPolicy(ctx, md.KeyID, "default", bad, true)
			wantErr(t, err, kms.ErrMalformedPolicy)
		}
		err = pa.PutKeyPolicy(ctx, md.KeyID, "not-default", doc, false)
		wantErr(t, err, kms.ErrValidation)
		got, err = pa.GetKeyPolicy(ctx, md.KeyID, "default")
		if err != nil || !strings.Contains(got, `"RootDoesAll"`) {
			t.Fatalf("a refused PutKeyPolicy changed the policy to %s (%v)", got, err)
		}
		_, err = pa.GetKeyPolicy(ctx, "11111111-2222-3333-4444-555555555555", "default")
		wantErr(t, err, kms.ErrNotFound)
	})

	t.Run("GrantsCreateListRetireRevoke", func(t *testing.T) {
		s := newService(t)
		g := need[Granter](t, s)
		ctx := context.Background()
		md := createKey(t, s, "")
		acct := accountOf(t, md.ARN)
		alice, bob := "arn:aws:iam::"+acct+":user/alice", "arn:aws:iam::"+acct+":user/bob"
		in := kms.CreateGrantInput{
			KeyID: md.KeyID, GranteePrincipal: alice, RetiringPrincipal: bob, Name: "alice-decrypts",
			Operations:  []string{"Decrypt", "Encrypt"},
			Constraints: &kms.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "eng"}},
		}
		id1, token1, err := g.CreateGrant(ctx, in)
		if err != nil || id1 == "" || token1 == "" {
			t.Fatalf("CreateGrant = %q %q, %v", id1, token1, err)
		}
		// AWS: the same Name and parameters give back the same grant.
		again, _, err := g.CreateGrant(ctx, in)
		if err != nil || again != id1 {
			t.Fatalf("CreateGrant again = %q, %v; want the same grant %s", again, err, id1)
		}
		id2, _, err := g.CreateGrant(ctx, kms.CreateGrantInput{KeyID: md.ARN, GranteePrincipal: bob, Operations: []string{"GenerateDataKey"}})
		if err != nil || id2 == id1 {
			t.Fatalf("second CreateGrant = %q, %v", id2, err)
		}

		all, next, err := g.ListGrants(ctx, md.KeyID, "", "", 0, "")
		if err != nil || len(all) != 2 || next != "" {
			t.Fatalf("ListGrants = %d grants, next %q, %v; want 2", len(all), next, err)
		}
		byAlice, _, err := g.ListGrants(ctx, md.ARN, "", alice, 0, "")
		if err != nil || len(byAlice) != 1 {
			t.Fatalf("ListGrants(grantee alice) = %d grants, %v; want 1", len(byAlice), err)
		}
		e := byAlice[0]
		if e.GrantID != id1 || e.KeyID != md.ARN || e.Name != in.Name || e.GranteePrincipal != alice || e.RetiringPrincipal != bob ||
			e.IssuingAccount == "" || e.CreationDate.IsZero() {
			t.Fatalf("grant entry = %+v; want grant %s of %s for alice retired by bob", e, id1, md.ARN)
		}
		ops := slices.Clone(e.Operations)
		slices.Sort(ops)
		if !slices.Equal(ops, []string{"Decrypt", "Encrypt"}) {
			t.Fatalf("grant operations = %v", e.Operations)
		}
		if e.Constraints == nil || e.Constraints.EncryptionContextSubset["dept"] != "eng" || e.Constraints.EncryptionContextEquals != nil {
			t.Fatalf("grant constraints = %+v", e.Constraints)
		}
		page1, next, err := g.ListGrants(ctx, md.KeyID, "", "", 1, "")
		if err != nil || len(page1) != 1 || next == "" {
			t.Fatalf("ListGrants(limit 1) = %d grants, next %q, %v; want 1 and a marker", len(page1), next, err)
		}
		page2, next2, err := g.ListGrants(ctx, md.KeyID, "", "", 1, next)
		if err != nil || len(page2) != 1 || next2 != "" || page2[0].GrantID == page1[0].GrantID {
			t.Fatalf("ListGrants(page 2) = %d grants, next %q, %v; want the other grant", len(page2), next2, err)
		}

		if err := g.RetireGrant(ctx, token1, "", ""); err != nil {
			t.Fatalf("RetireGrant(token): %v", err)
		}
		one, _, err := g.ListGrants(ctx, md.KeyID, id1, "", 0, "")
		if err != nil || len(one) != 0 {
			t.Fatalf("retired grant still listed: %d, %v", len(one), err)
		}
		if err := g.RevokeGrant(ctx, md.KeyID, id2); err != nil {
			t.Fatalf("RevokeGrant: %v", err)
		}
		all, _, err = g.ListGrants(ctx, md.KeyID, "", "", 0, "")
		if err != nil || len(all) != 0 {
			t.Fatalf("after retire and revoke ListGrants = %d grants, %v; want none", len(all), err)
		}
		wantErr(t, g.RevokeGrant(ctx, md.KeyID, id2), kms.ErrNotFound)
		// A retired grant's token names no grant any more.
		wantErr(t, g.RetireGrant(ctx, token1, "", ""), kms.ErrInvalidGrantToken)
	})

	t.Run("GrantRequestsThatDontFitAreRefused", func(t *testing.T) {
		s := newService(t)
		g := need[Granter](t, s)
		ctx := context.Background()
		md := createKey(t, s, "")
		acct := accountOf(t, md.ARN)
		for _, tc := range []struct {
			name string
			in   kms.CreateGrantInput
			want error
		}{
			{"Sign on a symmetric key", kms.CreateGrantInput{KeyID: md.KeyID, GranteePrincipal: "arn:aws:iam::" + acct + ":user/a", Operations: []string{"Sign"}}, kms.ErrValidation},
			{"unknown operation", kms.CreateGrantInput{KeyID: md.KeyID, GranteePrincipal: "arn:aws:iam::" + acct + ":user/a", Operations: []string{"Everything"}}, kms.ErrValidation},
			{"no operations", kms.CreateGrantInput{KeyID: md.KeyID, GranteePrincipal: "arn:aws:iam::" + acct + ":user/a"}, kms.ErrValidation},
			{"grantee not a principal ARN", kms.CreateGrantInput{KeyID: md.KeyID, GranteePrincipal: "alice", Operations: []string{"Decrypt"}}, kms.ErrValidation},
			{"unknown key", kms.CreateGrantInput{KeyID: "11111111-2222-3333-4444-555555555555", GranteePrincipal: "arn:aws:iam::" + acct + ":user/a", Operations: []string{"Decrypt"}}, kms.ErrNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := g.CreateGrant(ctx, tc.in)
				wantErr(t, err, tc.want)
			})
		}
		all, _, err := g.ListGrants(ctx, md.KeyID, "", "", 0, "")
		if err != nil || len(all) != 0 {
			t.Fatalf("refused grants were created: %d, %v", len(all), err)
		}
	})

	t.Run("ReEncryptMovesCiphertextToAnotherKey", func(t *testing.T) {
		s := newService(t)
		re := need[ReEncrypter](t, s)
		ctx := context.Background()
		src, dst := createKey(t, s, ""), createKey(t, s, "")
		srcEC, dstEC := kms.EncryptionContext{"from": "a"}, kms.EncryptionContext{"to": "b"}
		enc, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: src.KeyID, Plaintext: []byte("moving"), Context: srcEC})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		out, err := re.ReEncrypt(ctx, kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceContext: srcEC,
			DestinationKeyID: dst.KeyID, DestinationContext: dstEC})
		if err != nil || out.SourceKeyID != src.ARN || out.KeyID != dst.ARN {
			t.Fatalf("ReEncrypt = %s -> %s, %v; want %s -> %s", out.SourceKeyID, out.KeyID, err, src.ARN, dst.ARN)
		}
		if bytes.Contains(out.CiphertextBlob, []byte("moving")) {
			t.Fatal("re-encrypted blob contains the plaintext")
		}
		got, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, Context: dstEC})
		if err != nil || string(got.Plaintext) != "moving" || got.KeyID != dst.ARN {
			t.Fatalf("Decrypt(re-encrypted) = %q (%s), %v", got.Plaintext, got.KeyID, err)
		}
		_, err = re.ReEncrypt(ctx, kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceContext: dstEC, DestinationKeyID: dst.KeyID})
		wantErr(t, err, kms.ErrInvalidCiphertext)
		_, err = re.ReEncrypt(ctx, kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceContext: srcEC, SourceKeyID: dst.KeyID, DestinationKeyID: dst.KeyID})
		wantErr(t, err, kms.ErrIncorrectKey)
	})
}

// importMaterial imports material into an EXTERNAL key with fresh import
// parameters (RSAES_OAEP_SHA_256, RSA_2048), never expiring.
func importMaterial(t *testing.T, s kms.Service, imp Importer, md kms.KeyMetadata, material []byte) {
	t.Helper()
	ctx := context.Background()
	p, err := imp.GetParametersForImport(ctx, md.KeyID, "RSAES_OAEP_SHA_256", "RSA_2048")
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	if p.KeyID != md.ARN || len(p.ImportToken) == 0 || p.ParametersValidTo.IsZero() {
		t.Fatalf("import parameters: key %s, %d-byte token, valid to %v", p.KeyID, len(p.ImportToken), p.ParametersValidTo)
	}
	err = imp.ImportKeyMaterial(ctx, kms.ImportKeyMaterialInput{KeyID: md.KeyID, ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapMaterial(t, p.PublicKey, material), ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"})
	if err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
}

// wrapMaterial wraps key material as a BYOK client does: RSAES-OAEP with
// SHA-256 under the wrapping public key.
func wrapMaterial(t *testing.T, pubDER, material []byte) []byte {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatalf("wrapping key DER does not parse: %v", err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok || rsaPub.Size() != 256 {
		t.Fatalf("wrapping key is %T, want RSA_2048", pub)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return wrapped
}

// accountOf returns the account id of a key ARN
// (arn:aws:kms:REGION:ACCOUNT:key/ID).
func accountOf(t *testing.T, arn string) string {
	t.Helper()
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || len(parts[4]) != 12 {
		t.Fatalf("key ARN %q has no account", arn)
	}
	return parts[4]
}
