package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/ssegate/ssegate/kms"
)

// startTLSKMS runs an embedded-KMS ssegate in region with a self-signed
// certificate, the private CA a remote KMS or KMS peer is served under.
// It returns the https endpoint, the certificate and the root credentials.
func startTLSKMS(t *testing.T, region string) (endpoint, caFile string, root rootCredentials) {
	t.Helper()
	dir := t.TempDir()
	cert, key := writeSelfSignedCert(t, t.TempDir(), "kms")
	endpoint = "https://" + startServe(t, dir, "--region", region, "--tls-cert", cert, "--tls-key", key)
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, credentialsFile)), &root); err != nil || root.SecretKey == "" {
		t.Fatalf("credentials of the KMS gateway: %v", err)
	}
	return endpoint, cert, root
}

// readRoot reads the root credentials serve generated in dir.
func readRoot(t *testing.T, dir string) rootCredentials {
	t.Helper()
	var c rootCredentials
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, credentialsFile)), &c); err != nil || c.SecretKey == "" {
		t.Fatalf("credentials in %s: %v", dir, err)
	}
	return c
}

// TestRemoteKMSOverTLSIsTrustedOnlyWithKMSCACert runs a gateway whose
// --kms-endpoint is another ssegate under a private CA: SSE-KMS works only
// when --kms-ca-cert names that CA; without it, or with another CA, the
// PUT fails and nothing is stored.
func TestRemoteKMSOverTLSIsTrustedOnlyWithKMSCACert(t *testing.T) {
	kmsEndpoint, ca, kmsRoot := startTLSKMS(t, "us-east-1")
	other, _ := writeSelfSignedCert(t, t.TempDir(), "other")
	// The KMS credentials are environment-only settings; a 0600 config
	// file carries them, as startServe passes no environment.
	conf := writeConfig(t, 0o600, "kms-access-key = "+kmsRoot.AccessKey, "kms-secret-key = "+kmsRoot.SecretKey)

	for _, tc := range []struct {
		name  string
		args  []string
		works bool
	}{
		{"no --kms-ca-cert: system roots refuse the private CA", nil, false},
		{"--kms-ca-cert of another CA", []string{"--kms-ca-cert", other}, false},
		{"--kms-ca-cert of the KMS's CA", []string{"--kms-ca-cert", ca}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := startServe(t, dir, append([]string{"--config", conf, "--kms-endpoint", kmsEndpoint}, tc.args...)...)
			root := readRoot(t, dir)
			c := s3As("http://"+addr, root.AccessKey, root.SecretKey)
			ctx := context.Background()
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
				t.Fatal(err)
			}
			body := []byte("secret backup data")
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("k"),
				Body: bytes.NewReader(body), ServerSideEncryption: types.ServerSideEncryptionAwsKms})
			if !tc.works {
				if err == nil {
					t.Fatal("SSE-KMS PUT succeeded through a KMS whose certificate is not trusted")
				}
				if _, herr := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("k")}); herr == nil {
					t.Fatal("the failed PUT stored an object")
				}
				return
			}
			if err != nil {
				t.Fatalf("SSE-KMS PUT: %v", err)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("k")})
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, body) || out.ServerSideEncryption != types.ServerSideEncryptionAwsKms {
				t.Fatalf("GET = %q (sse %q, err %v), want %q under aws:kms", got, out.ServerSideEncryption, err, body)
			}
		})
	}
}

// TestRemoteKMSClientVerifiesAgainstKMSCACertOnly shows why the PUT above
// fails: the remote KMS client's TLS verification, not anything else.
func TestRemoteKMSClientVerifiesAgainstKMSCACertOnly(t *testing.T) {
	kmsEndpoint, ca, kmsRoot := startTLSKMS(t, "us-east-1")
	other, _ := writeSelfSignedCert(t, t.TempDir(), "other")
	getenv := env("SSEGATE_KMS_ACCESS_KEY", kmsRoot.AccessKey, "SSEGATE_KMS_SECRET_KEY", kmsRoot.SecretKey)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "" = the call succeeds
	}{
		{"system roots", nil, "certificate signed by unknown authority"},
		{"another CA", []string{"--kms-ca-cert", other}, "certificate signed by unknown authority"},
		{"the KMS's CA", []string{"--kms-ca-cert", ca}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseServeConfig(append([]string{"--kms-endpoint", kmsEndpoint, "--data-dir", t.TempDir()}, tc.args...), getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			remote, err := kms.NewRemote(context.Background(), kms.RemoteConfig{Endpoint: cfg.KMSEndpoint, Region: cfg.Region,
				AccessKey: cfg.KMSAccessKey, SecretKey: cfg.KMSSecretKey, HTTPClient: cfg.kmsHTTPClient()})
			if err != nil {
				t.Fatal(err)
			}
			md, err := remote.CreateKey(context.Background(), kms.CreateKeyInput{Description: "over TLS"})
			switch {
			case tc.wantErr == "" && (err != nil || md.KeyID == ""):
				t.Fatalf("CreateKey = %+v, %v", md, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CreateKey err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestKMSPeersAreVerifiedAgainstKMSCACert replicates a multi-Region key to
// a peer ssegate under a private CA: refused by TLS without --kms-ca-cert,
// done with it.
func TestKMSPeersAreVerifiedAgainstKMSCACert(t *testing.T) {
	peerEndpoint, ca, peerRoot := startTLSKMS(t, "eu-west-1")
	getenv := env("SSEGATE_KMS_PEER_EU_WEST_1_ACCESS_KEY", peerRoot.AccessKey, "SSEGATE_KMS_PEER_EU_WEST_1_SECRET_KEY", peerRoot.SecretKey)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"system roots", nil, "certificate signed by unknown authority"},
		{"the peer's CA", []string{"--kms-ca-cert", ca}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseServeConfig(append([]string{"--kms-peer", "eu-west-1=" + peerEndpoint, "--data-dir", t.TempDir()}, tc.args...), getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			core, err := kms.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), bytes.Repeat([]byte{7}, kms.MasterKeySize),
				kms.Options{Region: cfg.Region, MaintenanceInterval: -1, Peers: cfg.kmsPeers()})
			if err != nil {
				t.Fatal(err)
			}
			defer core.Close()
			ctx := context.Background()
			md, err := core.CreateKey(ctx, kms.CreateKeyInput{MultiRegion: true})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := core.ReplicateKey(ctx, kms.ReplicateKeyInput{KeyID: md.KeyID, ReplicaRegion: "eu-west-1"})
			switch {
			case tc.wantErr == "" && (err != nil || !strings.Contains(rep.ARN, ":eu-west-1:")):
				t.Fatalf("ReplicateKey = %+v, %v", rep, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("ReplicateKey err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestServeRefusesAnUnusableKMSCACert: a file that gives no CA is a
// configuration error at start (exit 2) naming the flag and the file, from
// the flag and from the environment; serve never starts.
func TestServeRefusesAnUnusableKMSCACert(t *testing.T) {
	for _, tc := range badCAFiles(t, t.TempDir()) {
		for _, src := range []string{"flag", "env"} {
			t.Run(tc.name+" ("+src+")", func(t *testing.T) {
				dataDir := filepath.Join(t.TempDir(), "never-created")
				args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}
				getenv := env("SSEGATE_KMS_CA_CERT", tc.file)
				if src == "flag" {
					args, getenv = append(args, "--kms-ca-cert", tc.file), env()
				}
				var stdout, stderr bytes.Buffer
				code := run(args, getenv, &stdout, &stderr)
				if code != 2 || !strings.Contains(stderr.String(), "--kms-ca-cert "+tc.file+":") || !strings.Contains(stderr.String(), tc.why) {
					t.Fatalf("exit %d, stderr %s; want 2 naming %s with %q", code, stderr.String(), tc.file, tc.why)
				}
				if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("serve created its data dir (stat err %v): it started despite the bad --kms-ca-cert", err)
				}
			})
		}
	}
}

// TestKMSCACertIsAConfigSettingShownByPrintConfig: the flag comes from
// the config file like every serve flag and --print-config shows its
// source; it is not a secret, so it is shown in full.
func TestKMSCACertIsAConfigSettingShownByPrintConfig(t *testing.T) {
	ca, _ := writeSelfSignedCert(t, t.TempDir(), "ca")
	for _, tc := range []struct {
		name   string
		args   []string
		getenv func(string) string
		line   string
	}{
		{"default", nil, env(), "kms-ca-cert = " + formatValue("") + "  # default"},
		{"file", []string{"--config", writeConfig(t, 0o644, "kms-ca-cert = "+ca)}, env(), "kms-ca-cert = " + formatValue(ca) + "  # file"},
		{"env", nil, env("SSEGATE_KMS_CA_CERT", ca), "kms-ca-cert = " + formatValue(ca) + "  # env"},
		{"flag", []string{"--kms-ca-cert", ca}, env(), "kms-ca-cert = " + formatValue(ca) + "  # flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServeConfig(append([]string{"--print-config"}, tc.args...), tc.getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if (c.KMSCACert != "") != (c.kmsHTTPClient() != nil) {
				t.Fatalf("KMSCACert %q but kmsHTTPClient %v", c.KMSCACert, c.kmsHTTPClient())
			}
			var out bytes.Buffer
			if err := printConfig(&out, c); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.line+"\n") {
				t.Fatalf("--print-config lacks %q:\n%s", tc.line, out.String())
			}
		})
	}
	if _, err := parseServeConfig([]string{"--kms-ca-cert", filepath.Join(t.TempDir(), "nope")}, env(), io.Discard); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing file: err %v, want ErrConfig", err)
	}
}
