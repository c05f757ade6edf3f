// Package kmstest is the conformance suite for kms.Service: the embedded
// Core and the Remote client must both pass it.
package kmstest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/kms"
)

// Admin is the optional operator hook the suite uses to test disabled
// keys. *kms.Core and *kms.Remote implement it.
type Admin interface {
	DisableKey(ctx context.Context, keyID string) error
	EnableKey(ctx context.Context, keyID string) error
}

// Run runs the suite. newService returns a fresh service per test. The
// cases of the optional interfaces (interfaces.go) skip when the service
// lacks one; call RequireAll for a backend that must have them all.
func Run(t *testing.T, newService func(t *testing.T) kms.Service) {
	t.Run("CreateThenDescribeByIDAndARN", func(t *testing.T) {
		s := newService(t)
		ctx := context.Background()
		md := createKey(t, s, "conformance")
		if md.KeyState != kms.KeyStateEnabled || !md.Enabled || md.KeyManager != kms.KeyManagerCustomer {
			t.Fatalf("new key metadata = %+v, want enabled customer key", md)
		}
		if !strings.HasPrefix(md.ARN, "arn:aws:kms:") || !strings.HasSuffix(md.ARN, ":key/"+md.KeyID) {
			t.Fatalf("ARN %q does not name key %s", md.ARN, md.KeyID)
		}
		for _, ref := range []string{md.KeyID, md.ARN} {
			got, err := s.DescribeKey(ctx, ref)
			if err != nil {
				t.Fatalf("DescribeKey(%s): %v", ref, err)
			}
			if got.KeyID != md.KeyID || got.Description != "conformance" {
				t.Fatalf("DescribeKey(%s) = %+v, want key %s", ref, got, md.KeyID)
			}
		}
	})

	t.Run("DescribeUnknownKeyIsNotFound", func(t *testing.T) {
		s := newService(t)
		_, err := s.DescribeKey(context.Background(), "11111111-2222-3333-4444-555555555555")
		wantErr(t, err, kms.ErrNotFound)
		_, err = s.DescribeKey(context.Background(), "alias/does-not-exist")
		wantErr(t, err, kms.ErrNotFound)
	})

	t.Run("AWSManagedS3KeyIsCreatedOnFirstUse", func(t *testing.T) {
		s := newService(t)
		md, err := s.DescribeKey(context.Background(), kms.AWSManagedS3Alias)
		if err != nil {
			t.Fatalf("DescribeKey(%s): %v", kms.AWSManagedS3Alias, err)
		}
		if md.KeyManager != kms.KeyManagerAWS {
			t.Fatalf("KeyManager = %q, want AWS", md.KeyManager)
		}
		again, err := s.DescribeKey(context.Background(), kms.AWSManagedS3Alias)
		if err != nil || again.KeyID != md.KeyID {
			t.Fatalf("second DescribeKey = %v, %v; want the same key %s", again.KeyID, err, md.KeyID)
		}
	})

	t.Run("DataKeyRoundTrip", func(t *testing.T) {
		s := newService(t)
		ctx := context.Background()
		md := createKey(t, s, "")
		ec := kms.EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object", "b": "2"}
		for _, in := range []kms.GenerateDataKeyInput{
			{KeyID: md.KeyID, Context: ec},
			{KeyID: md.ARN, Context: ec, KeySpec: "AES_128"},
			{KeyID: md.KeyID, NumberOfBytes: 64},
		} {
			dk, err := s.GenerateDataKey(ctx, in)
			if err != nil {
				t.Fatalf("GenerateDataKey(%+v): %v", in, err)
			}
			want := 32
			if in.KeySpec == "AES_128" {
				want = 16
			} else if in.NumberOfBytes != 0 {
				want = in.NumberOfBytes
			}
			if len(dk.Plaintext) != want || dk.KeyID != md.ARN {
				t.Fatalf("data key: %d bytes for %s, want %d for %s", len(dk.Plaintext), dk.KeyID, want, md.ARN)
			}
			if bytes.Contains(dk.CiphertextBlob, dk.Plaintext) {
				t.Fatal("ciphertext blob contains the plaintext data key")
			}
			// Context order must not matter: a rebuilt map decrypts.
			ec2 := kms.EncryptionContext{}
			for k, v := range in.Context {
				ec2[k] = v
			}
			out, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, Context: ec2})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(out.Plaintext, dk.Plaintext) || out.KeyID != md.ARN {
				t.Fatal("Decrypt did not return the data key")
			}
		}
	})

	t.Run("EncryptDecryptWithKeyIDGiven", func(t *testing.T) {
		s := newService(t)
		ctx := context.Background()
		md := createKey(t, s, "")
		enc, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("secret")})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		out, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyID: md.ARN})
		if err != nil || string(out.Plaintext) != "secret" {
			t.Fatalf("Decrypt = %q, %v; want secret", out.Plaintext, err)
		}
	})

	t.Run("DecryptFailures", func(t *testing.T) {
		s := newService(t)
		ctx := context.Background()
		md := createKey(t, s, "")
		other := createKey(t, s, "")
		ec := kms.EncryptionContext{"k": "v"}
		enc, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("secret"), Context: ec})
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		flip := func(i int) []byte {
			b := bytes.Clone(enc.CiphertextBlob)
			b[i] ^= 1
			return b
		}
		cases := []struct {
			name string
			in   kms.DecryptInput
			want error
		}{
			{"wrong context value", kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: kms.EncryptionContext{"k": "w"}}, kms.ErrInvalidCiphertext},
			{"missing context", kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}, kms.ErrInvalidCiphertext},
			{"extra context", kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: kms.EncryptionContext{"k": "v", "x": ""}}, kms.ErrInvalidCiphertext},
			{"flipped last byte", kms.DecryptInput{CiphertextBlob: flip(len(enc.CiphertextBlob) - 1), Context: ec}, kms.ErrInvalidCiphertext},
			{"flipped middle byte", kms.DecryptInput{CiphertextBlob: flip(len(enc.CiphertextBlob) / 2), Context: ec}, kms.ErrInvalidCiphertext},
			{"truncated", kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob[:len(enc.CiphertextBlob)-1], Context: ec}, kms.ErrInvalidCiphertext},
			{"garbage", kms.DecryptInput{CiphertextBlob: []byte("not a ciphertext blob at all, just text"), Context: ec}, kms.ErrInvalidCiphertext},
			{"other key id", kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Context: ec, KeyID: other.KeyID}, kms.ErrIncorrectKey},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				out, err := s.Decrypt(ctx, tc.in)
				wantErr(t, err, tc.want)
				if len(out.Plaintext) != 0 {
					t.Fatal("failed Decrypt returned plaintext")
				}
			})
		}
	})

	t.Run("DisabledKeyRefusesAndReenableRestores", func(t *testing.T) {
		s := newService(t)
		admin, ok := s.(Admin)
		if !ok {
			t.Skip("service has no admin hook (EnableKey/DisableKey)")
		}
		ctx := context.Background()
		md := createKey(t, s, "")
		dk, err := s.GenerateDataKey(ctx, kms.GenerateDataKeyInput{KeyID: md.KeyID})
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		if err := admin.DisableKey(ctx, md.KeyID); err != nil {
			t.Fatalf("DisableKey: %v", err)
		}
		got, err := s.DescribeKey(ctx, md.KeyID)
		if err != nil || got.KeyState != kms.KeyStateDisabled || got.Enabled {
			t.Fatalf("DescribeKey after disable = %+v, %v", got, err)
		}
		_, err = s.GenerateDataKey(ctx, kms.GenerateDataKeyInput{KeyID: md.KeyID})
		wantErr(t, err, kms.ErrDisabled)
		_, err = s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: []byte("x")})
		wantErr(t, err, kms.ErrDisabled)
		_, err = s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
		wantErr(t, err, kms.ErrDisabled)
		if err := admin.EnableKey(ctx, md.KeyID); err != nil {
			t.Fatalf("EnableKey: %v", err)
		}
		out, err := s.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
		if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
			t.Fatalf("Decrypt after re-enable: %v", err)
		}
	})

	t.Run("LimitsAreValidationErrors", func(t *testing.T) {
		s := newService(t)
		ctx := context.Background()
		md := createKey(t, s, "")
		_, err := s.Encrypt(ctx, kms.EncryptInput{KeyID: md.KeyID, Plaintext: make([]byte, 4097)})
		wantErr(t, err, kms.ErrValidation)
		_, err = s.GenerateDataKey(ctx, kms.GenerateDataKeyInput{KeyID: md.KeyID, NumberOfBytes: 1025})
		wantErr(t, err, kms.ErrValidation)
		_, err = s.GenerateDataKey(ctx, kms.GenerateDataKeyInput{KeyID: md.KeyID, KeySpec: "AES_256", NumberOfBytes: 32})
		wantErr(t, err, kms.ErrValidation)
	})

	// Issue 11's operations, through the optional interfaces
	// (interfaces.go); skipped for a service without them.
	runAsymmetric(t, newService)
	runAdmin(t, newService)
}

func createKey(t *testing.T, s kms.Service, desc string) kms.KeyMetadata {
	t.Helper()
	md, err := s.CreateKey(context.Background(), kms.CreateKeyInput{Description: desc})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return md
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}
