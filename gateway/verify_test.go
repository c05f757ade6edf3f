package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store"
)

// dataFile is the fs store's data file of a top-level key (store/fs/doc.go:
// o.<gen> beside the sidecar).
func (e *opsEnv) dataFile(bucket, key string) string {
	e.t.Helper()
	body, _ := e.stored(bucket, key)
	files, err := filepath.Glob(filepath.Join(e.root, bucket, "o.*"))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && string(b) == string(body) {
			return f
		}
	}
	e.t.Fatalf("no data file for %s/%s", bucket, key)
	return ""
}

func verifyAll(t *testing.T, e *opsEnv, sc Scope) (VerifySummary, map[string]ObjectProgress) {
	t.Helper()
	got := map[string]ObjectProgress{}
	sum, err := Verify(context.Background(), e.st, e.core, sc, func(p ObjectProgress) { got[p.Key] = p })
	if err != nil {
		t.Fatal(err)
	}
	return sum, got
}

func TestVerifyCleanBucketReportsNoDamage(t *testing.T) {
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	e.put("bkt", "a", randBytes(300_000, 1))
	e.putKMS("bkt", "b", e.newKey(), randBytes(10, 2))
	e.put("bkt", "empty", nil)
	e.putSSEC("bkt", "c", []byte("secret"))
	sum, got := verifyAll(t, e, Scope{})
	if sum.Damaged != 0 || sum.Verified != 3 || sum.SSECChecked != 1 || sum.Scanned != 4 {
		t.Fatalf("summary %+v, progress %+v", sum, got)
	}
}

func TestVerifyReportsDamagedObjects(t *testing.T) {
	ctx := context.Background()
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	// 200 000 bytes: above the size the fs store keeps inline in the
	// object's record, so the object has a data file to damage.
	for _, k := range []string{"flipped", "truncated-file", "short-stored", "ok", "ssec-short"} {
		e.put("bkt", k, randBytes(200_000, 5))
	}
	e.putSSEC("bkt", "ssec-short", randBytes(1000, 6))
	// A small object lives inline in its record: flip a ciphertext byte
	// there (the record ends with the ciphertext).
	e.put("bkt", "flipped-inline", randBytes(1000, 7))
	rec := filepath.Join(e.root, "bkt", "m.flipped-inline")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-500] ^= 1
	if err := os.WriteFile(rec, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// A bit flip in the middle of the ciphertext.
	f := e.dataFile("bkt", "flipped")
	b, _ = os.ReadFile(f)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A data file cut short behind the store's back.
	f = e.dataFile("bkt", "truncated-file")
	if err := os.Truncate(f, 1000); err != nil {
		t.Fatal(err)
	}
	// An object whose stored size no longer matches its metadata.
	for _, k := range []string{"short-stored", "ssec-short"} {
		body, _ := e.stored("bkt", k)
		si, err := e.st.Head(ctx, "bkt", k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Put(ctx, "bkt", k, strings.NewReader(string(body[:len(body)-1])), int64(len(body)-1), si.Meta); err != nil {
			t.Fatal(err)
		}
	}

	sum, got := verifyAll(t, e, Scope{Bucket: "bkt"})
	if sum.Damaged != 5 || sum.Verified != 1 {
		t.Errorf("summary %+v, want 5 damaged, 1 verified", sum)
	}
	for _, k := range []string{"flipped", "flipped-inline", "truncated-file", "short-stored", "ssec-short"} {
		if p := got[k]; p.Outcome != OutcomeDamaged || p.Err == nil {
			t.Errorf("%s: outcome %q err %v, want damaged with a reason", k, p.Outcome, p.Err)
		}
	}
	if got["ok"].Outcome != OutcomeOK {
		t.Errorf("ok: outcome %q (%v)", got["ok"].Outcome, got["ok"].Err)
	}
}

func TestVerifyReportsObjectsWhoseKeyIsDisabled(t *testing.T) {
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	key := e.newKey()
	e.putKMS("bkt", "a", key, []byte("x"))
	if err := e.core.DisableKey(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	sum, got := verifyAll(t, e, Scope{})
	if sum.Damaged != 1 || !errors.Is(got["a"].Err, kms.ErrDisabled) {
		t.Fatalf("summary %+v, err %v: want the KMS refusal reported", sum, got["a"].Err)
	}
}

func TestVerifyHonoursPrefixAndStartAfter(t *testing.T) {
	e := newOpsEnv(t)
	e.mkbucket("bkt")
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		e.put("bkt", k, []byte(k))
	}
	sum, got := verifyAll(t, e, Scope{Bucket: "bkt", Prefix: "a/", StartAfter: "bkt/a/1"})
	if sum.Scanned != 1 || got["a/2"].Outcome != OutcomeOK {
		t.Fatalf("summary %+v progress %+v, want only a/2", sum, got)
	}
	n, err := CountObjects(context.Background(), e.st, Scope{Bucket: "bkt"})
	if err != nil || n != 3 {
		t.Fatalf("CountObjects = %d, %v; want 3", n, err)
	}
	if _, err := Verify(context.Background(), e.st, e.core, Scope{Bucket: "nope-bucket"}, nil); !errors.Is(err, store.ErrNoSuchBucket) {
		t.Fatalf("missing bucket: err %v", err)
	}
}
