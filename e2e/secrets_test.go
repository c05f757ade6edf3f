package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode"
)

// Every secret a test hands to ssegate (SSE-C keys, access secrets, the
// master key) is noted here, and every gateway's log and KMS audit log are
// searched for each of them, in every encoding a careless log line could
// use, when the gateway stops (issue 9: "Secrets"). The gateways run with
// --log-level debug, so this covers the chattiest logging there is.
var secrets struct {
	mu   sync.Mutex
	seen map[string]bool
}

// noteSecret registers a secret to search for in gateway logs.
func noteSecret(b []byte) {
	if len(b) < 8 {
		return // too short to search for without false hits
	}
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	if secrets.seen == nil {
		secrets.seen = map[string]bool{}
	}
	secrets.seen[string(b)] = true
}

// secretForms are the encodings of s a log line might carry.
func secretForms(s string) []string {
	b := []byte(s)
	forms := []string{
		hex.EncodeToString(b),
		base64.StdEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
	}
	printable := true
	for _, r := range s {
		if !unicode.IsPrint(r) {
			printable = false
			break
		}
	}
	if printable {
		forms = append(forms, s)
	}
	return forms
}

// gatewaySecrets are the secrets of one gateway: those noted by tests, the
// secrets in its environment, its master key and its root secret.
func gatewaySecrets(dataDir string, env []string) []string {
	secrets.mu.Lock()
	var out []string
	for s := range secrets.seen {
		out = append(out, s)
	}
	secrets.mu.Unlock()
	for _, kv := range env {
		name, v, _ := strings.Cut(kv, "=")
		if (strings.HasSuffix(name, "SECRET_KEY") || strings.HasSuffix(name, "MASTER_KEY")) && len(v) >= 8 {
			out = append(out, v)
		}
	}
	if mk, err := os.ReadFile(filepath.Join(dataDir, "master.key")); err == nil {
		if s := strings.TrimSpace(string(mk)); len(s) >= 8 {
			out = append(out, s)
			if raw, err := hex.DecodeString(s); err == nil {
				out = append(out, string(raw))
			}
		}
	}
	var creds struct {
		SecretKey string `json:"secret_key"`
	}
	if raw, err := os.ReadFile(filepath.Join(dataDir, "credentials.json")); err == nil && json.Unmarshal(raw, &creds) == nil && len(creds.SecretKey) >= 8 {
		out = append(out, creds.SecretKey)
	}
	return out
}

// checkNoSecrets fails t if any secret appears in the gateway's log
// records or its KMS audit log. Only log records (JSON lines) are searched:
// the banner that shows generated credentials once on a terminal is plain
// text and is meant to carry the secret.
func checkNoSecrets(t testing.TB, g *gatewayProc, env []string) {
	t.Helper()
	var records strings.Builder
	for _, line := range strings.Split(g.log.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			records.WriteString(line)
			records.WriteByte('\n')
		}
	}
	texts := map[string]string{"log": records.String()}
	if audit, err := os.ReadFile(filepath.Join(g.DataDir, "kms-audit.log")); err == nil {
		texts["kms-audit.log"] = string(audit)
	}
	for _, s := range gatewaySecrets(g.DataDir, env) {
		for _, f := range secretForms(s) {
			for name, text := range texts {
				if strings.Contains(text, f) {
					t.Errorf("a secret (%d bytes) appears in the gateway's %s", len(s), name)
				}
			}
		}
	}
}

func TestSecretScanFindsEveryForm(t *testing.T) {
	secret := "0123456789abcdef-SECRET"
	g := &gatewayProc{DataDir: t.TempDir(), log: &syncBuffer{}}
	for _, form := range secretForms(secret) {
		g.log = &syncBuffer{}
		g.log.Write([]byte(`{"msg":"oops","v":"` + form + `"}`))
		ft := &fakeT{TB: t}
		checkNoSecrets(ft, g, []string{"SSEGATE_SECRET_KEY=" + secret})
		if !ft.failed {
			t.Errorf("form %q not detected", form)
		}
	}
	g.log = &syncBuffer{}
	g.log.Write([]byte(`{"msg":"fine"}`))
	ft := &fakeT{TB: t}
	checkNoSecrets(ft, g, []string{"SSEGATE_SECRET_KEY=" + secret})
	if ft.failed {
		t.Error("a clean log was reported")
	}
}

// fakeT records failures instead of failing the test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Errorf(string, ...any) { f.failed = true }
func (f *fakeT) Helper()               {}
