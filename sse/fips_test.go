package sse

import (
	"crypto/fips140"
	"testing"
)

// ChaCha20-Poly1305 is not FIPS 140-3 approved: in FIPS mode every new
// object must use AES-256-GCM, whatever the CPU.
func TestFIPSModeAlwaysChoosesAESGCM(t *testing.T) {
	if got := defaultSuite(true); got != SuiteAES256GCM {
		t.Fatalf("defaultSuite(fips) = %d, want AES-256-GCM", got)
	}
	if fips140.Enabled() && DefaultSuite() != SuiteAES256GCM {
		t.Fatalf("FIPS mode is on but DefaultSuite() = %d", DefaultSuite())
	}
}

// Objects written with ChaCha20-Poly1305 before FIPS mode was turned on
// stay readable: the suite is recorded per object and DecryptReader takes
// it from there (TestEncryptDecryptRoundTripAtPackageEdges covers both
// suites, also when run with GODEBUG=fips140=on).
