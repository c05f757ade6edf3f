package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestServeConfigDefaults(t *testing.T) {
	c, err := parseServeConfig(nil, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "127.0.0.1:9900", DataDir: "./data", Region: "us-east-1", LogFormat: "text",
		DefaultSSE: "AES256", LogLevel: slog.LevelInfo}
	if c.Listen != want.Listen || c.DataDir != want.DataDir || c.Region != want.Region ||
		c.LogFormat != want.LogFormat || c.DefaultSSE != want.DefaultSSE || c.LogLevel != want.LogLevel {
		t.Errorf("defaults = %+v", c)
	}
	if c.Backend != (Backend{Kind: "fs", Path: filepath.Join("data", "objects")}) {
		t.Errorf("default backend = %+v, want fs:<data-dir>/objects", c.Backend)
	}
	if c.MasterKeyFile != filepath.Join("data", "master.key") {
		t.Errorf("default master key file = %q", c.MasterKeyFile)
	}
	if c.AllowInsecureSSEC {
		t.Error("SSE-C over plain HTTP must be off by default")
	}
}

func TestServeConfigFlagsWinOverEnvWhichWinsOverDefaults(t *testing.T) {
	getenv := env(
		"SSEGATE_LISTEN", "0.0.0.0:1111",
		"SSEGATE_REGION", "eu-west-1",
		"SSEGATE_DATA_DIR", "/env/data",
		"SSEGATE_ALLOW_INSECURE_SSEC", "true",
		"SSEGATE_DOMAIN", "s3.example.com, S3.Other.org",
	)
	c, err := parseServeConfig([]string{"--listen", "127.0.0.1:0", "--log-format=json"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:0" {
		t.Errorf("listen = %q, want the flag's value", c.Listen)
	}
	if c.Region != "eu-west-1" || c.DataDir != "/env/data" || !c.AllowInsecureSSEC {
		t.Errorf("env not applied: %+v", c)
	}
	if c.LogFormat != "json" {
		t.Errorf("log format = %q", c.LogFormat)
	}
	if c.Backend.Path != "/env/data/objects" || c.MasterKeyFile != "/env/data/master.key" {
		t.Errorf("data-dir derived paths = %q, %q", c.Backend.Path, c.MasterKeyFile)
	}
	if strings.Join(c.Domains, ",") != "s3.example.com,s3.other.org" {
		t.Errorf("domains = %q", c.Domains)
	}

	// A boolean flag can switch off what the environment switched on.
	c, err = parseServeConfig([]string{"--allow-insecure-ssec=false"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AllowInsecureSSEC {
		t.Error("--allow-insecure-ssec=false must override SSEGATE_ALLOW_INSECURE_SSEC=true")
	}
}

func TestServeConfigBackends(t *testing.T) {
	creds := env("SSEGATE_BACKEND_ACCESS_KEY", "minioadmin", "SSEGATE_BACKEND_SECRET_KEY", "minioadmin-secret")
	c, err := parseServeConfig([]string{"--backend", "minio:https://10.0.0.1:9000"}, creds, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend.Kind != "minio" || c.Backend.Endpoint != "https://10.0.0.1:9000" || c.Backend.AccessKey != "minioadmin" {
		t.Errorf("backend = %v", c.Backend)
	}
	if strings.Contains(c.String(), "minioadmin-secret") {
		t.Errorf("Config.String leaks the backend secret: %s", c)
	}
	c, err = parseServeConfig([]string{"--backend", "fs:/srv/objects"}, env(), &bytes.Buffer{})
	if err != nil || c.Backend != (Backend{Kind: "fs", Path: "/srv/objects"}) {
		t.Errorf("fs backend = %+v, %v", c.Backend, err)
	}
}

func TestServeConfigRejectsInvalidValues(t *testing.T) {
	minioCreds := []string{"SSEGATE_BACKEND_ACCESS_KEY", "a", "SSEGATE_BACKEND_SECRET_KEY", "b"}
	tests := []struct {
		name string
		args []string
		env  []string
	}{
		{"listen without port", []string{"--listen", "localhost"}, nil},
		{"unknown backend", []string{"--backend", "s3:x"}, nil},
		{"fs backend without path", []string{"--backend", "fs:"}, nil},
		{"minio backend without scheme", []string{"--backend", "minio:10.0.0.1:9000"}, minioCreds},
		{"minio backend with path", []string{"--backend", "minio:http://h:9000/bucket"}, minioCreds},
		{"minio backend without credentials", []string{"--backend", "minio:http://h:9000"}, nil},
		{"tls cert without key", []string{"--tls-cert", "c.pem"}, nil},
		{"bad log format", []string{"--log-format", "xml"}, nil},
		{"bad log level", []string{"--log-level", "loud"}, nil},
		{"bad default sse", []string{"--default-sse", "aws:kms:dsse"}, nil},
		{"kms key without kms default", []string{"--default-kms-key-id", "alias/x"}, nil},
		{"bad account id", []string{"--account-id", "12"}, nil},
		{"access key without secret", nil, []string{"SSEGATE_ACCESS_KEY", "abc"}},
		{"short secret", nil, []string{"SSEGATE_ACCESS_KEY", "abc", "SSEGATE_SECRET_KEY", "short"}},
		{"kms endpoint without credentials", []string{"--kms-endpoint", "http://127.0.0.1:1"}, nil},
		{"bad env bool", nil, []string{"SSEGATE_ALLOW_INSECURE_SSEC", "perhaps"}},
		{"unknown flag", []string{"--no-such-flag"}, nil},
		{"stray argument", []string{"extra"}, nil},
		{"master key too short", nil, []string{"SSEGATE_MASTER_KEY", "00112233"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServeConfig(tt.args, env(tt.env...), &bytes.Buffer{})
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestMasterKeyFromEnvAcceptsHexAndBase64ButNeverEchoesIt(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	for _, s := range []string{
		"abababababababababababababababababababababababababababababababab",
		"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
	} {
		c, err := parseServeConfig(nil, env("SSEGATE_MASTER_KEY", s), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if !bytes.Equal(c.MasterKey, key) {
			t.Errorf("%s decoded to %x", s, c.MasterKey)
		}
		if strings.Contains(c.String(), s) || strings.Contains(c.String(), "abab") {
			t.Errorf("Config.String leaks the master key: %s", c)
		}
	}
	secret := "ababababababababababababababababababababababababababababababab" // 31 bytes
	_, err := parseServeConfig(nil, env("SSEGATE_MASTER_KEY", secret), &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("err = %v; want an error that does not quote the key", err)
	}
}

func TestHelpFlagIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	_, err := parseServeConfig([]string{"-h"}, env(), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(out.String(), "SSEGATE_DATA_DIR") {
		t.Errorf("usage does not name the env equivalents:\n%s", out.String())
	}
}

func TestCredentialsAreGeneratedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	c1, created, err := loadOrCreateCredentials(dir)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	if len(c1.AccessKey) != 20 || len(c1.SecretKey) != 40 {
		t.Errorf("lengths = %d, %d; want 20, 40", len(c1.AccessKey), len(c1.SecretKey))
	}
	const upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	if strings.Trim(c1.AccessKey, upperAlnum) != "" || strings.Trim(c1.SecretKey, upperAlnum+"abcdefghijklmnopqrstuvwxyz+/") != "" {
		t.Errorf("characters outside the alphabets: %q", c1.AccessKey)
	}
	fi, err := os.Stat(filepath.Join(dir, credentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	c2, created, err := loadOrCreateCredentials(dir)
	if err != nil || created || c2 != c1 {
		t.Errorf("restart: created=%v err=%v same=%v", created, err, c2 == c1)
	}
	if strings.Contains(c1.String(), c1.SecretKey) {
		t.Error("rootCredentials.String leaks the secret")
	}
	c3, _, err := loadOrCreateCredentials(t.TempDir())
	if err != nil || c3.SecretKey == c1.SecretKey || c3.AccessKey == c1.AccessKey {
		t.Errorf("two data dirs got the same credentials (err %v)", err)
	}
}

func TestCredentialsFileReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := loadOrCreateCredentials(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, credentialsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateCredentials(dir); err == nil {
		t.Fatal("a world-readable credentials file was accepted")
	}
}

func TestCorruptCredentialsFileIsAnErrorWithoutItsContent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, credentialsFile), []byte(`{"access_key":"AK","secret_key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadOrCreateCredentials(dir)
	if err == nil || strings.Contains(err.Error(), "AK") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{[]string{"version"}, 0, "go:", ""},
		{[]string{"help"}, 0, "ssegate serve", ""},
		{nil, 2, "", "Usage:"},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{[]string{"serve", "--log-format", "xml"}, 2, "", "--log-format"},
		{[]string{"healthcheck", "--listen", "127.0.0.1:1", "--timeout", "2s"}, 1, "", "unhealthy"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, env(), &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.inStdout) || !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("code %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}

// writeConfig writes a config file with mode perm and returns its path.
func writeConfig(t testing.TB, perm os.FileMode, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ssegate.conf")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return p
}

func TestConfigFileSetsServeSettings(t *testing.T) {
	p := writeConfig(t, 0o644,
		"# a comment",
		"",
		"listen = 127.0.0.1:9911",
		"  data-dir=/srv/ssegate  ",
		`region = "eu-central-1"  # trailing comment`,
		"log-format = 'json'",
		"allow-insecure-ssec = true",
		"domain = s3.example.com # comment after an unquoted value",
		`compress = "text/*,application/json"`,
	)
	c, err := parseServeConfig([]string{"--config", p}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9911" || c.DataDir != "/srv/ssegate" || c.Region != "eu-central-1" ||
		c.LogFormat != "json" || !c.AllowInsecureSSEC || strings.Join(c.Domains, ",") != "s3.example.com" ||
		c.Compress != "text/*,application/json" {
		t.Errorf("file not applied: %+v", c)
	}
	if c.Backend.Path != "/srv/ssegate/objects" {
		t.Errorf("derived backend = %v, want it under the file's data-dir", c.Backend)
	}
}

func TestConfigPrecedenceIsFlagThenEnvThenFileThenDefault(t *testing.T) {
	p := writeConfig(t, 0o600, "listen = 127.0.0.1:1001", "region = file-region", "account-id = 111111111111", "log-level = warn")
	getenv := env("SSEGATE_CONFIG", p, "SSEGATE_LISTEN", "127.0.0.1:2002", "SSEGATE_REGION", "env-region")
	c, err := parseServeConfig([]string{"--listen=127.0.0.1:3003"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ setting, got, want string }{
		{"listen: flag over env and file", c.Listen, "127.0.0.1:3003"},
		{"region: env over file", c.Region, "env-region"},
		{"account-id: file over default", c.AccountID, "111111111111"},
		{"log-level: file over default", c.LogLevel.String(), "WARN"},
		{"log-format: default", c.LogFormat, "text"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.setting, tt.got, tt.want)
		}
	}
	var out bytes.Buffer
	if err := printConfig(&out, c); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"listen = 127.0.0.1:3003  # flag", "region = env-region  # env",
		"account-id = 111111111111  # file", "log-format = text  # default",
		"# config file: " + p,
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("--print-config lacks %q:\n%s", line, out.String())
		}
	}

	// The --config flag wins over SSEGATE_CONFIG.
	other := writeConfig(t, 0o600, "region = other-file")
	c, err = parseServeConfig([]string{"--config", other}, env("SSEGATE_CONFIG", p), &bytes.Buffer{})
	if err != nil || c.Region != "other-file" || c.AccountID != "000000000000" {
		t.Errorf("--config did not replace SSEGATE_CONFIG: region %q account %q err %v", c.Region, c.AccountID, err)
	}
}

func TestConfigFileErrorsNameTheFileAndLine(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string // besides ErrConfig and path:line
		line  int
	}{
		{"unknown name", []string{"# ok", "listen = 127.0.0.1:1", "no-such-setting = 1"}, "unknown setting", 3},
		{"duplicate", []string{"region = a", "", "region = b"}, "already set on line 1", 3},
		{"line without =", []string{"listen 127.0.0.1:1"}, "name = value", 1},
		{"empty name", []string{" = x"}, "name = value", 1},
		{"dashes", []string{"--listen = 127.0.0.1:1"}, "without dashes", 1},
		{"config in a config file", []string{"config = /etc/other"}, "cannot be set", 1},
		{"unterminated quote", []string{`region = "eu`}, "double-quoted", 1},
		{"text after a quoted value", []string{`region = "eu" west`}, "double-quoted", 1},
		{"stray quote", []string{`region = eu"west`}, "quotes", 1},
		{"bad bool", []string{"allow-insecure-ssec = maybe"}, "allow-insecure-ssec", 1},
		{"a subcommand's own flag", []string{"bucket = b"}, "unknown setting", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, 0o600, tt.lines...)
			_, err := parseServeConfig([]string{"--config", p}, env(), &bytes.Buffer{})
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if loc := p + ":" + strconv.Itoa(tt.line) + ":"; !strings.Contains(err.Error(), loc) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want %q and %q", err, loc, tt.want)
			}
		})
	}
	_, err := parseServeConfig([]string{"--config", filepath.Join(t.TempDir(), "missing.conf")}, env(), &bytes.Buffer{})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("missing config file: err = %v, want ErrConfig", err)
	}
}

func TestConfigFileWithSecretReadableByOthersIsRefused(t *testing.T) {
	const secret = "file-secret-value-123"
	masterHex := strings.Repeat("cd", 32)
	tests := []struct {
		name   string
		perm   os.FileMode
		lines  []string
		refuse bool
	}{
		{"secret key, 0644", 0o644, []string{"access-key = fileak", "secret-key = " + secret}, true},
		{"secret key, group-readable 0640", 0o640, []string{"access-key = fileak", "secret-key = " + secret}, true},
		{"master key, 0604", 0o604, []string{"master-key = " + masterHex}, true},
		{"kms secret, 0644", 0o644, []string{"kms-secret-key = " + secret}, true},
		{"backend secret, 0644", 0o644, []string{"backend-secret-key = " + secret}, true},
		{"secret key, 0600", 0o600, []string{"access-key = fileak", "secret-key = " + secret}, false},
		{"master key, 0400", 0o400, []string{"master-key = " + masterHex}, false},
		{"no secret, 0644", 0o644, []string{"listen = 127.0.0.1:1", "kms-access-key = not-a-secret"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.perm, tt.lines...)
			_, err := parseServeConfig([]string{"--config", p}, env(), &bytes.Buffer{})
			if tt.refuse {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "readable by others") {
					t.Fatalf("err = %v; want a refusal", err)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), masterHex) {
					t.Errorf("the refusal quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestConfigFileFeedsEnvironmentOnlySettingsButEnvWins(t *testing.T) {
	masterHex := strings.Repeat("cd", 32)
	p := writeConfig(t, 0o600,
		"access-key = FILEAK", "secret-key = file-secret-1234",
		"master-key = "+masterHex,
		"backend = minio:http://127.0.0.1:9000",
		"backend-access-key = fileminio", "backend-secret-key = fileminio-secret",
	)
	c, err := parseServeConfig([]string{"--config", p}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKey != "FILEAK" || c.SecretKey != "file-secret-1234" || c.Backend.SecretKey != "fileminio-secret" ||
		!bytes.Equal(c.MasterKey, bytes.Repeat([]byte{0xcd}, 32)) {
		t.Errorf("file secrets not applied: ak %q backend %v master %x", c.AccessKey, c.Backend, c.MasterKey)
	}
	c, err = parseServeConfig([]string{"--config", p}, env("SSEGATE_SECRET_KEY", "env-secret-5678", "SSEGATE_ACCESS_KEY", "ENVAK"), &bytes.Buffer{})
	if err != nil || c.AccessKey != "ENVAK" || c.SecretKey != "env-secret-5678" {
		t.Errorf("env did not win over the file: ak %q err %v", c.AccessKey, err)
	}
}

func TestPrintConfigMasksEverySecretAndRoundTrips(t *testing.T) {
	masterB64 := "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
	secrets := []string{"env-root-secret-9999", "file-kms-secret-7777", "env-backend-secret-8888", masterB64}
	p := writeConfig(t, 0o600,
		"kms-endpoint = http://127.0.0.1:7000", "kms-access-key = kmsak", "kms-secret-key = "+secrets[1],
		`domain = "a.example, b.example"`)
	getenv := env("SSEGATE_ACCESS_KEY", "ROOTAK", "SSEGATE_SECRET_KEY", secrets[0],
		"SSEGATE_BACKEND_ACCESS_KEY", "minioak", "SSEGATE_BACKEND_SECRET_KEY", secrets[2],
		"SSEGATE_MASTER_KEY", masterB64)
	c, err := parseServeConfig([]string{"--config", p, "--backend", "minio:http://127.0.0.1:9000", "--print-config"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.PrintConfig {
		t.Fatal("--print-config not recorded")
	}
	var out bytes.Buffer
	if err := printConfig(&out, c); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, s := range secrets {
		for _, part := range []string{s, s[:8], s[len(s)-8:]} {
			if strings.Contains(text, part) {
				t.Errorf("--print-config shows (part of) a secret %q:\n%s", part, text)
			}
		}
	}
	if strings.Contains(text, "abab") {
		t.Errorf("--print-config shows master key bytes:\n%s", text)
	}
	for _, line := range []string{
		"# secret-key = ****  # env", "# kms-secret-key = ****  # file", "# backend-secret-key = ****  # env",
		"# master-key = ****  # env", "access-key = ROOTAK  # env", "kms-access-key = kmsak  # file",
		"backend = minio:http://127.0.0.1:9000  # flag", "master-key-file = data/master.key  # default",
		"sse-s3-key-id = alias/aws/s3  # default", `domain = "a.example, b.example"  # file`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %q in:\n%s", line, text)
		}
	}
	// Every serve flag and environment-only setting is listed.
	fs, _ := configFlags("serve", &bytes.Buffer{})
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" && f.Name != "print-config" && !strings.Contains(text, f.Name+" = ") {
			t.Errorf("setting %s missing", f.Name)
		}
	})
	for _, n := range envOnlySettings {
		if !strings.Contains(text, n+" = ") {
			t.Errorf("setting %s missing", n)
		}
	}

	// The output, secrets aside, is a config file that gives the same
	// configuration.
	again := writeConfig(t, 0o600, text)
	c2, err := parseServeConfig([]string{"--config", again}, env(
		"SSEGATE_SECRET_KEY", secrets[0], "SSEGATE_BACKEND_SECRET_KEY", secrets[2], "SSEGATE_KMS_SECRET_KEY", secrets[1]), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("--print-config output does not parse: %v\n%s", err, text)
	}
	if c2.String() != c.String() || strings.Join(c2.Domains, ",") != strings.Join(c.Domains, ",") || c2.KMSAccessKey != c.KMSAccessKey {
		t.Errorf("round trip differs:\n%s\n%s", c, c2)
	}
}

func TestServePrintConfigExitsZeroWithoutStarting(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "never-created")
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--print-config", "--listen", "127.0.0.1:1", "--data-dir", dataDir}, env(), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--print-config created the data dir (stat err %v): it must not start anything", err)
	}
	// An invalid configuration is still exit 2: --print-config checks it.
	if code := run([]string{"serve", "--print-config", "--log-format", "xml"}, env(), &stdout, &stderr); code != 2 {
		t.Errorf("invalid config with --print-config: exit %d, want 2", code)
	}
}

func TestSubcommandsReadTheConfigFileButNotTheirFlagsFromIt(t *testing.T) {
	p := writeConfig(t, 0o600, "data-dir = /from/file")
	fs, parse := configFlags("kms create", &bytes.Buffer{})
	desc := fs.String("description", "", "")
	c, pos, err := parse([]string{"--config", p, "--description", "d", "arg"}, env())
	if err != nil || c.DataDir != "/from/file" || *desc != "d" || len(pos) != 1 {
		t.Fatalf("c.DataDir %q desc %q pos %q err %v", c.DataDir, *desc, pos, err)
	}
	bad := writeConfig(t, 0o600, "description = from-file")
	fs, parse = configFlags("kms create", &bytes.Buffer{})
	fs.String("description", "", "")
	if _, _, err := parse([]string{"--config", bad}, env()); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "unknown setting") {
		t.Errorf("a subcommand flag in the config file: err = %v, want unknown setting", err)
	}
	if fs.Lookup("print-config") != nil {
		t.Error("--print-config is a serve flag only")
	}
}
