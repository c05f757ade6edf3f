package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// caCertUsage documents --ca-cert the same way in every client command.
const caCertUsage = "PEM file of the CA certificate(s) that signed the gateway's TLS certificate, e.g. its self-signed --tls-cert"

// clientTLSConfig is the TLS configuration a client command (ssegate user,
// ssegate bucket) verifies the gateway with. Without caFile it is nil: the
// transport's default, the system roots. With it, the gateway's chain must
// end at a certificate in caFile and only there: the pool is fresh, not
// the system pool plus these, so --ca-cert pins the operator's private CA.
// Verification is never switched off; there is deliberately no --insecure.
func clientTLSConfig(caFile string) (*tls.Config, error) {
	return tlsConfigTrusting("--ca-cert", caFile)
}

// tlsConfigTrusting is clientTLSConfig for the CA file of flagName
// (--ca-cert, --kms-ca-cert), which its errors name.
func tlsConfigTrusting(flagName, caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pool, err := loadCAPool(flagName, caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// loadCAPool reads every CERTIFICATE block of the PEM file given to
// flagName into a new pool; errors name the flag and the file.
// Unlike x509.CertPool.AppendCertsFromPEM, which skips what it cannot
// parse, a damaged certificate is an error: a half-read bundle would fail
// later as a puzzling "unknown authority". Other blocks (a private key in a
// combined file) are ignored and never quoted. Errors wrap ErrConfig, so
// the command exits 2.
func loadCAPool(flagName, caFile string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: cannot read: %v", ErrConfig, flagName, caFile, unwrapPathError(err))
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: certificate %d is not valid: %v", ErrConfig, flagName, caFile, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s %s: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file", ErrConfig, flagName, caFile)
	}
	return pool, nil
}

// unwrapPathError drops the *fs.PathError's own copy of the path, which
// the message already names.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}
