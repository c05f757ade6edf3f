package sse

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// kmsMeta is a realistic SSE-KMS object: ARN of typical length and a
// 200-byte KMS ciphertext blob (larger than ours).
func kmsMeta() *ObjectMeta {
	return &ObjectMeta{
		Mode:              ModeSSEKMS,
		Suite:             SuiteAES256GCM,
		KMSKeyARN:         "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		KMSBlob:           detBytes("blob", 200),
		EncryptionContext: base64.StdEncoding.EncodeToString([]byte(`{"project":"x"}`)),
		BucketKeyEnabled:  true,
		Size:              123456789,
		ETag:              "9e107d9d372bb6826bd81d3542a419d6",
		ChecksumAlgorithm: "CRC32C",
		Checksum:          "yZRlqg==",
	}
}

func ssecMeta() *ObjectMeta {
	var key [32]byte
	copy(key[:], detBytes("ck", 32))
	sum := md5.Sum(key[:])
	salt := detBytes("salt", 16)
	return &ObjectMeta{
		Mode: ModeSSEC, Suite: SuiteChaCha20Poly1305,
		SSECSalt: salt, SSECKeyHash: SSECKeyHash(key, salt), SSECKeyMD5: base64.StdEncoding.EncodeToString(sum[:]),
		Size: 3*5<<20 + 7, ETag: "9e107d9d372bb6826bd81d3542a419d6-4",
		Parts: []PartLayout{{1, 5 << 20}, {2, 5 << 20}, {3, 5 << 20}, {5, 7}},
	}
}

func sealed(t testing.TB, m *ObjectMeta, kek []byte, dek ObjectKey, bucket, object string) map[string]string {
	t.Helper()
	if err := m.SealKey(kek, dek, bucket, object); err != nil {
		t.Fatal(err)
	}
	md, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return md
}

var metaKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func TestObjectMetaRoundTrip(t *testing.T) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	sses3 := &ObjectMeta{Mode: ModeSSES3, Suite: SuiteAES256GCM, KMSKeyARN: "arn:aws:kms:r:1:key/k", KMSBlob: []byte{1, 2, 3}}
	for name, m := range map[string]*ObjectMeta{"sse-kms": kmsMeta(), "sse-c multipart": ssecMeta(), "sse-s3 empty": sses3} {
		t.Run(name, func(t *testing.T) {
			md := sealed(t, m, kek, dek, "b", "o")
			for k, v := range md {
				if !metaKeyRE.MatchString(k) || !IsInternalKey(k) || !printable(v) {
					t.Fatalf("bad entry %q=%q", k, v)
				}
			}
			got, err := DecodeObjectMeta(md)
			if err != nil {
				t.Fatal(err)
			}
			gotDEK, err := got.UnsealKey(kek, "b", "o")
			if err != nil || gotDEK != dek {
				t.Fatalf("UnsealKey: %v", err)
			}
			got.raw, got.mac, got.macKey, m.macKey = nil, nil, nil, nil
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("roundtrip:\n got %#v\nwant %#v", *got, *m)
			}
		})
	}
}

func TestSSEKMSMetadataIsSmall(t *testing.T) {
	md := sealed(t, kmsMeta(), detBytes("kek", 32), detKey("dek"), "b", "o")
	total := 0
	for k, v := range md {
		total += len(k) + len(v)
	}
	if total >= 600 {
		t.Fatalf("SSE-KMS metadata is %d bytes, want < 600", total)
	}
	// 10,000 equal parts plus a short last one: two runs.
	m := ssecMeta()
	m.Parts = nil
	m.Size = 0
	for i := 1; i <= 10000; i++ {
		size := int64(8 << 20)
		if i == 10000 {
			size = 1
		}
		m.Parts = append(m.Parts, PartLayout{i, size})
		m.Size += size
	}
	md = sealed(t, m, detBytes("kek", 32), detKey("dek"), "b", "o")
	if len(md[MetaKey]) > 400 {
		t.Fatalf("10,000-part table encodes to %d bytes", len(md[MetaKey]))
	}
}

func TestEveryMetadataByteFlipIsDetected(t *testing.T) {
	kek, dek := detBytes("kek", 32), detKey("dek")
	md := sealed(t, kmsMeta(), kek, dek, "b", "o")
	v := md[MetaKey]
	for i := 0; i < len(v); i++ {
		for _, c := range []byte{v[i] ^ 0x01, 'A', '-', '.'} {
			if c == v[i] {
				continue
			}
			bad := v[:i] + string(c) + v[i+1:]
			m, err := DecodeObjectMeta(map[string]string{MetaKey: bad})
			if err != nil {
				if !errors.Is(err, ErrBadMetadata) {
					t.Fatalf("flip at %d: err %v", i, err)
				}
				continue
			}
			if _, err := m.UnsealKey(kek, "b", "o"); !errors.Is(err, ErrTampered) {
				t.Fatalf("flip at %d (%q→%q) not detected: %v", i, v[i], c, err)
			}
		}
	}
}

func TestMetadataSwappedBetweenObjectsIsRefused(t *testing.T) {
	kek := detBytes("kek", 32) // same KEK for both: worst case
	mdA := sealed(t, kmsMeta(), kek, detKey("a"), "b", "a")
	mdB := sealed(t, kmsMeta(), kek, detKey("b"), "b", "b")
	for _, c := range []struct {
		md     map[string]string
		object string
	}{{mdA, "b"}, {mdB, "a"}} {
		m, err := DecodeObjectMeta(c.md)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.UnsealKey(kek, "b", c.object); !errors.Is(err, ErrTampered) {
			t.Fatalf("metadata accepted on object %q: %v", c.object, err)
		}
	}
	// Splicing B's sealed key into A's fields fails the MAC.
	a, _ := DecodeObjectMeta(mdA)
	b, _ := DecodeObjectMeta(mdB)
	a.SealedKey = b.SealedKey
	if _, err := a.UnsealKey(kek, "b", "b"); !errors.Is(err, ErrTampered) {
		t.Fatalf("spliced metadata accepted: %v", err)
	}
}

func TestCopyReSealsMetadataOnly(t *testing.T) {
	kek1, kek2, dek := detBytes("kek1", 32), detBytes("kek2", 32), detKey("dek")
	src, _ := DecodeObjectMeta(sealed(t, kmsMeta(), kek1, dek, "b1", "src"))
	got, err := src.UnsealKey(kek1, "b1", "src")
	if err != nil {
		t.Fatal(err)
	}
	dst := *src
	dst.Mode = ModeSSES3
	dst.EncryptionContext, dst.BucketKeyEnabled = "", false
	md := sealed(t, &dst, kek2, got, "b2", "dst")
	m, err := DecodeObjectMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := m.UnsealKey(kek2, "b2", "dst"); err != nil || d != dek {
		t.Fatalf("copy does not unseal: %v", err)
	}
	if _, err := m.UnsealKey(kek1, "b1", "src"); !errors.Is(err, ErrTampered) {
		t.Fatalf("copy unseals under the old names: %v", err)
	}
}

func TestDecodeObjectMetaRejectsMalformed(t *testing.T) {
	good := sealed(t, kmsMeta(), detBytes("kek", 32), detKey("d"), "b", "o")[MetaKey]
	cases := map[string]map[string]string{
		"missing":         {},
		"wrong version":   {MetaKey: "2." + strings.TrimPrefix(good, "1.")},
		"no prefix":       {MetaKey: strings.TrimPrefix(good, "1.")},
		"std base64":      {MetaKey: good + "="},
		"truncated":       {MetaKey: good[:len(good)-30]},
		"empty body":      {MetaKey: "1."},
		"huge":            {MetaKey: "1." + strings.Repeat("A", 100000)},
		"no required":     {MetaKey: encodeValue(append([]byte{1}, make([]byte, 16)...))},
		"unknown tag":     {MetaKey: encodeValue(append([]byte{1, 99, 0}, make([]byte, 16)...))},
		"version in body": {MetaKey: encodeValue(append([]byte{2}, make([]byte, 16)...))},
	}
	for name, md := range cases {
		if _, err := DecodeObjectMeta(md); !errors.Is(err, ErrBadMetadata) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestEncodeRequiresSealedKey(t *testing.T) {
	if _, err := kmsMeta().Encode(); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("err = %v", err)
	}
	m := kmsMeta()
	m.ETag = "not-an-etag"
	if err := m.SealKey(detBytes("k", 32), detKey("d"), "b", "o"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Encode(); !errors.Is(err, ErrBadMetadata) {
		t.Fatalf("bad ETag encoded: %v", err)
	}
}

func TestPartRange(t *testing.T) {
	m := ssecMeta()
	off, n, err := m.PartRange(4)
	if err != nil || off != 3*5<<20 || n != 7 {
		t.Fatalf("PartRange(4) = %d,%d,%v", off, n, err)
	}
	for _, bad := range []int{0, 5} {
		if _, _, err := m.PartRange(bad); !errors.Is(err, ErrInvalidPartNumber) {
			t.Fatalf("PartRange(%d): %v", bad, err)
		}
	}
	single := kmsMeta()
	if off, n, err := single.PartRange(1); err != nil || off != 0 || n != single.Size {
		t.Fatalf("single part: %d,%d,%v", off, n, err)
	}
}

func TestPartMetaRoundTrip(t *testing.T) {
	p := &PartMeta{PlainSize: 5<<20 + 1, MD5: md5.Sum([]byte("x")), ChecksumAlgorithm: "SHA256", Checksum: "abc="}
	md, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePartMeta(md)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("roundtrip: %+v, %v", got, err)
	}
	if !IsInternalKey(PartMetaKey) {
		t.Fatal("part key not internal")
	}
	if _, err := DecodePartMeta(map[string]string{PartMetaKey: md[PartMetaKey][:10]}); !errors.Is(err, ErrBadMetadata) {
		t.Fatalf("truncated part meta: %v", err)
	}
}

func TestIsInternalKey(t *testing.T) {
	for k, want := range map[string]bool{"ssegate": true, "ssegate-part": true, "SSEGATE-x": true, "ssegatex": false, "x-ssegate": false, "content-type": false} {
		if IsInternalKey(k) != want {
			t.Errorf("IsInternalKey(%q) = %v", k, !want)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	// Known value: two parts whose MD5s are of "a" and "b".
	got := MultipartETag([][16]byte{md5.Sum([]byte("a")), md5.Sum([]byte("b"))})
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	want := md5.Sum(append(a[:], b[:]...))
	if !strings.HasSuffix(got, "-2") || !strings.HasPrefix(got, strings.ToLower(base16(want[:]))) {
		t.Fatalf("MultipartETag = %s", got)
	}
}

func base16(b []byte) string {
	const hexd = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, hexd[c>>4], hexd[c&15])
	}
	return string(s)
}
