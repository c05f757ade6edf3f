package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestUserRoundTrip(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	u, err := tc.CreateUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.ARN != "arn:aws:iam::000000000000:user/alice" || !regexp.MustCompile(`^AIDA[A-Z0-9]{16}$`).MatchString(u.ID) || u.Created.IsZero() {
		t.Fatalf("CreateUser = %+v", u)
	}
	got, err := tc.GetUser(ctx, "ALICE")
	if err != nil || got.Name != "alice" || got.ID != u.ID || !got.Created.Equal(u.Created) {
		t.Fatalf("GetUser(ALICE) = %+v, %v; want the stored alice", got, err)
	}
	if _, err := tc.CreateUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	list, err := tc.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	if err := tc.DeleteUser(ctx, "Bob"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, tc.DeleteUser(ctx, "bob"), ErrNotFound)
	_, err = tc.GetUser(ctx, "bob")
	wantErr(t, err, ErrUserNotFound)
}

func TestUserNamesFollowIAMRulesAndAreUniqueIgnoringCase(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	for _, name := range []string{"a", "A.b-c_d@e+f=g,h", strings.Repeat("x", 64)} {
		if _, err := tc.CreateUser(ctx, name); err != nil {
			t.Errorf("CreateUser(%q) = %v, want ok", name, err)
		}
	}
	for _, name := range []string{"", strings.Repeat("x", 65), "a b", "a/b", "ä", "a:b", "a*"} {
		_, err := tc.CreateUser(ctx, name)
		if !errors.Is(err, ErrValidation) {
			t.Errorf("CreateUser(%q) = %v, want ErrValidation", name, err)
		}
	}
	_, err := tc.CreateUser(ctx, "a.B-C_D@E+F=G,H")
	wantErr(t, err, ErrAlreadyExists)
}

func TestAccessKeysRoundTripWithoutSecrets(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "Alice")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`).MatchString(k.AccessKeyID) || len(k.Secret) != 40 || k.Status != AccessKeyActive || k.UserName != "alice" {
		t.Fatalf("CreateAccessKey = %s (secret length %d)", k, len(k.Secret))
	}
	for _, s := range []string{k.String(), fmt.Sprintf("%v %+v %#v", k, k, k)} {
		if strings.Contains(s, k.Secret) {
			t.Fatalf("formatted AccessKey shows the secret: %s", s)
		}
	}
	if b, _ := json.Marshal(k); bytes.Contains(b, []byte(k.Secret)) {
		t.Fatalf("JSON of AccessKey shows the secret: %s", b)
	}
	keys, err := tc.ListAccessKeys(ctx, "alice")
	if err != nil || len(keys) != 1 || keys[0].AccessKeyID != k.AccessKeyID || keys[0].Secret != "" || keys[0].Status != AccessKeyActive {
		t.Fatalf("ListAccessKeys = %v, %v", keys, err)
	}
	arn, secret, ok, err := tc.LookupAccessKey(ctx, k.AccessKeyID)
	if err != nil || !ok || secret != k.Secret || arn != "arn:aws:iam::000000000000:user/alice" {
		t.Fatalf("LookupAccessKey = %q, ok %v, %v", arn, ok, err)
	}
	if err := tc.UpdateAccessKey(ctx, "alice", k.AccessKeyID, AccessKeyInactive); err != nil {
		t.Fatal(err)
	}
	keys, _ = tc.ListAccessKeys(ctx, "alice")
	if len(keys) != 1 || keys[0].Status != AccessKeyInactive {
		t.Fatalf("after UpdateAccessKey Inactive: %v", keys)
	}
	wantErr(t, tc.UpdateAccessKey(ctx, "alice", k.AccessKeyID, "Enabled"), ErrValidation)
	if err := tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID), ErrAccessKeyNotFound)
	if keys, err := tc.ListAccessKeys(ctx, "alice"); err != nil || len(keys) != 0 {
		t.Fatalf("ListAccessKeys after delete = %v, %v", keys, err)
	}
}

func TestAccessKeyLimitAndDeleteConflict(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err := tc.CreateAccessKey(ctx, "nobody")
	wantErr(t, err, ErrUserNotFound)
	k1, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if k1.AccessKeyID == k2.AccessKeyID || k1.Secret == k2.Secret {
		t.Fatal("two access keys share an id or a secret")
	}
	_, err = tc.CreateAccessKey(ctx, "alice")
	wantErr(t, err, ErrLimitExceeded)
	wantErr(t, tc.DeleteUser(ctx, "alice"), ErrDeleteConflict)
	for _, k := range []AccessKey{k1, k2} {
		if err := tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
			t.Fatal(err)
		}
	}
	if err := tc.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser without keys = %v", err)
	}
}

func TestAnotherUsersAccessKeyIsNotFound(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	for _, n := range []string{"alice", "bob"} {
		if _, err := tc.CreateUser(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, tc.DeleteAccessKey(ctx, "bob", k.AccessKeyID), ErrAccessKeyNotFound)
	wantErr(t, tc.UpdateAccessKey(ctx, "bob", k.AccessKeyID, AccessKeyInactive), ErrAccessKeyNotFound)
	if _, _, ok, _ := tc.LookupAccessKey(ctx, k.AccessKeyID); !ok {
		t.Fatal("bob's attempts changed alice's key")
	}
}

func TestLookupRefusesInactiveDeletedAndUnknownKeys(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"AKIAUNKNOWN000000000", "", "akia-lower", strings.Repeat("A", 200)} {
		if _, _, ok, err := tc.LookupAccessKey(ctx, id); ok || err != nil {
			t.Errorf("LookupAccessKey(%q) = ok %v, %v", id, ok, err)
		}
	}
	if _, _, ok, _ := tc.LookupAccessKey(ctx, k.AccessKeyID); !ok {
		t.Fatal("fresh key not found")
	}
	// A change made through this Core takes effect at once.
	if err := tc.UpdateAccessKey(ctx, "alice", k.AccessKeyID, AccessKeyInactive); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := tc.LookupAccessKey(ctx, k.AccessKeyID); ok {
		t.Fatal("inactive key still authenticates")
	}
	if err := tc.UpdateAccessKey(ctx, "alice", k.AccessKeyID, AccessKeyActive); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := tc.LookupAccessKey(ctx, k.AccessKeyID); !ok {
		t.Fatal("reactivated key does not authenticate")
	}
	if err := tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := tc.LookupAccessKey(ctx, k.AccessKeyID); ok {
		t.Fatal("deleted key still authenticates")
	}
}

// A second process sharing kms.db learns of a deletion within the cache TTL.
func TestDeletedKeyStopsWorkingInAnotherCoreWithinTTL(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	other, err := Open(ctx, tc.path, tc.master, Options{Now: clock.Now, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, ok, err := other.LookupAccessKey(ctx, k.AccessKeyID); !ok || err != nil {
		t.Fatalf("other core: lookup = %v, %v", ok, err)
	}
	if err := tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(AccessKeyCacheTTL - time.Millisecond)
	if _, _, ok, _ := other.LookupAccessKey(ctx, k.AccessKeyID); !ok {
		t.Fatal("cached key vanished before the TTL: the cache is not used")
	}
	clock.Advance(time.Millisecond)
	if _, _, ok, _ := other.LookupAccessKey(ctx, k.AccessKeyID); ok {
		t.Fatal("deleted key still authenticates in another core after the TTL")
	}
}

func TestAccessKeySecretsAreSealedInTheKeystoreFile(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Close checkpoints the WAL into the main file; read every file anyway.
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range []string{tc.path, tc.path + "-wal", tc.path + "-shm"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		found = found || bytes.Contains(b, []byte(k.AccessKeyID))
		if bytes.Contains(b, []byte(k.Secret)) {
			t.Fatalf("%s holds the access key secret in plaintext", p)
		}
	}
	if !found {
		t.Fatal("the access key id is in no keystore file: the scan reads the wrong files")
	}
	if strings.Contains(tc.audit.String(), k.Secret) {
		t.Fatal("the audit log holds the secret")
	}
}

func TestUserOperationsAreAuditedWithoutSecrets(t *testing.T) {
	tc := newTestCore(t)
	ctx := WithCaller(context.Background(), Caller{AccessKey: "ROOTKEY", ARN: "arn:aws:iam::000000000000:root"})
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.DeleteAccessKey(ctx, "alice", k.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	_ = tc.DeleteUser(ctx, "nobody")
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(tc.audit.String()), "\n") {
		var ev struct {
			Operation, UserName, UserAccessKeyID, CallerArn, Outcome string
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		ops = append(ops, fmt.Sprintf("%s %s %t %s", ev.Operation, ev.UserName, ev.UserAccessKeyID == k.AccessKeyID, ev.Outcome))
		if ev.CallerArn != "arn:aws:iam::000000000000:root" {
			t.Errorf("audit line without caller: %s", line)
		}
	}
	want := []string{"CreateUser alice false ok", "CreateAccessKey alice true ok", "DeleteAccessKey alice true ok", "DeleteUser nobody false NotFoundException"}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Fatalf("audit = %q, want %q", ops, want)
	}
	if strings.Contains(tc.audit.String(), k.Secret) {
		t.Fatal("the audit log holds the secret")
	}
}

func TestRotateMasterKeyKeepsAccessKeysAndWrongMasterCannotReadThem(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
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
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, tc.path, tc.master, Options{MaintenanceInterval: -1}); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("old master key opens the rotated keystore: %v", err)
	}
	c, err := Open(ctx, tc.path, newMaster, Options{MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, secret, ok, err := c.LookupAccessKey(ctx, k.AccessKeyID)
	if err != nil || !ok || secret != k.Secret {
		t.Fatalf("after master key rotation: lookup ok %v, %v, secret matches %v", ok, err, secret == k.Secret)
	}
	// The sealed secret opens under the new master key only.
	var sealed []byte
	if err := c.rdb.QueryRowContext(ctx, `SELECT sealed_secret FROM access_keys`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := unseal(tc.master, k.AccessKeyID, 0, purposeAccessSecret, sealed); err == nil {
		t.Fatal("the old master key still unseals the secret")
	}
	if _, err := unseal(newMaster, "AKIAOTHER", 0, purposeAccessSecret, sealed); err == nil {
		t.Fatal("the sealed secret opens for another access key id: AAD does not bind it")
	}
}

func TestVerifyAllReportsAccessKeyThatDoesNotUnseal(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	if _, err := tc.CreateUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	k, err := tc.CreateAccessKey(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Swap in a secret sealed for another id: the AAD must catch it.
	other, err := seal(tc.master, "AKIAOTHER", 0, purposeAccessSecret, []byte(k.Secret))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.wdb.ExecContext(ctx, `UPDATE access_keys SET sealed_secret = ?`, other); err != nil {
		t.Fatal(err)
	}
	bad, err := tc.VerifyAll(ctx)
	if err != nil || len(bad) != 1 || bad[0].AccessKey != k.AccessKeyID {
		t.Fatalf("VerifyAll = %+v, %v; want the access key", bad, err)
	}
	if _, _, ok, err := tc.LookupAccessKey(ctx, k.AccessKeyID); ok || err == nil || strings.Contains(err.Error(), k.Secret) {
		t.Fatalf("lookup of a key that does not unseal = ok %v, %v", ok, err)
	}
}
