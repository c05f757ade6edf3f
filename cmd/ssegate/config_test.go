package main

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
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
	if strings.Trim(c1.AccessKey, accessKeyAlphabet) != "" || strings.Trim(c1.SecretKey, secretKeyAlphabet) != "" {
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
