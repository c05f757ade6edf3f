package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"
)

func TestKMSPeerFlagsMapOntoPeersWithTheirCredentials(t *testing.T) {
	getenv := env(
		"SSEGATE_KMS_PEER_EU_WEST_1_ACCESS_KEY", "euak", "SSEGATE_KMS_PEER_EU_WEST_1_SECRET_KEY", "eu-secret-1234",
		"SSEGATE_KMS_PEER_AP_SOUTH_1_ACCESS_KEY", "apak", "SSEGATE_KMS_PEER_AP_SOUTH_1_SECRET_KEY", "ap-secret-5678",
	)
	c, err := parseServeConfig([]string{"--kms-peer", "eu-west-1=https://kms-eu.example:9000/", "--kms-peer=ap-south-1=http://127.0.0.1:7001"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kms.RemotePeer{
		"eu-west-1":  {Endpoint: "https://kms-eu.example:9000", AccessKey: "euak", SecretKey: "eu-secret-1234"},
		"ap-south-1": {Endpoint: "http://127.0.0.1:7001", AccessKey: "apak", SecretKey: "ap-secret-5678"},
	}
	got := c.kmsPeers()
	if len(got) != len(want) {
		t.Fatalf("peers = %+v", got)
	}
	for r, p := range want {
		if got[r] != p {
			t.Errorf("peer %s = %+v, want %+v", r, got[r], p)
		}
	}
	if strings.Contains(c.String(), "secret") {
		t.Errorf("Config.String shows a peer secret: %s", c)
	}
}

func TestKMSPeersFromEnvironmentAreAListAndFlagsReplaceIt(t *testing.T) {
	getenv := env("SSEGATE_KMS_PEERS", "eu-west-1=http://127.0.0.1:7001, eu-central-1=http://127.0.0.1:7002",
		"SSEGATE_KMS_PEER_EU_WEST_1_ACCESS_KEY", "a", "SSEGATE_KMS_PEER_EU_WEST_1_SECRET_KEY", "s1234567",
		"SSEGATE_KMS_PEER_EU_CENTRAL_1_ACCESS_KEY", "b", "SSEGATE_KMS_PEER_EU_CENTRAL_1_SECRET_KEY", "s7654321")
	c, err := parseServeConfig(nil, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.kmsPeers(); len(p) != 2 || p["eu-central-1"].Endpoint != "http://127.0.0.1:7002" || p["eu-central-1"].AccessKey != "b" {
		t.Fatalf("peers from SSEGATE_KMS_PEERS = %+v", p)
	}
	// A flag wins over the environment: the lists are not merged.
	c, err = parseServeConfig([]string{"--kms-peer", "eu-west-1=http://127.0.0.1:7009"}, getenv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.kmsPeers(); len(p) != 1 || p["eu-west-1"].Endpoint != "http://127.0.0.1:7009" {
		t.Fatalf("peers with a flag over the env = %+v", p)
	}
}

func TestKMSPeersFromConfigFileAndPrintConfigMasksTheirSecrets(t *testing.T) {
	secret := "file-peer-secret-4242"
	p := writeConfig(t, 0o600, "kms-peer = eu-west-1=http://127.0.0.1:7001",
		"kms-peer-eu-west-1-access-key = fileak", "kms-peer-eu-west-1-secret-key = "+secret)
	c, err := parseServeConfig([]string{"--config", p, "--print-config"}, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.kmsPeers()["eu-west-1"]; got != (kms.RemotePeer{Endpoint: "http://127.0.0.1:7001", AccessKey: "fileak", SecretKey: secret}) {
		t.Fatalf("peer from the config file = %+v", got)
	}
	var out bytes.Buffer
	if err := printConfig(&out, c); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if strings.Contains(text, secret) || strings.Contains(text, secret[:8]) {
		t.Errorf("--print-config shows a peer secret:\n%s", text)
	}
	for _, line := range []string{"kms-peer = eu-west-1=http://127.0.0.1:7001  # file",
		"kms-peer-eu-west-1-access-key = fileak  # file", "# kms-peer-eu-west-1-secret-key = ****  # file"} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("missing %q in:\n%s", line, text)
		}
	}
	// The environment wins over the file for the credentials too.
	c, err = parseServeConfig([]string{"--config", p}, env("SSEGATE_KMS_PEER_EU_WEST_1_SECRET_KEY", "env-secret-1111"), &bytes.Buffer{})
	if err != nil || c.kmsPeers()["eu-west-1"].SecretKey != "env-secret-1111" {
		t.Fatalf("env over file: %+v, %v", c.kmsPeers(), err)
	}
	// A file holding a peer secret must be private, as for other secrets.
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseServeConfig([]string{"--config", p}, env(), &bytes.Buffer{}); !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), secret) {
		t.Errorf("world-readable file with a peer secret: %v", err)
	}
}

func TestKMSPeerFlagsRejectInvalidValuesWithoutEchoingSecrets(t *testing.T) {
	creds := []string{"SSEGATE_KMS_PEER_EU_WEST_1_ACCESS_KEY", "ak", "SSEGATE_KMS_PEER_EU_WEST_1_SECRET_KEY", "peer-secret-9876"}
	for _, tt := range []struct {
		name string
		args []string
		env  []string
	}{
		{"no equals sign", []string{"--kms-peer", "eu-west-1"}, creds},
		{"bad region", []string{"--kms-peer", "EU_WEST=http://127.0.0.1:1"}, creds},
		{"bad scheme", []string{"--kms-peer", "eu-west-1=ftp://127.0.0.1:1"}, creds},
		{"no host", []string{"--kms-peer", "eu-west-1=http://"}, creds},
		{"a path", []string{"--kms-peer", "eu-west-1=http://127.0.0.1:1/kms"}, creds},
		{"user info in the URL", []string{"--kms-peer", "eu-west-1=http://u:p@127.0.0.1:1"}, creds},
		{"own region", []string{"--region", "eu-west-1", "--kms-peer", "eu-west-1=http://127.0.0.1:1"}, creds},
		{"twice", []string{"--kms-peer", "eu-west-1=http://127.0.0.1:1", "--kms-peer", "eu-west-1=http://127.0.0.1:2"}, creds},
		{"no credentials", []string{"--kms-peer", "eu-west-1=http://127.0.0.1:1"}, nil},
		{"secret key only", []string{"--kms-peer", "eu-west-1=http://127.0.0.1:1"}, creds[2:]},
		{"with a remote KMS", []string{"--kms-peer", "eu-west-1=http://127.0.0.1:1", "--kms-endpoint", "http://127.0.0.1:2"},
			append([]string{"SSEGATE_KMS_ACCESS_KEY", "k", "SSEGATE_KMS_SECRET_KEY", "kmssecret"}, creds...)},
		{"NaN rate", []string{"--kms-rate-rsa", "NaN"}, nil},
		{"not a number", []string{"--kms-quota-keys", "many"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServeConfig(tt.args, env(tt.env...), &bytes.Buffer{})
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if strings.Contains(err.Error(), "peer-secret-9876") {
				t.Errorf("error echoes the peer secret: %v", err)
			}
		})
	}
}

func TestKMSQuotaFlagsMapOntoOptions(t *testing.T) {
	c, err := parseServeConfig(nil, env(), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.KMSQuotas != (kms.Quotas{}) {
		t.Errorf("default quotas = %+v, want zero (AWS defaults)", c.KMSQuotas)
	}
	c, err = parseServeConfig([]string{"--kms-quota-keys", "10", "--kms-rate-symmetric", "2500.5", "--kms-rate-rsa=-1", "--kms-rate-hmac", "7"},
		env("SSEGATE_KMS_RATE_ECC", "30"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := kms.Quotas{KeysPerAccount: 10, SymmetricPerSecond: 2500.5, RSAPerSecond: -1, ECCPerSecond: 30, HMACPerSecond: 7}
	if c.KMSQuotas != want {
		t.Errorf("quotas = %+v, want %+v", c.KMSQuotas, want)
	}
}

// TestKMSQuotaFlagReachesTheKeystore: --kms-quota-keys 1 lets the operator
// create one key, and the second is LimitExceeded.
func TestKMSQuotaFlagReachesTheKeystore(t *testing.T) {
	dir := newKeystore(t)
	if code, out := runCmd(t, "kms", "create", "--data-dir", dir, "--kms-quota-keys", "1"); code != 0 {
		t.Fatalf("first create: %d %s", code, out)
	}
	code, out := runCmd(t, "kms", "create", "--data-dir", dir, "--kms-quota-keys", "1")
	if code == 0 || !strings.Contains(out, "at most 1") {
		t.Fatalf("second create under a quota of 1: %d %s", code, out)
	}
	if code, out := runCmd(t, "kms", "create", "--data-dir", dir, "--kms-quota-keys", "-1"); code != 0 {
		t.Fatalf("create with the quota off: %d %s", code, out)
	}
}

func TestKMSScheduleDeletionForce(t *testing.T) {
	dir := newKeystore(t)
	code, out := runCmd(t, "kms", "create", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	keyID := strings.Fields(out)[0]
	if code, out = runCmd(t, "kms", "schedule-deletion", keyID, "--data-dir", dir, "--days", "7"); code != 0 {
		t.Fatalf("schedule-deletion: %d %s", code, out)
	}
	// A plain second schedule is refused (already pending); --force takes
	// over the pending deletion and says so.
	if code, out = runCmd(t, "kms", "schedule-deletion", keyID, "--data-dir", dir); code == 0 {
		t.Fatalf("second schedule-deletion without --force succeeded: %s", out)
	}
	code, out = runCmd(t, "kms", "schedule-deletion", keyID, "--force", "--data-dir", dir, "--days", "7")
	if code != 0 || !strings.Contains(out, "forced") || !strings.Contains(out, keyID) {
		t.Fatalf("schedule-deletion --force: %d %s", code, out)
	}
	audit, err := os.ReadFile(filepath.Join(dir, "kms-audit.log"))
	if err != nil || !strings.Contains(string(audit), `"operation":"ScheduleKeyDeletionForce"`) {
		t.Fatalf("audit log lacks the forced schedule (%v):\n%s", err, audit)
	}
	if _, out = runCmd(t, "kms", "help"); !strings.Contains(out, "--force") || !strings.Contains(out, "used since scheduling") {
		t.Errorf("kms help does not explain --force:\n%s", out)
	}
}
