package sse

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestGoldenCompressedObject pins a compressed SSE-S3 object (docs/format.md
// 8): metadata with tag 15 and the stored body must keep decrypting and
// decompressing, whole and by range. Only the read path is pinned: S2's
// encoder output may legitimately change between library versions.
func TestGoldenCompressedObject(t *testing.T) {
	name := filepath.Join("testdata", "golden-compressed")
	plain := textBytes(CompressBlockSize*2 + 1000)
	kek, dek := detBytes("golden compressed kek", 32), detKey("golden compressed dek")
	if *update {
		blob, meta := compressObject(t, dek, SuiteAES256GCM, plain, newDetRand("golden compressed"))
		meta.Mode, meta.KMSKeyARN, meta.KMSBlob = ModeSSES3, "arn:aws:kms:us-east-1:000000000000:key/golden", detBytes("blob", 120)
		if err := meta.sealKeyWith(newDetRand("golden compressed seal"), kek, dek, "b", "logs/app.log"); err != nil {
			t.Fatal(err)
		}
		md, err := meta.Encode()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(name+".enc", blob, 0o644)
		os.WriteFile(name+".meta", []byte(md[MetaKey]), 0o644)
	}
	blob, err1 := os.ReadFile(name + ".enc")
	mv, err2 := os.ReadFile(name + ".meta")
	if err1 != nil || err2 != nil {
		t.Fatalf("missing vector (go test ./sse -run GoldenCompressed -update): %v %v", err1, err2)
	}
	meta, err := DecodeObjectMeta(map[string]string{MetaKey: string(mv)})
	if err != nil || meta.Compression == nil {
		t.Fatalf("decode: %v", err)
	}
	got, err := meta.UnsealKey(kek, "b", "logs/app.log")
	if err != nil || got != dek {
		t.Fatalf("unseal: %v", err)
	}
	if meta.StoredSize() != int64(len(blob)) {
		t.Fatalf("stored size %d, file %d", meta.StoredSize(), len(blob))
	}
	for _, r := range [][2]int64{{0, meta.Size}, {CompressBlockSize - 5, 10}, {meta.Size - 1, 1}} {
		out, _, err := readRange(t, blob, meta, dek, r[0], r[1])
		if err != nil || !bytes.Equal(out, plain[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
}
