package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSignedCert writes a self-signed certificate for 127.0.0.1 and
// its key to dir/name.crt and dir/name.key, as an operator would make
// with openssl for --tls-cert/--tls-key.
func writeSelfSignedCert(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "ssegate test " + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// badCAFiles are --ca-cert files that must be refused as configuration
// errors, each with the part of the message that says why.
func badCAFiles(t testing.TB, dir string) []struct{ name, file, why string } {
	t.Helper()
	_, keyFile := writeSelfSignedCert(t, dir, "keyonly")
	empty := filepath.Join(dir, "empty.pem")
	writeFile(t, empty, nil)
	garbled := filepath.Join(dir, "garbled.pem")
	writeFile(t, garbled, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}))
	text := filepath.Join(dir, "text.pem")
	writeFile(t, text, []byte("this is not PEM at all\n"))
	return []struct{ name, file, why string }{
		{"missing file", filepath.Join(dir, "nope.pem"), "cannot read: open: no such file"},
		{"directory", dir, "cannot read"},
		{"empty file", empty, "no PEM certificate"},
		{"not PEM", text, "no PEM certificate"},
		{"private key only", keyFile, "no PEM certificate"},
		{"damaged certificate", garbled, "certificate 1 is not valid"},
	}
}

func TestLoadCAPoolRefusesFilesWithoutAUsableCertificate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range badCAFiles(t, dir) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := clientTLSConfig(tc.file)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--ca-cert "+tc.file+":") || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("err = %v; want ErrConfig naming %s with %q", err, tc.file, tc.why)
			}
		})
	}
}

func TestLoadCAPoolNeverQuotesAPrivateKeyInTheFile(t *testing.T) {
	dir := t.TempDir()
	_, keyFile := writeSelfSignedCert(t, dir, "k")
	key := readFile(t, keyFile)
	garbled := filepath.Join(dir, "mixed.pem")
	writeFile(t, garbled, append(append([]byte{}, key...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("bad")})...))
	for _, f := range []string{keyFile, garbled} {
		_, err := clientTLSConfig(f)
		if err == nil {
			t.Fatalf("%s accepted", f)
		}
		body := strings.Join(strings.Split(strings.TrimSpace(string(key)), "\n")[1:2], "")
		if strings.Contains(err.Error(), body) || strings.Contains(err.Error(), "PRIVATE KEY") {
			t.Fatalf("the error quotes the key: %v", err)
		}
	}
}

func TestClientTLSConfigTrustsEveryCertificateOfABundleAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	a, aKey := writeSelfSignedCert(t, dir, "a")
	b, _ := writeSelfSignedCert(t, dir, "b")
	other, _ := writeSelfSignedCert(t, dir, "other")
	// A combined cert+key file works too; the key block is skipped.
	bundle := filepath.Join(dir, "bundle.pem")
	writeFile(t, bundle, append(append(readFile(t, a), readFile(t, aKey)...), readFile(t, b)...))

	if cfg, err := clientTLSConfig(""); cfg != nil || err != nil {
		t.Fatalf("no --ca-cert: %v %v, want the default (nil)", cfg, err)
	}
	cfg, err := clientTLSConfig(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InsecureSkipVerify || cfg.MinVersion < 0x0303 {
		t.Fatalf("weak client TLS config: %+v", cfg)
	}
	for _, tc := range []struct {
		file    string
		trusted bool
	}{{a, true}, {b, true}, {other, false}} {
		blk, _ := pem.Decode(readFile(t, tc.file))
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, DNSName: "127.0.0.1"})
		if (err == nil) != tc.trusted {
			t.Errorf("%s: verify = %v, want trusted=%v", filepath.Base(tc.file), err, tc.trusted)
		}
	}
}
