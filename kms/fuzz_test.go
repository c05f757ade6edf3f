package kms

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// FuzzParseBlob: any input either fails to parse with ErrInvalidCiphertext
// or parses to a header that re-marshals to the same bytes; opening it
// with unrelated material never succeeds.
func FuzzParseBlob(f *testing.F) {
	// The golden blob is deterministic: fuzz workers run in other
	// processes, so the seed must not depend on random salts.
	material, valid := goldenBlob(f)
	ec := EncryptionContext{"a": "1", "b": "2"}
	f.Add(valid)
	// Part B: blob version 2 (multi-Region key id), same material and context.
	validV2 := goldenBlobFile(f, "testdata/blob-v2.txt")
	f.Add(validV2)
	other, err := sealBlob(uuid.New(), 1, material, []byte("x"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(other)
	f.Add([]byte{})
	f.Add([]byte{blobVersion1})
	f.Add(make([]byte, minBlobSize))
	f.Fuzz(func(t *testing.T, blob []byte) {
		h, payload, err := parseBlob(blob)
		if err != nil {
			wantErr(t, err, ErrInvalidCiphertext)
			return
		}
		if !bytes.Equal(h.marshal(), blob[:blobHeaderSize]) || len(payload) < blobTagSize {
			t.Fatal("parsed header does not round-trip")
		}
		if !bytes.Equal(blob, valid) && !bytes.Equal(blob, validV2) {
			if _, err := openBlob(blob, h, material, ec); err == nil {
				t.Fatal("forged blob opened")
			}
		}
	})
}

// FuzzHandlerRequest: whatever the body, the handler answers JSON with
// 200, 400 or 500 and an error __type when not 200; it never panics.
func FuzzHandlerRequest(f *testing.F) {
	tc := newTestCore(f)
	h := NewHandler(tc.Core, nil)
	ops := make([]string, 0, len(operations))
	for name := range operations {
		ops = append(ops, name)
	}
	f.Add(uint8(0), []byte(`{}`))
	f.Add(uint8(1), []byte(`{"KeyId":"alias/aws/s3"}`))
	f.Add(uint8(2), []byte(`{"KeyId":"alias/aws/s3","NumberOfBytes":16}`))
	f.Add(uint8(3), []byte(`{"CiphertextBlob":"AQ=="}`))
	f.Add(uint8(4), []byte(`{"Limit":-1,"Marker":"m1:"}`))
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := ops[int(op)%len(ops)]
		if name == "CreateKey" || name == "ScheduleKeyDeletion" || name == "DisableKey" {
			// Keep the keystore small and the AWS key usable across runs.
			name = "DescribeKey"
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)).WithContext(context.Background())
		req.Header.Set("X-Amz-Target", "TrentService."+name)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: response is not JSON: %q", name, rec.Body.String())
		}
		switch rec.Code {
		case 200:
		case 400, 500:
			if typ, _ := out["__type"].(string); !strings.HasSuffix(typ, "Exception") {
				t.Fatalf("%s: error without __type: %v", name, out)
			}
		default:
			t.Fatalf("%s: status %d", name, rec.Code)
		}
	})
}

func goldenBlob(t testing.TB) (material, blob []byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/blob-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "material":
			material, _ = hex.DecodeString(v)
		case "blob":
			blob, _ = hex.DecodeString(v)
		}
	}
	return material, blob
}

// goldenBlobFile reads the blob of a golden vector file.
func goldenBlobFile(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if v, ok := strings.CutPrefix(line, "blob="); ok {
			b, _ := hex.DecodeString(v)
			return b
		}
	}
	t.Fatalf("%s has no blob", path)
	return nil
}
