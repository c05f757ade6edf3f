package kms

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLifecycleRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// prepare puts the key in a state; op is the call under test.
		prepare func(tc *testCore, id string) error
		op      func(tc *testCore, id string) error
		want    error
	}{
		{"schedule deletion below 7 days", nil, func(tc *testCore, id string) error { _, err := tc.ScheduleKeyDeletion(ctx, id, 6); return err }, ErrValidation},
		{"schedule deletion above 30 days", nil, func(tc *testCore, id string) error { _, err := tc.ScheduleKeyDeletion(ctx, id, 31); return err }, ErrValidation},
		{"schedule deletion twice", schedule, func(tc *testCore, id string) error { _, err := tc.ScheduleKeyDeletion(ctx, id, 7); return err }, ErrInvalidState},
		{"cancel deletion of a key not pending", nil, func(tc *testCore, id string) error { _, err := tc.CancelKeyDeletion(ctx, id); return err }, ErrInvalidState},
		{"enable a key pending deletion", schedule, func(tc *testCore, id string) error { return tc.EnableKey(ctx, id) }, ErrInvalidState},
		{"encrypt with a key pending deletion", schedule, encrypt, ErrInvalidState},
		{"encrypt with a disabled key", disable, encrypt, ErrDisabled},
		{"rotation period below 90", nil, func(tc *testCore, id string) error { return tc.EnableKeyRotation(ctx, id, 89) }, ErrValidation},
		{"rotation period above 2560", nil, func(tc *testCore, id string) error { return tc.EnableKeyRotation(ctx, id, 2561) }, ErrValidation},
		{"rotate a disabled key on demand", disable, func(tc *testCore, id string) error { _, err := tc.RotateKeyOnDemand(ctx, id); return err }, ErrDisabled},
		{"tag with aws: prefix", nil, func(tc *testCore, id string) error { return tc.TagResource(ctx, id, map[string]string{"aws:x": "1"}) }, ErrTagException},
		{"tag with empty key", nil, func(tc *testCore, id string) error { return tc.TagResource(ctx, id, map[string]string{"": "1"}) }, ErrTagException},
		{"more than 50 tags", nil, func(tc *testCore, id string) error { return tc.TagResource(ctx, id, manyTags(51)) }, ErrLimitExceeded},
		{"description too long", nil, func(tc *testCore, id string) error {
			return tc.UpdateKeyDescription(ctx, id, strings.Repeat("d", 8193))
		}, ErrValidation},
		{"alias with bad characters", nil, func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "alias/bad name", id) }, ErrInvalidAliasName},
		{"alias without prefix", nil, func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "name", id) }, ErrInvalidAliasName},
		{"alias under alias/aws/", nil, func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "alias/aws/mine", id) }, ErrNotAuthorized},
		{"alias twice", func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "alias/a", id) },
			func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "alias/a", id) }, ErrAlreadyExists},
		{"alias to a key pending deletion", schedule, func(tc *testCore, id string) error { return tc.CreateAlias(ctx, "alias/a", id) }, ErrInvalidState},
		{"update a missing alias", nil, func(tc *testCore, id string) error { return tc.UpdateAlias(ctx, "alias/missing", id) }, ErrNotFound},
		{"delete a missing alias", nil, func(tc *testCore, id string) error { return tc.DeleteAlias(ctx, "alias/missing") }, ErrNotFound},
		{"describe a malformed ARN", nil, func(tc *testCore, id string) error { _, err := tc.DescribeKey(ctx, "arn:aws:kms"); return err }, ErrInvalidArn},
		{"describe another account's ARN", nil, func(tc *testCore, id string) error {
			_, err := tc.DescribeKey(ctx, "arn:aws:kms:us-east-1:111111111111:key/"+id)
			return err
		}, ErrNotFound},
		{"list with an invalid marker", nil, func(tc *testCore, id string) error { _, _, err := tc.ListKeys(ctx, 10, "bogus"); return err }, ErrInvalidMarker},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCore(t)
			id := tc.key(t).KeyID
			if tt.prepare != nil {
				if err := tt.prepare(tc, id); err != nil {
					t.Fatalf("prepare: %v", err)
				}
			}
			wantErr(t, tt.op(tc, id), tt.want)
		})
	}
}

func schedule(tc *testCore, id string) error {
	_, err := tc.ScheduleKeyDeletion(context.Background(), id, 7)
	return err
}

func disable(tc *testCore, id string) error { return tc.DisableKey(context.Background(), id) }

func encrypt(tc *testCore, id string) error {
	_, err := tc.Encrypt(context.Background(), EncryptInput{KeyID: id, Plaintext: []byte("x")})
	return err
}

func manyTags(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("t%d", i)] = "v"
	}
	return m
}

func TestCancelKeyDeletionLeavesKeyDisabled(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	md, err := tc.ScheduleKeyDeletion(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if md.PendingDeletionWindowInDays != 30 || !md.DeletionDate.Equal(tc.clock.Now().Add(30*24*time.Hour)) {
		t.Fatalf("default window: %+v", md)
	}
	md, err = tc.CancelKeyDeletion(ctx, id)
	if err != nil || md.KeyState != KeyStateDisabled {
		t.Fatalf("after cancel: %v %v, want Disabled", md.KeyState, err)
	}
}

func TestKeyIsDeletedOnlyWhenDue(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if err := tc.CreateAlias(ctx, "alias/doomed", id); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(7*24*time.Hour - time.Second)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if md, err := tc.DescribeKey(ctx, id); err != nil || md.KeyState != KeyStatePendingDeletion {
		t.Fatalf("before due: %v %v, want PendingDeletion", md.KeyState, err)
	}
	tc.clock.Advance(time.Second)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := tc.DescribeKey(ctx, id)
	wantErr(t, err, ErrNotFound)
	_, err = tc.DescribeKey(ctx, "alias/doomed")
	wantErr(t, err, ErrNotFound)
	if !strings.Contains(tc.audit.String(), `"operation":"DeleteKey","keyId":"`+id) {
		t.Fatal("deletion was not audited")
	}
}

func TestDueDeletionRunsAtOpen(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	if _, err := tc.ScheduleKeyDeletion(ctx, id, 7); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	tc.clock.Advance(8 * 24 * time.Hour)
	c, err := Open(ctx, tc.path, tc.master, Options{Now: tc.clock.Now, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.DescribeKey(ctx, id)
	wantErr(t, err, ErrNotFound)
}

func TestRotationKeepsOldVersionsDecrypting(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	old, err := tc.Encrypt(ctx, EncryptInput{KeyID: id, Plaintext: []byte("v1 secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.RotateKeyOnDemand(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := tc.EnableKeyRotation(ctx, id, 90); err != nil {
		t.Fatal(err)
	}
	tc.clock.Advance(90 * 24 * time.Hour)
	if err := tc.RunMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	cur, err := tc.Encrypt(ctx, EncryptInput{KeyID: id, Plaintext: []byte("v3 secret")})
	if err != nil {
		t.Fatal(err)
	}
	hOld, _, _ := parseBlob(old.CiphertextBlob)
	hCur, _, _ := parseBlob(cur.CiphertextBlob)
	if hOld.version != 1 || hCur.version != 3 {
		t.Fatalf("versions: old %d, new %d; want 1 and 3", hOld.version, hCur.version)
	}
	for _, blob := range [][]byte{old.CiphertextBlob, cur.CiphertextBlob} {
		if _, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: blob}); err != nil {
			t.Fatalf("Decrypt after rotation: %v", err)
		}
	}
	rots, _, err := tc.ListKeyRotations(ctx, id, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rots) != 2 || rots[0].RotationType != rotationOnDemand || rots[1].RotationType != rotationAutomatic {
		t.Fatalf("rotations = %+v, want ON_DEMAND then AUTOMATIC", rots)
	}
	st, err := tc.GetKeyRotationStatus(ctx, id)
	if err != nil || !st.Enabled || st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(tc.clock.Now().AddDate(0, 0, 90)) {
		t.Fatalf("rotation status = %+v, %v", st, err)
	}
}

func TestOnDemandRotationIsLimitedToTen(t *testing.T) {
	tc := newTestCore(t)
	id := tc.key(t).KeyID
	for i := range 10 {
		if _, err := tc.RotateKeyOnDemand(context.Background(), id); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
	}
	_, err := tc.RotateKeyOnDemand(context.Background(), id)
	wantErr(t, err, ErrLimitExceeded)
}

func TestAWSManagedKeyCannotBeAdministered(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	md, err := tc.DescribeKey(ctx, AWSManagedS3Alias)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tc.GetKeyRotationStatus(ctx, md.KeyID)
	if err != nil || !st.Enabled || st.RotationPeriodInDays != 365 {
		t.Fatalf("aws/s3 rotation = %+v, %v; want yearly", st, err)
	}
	custom := tc.key(t).KeyID
	for name, err := range map[string]error{
		"disable":         tc.DisableKey(ctx, md.KeyID),
		"schedule delete": func() error { _, err := tc.ScheduleKeyDeletion(ctx, md.KeyID, 7); return err }(),
		"rotation off":    tc.DisableKeyRotation(ctx, md.KeyID),
		"re-alias":        tc.UpdateAlias(ctx, AWSManagedS3Alias, custom),
		"delete alias":    tc.DeleteAlias(ctx, AWSManagedS3Alias),
		"alias to it":     tc.CreateAlias(ctx, "alias/mine", md.KeyID),
	} {
		if err == nil {
			t.Errorf("%s on the AWS managed key succeeded", name)
		}
	}
}

func TestSSES3KeyIsHiddenFromTheAPI(t *testing.T) {
	tc, srv := newTestServer(t)
	ctx := context.Background()
	dk, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: SSES3KeyAlias})
	if err != nil {
		t.Fatalf("in-process GenerateDataKey with the SSE-S3 key: %v", err)
	}
	keys, _, err := tc.ListKeys(ctx, 0, "")
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys = %v, %v; want the hidden key left out", keys, err)
	}
	r := newTestRemote(t, srv.URL)
	_, err = r.DescribeKey(ctx, SSES3KeyAlias)
	wantErr(t, err, ErrNotFound)
	_, err = r.DescribeKey(ctx, dk.KeyID)
	wantErr(t, err, ErrNotFound)
	_, err = r.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	wantErr(t, err, ErrInvalidCiphertext)
	out, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
		t.Fatalf("in-process Decrypt: %v", err)
	}
}

func TestListsPaginate(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	want := map[string]bool{}
	for range 5 {
		want[tc.key(t).KeyID] = true
	}
	var marker string
	pages := 0
	for {
		keys, next, err := tc.ListKeys(ctx, 2, marker)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range keys {
			if !want[k.KeyID] || k.Versions != 1 || k.State != KeyStateEnabled {
				t.Fatalf("unexpected entry %+v", k)
			}
			delete(want, k.KeyID)
		}
		if next == "" {
			break
		}
		marker = next
	}
	if len(want) != 0 || pages != 3 {
		t.Fatalf("missing %d keys after %d pages", len(want), pages)
	}
}

func TestAliasesAndTags(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	a, b := tc.key(t).KeyID, tc.key(t).KeyID
	if err := tc.CreateAlias(ctx, "alias/app", a); err != nil {
		t.Fatal(err)
	}
	if err := tc.UpdateAlias(ctx, "alias/app", b); err != nil {
		t.Fatal(err)
	}
	md, err := tc.DescribeKey(ctx, tc.aliasARN("alias/app"))
	if err != nil || md.KeyID != b {
		t.Fatalf("alias ARN resolves to %s, %v; want %s", md.KeyID, err, b)
	}
	list, _, err := tc.ListAliases(ctx, b, 0, "")
	if err != nil || len(list) != 1 || list[0].AliasName != "alias/app" {
		t.Fatalf("ListAliases(b) = %+v, %v", list, err)
	}
	if err := tc.TagResource(ctx, a, map[string]string{"team": "x", "env": "prod"}); err != nil {
		t.Fatal(err)
	}
	if err := tc.UntagResource(ctx, a, []string{"team", "absent"}); err != nil {
		t.Fatal(err)
	}
	tags, _, err := tc.ListResourceTags(ctx, a, 0, "")
	if err != nil || len(tags) != 1 || tags[0] != (Tag{"env", "prod"}) {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
}

func TestReEncryptMovesCiphertextToAnotherKey(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	a, b := tc.key(t), tc.key(t)
	enc, err := tc.Encrypt(ctx, EncryptInput{KeyID: a.KeyID, Plaintext: []byte("move me"), Context: EncryptionContext{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	re, err := tc.ReEncrypt(ctx, ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceContext: EncryptionContext{"a": "1"},
		DestinationKeyID: b.KeyID, DestinationContext: EncryptionContext{"b": "2"}})
	if err != nil || re.KeyID != b.ARN || re.SourceKeyID != a.ARN {
		t.Fatalf("ReEncrypt = %+v, %v", re, err)
	}
	out, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: re.CiphertextBlob, Context: EncryptionContext{"b": "2"}, KeyID: b.KeyID})
	if err != nil || string(out.Plaintext) != "move me" {
		t.Fatalf("Decrypt re-encrypted = %q, %v", out.Plaintext, err)
	}
	_, err = tc.ReEncrypt(ctx, ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: b.KeyID})
	wantErr(t, err, ErrInvalidCiphertext)
}

func TestThrottlingPerCaller(t *testing.T) {
	clock := newFakeClock()
	c, err := Open(context.Background(), t.TempDir()+"/kms.db", randomMaster(t), Options{Now: clock.Now, RatePerSecond: 1, Burst: 2, MaintenanceInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	alice := WithCaller(context.Background(), Caller{AccessKey: "alice"})
	bob := WithCaller(context.Background(), Caller{AccessKey: "bob"})
	for range 2 {
		if _, err := c.GenerateRandom(alice, 8); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GenerateRandom(alice, 8)
	wantErr(t, err, ErrThrottled)
	if _, err := c.GenerateRandom(bob, 8); err != nil {
		t.Fatalf("bob throttled by alice's use: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.GenerateRandom(alice, 8); err != nil {
		t.Fatalf("alice after refill: %v", err)
	}
}
