package e2e

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// The crash model: what an object may legitimately hold after a kill -9.
//
// Every key of the crash workload is written by exactly one worker, one
// request at a time, so the writes to a key form a sequence. After a crash
// the key must hold the last acknowledged version or a version attempted
// after it (a write the gateway committed but could not acknowledge before
// it died); when nothing was ever acknowledged it may also be absent.
// Anything else (a prefix, a mix, bytes nobody wrote, an acknowledged write
// gone) breaks the promise S3 clients rely on.

// version identifies the content of one attempted write.
type version struct {
	sum  [32]byte
	size int
}

func versionOf(b []byte) version { return version{sum: sha256.Sum256(b), size: len(b)} }

func (v version) String() string { return fmt.Sprintf("%d bytes sha256 %x", v.size, v.sum[:6]) }

// sseMode is how a crash-workload key is always encrypted; fixed per key so
// that a read knows which headers to send (SSE-C needs the key again).
type sseMode int

const (
	modeS3 sseMode = iota
	modeKMS
	modeC
	numModes
)

func (m sseMode) String() string { return [...]string{"SSE-S3", "SSE-KMS", "SSE-C"}[m] }

// keyModel is one key's history since it was last verified.
type keyModel struct {
	name string
	mode sseMode
	// current is the verified or acknowledged content; nil: absent.
	current *version
	// pending are writes attempted after current, not acknowledged.
	pending []version
}

// attempt records a write about to be sent.
func (k *keyModel) attempt(v version) { k.pending = append(k.pending, v) }

// ack records that the write of v was acknowledged: it supersedes
// everything before it, because writes to a key are sequential.
func (k *keyModel) ack(v version) {
	k.current = &v
	k.pending = nil
}

// known reports the content a copy from this key will carry, if certain.
func (k *keyModel) known() (version, bool) {
	if k.current == nil || len(k.pending) > 0 {
		return version{}, false
	}
	return *k.current, true
}

// check judges what a read after a restart found (got nil: absent) and, if
// it is allowed, makes it the new current state: a write seen once has been
// committed and must survive every later crash.
func (k *keyModel) check(got *version) error {
	switch {
	case got == nil && k.current != nil:
		return fmt.Errorf("%s (%v): acknowledged %v is gone", k.name, k.mode, *k.current)
	case got == nil:
	case k.current != nil && *got == *k.current:
	default:
		found := false
		for _, p := range k.pending {
			found = found || p == *got
		}
		if !found {
			return fmt.Errorf("%s (%v): read %v, which is neither the acknowledged %v nor one of %d unacknowledged writes",
				k.name, k.mode, *got, k.current, len(k.pending))
		}
	}
	k.current, k.pending = got, nil
	return nil
}

// TestCrashModelAcceptsOnlyAcknowledgedOrLaterWrites checks the judge
// itself, so that a passing crash run means what it says.
func TestCrashModelAcceptsOnlyAcknowledgedOrLaterWrites(t *testing.T) {
	v1, v2, v3 := versionOf([]byte("one")), versionOf([]byte("two")), versionOf([]byte("three"))
	prefix := versionOf([]byte("thr")) // a torn write of v3
	for _, tc := range []struct {
		name   string
		setup  func(k *keyModel)
		got    *version
		wantOK bool
	}{
		{"never written, absent", func(k *keyModel) {}, nil, true},
		{"unacknowledged write absent", func(k *keyModel) { k.attempt(v1) }, nil, true},
		{"unacknowledged write complete", func(k *keyModel) { k.attempt(v1) }, &v1, true},
		{"acknowledged write present", func(k *keyModel) { k.attempt(v1); k.ack(v1) }, &v1, true},
		{"acknowledged write lost", func(k *keyModel) { k.attempt(v1); k.ack(v1) }, nil, false},
		{"later unacknowledged write won", func(k *keyModel) { k.attempt(v1); k.ack(v1); k.attempt(v2) }, &v2, true},
		{"older version after a newer ack", func(k *keyModel) { k.attempt(v1); k.ack(v1); k.attempt(v2); k.ack(v2) }, &v1, false},
		{"torn write", func(k *keyModel) { k.attempt(v1); k.ack(v1); k.attempt(v3) }, &prefix, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &keyModel{name: "k"}
			tc.setup(k)
			err := k.check(tc.got)
			if (err == nil) != tc.wantOK {
				t.Fatalf("check = %v, want ok=%v", err, tc.wantOK)
			}
			if err == nil && (k.current != tc.got || len(k.pending) != 0) {
				t.Error("a verified state must become the new current state")
			}
		})
	}
}
