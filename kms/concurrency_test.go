package kms

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

// TestDataPathUnderConcurrentAdministration runs encryptions and
// decryptions while the key is disabled and enabled, rotated, and the
// master key is rotated. Every call must either succeed correctly or fail
// with the state error; nothing else (run with -race).
func TestDataPathUnderConcurrentAdministration(t *testing.T) {
	tc := newTestCore(t)
	ctx := context.Background()
	id := tc.key(t).KeyID
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				dk, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: id})
				if errors.Is(err, ErrDisabled) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				out, err := tc.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob})
				if errors.Is(err, ErrDisabled) {
					continue
				}
				if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) {
					errs <- errors.Join(errors.New("decrypt mismatch"), err)
					return
				}
			}
		}()
	}
	for i := range 6 {
		if err := tc.DisableKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := tc.EnableKey(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.RotateKeyOnDemand(ctx, id); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := tc.RotateMasterKey(ctx, randomMaster(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("data path: %v", err)
	}
	if bad, err := tc.VerifyAll(ctx); err != nil || len(bad) != 0 {
		t.Fatalf("VerifyAll = %v, %v", bad, err)
	}
	// After Disable returns, no cached Enabled state may linger.
	if err := tc.DisableKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err := tc.GenerateDataKey(ctx, GenerateDataKeyInput{KeyID: id})
	wantErr(t, err, ErrDisabled)
}
