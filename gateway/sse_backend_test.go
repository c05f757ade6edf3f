package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
)

// walkFiles calls fn for every regular file under root.
func walkFiles(t testing.TB, root string, fn func(path string, data []byte)) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fn(p, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSSEBackendHoldsOnlyCiphertext(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("cipher")
	marker := []byte("PLAINTEXT-MARKER-5f1b9c")
	body := bytes.Repeat(append(append([]byte{}, marker...), '\n'), 8000) // ~190 KiB, several packages
	k := e.kmsKey()
	ck := newCustomerKey(8)
	c := e.s3()
	ctx := context.Background()
	modes := []sseMode{
		{name: "default"},
		{name: "sse-s3", sse: types.ServerSideEncryptionAes256},
		{name: "sse-kms", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID},
		{name: "sse-c", ssec: &ck},
	}
	for _, m := range modes {
		in := &s3.PutObjectInput{Bucket: aws.String("cipher"), Key: aws.String(m.name), Body: bytes.NewReader(body)}
		m.applyPut(in)
		if _, err := c.PutObject(ctx, in); err != nil {
			t.Fatal(err)
		}
		// An open multipart upload's parts are on disk too.
		cin := &s3.CreateMultipartUploadInput{Bucket: aws.String("cipher"), Key: aws.String(m.name + "-mpu")}
		m.applyCreate(cin)
		cout, err := c.CreateMultipartUpload(ctx, cin)
		if err != nil {
			t.Fatal(err)
		}
		pin := &s3.UploadPartInput{Bucket: aws.String("cipher"), Key: aws.String(m.name + "-mpu"), UploadId: cout.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(body)}
		m.applyPart(pin)
		if _, err := c.UploadPart(ctx, pin); err != nil {
			t.Fatal(err)
		}
	}
	files := 0
	walkFiles(t, e.root, func(p string, data []byte) {
		files++
		if bytes.Contains(data, marker) || bytes.Contains(data, ck.raw) || bytes.Contains(data, []byte(ck.b64)) {
			t.Errorf("%s holds plaintext or the customer key", p)
		}
	})
	if files < 8 {
		t.Fatalf("walked %d files; the test is not looking where the data is", files)
	}
}

// findObjectFiles returns the data file (o.<gen>) of bucket/key in the fs
// store under root, "" when the object is small enough to be held inline
// in its sidecar, and the sidecar.
func findObjectFiles(t testing.TB, root, bucket, key string) (data, sidecarPath string) {
	t.Helper()
	walkFiles(t, filepath.Join(root, bucket), func(p string, b []byte) {
		if strings.Contains(p, string(filepath.Separator)+".sys"+string(filepath.Separator)) || !strings.HasPrefix(filepath.Base(p), "m.") {
			return
		}
		var sc struct {
			Key  string `json:"key"`
			Data string `json:"data"`
		}
		doc, _, _ := bytes.Cut(b, []byte("\n"))
		if json.Unmarshal(doc, &sc) == nil && sc.Key == key {
			sidecarPath = p
			if sc.Data != "" {
				data = filepath.Join(filepath.Dir(p), sc.Data)
			}
		}
	})
	if sidecarPath == "" {
		t.Fatalf("no sidecar for %s/%s under %s", bucket, key, root)
	}
	return data, sidecarPath
}

// The body of a tampered object must never reach the client as if it were
// the object: the GET fails before headers (500) when the damage is in the
// first 256 KiB, and the stream is aborted when it is later.
func TestSSETamperedCiphertextNeverReturnsWrongBytes(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("tamper")
	k := e.kmsKey()
	ck := newCustomerKey(3)
	c := e.s3()
	ctx := context.Background()
	for _, m := range []sseMode{
		{name: "sse-s3", sse: types.ServerSideEncryptionAes256},
		{name: "sse-kms", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID},
		{name: "sse-c", ssec: &ck},
	} {
		for _, off := range []string{"first", "middle", "last"} {
			t.Run(m.name+"/"+off, func(t *testing.T) {
				key := m.name + "-" + off
				body := randBytes(200000, 9)
				in := &s3.PutObjectInput{Bucket: aws.String("tamper"), Key: aws.String(key), Body: bytes.NewReader(body)}
				m.applyPut(in)
				if _, err := c.PutObject(ctx, in); err != nil {
					t.Fatal(err)
				}
				dataPath, _ := findObjectFiles(t, e.root, "tamper", key)
				data, err := os.ReadFile(dataPath)
				if err != nil {
					t.Fatal(err)
				}
				pos := map[string]int{"first": 10, "middle": len(data) / 2, "last": len(data) - 3}[off]
				data[pos] ^= 0x01
				if err := os.WriteFile(dataPath, data, 0o600); err != nil {
					t.Fatal(err)
				}
				gin := &s3.GetObjectInput{Bucket: aws.String("tamper"), Key: aws.String(key)}
				m.applyGet(gin)
				out, err := c.GetObject(ctx, gin)
				if err != nil {
					// The gateway decrypts the first 256 KiB before it sends
					// headers, so damage there is a clean 500.
					if _, status := sdkError(t, err); status != 500 {
						t.Fatalf("GET of a tampered object: %v, want 500", err)
					}
					return
				}
				t.Errorf("GET of an object damaged within its first 256 KiB did not fail before headers")
				got, rerr := io.ReadAll(out.Body)
				out.Body.Close()
				if rerr == nil {
					t.Fatalf("GET of a tampered object ended cleanly with %d bytes", len(got))
				}
				if bytes.Equal(got, body) {
					t.Fatal("tampered object returned the original bytes in full")
				}
				if len(got) > 0 && !bytes.Equal(got, body[:len(got)]) {
					t.Fatal("tampered object returned bytes that are not the plaintext")
				}
			})
		}
	}
}

// The sealed object key is bound to the object's name: metadata moved from
// one object to another is refused, in every KMS mode.
func TestSSESwappedSidecarMetadataIsRefused(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("swap")
	k := e.kmsKey()
	ck := newCustomerKey(3)
	c := e.s3()
	ctx := context.Background()
	for _, m := range []sseMode{
		{name: "sse-s3", sse: types.ServerSideEncryptionAes256},
		{name: "sse-kms", sse: types.ServerSideEncryptionAwsKms, kmsKey: k.KeyID},
		{name: "sse-c", ssec: &ck},
	} {
		// 1000 bytes: held inline in the fs store's record; 200 000: in a
		// data file of its own.
		for _, size := range []int{1000, 200_000} {
			t.Run(fmt.Sprintf("%s/%d", m.name, size), func(t *testing.T) {
				a, b := fmt.Sprintf("%s-%d-a", m.name, size), fmt.Sprintf("%s-%d-b", m.name, size)
				for i, key := range []string{a, b} {
					in := &s3.PutObjectInput{Bucket: aws.String("swap"), Key: aws.String(key), Body: bytes.NewReader(randBytes(size, byte(i)))}
					m.applyPut(in)
					if _, err := c.PutObject(ctx, in); err != nil {
						t.Fatal(err)
					}
				}
				_, scA := findObjectFiles(t, e.root, "swap", a)
				_, scB := findObjectFiles(t, e.root, "swap", b)
				swapMeta(t, scA, scB)
				for _, key := range []string{a, b} {
					gin := &s3.GetObjectInput{Bucket: aws.String("swap"), Key: aws.String(key)}
					m.applyGet(gin)
					out, err := c.GetObject(ctx, gin)
					if err == nil {
						got, rerr := io.ReadAll(out.Body)
						out.Body.Close()
						t.Fatalf("GET %s with swapped metadata succeeded (%d bytes, read error %v)", key, len(got), rerr)
					}
					if code, status := sdkError(t, err); status < 400 {
						t.Fatalf("GET %s: %d %s", key, status, code)
					}
				}
			})
		}
	}
}

// swapMeta exchanges the "meta" members of two fs sidecars, keeping each
// one's data (file or inline), size and ETag.
func swapMeta(t testing.TB, p1, p2 string) {
	t.Helper()
	type record struct {
		doc    map[string]json.RawMessage
		inline []byte
		hasNL  bool
	}
	read := func(p string) *record {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, inline, hasNL := bytes.Cut(b, []byte("\n"))
		r := &record{inline: inline, hasNL: hasNL}
		if err := json.Unmarshal(doc, &r.doc); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1, r2 := read(p1), read(p2)
	r1.doc["meta"], r2.doc["meta"] = r2.doc["meta"], r1.doc["meta"]
	for p, r := range map[string]*record{p1: r1, p2: r2} {
		b, _ := json.Marshal(r.doc)
		if r.hasNL {
			b = append(append(b, '\n'), r.inline...)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is an io.Writer safe for the KMS audit writer's use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// count returns how many audited operations named op reached the KMS's
// cryptography: authorization-only lines for a cached data key
// ("cachedDataKey") are not KMS calls the bucket key failed to save.
func (s *syncBuffer) count(t testing.TB, op string) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var ev struct {
			Operation     string `json:"operation"`
			CachedDataKey bool   `json:"cachedDataKey"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Operation == op && !ev.CachedDataKey {
			n++
		}
	}
	return n
}

func TestSSEKMSBucketKeysBatchGenerateDataKeyCalls(t *testing.T) {
	audit := &syncBuffer{}
	core, err := kms.Open(context.Background(), filepath.Join(t.TempDir(), "kms.db"), bytes.Repeat([]byte{7}, kms.MasterKeySize), kms.Options{MaintenanceInterval: -1, AuditWriter: audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	e := newSSEEnv(t, Config{}, core, true)
	k := e.kmsKey()
	e.mkbucket("bk-header")
	e.mkbucket("bk-default")
	e.mkbucket("bk-off")
	c := e.s3()
	ctx := context.Background()
	_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("bk-default"), ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(k.ARN)}, BucketKeyEnabled: aws.Bool(true)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bucket  string
		hdr     map[string]string
		maxGen  int
		minGen  int
		wantBKE string
	}{
		{"bk-header", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEKMSKeyID: k.KeyID, sse.HeaderSSEBucketKeyEnabled: "true"}, 2, 1, "true"},
		{"bk-default", nil, 2, 1, "true"},
		{"bk-off", map[string]string{sse.HeaderSSE: "aws:kms", sse.HeaderSSEKMSKeyID: k.KeyID}, 20, 20, ""},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			before := audit.count(t, "GenerateDataKey")
			for i := 0; i < 20; i++ {
				resp := e.do(http.MethodPut, "/"+tc.bucket+"/o"+itoa(i), []byte("burst"), tc.hdr)
				wantStatusCode(t, resp, 200, "")
				if resp.Header.Get(sse.HeaderSSEKMSKeyID) != k.ARN || resp.Header.Get(sse.HeaderSSEBucketKeyEnabled) != tc.wantBKE {
					t.Fatalf("PUT %d: key %q bucket-key %q, want %q %q", i, resp.Header.Get(sse.HeaderSSEKMSKeyID), resp.Header.Get(sse.HeaderSSEBucketKeyEnabled), k.ARN, tc.wantBKE)
				}
			}
			n := audit.count(t, "GenerateDataKey") - before
			if n < tc.minGen || n > tc.maxGen {
				t.Fatalf("20 PUTs made %d GenerateDataKey calls, want %d..%d", n, tc.minGen, tc.maxGen)
			}
			// Every object still reads back, and reports the bucket key.
			for i := 0; i < 20; i++ {
				resp := e.do(http.MethodGet, "/"+tc.bucket+"/o"+itoa(i), nil, nil)
				wantStatusCode(t, resp, 200, "")
				if b, _ := io.ReadAll(resp.Body); string(b) != "burst" || resp.Header.Get(sse.HeaderSSEBucketKeyEnabled) != tc.wantBKE {
					t.Fatalf("GET %d: %q, bucket-key %q", i, b, resp.Header.Get(sse.HeaderSSEBucketKeyEnabled))
				}
			}
		})
	}
}

// The context header is echoed on writes and bound to the data key.
func TestSSEKMSContextIsEchoedOnWrites(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("ctx")
	k := e.kmsKey()
	c := e.s3()
	ctx := context.Background()
	ec := "eyJwcm9qZWN0IjoiYXBvbGxvIn0=" // {"project":"apollo"}
	out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ctx"), Key: aws.String("o"), Body: bytes.NewReader([]byte("x")),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(k.KeyID), SSEKMSEncryptionContext: aws.String(ec)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SSEKMSEncryptionContext) != ec {
		t.Errorf("PUT context echo %q, want %q", aws.ToString(out.SSEKMSEncryptionContext), ec)
	}
	cout, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("ctx"), Key: aws.String("m"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(k.KeyID), SSEKMSEncryptionContext: aws.String(ec)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cout.SSEKMSEncryptionContext) != ec {
		t.Errorf("CreateMultipartUpload context echo %q", aws.ToString(cout.SSEKMSEncryptionContext))
	}
	if got, _ := getAll(t, c, &s3.GetObjectInput{Bucket: aws.String("ctx"), Key: aws.String("o")}); string(got) != "x" {
		t.Fatalf("GET %q", got)
	}
}
