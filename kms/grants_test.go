package kms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func (e *authzEnv) grant(t *testing.T, who string, body map[string]any) (id, token string) {
	t.Helper()
	m := e.ok(t, who, "CreateGrant", body)
	id, _ = m["GrantId"].(string)
	token, _ = m["GrantToken"].(string)
	if id == "" || token == "" {
		t.Fatalf("CreateGrant = %v", m)
	}
	return id, token
}

func TestGrantWithEncryptionContextSubset(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	ec := map[string]string{"dept": "finance", "file": "q3"}
	blob := e.encrypt(t, "root", key, ec)
	other := e.encrypt(t, "root", key, map[string]string{"dept": "hr"})
	decrypt := func(b string, ec map[string]string) map[string]any {
		return map[string]any{"CiphertextBlob": b, "EncryptionContext": ec}
	}
	e.fails(t, "alice", "Decrypt", decrypt(blob, ec), "AccessDeniedException")

	gid, _ := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"},
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"dept": "finance"}}})
	e.ok(t, "alice", "Decrypt", decrypt(blob, ec))
	e.fails(t, "alice", "Decrypt", decrypt(other, map[string]string{"dept": "hr"}), "AccessDeniedException")
	// The grant is for Decrypt only, and for alice only.
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": key, "Plaintext": plain, "EncryptionContext": ec}, "AccessDeniedException")
	e.fails(t, "bob", "Decrypt", decrypt(blob, ec), "AccessDeniedException")
	if !strings.Contains(e.audit.String(), `"decidedBy":"grant:`+gid+`"`) {
		t.Fatal("audit lacks the grant decision")
	}

	// EncryptionContextEquals wants exactly the map.
	e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Decrypt"},
		"Constraints": map[string]any{"EncryptionContextEquals": map[string]string{"dept": "finance"}}})
	e.fails(t, "bob", "Decrypt", decrypt(blob, ec), "AccessDeniedException")
	onlyDept := e.encrypt(t, "root", key, map[string]string{"dept": "finance"})
	e.ok(t, "bob", "Decrypt", decrypt(onlyDept, map[string]string{"dept": "finance"}))
}

func TestGrantReEncryptNeedsBothSides(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	src, _ := e.createKey(t, nil)
	dst, _ := e.createKey(t, nil)
	blob := e.encrypt(t, "root", src, nil)
	body := map[string]any{"CiphertextBlob": blob, "DestinationKeyId": dst}
	e.grant(t, "root", map[string]any{"KeyId": src, "GranteePrincipal": aliceARN, "Operations": []string{"ReEncryptFrom"}})
	e.fails(t, "alice", "ReEncrypt", body, "AccessDeniedException")
	e.grant(t, "root", map[string]any{"KeyId": dst, "GranteePrincipal": aliceARN, "Operations": []string{"ReEncryptTo"}})
	e.ok(t, "alice", "ReEncrypt", body)
}

func TestRetireAndRevokeGrant(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	blob := e.encrypt(t, "root", key, nil)
	dec := map[string]any{"CiphertextBlob": blob}

	gid, token := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "RetiringPrincipal": bobARN, "Operations": []string{"Decrypt"}})
	e.ok(t, "alice", "Decrypt", dec)
	// The grantee without RetireGrant in the grant may not retire it.
	e.fails(t, "alice", "RetireGrant", map[string]any{"GrantToken": token}, "AccessDeniedException")
	e.fails(t, "alice", "RetireGrant", map[string]any{"KeyId": key, "GrantId": gid}, "AccessDeniedException")
	e.ok(t, "alice", "Decrypt", dec)
	// The retiring principal may.
	e.ok(t, "bob", "RetireGrant", map[string]any{"GrantToken": token})
	e.fails(t, "alice", "Decrypt", dec, "AccessDeniedException")
	e.fails(t, "bob", "RetireGrant", map[string]any{"GrantToken": token}, "InvalidGrantTokenException")

	// A grant allowing RetireGrant lets its grantee retire it.
	gid, _ = e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt", "RetireGrant"}})
	e.ok(t, "alice", "RetireGrant", map[string]any{"KeyId": key, "GrantId": gid})
	e.fails(t, "root", "RetireGrant", map[string]any{"KeyId": key, "GrantId": gid}, "NotFoundException")
	e.fails(t, "root", "RetireGrant", map[string]any{"KeyId": key, "GrantId": "not-a-grant-id"}, "InvalidGrantIdException")
	e.fails(t, "root", "RetireGrant", map[string]any{}, "ValidationException")

	// RevokeGrant needs kms:RevokeGrant in the key policy: root yes, alice no.
	gid, _ = e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}})
	e.fails(t, "alice", "RevokeGrant", map[string]any{"KeyId": key, "GrantId": gid}, "AccessDeniedException")
	e.ok(t, "alice", "Decrypt", dec)
	e.ok(t, "root", "RevokeGrant", map[string]any{"KeyId": key, "GrantId": gid})
	e.fails(t, "alice", "Decrypt", dec, "AccessDeniedException")
	e.fails(t, "root", "RevokeGrant", map[string]any{"KeyId": key, "GrantId": gid}, "NotFoundException")
}

func TestCreateGrantValidation(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	tests := []struct {
		name     string
		body     map[string]any
		wantType string
	}{
		{"no grantee", map[string]any{"KeyId": key, "Operations": []string{"Decrypt"}}, "ValidationException"},
		{"grantee not an ARN", map[string]any{"KeyId": key, "GranteePrincipal": "alice", "Operations": []string{"Decrypt"}}, "ValidationException"},
		{"wildcard grantee", map[string]any{"KeyId": key, "GranteePrincipal": "*", "Operations": []string{"Decrypt"}}, "ValidationException"},
		{"no operations", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN}, "ValidationException"},
		{"asymmetric operation", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Sign"}}, "ValidationException"},
		{"constraint with DescribeKey", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"DescribeKey"},
			"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"a": "b"}}}, "ValidationException"},
		{"bad name", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}, "Name": "no spaces"}, "ValidationException"},
		{"unknown key", map[string]any{"KeyId": "alias/none", "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}}, "NotFoundException"},
		{"user without permission", nil, "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who, body := "root", tt.body
			if body == nil {
				who, body = "alice", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}}
			}
			e.fails(t, who, "CreateGrant", body, tt.wantType)
		})
	}
	if n := len(e.ok(t, "root", "ListGrants", map[string]any{"KeyId": key})["Grants"].([]any)); n != 0 {
		t.Fatalf("%d grants after refused CreateGrants", n)
	}
}

func TestGranteeCanPassOnNoMoreThanItsGrant(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt", "CreateGrant"},
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"dept": "finance"}}})
	sub := map[string]any{"EncryptionContextSubset": map[string]string{"dept": "finance"}}
	e.grant(t, "alice", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Decrypt"}, "Constraints": sub})
	e.fails(t, "alice", "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Encrypt"}, "Constraints": sub}, "AccessDeniedException")
	e.fails(t, "alice", "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Decrypt"}}, "AccessDeniedException")
	e.fails(t, "alice", "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Decrypt"},
		"Constraints": map[string]any{"EncryptionContextSubset": map[string]string{"dept": "hr"}}}, "AccessDeniedException")
}

func TestGrantNameIsIdempotent(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	body := map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Encrypt", "Decrypt"}, "Name": "app-1"}
	id1, tok1 := e.grant(t, "root", body)
	id2, tok2 := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt", "Encrypt", "Decrypt"}, "Name": "app-1"})
	if id1 != id2 || tok1 != tok2 {
		t.Fatalf("same name and parameters gave grants %s and %s", id1, id2)
	}
	id3, _ := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Decrypt"}, "Name": "app-1"})
	if id3 == id1 {
		t.Fatal("different parameters under the same name gave the same grant")
	}
	if n := len(e.ok(t, "root", "ListGrants", map[string]any{"KeyId": key})["Grants"].([]any)); n != 2 {
		t.Fatalf("ListGrants has %d grants, want 2", n)
	}
}

func TestGrantQuota(t *testing.T) {
	e := newAuthzEnv(t, Options{MaxGrantsPerKey: 3})
	key, _ := e.createKey(t, nil)
	for i := range 3 {
		e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}, "Name": fmt.Sprint("g", i)})
	}
	e.fails(t, "root", "CreateGrant", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}}, "LimitExceededException")
	// Another key has its own quota.
	other, _ := e.createKey(t, nil)
	e.grant(t, "root", map[string]any{"KeyId": other, "GranteePrincipal": aliceARN, "Operations": []string{"Decrypt"}})
}

func TestListGrantsAndRetirableGrantsPaginate(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, arn := e.createKey(t, nil)
	other, _ := e.createKey(t, nil)
	want := map[string]bool{}
	for range 5 {
		id, _ := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "RetiringPrincipal": bobARN, "Operations": []string{"Decrypt"}})
		want[id] = true
	}
	e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": bobARN, "Operations": []string{"Encrypt"}})
	id, _ := e.grant(t, "root", map[string]any{"KeyId": other, "GranteePrincipal": aliceARN, "RetiringPrincipal": bobARN, "Operations": []string{"Decrypt"}})
	want[id] = true

	collect := func(op string, body map[string]any) map[string]bool {
		seen := map[string]bool{}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			m := e.ok(t, "root", op, body)
			grants := m["Grants"].([]any)
			if len(grants) > 2 {
				t.Fatalf("%s page has %d grants, Limit 2", op, len(grants))
			}
			for _, g := range grants {
				g := g.(map[string]any)
				if seen[g["GrantId"].(string)] {
					t.Fatalf("grant %s listed twice", g["GrantId"])
				}
				seen[g["GrantId"].(string)] = true
			}
			if m["Truncated"] != true {
				return seen
			}
			body["Marker"] = m["NextMarker"]
		}
	}
	all := collect("ListGrants", map[string]any{"KeyId": key, "Limit": 2})
	if len(all) != 6 {
		t.Fatalf("ListGrants listed %d grants, want 6", len(all))
	}
	alices := collect("ListGrants", map[string]any{"KeyId": key, "Limit": 2, "GranteePrincipal": aliceARN})
	if len(alices) != 5 {
		t.Fatalf("ListGrants for alice listed %d grants, want 5", len(alices))
	}
	retirable := collect("ListRetirableGrants", map[string]any{"RetiringPrincipal": bobARN, "Limit": 2})
	if len(retirable) != len(want) {
		t.Fatalf("ListRetirableGrants listed %d grants, want %d", len(retirable), len(want))
	}
	for id := range want {
		if !retirable[id] {
			t.Fatalf("grant %s missing from ListRetirableGrants", id)
		}
	}
	one := e.ok(t, "root", "ListGrants", map[string]any{"KeyId": key, "GrantId": id})
	if n := len(one["Grants"].([]any)); n != 0 {
		t.Fatalf("ListGrants with another key's grant id = %d grants", n)
	}
	for gid := range alices {
		g := e.ok(t, "root", "ListGrants", map[string]any{"KeyId": key, "GrantId": gid})["Grants"].([]any)[0].(map[string]any)
		if g["KeyId"] != arn || g["GranteePrincipal"] != aliceARN || g["RetiringPrincipal"] != bobARN ||
			g["IssuingAccount"] != rootARN || fmt.Sprint(g["Operations"]) != "[Decrypt]" {
			t.Fatalf("grant entry = %v", g)
		}
		break
	}
}

func TestGrantTokensAreValidated(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	_, token := e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "Operations": []string{"Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"}})
	enc := map[string]any{"KeyId": key, "Plaintext": plain, "GrantTokens": []string{token}}
	blob := e.ok(t, "alice", "Encrypt", enc)["CiphertextBlob"]
	e.ok(t, "alice", "Decrypt", map[string]any{"CiphertextBlob": blob, "GrantTokens": []string{token}})
	e.ok(t, "alice", "GenerateDataKey", map[string]any{"KeyId": key, "GrantTokens": []string{token}})
	e.ok(t, "alice", "DescribeKey", map[string]any{"KeyId": key, "GrantTokens": []string{token}})

	bogus := grantTokenPrefix + "AAAA" + token[len(token)-8:]
	for _, op := range []string{"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt", "DescribeKey", "CreateGrant"} {
		e.fails(t, "root", op, map[string]any{"KeyId": key, "GrantTokens": []string{token, bogus}}, "InvalidGrantTokenException")
	}
	many := make([]string, 11)
	for i := range many {
		many[i] = token
	}
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": key, "Plaintext": plain, "GrantTokens": many}, "ValidationException")
}

func TestGrantsGoWithTheirKey(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	key, _ := e.createKey(t, nil)
	e.grant(t, "root", map[string]any{"KeyId": key, "GranteePrincipal": aliceARN, "RetiringPrincipal": bobARN, "Operations": []string{"Decrypt"}})
	if _, err := e.core.wdb.Exec(`DELETE FROM keys WHERE id = ?`, key); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.core.rdb.QueryRowContext(context.Background(), `SELECT count(*) FROM grants`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d grants left after their key was deleted (%v)", n, err)
	}
}

func TestGrantAllowsSignAndGenerateMacOnAsymmetricAndHMACKeys(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	bob := WithCaller(ctx, Caller{ARN: bobARN})
	ecc, err := tc.CreateKey(ctx, CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := tc.CreateKey(ctx, CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	if err != nil {
		t.Fatal(err)
	}
	sign := func() error {
		_, err := tc.Sign(bob, SignInput{KeyID: ecc.KeyID, Message: []byte("m"), MessageType: "RAW", SigningAlgorithm: "ECDSA_SHA_256"})
		return err
	}
	genMac := func() error {
		_, err := tc.GenerateMac(bob, MacInput{KeyID: mac.KeyID, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
		return err
	}
	for name, op := range map[string]func() error{"Sign": sign, "GenerateMac": genMac} {
		if err := op(); !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("%s without a grant: %v, want AccessDenied", name, err)
		}
	}
	if _, _, err := tc.CreateGrant(ctx, CreateGrantInput{KeyID: ecc.KeyID, GranteePrincipal: bobARN, Operations: []string{"Sign", "GetPublicKey"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tc.CreateGrant(ctx, CreateGrantInput{KeyID: mac.KeyID, GranteePrincipal: bobARN, Operations: []string{"GenerateMac", "VerifyMac"}}); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{"Sign": sign, "GenerateMac": genMac} {
		if err := op(); err != nil {
			t.Fatalf("%s with a grant: %v", name, err)
		}
	}
}
