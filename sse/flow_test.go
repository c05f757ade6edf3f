package sse

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"testing"
)

// These tests follow the gateway flows documented in doc.go end to end, so
// the documented API is known to compose.

func TestFlowSSECPutThenGet(t *testing.T) {
	key := detBytes("customer", 32)
	req, err := ParsePutHeaders(ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key))
	if err != nil {
		t.Fatal(err)
	}
	plain := detBytes("obj", 200000)
	dek, _ := NewObjectKey()
	salt, _ := NewSSECSalt()
	meta := &ObjectMeta{Mode: ModeSSEC, Suite: DefaultSuite(), SSECSalt: salt,
		SSECKeyHash: SSECKeyHash(req.CustomerKey.Key, salt), SSECKeyMD5: req.CustomerKey.KeyMD5}
	body, _ := EncryptReader(bytes.NewReader(plain), dek, 0, meta.Suite)
	stored, _ := io.ReadAll(body)
	sum := md5.Sum(plain)
	meta.Size, meta.ETag = int64(len(plain)), hex.EncodeToString(sum[:])
	if err := meta.SealKey(DeriveSSECKEK(req.CustomerKey.Key, salt), dek, "b", "k"); err != nil {
		t.Fatal(err)
	}
	backendMeta := map[string]string{"x-amz-meta-user": "v"}
	entries, err := meta.Encode()
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(backendMeta, entries)
	if int64(len(stored)) != meta.StoredSize() {
		t.Fatal("stored size")
	}

	get := func(key []byte) ([]byte, error) {
		ck, err := CheckReadHeaders(ssecHeaders("X-Amz-Server-Side-Encryption-Customer", key))
		if err != nil {
			return nil, err
		}
		m, err := DecodeObjectMeta(backendMeta)
		if err != nil {
			return nil, err
		}
		if err := m.CheckSSECKey(ck.Key); err != nil {
			return nil, err
		}
		dek, err := m.UnsealKey(DeriveSSECKEK(ck.Key, m.SSECSalt), "b", "k")
		if err != nil {
			return nil, err
		}
		off, n, _, err := ParseRange("bytes=70000-", m.Size)
		if err != nil {
			return nil, err
		}
		ms := &memStore{blob: stored}
		rc, err := NewObjectReader(context.Background(), ms.fetch, m, dek, off, n)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	got, err := get(key)
	if err != nil || !bytes.Equal(got, plain[70000:]) {
		t.Fatalf("GET with the right key: %v", err)
	}
	if _, err := get(detBytes("wrong", 32)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("GET with a wrong key: err = %v, want ErrKeyMismatch", err)
	}
}

func TestFlowMultipartCompleteAndPartNumberGet(t *testing.T) {
	kek := detBytes("kms data key", 32)
	dek, _ := NewObjectKey()
	upload := &ObjectMeta{Mode: ModeSSEKMS, Suite: DefaultSuite(), KMSKeyARN: "arn:aws:kms:r:1:key/k", KMSBlob: []byte("blob")}
	if err := upload.SealKey(kek, dek, "b", "big"); err != nil {
		t.Fatal(err)
	}
	uploadMeta, _ := upload.Encode()

	sizes := map[int]int64{1: 5*PackageSize + 1, 2: 5*PackageSize + 1, 4: 1234}
	plains := map[int][]byte{}
	stored := map[int][]byte{}
	partMetas := map[int]map[string]string{}
	for _, n := range []int{4, 1, 2} { // any order
		m, _ := DecodeObjectMeta(uploadMeta)
		d, err := m.UnsealKey(kek, "b", "big")
		if err != nil {
			t.Fatal(err)
		}
		plains[n] = detBytes("part", int(sizes[n]))
		r, _ := EncryptReader(bytes.NewReader(plains[n]), d, n, m.Suite)
		stored[n], _ = io.ReadAll(r)
		pm := &PartMeta{PlainSize: sizes[n], MD5: md5.Sum(plains[n])}
		partMetas[n], _ = pm.Encode()
	}

	final, _ := DecodeObjectMeta(uploadMeta)
	if _, err := final.UnsealKey(kek, "b", "big"); err != nil {
		t.Fatal(err)
	}
	var md5s [][16]byte
	var blob, plain []byte
	for _, n := range []int{1, 2, 4} {
		pm, err := DecodePartMeta(partMetas[n])
		if err != nil || EncryptedSize(pm.PlainSize) != int64(len(stored[n])) {
			t.Fatalf("part %d meta: %v", n, err)
		}
		final.Parts = append(final.Parts, PartLayout{n, pm.PlainSize})
		final.Size += pm.PlainSize
		md5s = append(md5s, pm.MD5)
		blob = append(blob, stored[n]...)
		plain = append(plain, plains[n]...)
	}
	final.ETag = MultipartETag(md5s)
	objMeta, err := final.Encode()
	if err != nil {
		t.Fatal(err)
	}

	m, _ := DecodeObjectMeta(objMeta)
	d, err := m.UnsealKey(kek, "b", "big")
	if err != nil || d != dek {
		t.Fatal("unseal completed object", err)
	}
	off, n, err := m.PartRange(3)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := readRange(t, blob, m, d, off, n)
	if err != nil || !bytes.Equal(got, plains[4]) {
		t.Fatalf("partNumber=3: %v", err)
	}
	got, _, err = readRange(t, blob, m, d, 0, m.Size)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("whole object: %v", err)
	}
}
