package kms

import (
	"context"
	"testing"
)

func benchmarkDataKeyRoundTrip(b *testing.B, s Service, keyID string) {
	ctx := context.Background()
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::bucket/object"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dk, err := s.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: keyID, Context: ec})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob, Context: ec}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateDataKeyDecryptInProcess is the SSE-KMS data path cost
// per object in the gateway process (two ops per iteration).
func BenchmarkGenerateDataKeyDecryptInProcess(b *testing.B) {
	tc := newTestCore(b)
	benchmarkDataKeyRoundTrip(b, tc.Core, tc.key(b).KeyID)
}

// BenchmarkGenerateDataKeyDecryptRemote goes through aws-sdk-go-v2, HTTP
// on loopback and NewHandler.
func BenchmarkGenerateDataKeyDecryptRemote(b *testing.B) {
	tc, srv := newTestServer(b)
	benchmarkDataKeyRoundTrip(b, newTestRemote(b, srv.URL), tc.key(b).KeyID)
}
