package kms

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func postKMS(t *testing.T, url, target, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", jsonContentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("response is not JSON: %q", raw)
	}
	return resp.StatusCode, m
}

func TestHandlerProtocolErrors(t *testing.T) {
	_, srv := newTestServer(t)
	tests := []struct {
		name, target, body string
		wantType           string
	}{
		{"unknown operation", "TrentService.Frobnicate", "{}", "UnknownOperationException"},
		{"missing target", "", "{}", "UnknownOperationException"},
		{"other service", "DynamoDB_20120810.ListTables", "{}", "UnknownOperationException"},
		{"malformed JSON", "TrentService.DescribeKey", `{"KeyId":`, "SerializationException"},
		{"wrong field type", "TrentService.DescribeKey", `{"KeyId":5}`, "SerializationException"},
		{"bad base64 blob", "TrentService.Decrypt", `{"CiphertextBlob":"!!!"}`, "SerializationException"},
		{"body too large", "TrentService.DescribeKey", `{"KeyId":"` + strings.Repeat("a", maxRequestBody) + `"}`, "ValidationException"},
		{"unknown key", "TrentService.DescribeKey", `{"KeyId":"alias/nope","UnknownField":1}`, "NotFoundException"},
		{"missing key id", "TrentService.DescribeKey", `{}`, "ValidationException"},
		{"unsupported key spec", "TrentService.CreateKey", `{"KeySpec":"ECC_SECG_P256K1","KeyUsage":"SIGN_VERIFY"}`, "UnsupportedOperationException"},
		{"random without size", "TrentService.GenerateRandom", `{}`, "ValidationException"},
		{"zero deletion window", "TrentService.ScheduleKeyDeletion", `{"KeyId":"x","PendingWindowInDays":0}`, "ValidationException"},
		{"reserved alias", "TrentService.CreateAlias", `{"AliasName":"alias/aws/x","TargetKeyId":"x"}`, "NotAuthorizedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postKMS(t, srv.URL, tt.target, tt.body)
			if status != http.StatusBadRequest || body["__type"] != tt.wantType {
				t.Fatalf("got %d %v, want 400 %s", status, body, tt.wantType)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Fatal("error without message")
			}
		})
	}
}

func TestHandlerKeyMetadataShape(t *testing.T) {
	_, srv := newTestServer(t)
	status, body := postKMS(t, srv.URL, "TrentService.CreateKey", `{"Description":"shape","Tags":[{"TagKey":"a","TagValue":"b"}]}`)
	if status != http.StatusOK {
		t.Fatalf("CreateKey: %d %v", status, body)
	}
	md, _ := body["KeyMetadata"].(map[string]any)
	for field, want := range map[string]any{
		"AWSAccountId": "000000000000", "Enabled": true, "Description": "shape", "KeyUsage": "ENCRYPT_DECRYPT",
		"KeyState": "Enabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT",
		"CustomerMasterKeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": false,
	} {
		if md[field] != want {
			t.Errorf("KeyMetadata.%s = %v, want %v", field, md[field], want)
		}
	}
	if _, ok := md["CreationDate"].(float64); !ok {
		t.Errorf("CreationDate = %#v, want a JSON number", md["CreationDate"])
	}
	if arn, _ := md["Arn"].(string); arn != "arn:aws:kms:us-east-1:000000000000:key/"+md["KeyId"].(string) {
		t.Errorf("Arn = %q", arn)
	}
	if _, ok := md["DeletionDate"]; ok {
		t.Error("DeletionDate present on an enabled key")
	}
	status, body = postKMS(t, srv.URL, "TrentService.ListResourceTags", `{"KeyId":"`+md["KeyId"].(string)+`"}`)
	if tags, _ := body["Tags"].([]any); status != 200 || len(tags) != 1 || body["Truncated"] != false {
		t.Fatalf("ListResourceTags = %d %v", status, body)
	}
}

func TestHandlerDoesNotEchoPlaintextInErrors(t *testing.T) {
	_, srv := newTestServer(t)
	// "c2VjcmV0LXBsYWludGV4dA==" is base64 of "secret-plaintext".
	status, body := postKMS(t, srv.URL, "TrentService.Encrypt", `{"KeyId":"alias/none","Plaintext":"c2VjcmV0LXBsYWludGV4dA=="}`)
	raw, _ := json.Marshal(body)
	if status != 400 || strings.Contains(string(raw), "c2VjcmV0") || strings.Contains(string(raw), "secret-plaintext") {
		t.Fatalf("error response %s echoes the plaintext", raw)
	}
}

// awsCLI returns the Debian aws-cli v2 (not the pip v1 first on PATH).
// Under CI=true its absence fails the test.
func awsCLI(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/aws"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aws-cli not found at %s (CI=true)", path)
		}
		t.Skipf("aws-cli not found at %s", path)
	}
	return path
}

func runAWS(t *testing.T, bin, endpoint string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"kms", "--endpoint-url", endpoint, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws %v: %v\n%s", args, err, out)
	}
	var m map[string]any
	if len(strings.TrimSpace(string(out))) == 0 {
		return m
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("aws %v: output is not JSON: %s", args, out)
	}
	return m
}

func TestAWSCLIAgainstHandler(t *testing.T) {
	bin := awsCLI(t)
	tc, srv := newTestServer(t)
	created := runAWS(t, bin, srv.URL, "create-key", "--description", "from aws-cli")
	md, _ := created["KeyMetadata"].(map[string]any)
	id, _ := md["KeyId"].(string)
	if id == "" || md["KeyState"] != "Enabled" || md["Description"] != "from aws-cli" {
		t.Fatalf("create-key output: %v", created)
	}
	if _, err := tc.DescribeKey(context.Background(), id); err != nil {
		t.Fatalf("key made by aws-cli not in the core: %v", err)
	}
	runAWS(t, bin, srv.URL, "create-alias", "--alias-name", "alias/cli", "--target-key-id", id)
	desc := runAWS(t, bin, srv.URL, "describe-key", "--key-id", "alias/cli")
	if desc["KeyMetadata"].(map[string]any)["KeyId"] != id {
		t.Fatalf("describe-key by alias: %v", desc)
	}
	enc := runAWS(t, bin, srv.URL, "encrypt", "--key-id", "alias/cli", "--plaintext", "aGVsbG8=", "--encryption-context", "app=cli")
	blob, err := base64.StdEncoding.DecodeString(enc["CiphertextBlob"].(string))
	if err != nil {
		t.Fatalf("encrypt output: %v", enc)
	}
	blobFile := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(blobFile, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	dec := runAWS(t, bin, srv.URL, "decrypt", "--ciphertext-blob", "fileb://"+blobFile, "--encryption-context", "app=cli")
	if dec["Plaintext"] != "aGVsbG8=" || dec["KeyId"] != md["Arn"] {
		t.Fatalf("decrypt output: %v", dec)
	}
	dk := runAWS(t, bin, srv.URL, "generate-data-key", "--key-id", id, "--key-spec", "AES_256")
	if p, _ := base64.StdEncoding.DecodeString(dk["Plaintext"].(string)); len(p) != 32 {
		t.Fatalf("generate-data-key output: %v", dk)
	}
	list := runAWS(t, bin, srv.URL, "list-keys")
	if keys, _ := list["Keys"].([]any); len(keys) != 1 {
		t.Fatalf("list-keys output: %v", list)
	}
	runAWS(t, bin, srv.URL, "enable-key-rotation", "--key-id", id)
	st := runAWS(t, bin, srv.URL, "get-key-rotation-status", "--key-id", id)
	if st["KeyRotationEnabled"] != true {
		t.Fatalf("get-key-rotation-status output: %v", st)
	}
	del := runAWS(t, bin, srv.URL, "schedule-key-deletion", "--key-id", id, "--pending-window-in-days", "7")
	if del["KeyState"] != "PendingDeletion" || del["PendingWindowInDays"] != float64(7) {
		t.Fatalf("schedule-key-deletion output: %v", del)
	}
}
