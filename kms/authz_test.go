package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

const (
	rootARN  = "arn:aws:iam::000000000000:root"
	aliceARN = "arn:aws:iam::000000000000:user/alice"
	bobARN   = "arn:aws:iam::000000000000:user/bob"
	viaS3    = "s3.us-east-1.amazonaws.com"
)

// authzEnv serves the KMS API of a fresh core; each request names its
// caller in test headers (standing in for the gateway's SigV4 check).
type authzEnv struct {
	core  *Core
	url   string
	audit *syncBuffer
}

func newAuthzEnv(t *testing.T, opts Options) *authzEnv {
	t.Helper()
	e := &authzEnv{audit: &syncBuffer{}}
	opts.AuditWriter, opts.MaintenanceInterval = e.audit, -1
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), randomMaster(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	e.core = c
	h := NewHandler(c, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if arn := r.Header.Get("X-Test-Caller"); arn != "" {
			ctx = WithCaller(ctx, Caller{AccessKey: "AK" + arn[len(arn)-4:], ARN: arn, ViaService: r.Header.Get("X-Test-Via")})
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// who is "root", "alice", "bob", "alice@s3" (alice through S3) or
// "operator" (no caller).
func (e *authzEnv) call(t *testing.T, who, op string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", jsonContentType)
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	name, via, _ := strings.Cut(who, "@")
	switch name {
	case "root":
		req.Header.Set("X-Test-Caller", rootARN)
	case "alice":
		req.Header.Set("X-Test-Caller", aliceARN)
	case "bob":
		req.Header.Set("X-Test-Caller", bobARN)
	case "operator":
	default:
		t.Fatalf("unknown caller %q", who)
	}
	if via == "s3" {
		req.Header.Set("X-Test-Via", viaS3)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: response is not JSON: %q", op, raw)
	}
	return resp.StatusCode, m
}

// ok calls op and fails the test unless it succeeds.
func (e *authzEnv) ok(t *testing.T, who, op string, body any) map[string]any {
	t.Helper()
	status, m := e.call(t, who, op, body)
	if status != http.StatusOK {
		t.Fatalf("%s as %s = %d %v, want 200", op, who, status, m)
	}
	return m
}

// fails calls op and fails the test unless it answers 400 with typ.
func (e *authzEnv) fails(t *testing.T, who, op string, body any, typ string) map[string]any {
	t.Helper()
	status, m := e.call(t, who, op, body)
	if status != http.StatusBadRequest || m["__type"] != typ {
		t.Fatalf("%s as %s = %d %v, want 400 %s", op, who, status, m, typ)
	}
	return m
}

func (e *authzEnv) createKey(t *testing.T, extra map[string]any) (id, arn string) {
	t.Helper()
	body := map[string]any{"Description": "authz"}
	for k, v := range extra {
		body[k] = v
	}
	md := e.ok(t, "root", "CreateKey", body)["KeyMetadata"].(map[string]any)
	return md["KeyId"].(string), md["Arn"].(string)
}

func (e *authzEnv) putPolicy(t *testing.T, keyID, doc string) {
	t.Helper()
	e.ok(t, "root", "PutKeyPolicy", map[string]any{"KeyId": keyID, "PolicyName": "default", "Policy": doc})
}

// policyDoc wraps statements in a policy that also keeps the root's
// full access (so the lockout check passes).
func policyDoc(statements ...string) string {
	all := append([]string{`{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}`}, statements...)
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(all, ",") + `]}`
}

func (e *authzEnv) encrypt(t *testing.T, who, keyID string, ec map[string]string) string {
	t.Helper()
	m := e.ok(t, who, "Encrypt", map[string]any{"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString([]byte("hello")), "EncryptionContext": ec})
	return m["CiphertextBlob"].(string)
}

var plain = base64.StdEncoding.EncodeToString([]byte("top-secret-plaintext"))

func TestDefaultKeyPolicyAllowsRootAndDeniesUsers(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, arn := e.createKey(t, nil)
	e.ok(t, "root", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain})
	m := e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
	want := "User: " + aliceARN + " is not authorized to perform: kms:Encrypt on resource: " + arn +
		" because no resource-based policy allows the kms:Encrypt action"
	if m["message"] != want {
		t.Fatalf("message = %q, want %q", m["message"], want)
	}
	for _, op := range []string{"DescribeKey", "DisableKey", "GetKeyPolicy", "ListGrants", "ListResourceTags", "GetKeyRotationStatus"} {
		e.fails(t, "alice", op, map[string]any{"KeyId": id}, "AccessDeniedException")
	}
	// The key is unchanged by the refused DisableKey.
	e.ok(t, "root", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain})
	// The operator (no caller) is not subject to key policies.
	e.ok(t, "operator", "DescribeKey", map[string]any{"KeyId": id})
}

func TestAccountLevelOperationsAreRootOnly(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	ops := []struct {
		op   string
		body map[string]any
	}{
		{"CreateKey", map[string]any{}},
		{"ListKeys", map[string]any{}},
		{"ListAliases", map[string]any{}},
		{"GenerateRandom", map[string]any{"NumberOfBytes": 16}},
		{"ListRetirableGrants", map[string]any{"RetiringPrincipal": bobARN}},
		{"CreateAlias", map[string]any{"AliasName": "alias/a", "TargetKeyId": id}},
	}
	for _, tt := range ops {
		t.Run(tt.op, func(t *testing.T) {
			m := e.fails(t, "alice", tt.op, tt.body, "AccessDeniedException")
			if !strings.Contains(m["message"].(string), "no identity-based policy allows the kms:"+tt.op) {
				t.Fatalf("message = %q", m["message"])
			}
			e.ok(t, "root", tt.op, tt.body)
		})
	}
}

func TestKeyPolicyEncryptionContextConditionLimitsUserToPrefix(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	e.putPolicy(t, id, policyDoc(`{"Sid":"AliceReadsHerPrefixViaS3","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},
		"Action":"kms:Decrypt","Resource":"*","Condition":{"StringLike":{"kms:EncryptionContext:aws:s3:arn":"arn:aws:s3:::b/alice/*"},
		"StringEquals":{"kms:ViaService":"`+viaS3+`"}}}`))
	own := map[string]string{"aws:s3:arn": "arn:aws:s3:::b/alice/report"}
	other := map[string]string{"aws:s3:arn": "arn:aws:s3:::b/bob/report"}
	ownBlob, otherBlob := e.encrypt(t, "root", id, own), e.encrypt(t, "root", id, other)

	tests := []struct {
		name, who, blob string
		ec              map[string]string
		wantType        string
	}{
		{"own prefix through S3", "alice@s3", ownBlob, own, ""},
		{"other prefix through S3", "alice@s3", otherBlob, other, "AccessDeniedException"},
		{"own prefix directly", "alice", ownBlob, own, "AccessDeniedException"},
		{"bob through S3", "bob@s3", ownBlob, own, "AccessDeniedException"},
		{"root", "root", otherBlob, other, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"CiphertextBlob": tt.blob, "EncryptionContext": tt.ec}
			if tt.wantType == "" {
				m := e.ok(t, tt.who, "Decrypt", body)
				if m["Plaintext"] != base64.StdEncoding.EncodeToString([]byte("hello")) {
					t.Fatalf("Plaintext = %v", m["Plaintext"])
				}
				return
			}
			m := e.fails(t, tt.who, "Decrypt", body, tt.wantType)
			if _, leaked := m["Plaintext"]; leaked {
				t.Fatal("denied Decrypt returned plaintext")
			}
		})
	}
	// The policy allows Decrypt only: alice can't encrypt under the key.
	e.fails(t, "alice@s3", "GenerateDataKey", map[string]any{"KeyId": id, "EncryptionContext": own}, "AccessDeniedException")
	audit := e.audit.String()
	if !strings.Contains(audit, `"decision":"Allow","decidedBy":"policy:AliceReadsHerPrefixViaS3"`) ||
		!strings.Contains(audit, `"decision":"ImplicitDeny"`) {
		t.Fatalf("audit lacks the decisions:\n%s", audit)
	}
}

func TestExplicitDenyBeatsAllow(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, arn := e.createKey(t, nil)
	e.putPolicy(t, id, policyDoc(
		`{"Sid":"AliceAll","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:*","Resource":"*"}`,
		`{"Sid":"NoDecrypt","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`))
	blob := e.encrypt(t, "alice", id, nil)
	m := e.fails(t, "alice", "Decrypt", map[string]any{"CiphertextBlob": blob}, "AccessDeniedException")
	want := "User: " + aliceARN + " is not authorized to perform: kms:Decrypt on resource: " + arn + " with an explicit deny in a resource-based policy"
	if m["message"] != want {
		t.Fatalf("message = %q, want %q", m["message"], want)
	}
	// The deny applies to the root as well.
	e.fails(t, "root", "Decrypt", map[string]any{"CiphertextBlob": blob}, "AccessDeniedException")
	if !strings.Contains(e.audit.String(), `"decision":"Deny","decidedBy":"policy:NoDecrypt"`) {
		t.Fatal("audit lacks the explicit deny")
	}
}

func TestResourceTagConditionFollowsTagChanges(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, map[string]any{"Tags": []map[string]string{{"TagKey": "Project", "TagValue": "apollo"}}})
	e.putPolicy(t, id, policyDoc(`{"Sid":"Apollo","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:Encrypt","Resource":"*",
		"Condition":{"StringEquals":{"aws:ResourceTag/Project":"apollo"}}}`))
	e.encrypt(t, "alice", id, nil)
	e.ok(t, "root", "TagResource", map[string]any{"KeyId": id, "Tags": []map[string]string{{"TagKey": "Project", "TagValue": "gemini"}}})
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
	e.ok(t, "root", "UntagResource", map[string]any{"KeyId": id, "TagKeys": []string{"Project"}})
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
}

func TestResourceAliasesCondition(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	e.putPolicy(t, id, policyDoc(`{"Sid":"ByAlias","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:Encrypt","Resource":"*",
		"Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/alice-key"}}}`))
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
	e.ok(t, "root", "CreateAlias", map[string]any{"AliasName": "alias/alice-key", "TargetKeyId": id})
	e.encrypt(t, "alice", "alias/alice-key", nil)
	e.ok(t, "root", "DeleteAlias", map[string]any{"AliasName": "alias/alice-key"})
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
}

func TestPutKeyPolicyRefusesMalformedPolicies(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	tests := map[string]string{
		"not JSON":              `{"Version":`,
		"s3 action":             policyDoc(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"*"}`),
		"unknown condition key": policyDoc(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"x"}}}`),
		"unknown operator":      policyDoc(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringSortOf":{"kms:ViaService":"x"}}}`),
		"larger than 32 KB":     policyDoc(`{"Sid":"` + strings.Repeat("a", 33<<10) + `","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}`),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "default", "Policy": doc}, "MalformedPolicyDocumentException")
		})
	}
	e.fails(t, "root", "CreateKey", map[string]any{"Policy": `{"Version":"2012-10-17"`}, "MalformedPolicyDocumentException")
	e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "other", "Policy": policyDoc()}, "ValidationException")
	// The refused policies changed nothing: the default policy is in force.
	if doc := e.ok(t, "root", "GetKeyPolicy", map[string]any{"KeyId": id, "PolicyName": "default"})["Policy"].(string); !strings.Contains(doc, "key-default-1") {
		t.Fatalf("policy after refused puts = %s", doc)
	}
}

func TestPolicyLockoutSafetyCheckAndBypass(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	aliceOnly := `{"Version":"2012-10-17","Statement":[{"Sid":"AliceOnly","Effect":"Allow","Principal":{"AWS":"` + aliceARN + `"},"Action":"kms:*","Resource":"*"}]}`
	m := e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": id, "Policy": aliceOnly}, "MalformedPolicyDocumentException")
	if m["message"] != "The new key policy will not allow you to update the key policy in the future." {
		t.Fatalf("message = %q", m["message"])
	}
	e.fails(t, "root", "CreateKey", map[string]any{"Policy": aliceOnly}, "MalformedPolicyDocumentException")

	e.ok(t, "root", "PutKeyPolicy", map[string]any{"KeyId": id, "Policy": aliceOnly, "BypassPolicyLockoutSafetyCheck": true})
	got := e.ok(t, "alice", "GetKeyPolicy", map[string]any{"KeyId": id})
	if got["Policy"] != aliceOnly || got["PolicyName"] != "default" {
		t.Fatalf("GetKeyPolicy = %v", got)
	}
	// The root locked itself out; alice now administers the key.
	e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": id, "Policy": policyDoc()}, "AccessDeniedException")
	e.fails(t, "root", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
	e.fails(t, "alice", "PutKeyPolicy", map[string]any{"KeyId": id, "Policy": policyDoc()}, "MalformedPolicyDocumentException")
	e.ok(t, "alice", "PutKeyPolicy", map[string]any{"KeyId": id, "Policy": policyDoc(), "BypassPolicyLockoutSafetyCheck": true})
	e.ok(t, "root", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain})
	names := e.ok(t, "root", "ListKeyPolicies", map[string]any{"KeyId": id})["PolicyNames"].([]any)
	if len(names) != 1 || names[0] != "default" {
		t.Fatalf("PolicyNames = %v", names)
	}

	// CreateKey with a policy stores it.
	id2, _ := e.createKey(t, map[string]any{"Policy": aliceOnly, "BypassPolicyLockoutSafetyCheck": true})
	e.ok(t, "alice", "Encrypt", map[string]any{"KeyId": id2, "Plaintext": plain})
	e.fails(t, "root", "Encrypt", map[string]any{"KeyId": id2, "Plaintext": plain}, "AccessDeniedException")
}

func TestAWSManagedKeyIsUsableOnlyThroughS3(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	gdk := map[string]any{"KeyId": AWSManagedS3Alias, "EncryptionContext": map[string]string{"aws:s3:arn": "arn:aws:s3:::b/k"}}
	e.fails(t, "root", "GenerateDataKey", gdk, "AccessDeniedException")
	e.fails(t, "alice", "GenerateDataKey", gdk, "AccessDeniedException")
	dk := e.ok(t, "alice@s3", "GenerateDataKey", gdk)
	e.ok(t, "bob@s3", "Decrypt", map[string]any{"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": gdk["EncryptionContext"]})
	// The account may read its metadata and policy, not change it.
	e.ok(t, "root", "DescribeKey", map[string]any{"KeyId": AWSManagedS3Alias})
	doc := e.ok(t, "root", "GetKeyPolicy", map[string]any{"KeyId": AWSManagedS3Alias})["Policy"].(string)
	if !strings.Contains(doc, `"kms:ViaService":"s3.us-east-1.amazonaws.com"`) {
		t.Fatalf("managed key policy = %s", doc)
	}
	e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": AWSManagedS3Alias, "Policy": policyDoc()}, "AccessDeniedException")
	e.fails(t, "root", "PutKeyPolicy", map[string]any{"KeyId": AWSManagedS3Alias, "Policy": policyDoc(), "BypassPolicyLockoutSafetyCheck": true}, "AccessDeniedException")
	// The operator and the core's own callers are unaffected.
	e.ok(t, "operator", "GenerateDataKey", gdk)
	if _, err := e.core.GenerateDataKey(context.Background(), GenerateDataKeyInput{KeyID: AWSManagedS3Alias}); err != nil {
		t.Fatalf("in-process GenerateDataKey on the managed key: %v", err)
	}
}

func TestHiddenSSES3KeyNeedsNoPolicy(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	ctx := WithCaller(context.Background(), Caller{ARN: aliceARN, ViaService: viaS3})
	dk, err := e.core.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: SSES3KeyAlias})
	if err != nil {
		t.Fatalf("GenerateDataKey on the SSE-S3 key as a user: %v", err)
	}
	if _, err := e.core.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt with the SSE-S3 key as a user: %v", err)
	}
	if !strings.Contains(e.audit.String(), `"decidedBy":"aws-owned"`) {
		t.Fatal("audit lacks the aws-owned decision")
	}
}

func TestAuthorizeForTheGateway(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	e.putPolicy(t, id, policyDoc(`{"Sid":"AliceViaS3","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
		"Condition":{"StringEquals":{"kms:ViaService":"`+viaS3+`"}}}`))
	alice := WithCaller(context.Background(), Caller{ARN: aliceARN, ViaService: viaS3})
	bob := WithCaller(context.Background(), Caller{ARN: bobARN, ViaService: viaS3})
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::b/k"}
	tests := []struct {
		name string
		ctx  context.Context
		in   AuthorizeInput
		want error
	}{
		{"allowed decrypt", alice, AuthorizeInput{KeyID: id, Operation: "Decrypt", Context: ec}, nil},
		{"allowed generate", alice, AuthorizeInput{KeyID: id, Operation: "GenerateDataKey", Context: ec}, nil},
		{"not allowed encrypt", alice, AuthorizeInput{KeyID: id, Operation: "Encrypt", Context: ec}, ErrAccessDenied},
		{"other user", bob, AuthorizeInput{KeyID: id, Operation: "Decrypt", Context: ec}, ErrAccessDenied},
		{"managed key via S3", bob, AuthorizeInput{KeyID: AWSManagedS3Alias, Operation: "Decrypt", Context: ec}, nil},
		{"unknown key", alice, AuthorizeInput{KeyID: "alias/none", Operation: "Decrypt"}, ErrNotFound},
		{"unsupported operation", alice, AuthorizeInput{KeyID: id, Operation: "PutKeyPolicy"}, ErrValidation},
		{"operator", context.Background(), AuthorizeInput{KeyID: id, Operation: "Encrypt"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.core.Authorize(tt.ctx, tt.in)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Authorize = %v, want %v", err, tt.want)
			}
		})
	}
	// A disabled key is the crypto call's business, not Authorize's.
	if err := e.core.DisableKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := e.core.Authorize(alice, AuthorizeInput{KeyID: id, Operation: "Decrypt", Context: ec}); err != nil {
		t.Fatalf("Authorize on a disabled key = %v", err)
	}
	if !strings.Contains(e.audit.String(), `"cachedDataKey":true`) {
		t.Fatal("audit lacks cachedDataKey")
	}
}

func TestAuditLinesCarryDecisionsAndNoPlaintext(t *testing.T) {
	e := newAuthzEnv(t, Options{})
	id, _ := e.createKey(t, nil)
	e.ok(t, "root", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain})
	e.fails(t, "alice", "Encrypt", map[string]any{"KeyId": id, "Plaintext": plain}, "AccessDeniedException")
	dk := e.ok(t, "root", "GenerateDataKey", map[string]any{"KeyId": id})
	lines := strings.Split(strings.TrimSpace(e.audit.String()), "\n")
	var allow, deny bool
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		if ev["operation"] == "Encrypt" && ev["decision"] == "Allow" && ev["decidedBy"] == "policy:Enable IAM User Permissions" {
			allow = true
		}
		if ev["operation"] == "Encrypt" && ev["decision"] == "ImplicitDeny" && ev["callerArn"] == aliceARN && ev["outcome"] == "AccessDeniedException" {
			deny = true
		}
	}
	if !allow || !deny {
		t.Fatalf("audit lacks the allow or the deny:\n%s", e.audit.String())
	}
	for _, secret := range []string{plain, "top-secret-plaintext", dk["Plaintext"].(string)} {
		if strings.Contains(e.audit.String(), secret) {
			t.Fatal("audit log contains plaintext")
		}
	}
}
