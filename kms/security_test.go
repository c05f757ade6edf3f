package kms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrongMasterKeyRefusesToOpenAndChangesNothing(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(tc.path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, tc.path, randomMaster(t), Options{MaintenanceInterval: -1})
	wantErr(t, err, ErrWrongMasterKey)
	after, err := os.ReadFile(tc.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("opening with a wrong master key modified the keystore file")
	}
	c, err := Open(ctx, tc.path, tc.master, Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("reopen with the right key: %v", err)
	}
	defer c.Close()
	if _, err := c.DescribeKey(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestSealedMaterialIsBoundToItsRow(t *testing.T) {
	m := randomMaster(t)
	s, err := seal(m, "key-a", 1, purposeKeyMaterial, []byte("material"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id      string
		v       uint32
		purpose string
	}{{"key-b", 1, purposeKeyMaterial}, {"key-a", 2, purposeKeyMaterial}, {"key-a", 1, purposeCheck}} {
		if _, err := unseal(m, tt.id, tt.v, tt.purpose, s); err == nil {
			t.Errorf("sealed material opened as %s v%d %s", tt.id, tt.v, tt.purpose)
		}
	}
	if _, err := unseal(m, "key-a", 1, purposeKeyMaterial, s); err != nil {
		t.Fatalf("unseal: %v", err)
	}
}

func TestMasterKeyRotation(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if _, err := tc.RotateKeyOnDemand(ctx, id); err != nil {
		t.Fatal(err)
	}
	dk, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: id})
	if err != nil {
		t.Fatal(err)
	}
	newMaster := randomMaster(t)
	if err := tc.RotateMasterKey(ctx, newMaster); err != nil {
		t.Fatal(err)
	}
	if bad, err := tc.VerifyAll(ctx); err != nil || len(bad) != 0 {
		t.Fatalf("VerifyAll after rotation = %v, %v", bad, err)
	}
	tc.Close()
	_, err = Open(ctx, tc.path, tc.master, Options{MaintenanceInterval: -1})
	wantErr(t, err, ErrWrongMasterKey)
	c, err := Open(ctx, tc.path, newMaster, Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatalf("open with new master key: %v", err)
	}
	defer c.Close()
	out, err := c.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt after master key rotation: %v", err)
	}
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if err := tc.CreateAlias(ctx, "alias/backed-up", id); err != nil {
		t.Fatal(err)
	}
	dk, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: "alias/backed-up"})
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := tc.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(backup.Bytes(), []byte("SQLite format")) || bytes.Contains(backup.Bytes(), []byte("alias/backed-up")) {
		t.Fatal("backup is not encrypted")
	}
	dir := t.TempDir()
	wantErr(t, Restore(ctx, bytes.NewReader(backup.Bytes()), filepath.Join(dir, "wrong.db"), randomMaster(t)), ErrBadBackup)
	damaged := bytes.Clone(backup.Bytes())
	damaged[len(damaged)-1] ^= 1
	wantErr(t, Restore(ctx, bytes.NewReader(damaged), filepath.Join(dir, "damaged.db"), tc.master), ErrBadBackup)

	restored := filepath.Join(dir, "restored.db")
	if err := Restore(ctx, bytes.NewReader(backup.Bytes()), restored, tc.master); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if err := Restore(ctx, bytes.NewReader(backup.Bytes()), restored, tc.master); err == nil {
		t.Fatal("Restore overwrote an existing file")
	}
	c, err := Open(ctx, restored, tc.master, Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyID: "alias/backed-up"})
	if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt from restored keystore: %v", err)
	}
}

func TestAuditHasEveryOperationAndNoSecrets(t *testing.T) {
	tc := newTestCore(t)
	ctx := WithCaller(context.Background(), Caller{AccessKey: "AKIDAUDIT", RequestID: "req-1"})
	md := tc.key(t)
	plaintext := []byte("top secret plaintext value")
	enc, err := tc.Encrypt(ctx, EncryptInput{KeyID: md.KeyID, Plaintext: plaintext, Context: EncryptionContext{"purpose": "audit"}})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err == nil {
		t.Fatal("Decrypt without context succeeded")
	}
	out := tc.audit.String()
	for _, want := range []string{`"operation":"Encrypt"`, `"operation":"GenerateDataKey"`, `"outcome":"InvalidCiphertextException"`,
		`"accessKey":"AKIDAUDIT"`, `"requestId":"req-1"`, `"encryptionContext":{"purpose":"audit"}`, `"keyId":"` + md.KeyID} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	ck, err := tc.loadKey(context.Background(), md.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string][]byte{"plaintext": plaintext, "data key": dk.Plaintext, "key material": ck.versions[1], "master key": tc.master} {
		for _, enc := range []string{string(secret), hex.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), base64.RawStdEncoding.EncodeToString(secret)} {
			if strings.Contains(out, enc) {
				t.Errorf("audit contains the %s", name)
			}
		}
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k1, err := LoadOrCreateMasterKey(path)
	if err != nil || len(k1) != MasterKeySize {
		t.Fatalf("create: %d bytes, %v", len(k1), err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Fatal("world-readable master key file accepted")
	}
	b64 := filepath.Join(dir, "b64.key")
	os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(k1)+"\n"), 0o600)
	if k3, err := LoadOrCreateMasterKey(b64); err != nil || !bytes.Equal(k3, k1) {
		t.Fatalf("base64 key: %v", err)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("c2VjcmV0"), 0o600)
	_, err = LoadOrCreateMasterKey(short)
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("short key: err = %v; want an error that does not echo the key", err)
	}
}

// readGolden reads a golden vector file of key=value lines.
func readGolden(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		fields[k] = v
	}
	return fields
}

// TestGoldenBlobStillDecrypts pins blob format version 1: a blob written
// by an earlier build must keep decrypting.
func TestGoldenBlobStillDecrypts(t *testing.T) {
	fields := readGolden(t, "testdata/blob-v1.txt")
	material, _ := hex.DecodeString(fields["material"])
	blob, _ := hex.DecodeString(fields["blob"])
	h, _, err := parseBlob(blob)
	if err != nil {
		t.Fatal(err)
	}
	if h.keyID.String() != fields["key"] || h.version != 2 {
		t.Fatalf("header = %s v%d", h.keyID, h.version)
	}
	pt, err := openBlob(blob, h, material, EncryptionContext{"b": "2", "a": "1"})
	if err != nil || string(pt) != fields["plaintext"] {
		t.Fatalf("golden blob: %q, %v", pt, err)
	}
	if _, err := openBlob(blob, h, material, EncryptionContext{"a": "12"}); err == nil {
		t.Fatal("golden blob opened with a different context")
	}
}

func TestCanonicalContextIsInjective(t *testing.T) {
	pairs := [][2]EncryptionContext{
		{{"a": "bc"}, {"ab": "c"}},
		{{"a": "", "b": ""}, {"a": "b"}},
		{{}, {"": ""}},
	}
	for _, p := range pairs {
		if bytes.Equal(canonicalContext(p[0]), canonicalContext(p[1])) {
			t.Errorf("%v and %v encode alike", p[0], p[1])
		}
	}
}
