package kms

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// useKey is a cryptographic operation naming a key pending deletion; each
// is refused by the key's state but must still count as a use.
type useKey func(tc *testCore, id, other string, blob []byte) error

func useDecrypt(tc *testCore, _, _ string, blob []byte) error {
	_, err := tc.Decrypt(context.Background(), DecryptInput{CiphertextBlob: blob})
	return err
}

func useEncrypt(tc *testCore, id, _ string, _ []byte) error {
	_, err := tc.Encrypt(context.Background(), EncryptInput{KeyID: id, Plaintext: []byte("x")})
	return err
}

func useGenerateDataKey(tc *testCore, id, _ string, _ []byte) error {
	_, err := tc.GenerateDataKey(context.Background(), GenerateDataKeyInput{KeyID: id})
	return err
}

// useReEncryptSource re-encrypts a blob of the key to another, enabled key.
func useReEncryptSource(tc *testCore, _, other string, blob []byte) error {
	_, err := tc.ReEncrypt(context.Background(), ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: other})
	return err
}

func TestDueDeletionDependsOnUseAfterScheduling(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		useBefore   bool   // use the key before scheduling its deletion
		useAfter    useKey // attempt a use while pending deletion
		force       bool
		wantDeleted bool
	}{
		{name: "never used is deleted", wantDeleted: true},
		{name: "used only before scheduling is deleted", useBefore: true, wantDeleted: true},
		{name: "decrypt attempted after scheduling is kept", useBefore: true, useAfter: useDecrypt},
		{name: "encrypt attempted after scheduling is kept", useAfter: useEncrypt},
		{name: "data key attempted after scheduling is kept", useAfter: useGenerateDataKey},
		{name: "re-encrypt from it after scheduling is kept", useAfter: useReEncryptSource},
		{name: "forced is deleted although used after scheduling", useAfter: useDecrypt, force: true, wantDeleted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCore(t)
			id := tc.key(t).KeyID
			other := tc.key(t).KeyID
			enc, err := tc.Encrypt(ctx, EncryptInput{KeyID: id, Plaintext: []byte("backup index")})
			if err != nil {
				t.Fatal(err)
			}
			tc.clock.Advance(time.Hour)
			if tt.useBefore {
				if _, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
					t.Fatal(err)
				}
				tc.clock.Advance(time.Hour)
			}
			schedule := tc.ScheduleKeyDeletion
			if tt.force {
				schedule = tc.ScheduleKeyDeletionForce
			}
			if _, err := schedule(ctx, id, 7); err != nil {
				t.Fatal(err)
			}
			tc.clock.Advance(time.Hour)
			if tt.useAfter != nil {
				wantErr(t, tt.useAfter(tc, id, other, enc.CiphertextBlob), ErrInvalidState)
			}
			tc.clock.Advance(7 * day)
			if err := tc.RunMaintenance(ctx); err != nil {
				t.Fatal(err)
			}
			md, err := tc.DescribeKey(ctx, id)
			refusal := `"operation":"DeleteKey","keyId":"` + id + `","outcome":"` + outcomeDeletionRefused + `"`
			if tt.wantDeleted {
				wantErr(t, err, ErrNotFound)
				if strings.Contains(tc.audit.String(), refusal) {
					t.Fatal("deleted key has a refusal in the audit log")
				}
				return
			}
			if err != nil || md.KeyState != KeyStatePendingDeletion {
				t.Fatalf("key used after scheduling: %v %v, want it kept PendingDeletion", md.KeyState, err)
			}
			if !strings.Contains(tc.audit.String(), refusal) {
				t.Fatalf("refusal not audited:\n%s", tc.audit.String())
			}
			// Kept, but still unusable.
			_, err = tc.Decrypt(ctx, DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			wantErr(t, err, ErrInvalidState)
		})
	}
}

func TestRefusedDeletionIsRetriedAtEachMaintenanceRun(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Minute)
	usedAt := tc.clock.Now()
	wantErr(t, encrypt(tc, id), ErrInvalidState)
	tc.clock.Advance(7 * day)
	for range 2 {
		if err := tc.RunMaintenance(ctx); err != nil {
			t.Fatal(err)
		}
		tc.clock.Advance(time.Hour)
	}
	if n := strings.Count(tc.audit.String(), outcomeDeletionRefused); n != 2 {
		t.Fatalf("%d refusals audited, want one per maintenance run (2)", n)
	}
	keys, err := tc.AllKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].LastUsed.Equal(usedAt) || keys[0].State != KeyStatePendingDeletion {
		t.Fatalf("AllKeys = %+v, want the key pending deletion, last used %v", keys, usedAt)
	}
}

func TestForcingARefusedDeletionDeletesAfterANewWindow(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Minute)
	wantErr(t, encrypt(tc, id), ErrInvalidState)
	tc.clock.Advance(7 * day)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	md, err := tc.ScheduleKeyDeletionForce(ctx, id, 7)
	if err != nil {
		t.Fatalf("forcing a key already pending deletion: %v", err)
	}
	if !md.DeletionDate.Equal(tc.clock.Now().Add(7 * day)) {
		t.Fatalf("forced deletion date %v, want a fresh 7-day window", md.DeletionDate)
	}
	tc.clock.Advance(time.Minute)
	wantErr(t, encrypt(tc, id), ErrInvalidState) // used again: forced anyway
	tc.clock.Advance(7 * day)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = tc.DescribeKey(ctx, id)
	wantErr(t, err, ErrNotFound)
	if !strings.Contains(tc.audit.String(), `"operation":"ScheduleKeyDeletionForce","keyId":"`+id) {
		t.Fatal("forced scheduling was not audited under its own operation name")
	}
}

func TestCancelAfterRefusedDeletionRestoresTheKey(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	enc, err := tc.Encrypt(ctx, EncryptInput{KeyID: id, Plaintext: []byte("still needed")})
	if err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Minute)
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Minute)
	_, err = tc.Decrypt(ctx, DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantErr(t, err, ErrInvalidState)
	tc.clock.Advance(8 * day)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	md, err := tc.CancelKeyDeletion(ctx, id)
	if err != nil || md.KeyState != KeyStateDisabled {
		t.Fatalf("cancel after refusal: %v %v, want Disabled", md.KeyState, err)
	}
	if err := tc.EnableKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	out, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(out.Plaintext) != "still needed" {
		t.Fatalf("Decrypt after cancel = %q, %v", out.Plaintext, err)
	}
	// A new, unforced schedule starts a new window and a clean slate:
	// the earlier use does not hold it back.
	tc.clock.Advance(time.Minute)
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(7 * day)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = tc.DescribeKey(ctx, id)
	wantErr(t, err, ErrNotFound)
}

func TestScheduleKeyDeletionForceKeepsTheRules(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	for _, days := range []int{6, 31} {
		_, err := tc.ScheduleKeyDeletionForce(ctx, id, days)
		wantErr(t, err, ErrValidation)
	}
	managed, err := tc.DescribeKey(ctx, AWSManagedS3Alias)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tc.ScheduleKeyDeletionForce(ctx, managed.KeyID, 7)
	wantErr(t, err, ErrAccessDenied)
}

func TestKeyUsageIsNotWrittenOnTheDataPath(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	tc.clock.Advance(time.Minute)
	usedAt := tc.clock.Now()
	if err := encrypt(tc, id); err != nil {
		t.Fatal(err)
	}
	if got := storedLastUsed(t, tc.rdb, id); got != 0 {
		t.Fatalf("last_used written by Encrypt (%d); the data path must not write", got)
	}
	keys, _, err := tc.ListKeys(ctx, 0, "")
	if err != nil || len(keys) != 1 || !keys[0].LastUsed.Equal(usedAt) {
		t.Fatalf("ListKeys = %+v, %v; want the unflushed use %v", keys, err, usedAt)
	}
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedLastUsed(t, tc.rdb, id); got != usedAt.UnixNano() {
		t.Fatalf("last_used after maintenance = %d, want %d", got, usedAt.UnixNano())
	}
}

func TestKeyUsageSurvivesCloseAndHoldsDeletionAtOpen(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(time.Minute)
	usedAt := tc.clock.Now()
	wantErr(t, encrypt(tc, id), ErrInvalidState)
	if err := tc.Close(); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(8 * day)
	c, err := Open(ctx, tc.path, tc.master, Options{Now: tc.clock.Now, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.DescribeKey(ctx, id)
	if err != nil || md.KeyState != KeyStatePendingDeletion {
		t.Fatalf("after reopen: %v %v; the use flushed at Close must hold the deletion", md.KeyState, err)
	}
	keys, err := c.AllKeys(ctx)
	if err != nil || len(keys) != 1 || !keys[0].LastUsed.Equal(usedAt) {
		t.Fatalf("AllKeys after reopen = %+v, %v; want last use %v", keys, err, usedAt)
	}
}

func storedLastUsed(t testing.TB, db *sql.DB, id string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(`SELECT last_used FROM keys WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUsageFlushesRaceWithTheDataPath runs maintenance (which flushes key
// usage) while requests record uses; with -race it checks the tracker's
// locking, and afterwards that no use was lost between take and store.
func TestUsageFlushesRaceWithTheDataPath(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			// Each worker records at least one use, however late the
			// scheduler starts it, so the final check can't see none.
			for i := 0; ; i++ {
				if i%50 == 0 {
					tc.clock.Advance(time.Millisecond)
				}
				if err := encrypt(tc, id); err != nil {
					errs <- err
					return
				}
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
			}
		}()
	}
	for range 20 {
		if err := tc.RunMaintenance(ctx); err != nil {
			t.Error(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	keys, err := tc.AllKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].LastUsed.IsZero() {
		t.Fatalf("AllKeys = %+v, %v", keys, err)
	}
	last := keys[0].LastUsed
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedLastUsed(t, tc.rdb, id); got != last.UnixNano() {
		t.Fatalf("stored last use %d, want the latest recorded %d", got, last.UnixNano())
	}
}
