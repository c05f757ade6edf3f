package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// The SSE matrix runs each client with each encryption mode against both
// backends over HTTPS (AWS refuses SSE-C on plain HTTP, and so do we and
// minio-go), with the test certificate trusted by the client rather than
// verification turned off.

// forEachTLSTarget is forEachTarget for the gateway targets only, served
// over HTTPS.
func forEachTLSTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	for _, name := range targetNames() {
		if name == "direct" {
			continue
		}
		t.Run(name, func(t *testing.T) { fn(t, startTargetWith(t, name, gatewayOptions{TLS: true})) })
	}
}

// headResult is what s3api head-object and get-object print that the
// matrix asserts.
type headResult struct {
	ContentLength        int64
	ContentRange         string
	ETag                 string
	ServerSideEncryption string
	SSEKMSKeyId          string
	SSECustomerAlgorithm string
	SSECustomerKeyMD5    string
	Metadata             map[string]string
}

// kmsKey is a customer key created through the gateway's KMS API.
type kmsKey struct{ ID, ARN, Alias string }

func createKMSKey(t *testing.T, aws *awsCLI) kmsKey {
	t.Helper()
	var out struct{ KeyMetadata struct{ KeyId, Arn string } }
	aws.json(&out, "kms", "create-key", "--description", "e2e sse")
	k := kmsKey{ID: out.KeyMetadata.KeyId, ARN: out.KeyMetadata.Arn, Alias: "alias/e2e-" + randomHex(4)}
	if k.ID == "" || !strings.HasSuffix(k.ARN, ":key/"+k.ID) {
		t.Fatalf("create-key = %+v", out)
	}
	aws.run("kms", "create-alias", "--alias-name", k.Alias, "--target-key-id", k.ID)
	return k
}

// sseCKey writes a random 32-byte SSE-C key to a file for fileb:// and
// returns the file, the key in base64 and the base64 MD5 the gateway echoes.
func sseCKey(t *testing.T) (file, b64, md5b64 string) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	noteSecret(key)
	file = filepath.Join(t.TempDir(), "ssec.key")
	if err := os.WriteFile(file, key, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(key)
	return file, base64.StdEncoding.EncodeToString(key), base64.StdEncoding.EncodeToString(sum[:])
}

// markerData is size bytes of a repeated, recognisable plaintext marker
// that the backend scan searches for afterwards.
func markerData(marker []byte, size int) []byte {
	return bytes.Repeat(marker, size/len(marker)+1)[:size]
}

func quotedMD5(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestSSEMatrixAWSCLI(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTLSTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		bucket := bucketName("ssematrix")
		aws.run("s3", "mb", "s3://"+bucket)
		key1, key2 := createKMSKey(t, aws), createKMSKey(t, aws)
		cKeyFile, _, cKeyMD5 := sseCKey(t)
		wrongKeyFile, _, _ := sseCKey(t)

		marker := []byte("SSEGATE-E2E-SSE-MARKER-" + randomHex(8) + "\n")
		dir := t.TempDir()
		small := markerData(marker, 200_000)
		big := markerData(marker, awsMultipartFileSize)
		for name, data := range map[string][]byte{"small": small, "big": big} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s3url := func(key string) string { return "s3://" + bucket + "/" + key }
		head := func(key string, extra ...string) headResult {
			t.Helper()
			var h headResult
			aws.json(&h, append([]string{"s3api", "head-object", "--bucket", bucket, "--key", key}, extra...)...)
			return h
		}
		readBack := func(key string, want []byte, extra ...string) {
			t.Helper()
			out := filepath.Join(dir, "back-"+randomHex(4))
			aws.run(append([]string{"s3", "cp", s3url(key), out}, extra...)...)
			if got := mustRead(t, out); !bytes.Equal(got, want) {
				t.Errorf("%s read back differs: %d bytes, want %d", key, len(got), len(want))
			}
		}
		sseC := []string{"--sse-c", "AES256", "--sse-c-key", "fileb://" + cKeyFile}
		sseCAPI := []string{"--sse-customer-algorithm", "AES256", "--sse-customer-key", "fileb://" + cKeyFile}

		t.Run("SSE-S3", func(t *testing.T) {
			for _, f := range []string{"small", "big"} {
				aws.run("s3", "cp", "--sse", "AES256", filepath.Join(dir, f), s3url("s3/"+f))
				readBack("s3/"+f, map[string][]byte{"small": small, "big": big}[f])
			}
			h := head("s3/small")
			// SSE-S3 single-part ETags stay the plaintext MD5 (sync tools).
			if h.ServerSideEncryption != "AES256" || h.ContentLength != int64(len(small)) || h.ETag != quotedMD5(small) || h.SSEKMSKeyId != "" {
				t.Errorf("head SSE-S3 = %+v", h)
			}
			if h := head("s3/big"); h.ServerSideEncryption != "AES256" || h.ContentLength != int64(len(big)) || !strings.HasSuffix(h.ETag, `-2"`) {
				t.Errorf("head SSE-S3 multipart = %+v", h)
			}
		})

		t.Run("SSE-KMS", func(t *testing.T) {
			aws.run("s3", "cp", "--sse", "aws:kms", "--sse-kms-key-id", key1.Alias, filepath.Join(dir, "small"), s3url("kms/small"))
			aws.run("s3", "cp", "--sse", "aws:kms", "--sse-kms-key-id", key1.ID, filepath.Join(dir, "big"), s3url("kms/big"))
			for f, data := range map[string][]byte{"small": small, "big": big} {
				readBack("kms/"+f, data)
				h := head("kms/" + f)
				// AWS answers with the key ARN whichever form was sent.
				if h.ServerSideEncryption != "aws:kms" || h.SSEKMSKeyId != key1.ARN || h.ContentLength != int64(len(data)) {
					t.Errorf("head kms/%s = %+v, want aws:kms with %s", f, h, key1.ARN)
				}
			}
			var get headResult
			aws.json(&get, "s3api", "get-object", "--bucket", bucket, "--key", "kms/big", "--range", "bytes=8388000-8389000", filepath.Join(dir, "range"))
			if got := mustRead(t, filepath.Join(dir, "range")); !bytes.Equal(got, big[8388000:8389001]) || get.ContentLength != 1001 || get.ServerSideEncryption != "aws:kms" {
				t.Errorf("ranged get of SSE-KMS multipart object: %d bytes, %+v", len(got), get)
			}
		})

		t.Run("SSE-C", func(t *testing.T) {
			aws.run(append([]string{"s3", "cp", filepath.Join(dir, "small"), s3url("c/small")}, sseC...)...)
			aws.run(append([]string{"s3", "cp", filepath.Join(dir, "big"), s3url("c/big")}, sseC...)...)
			readBack("c/small", small, sseC...)
			readBack("c/big", big, sseC...)
			for f, data := range map[string][]byte{"small": small, "big": big} {
				h := head("c/"+f, sseCAPI...)
				if h.SSECustomerAlgorithm != "AES256" || h.SSECustomerKeyMD5 != cKeyMD5 || h.ContentLength != int64(len(data)) || h.ServerSideEncryption != "" {
					t.Errorf("head c/%s = %+v, want AES256 and key MD5 %s", f, h, cKeyMD5)
				}
			}
			var get headResult
			aws.json(&get, append([]string{"s3api", "get-object", "--bucket", bucket, "--key", "c/small", "--range", "bytes=65000-66000"}, append(sseCAPI, filepath.Join(dir, "crange"))...)...)
			if got := mustRead(t, filepath.Join(dir, "crange")); !bytes.Equal(got, small[65000:66001]) || get.ContentRange != "bytes 65000-66000/200000" {
				t.Errorf("ranged get of SSE-C object: %d bytes, %+v", len(got), get)
			}

			// AWS: reading an SSE-C object without its key is 400
			// InvalidRequest, with a wrong key 403 AccessDenied.
			_, stderr, err := aws.try("s3api", "get-object", "--bucket", bucket, "--key", "c/small", filepath.Join(dir, "nokey"))
			if err == nil || !strings.Contains(stderr, "InvalidRequest") {
				t.Errorf("get without the SSE-C key: err=%v %s", err, stderr)
			}
			_, stderr, err = aws.try("s3api", "get-object", "--bucket", bucket, "--key", "c/small",
				"--sse-customer-algorithm", "AES256", "--sse-customer-key", "fileb://"+wrongKeyFile, filepath.Join(dir, "wrongkey"))
			if err == nil || !strings.Contains(stderr, "AccessDenied") {
				t.Errorf("get with a wrong SSE-C key: err=%v %s", err, stderr)
			}
			if _, stderr, err := aws.try("s3api", "head-object", "--bucket", bucket, "--key", "c/small",
				"--sse-customer-algorithm", "AES256", "--sse-customer-key", "fileb://"+wrongKeyFile); err == nil || !strings.Contains(stderr, "403") {
				t.Errorf("head with a wrong SSE-C key: err=%v %s", err, stderr)
			}
		})

		t.Run("copy between modes", func(t *testing.T) {
			// SSE-C source → SSE-KMS destination.
			var cp struct {
				ServerSideEncryption string
				SSEKMSKeyId          string
				SSECustomerKeyMD5    string
			}
			aws.json(&cp, []string{"s3api", "copy-object", "--bucket", bucket, "--key", "copy/c-to-kms", "--copy-source", bucket + "/c/small",
				"--copy-source-sse-customer-algorithm", "AES256", "--copy-source-sse-customer-key", "fileb://" + cKeyFile,
				"--server-side-encryption", "aws:kms", "--ssekms-key-id", key2.ID}...)
			if cp.ServerSideEncryption != "aws:kms" || cp.SSEKMSKeyId != key2.ARN {
				t.Errorf("copy SSE-C → KMS response = %+v", cp)
			}
			readBack("copy/c-to-kms", small)
			// Without the source key the copy is refused.
			if _, stderr, err := aws.try("s3api", "copy-object", "--bucket", bucket, "--key", "copy/nokey", "--copy-source", bucket+"/c/small"); err == nil || !strings.Contains(stderr, "InvalidRequest") {
				t.Errorf("copy of an SSE-C source without its key: err=%v %s", err, stderr)
			}
			// SSE-KMS source → SSE-C destination.
			aws.run(append([]string{"s3api", "copy-object", "--bucket", bucket, "--key", "copy/kms-to-c", "--copy-source", bucket + "/kms/small"}, sseCAPI...)...)
			if h := head("copy/kms-to-c", sseCAPI...); h.SSECustomerKeyMD5 != cKeyMD5 || h.ContentLength != int64(len(small)) {
				t.Errorf("head copy/kms-to-c = %+v", h)
			}
			readBack("copy/kms-to-c", small, sseC...)
			// SSE-S3 source → SSE-KMS destination (multipart source).
			aws.run("s3api", "copy-object", "--bucket", bucket, "--key", "copy/s3-to-kms", "--copy-source", bucket+"/s3/big",
				"--server-side-encryption", "aws:kms", "--ssekms-key-id", key1.Alias)
			if h := head("copy/s3-to-kms"); h.ServerSideEncryption != "aws:kms" || h.SSEKMSKeyId != key1.ARN || h.ContentLength != int64(len(big)) {
				t.Errorf("head copy/s3-to-kms = %+v", h)
			}
			readBack("copy/s3-to-kms", big)

			// A self-copy with new SSE headers rotates the object to
			// another key: how users re-key.
			aws.run("s3api", "copy-object", "--bucket", bucket, "--key", "kms/small", "--copy-source", bucket+"/kms/small",
				"--server-side-encryption", "aws:kms", "--ssekms-key-id", key2.Alias)
			if h := head("kms/small"); h.SSEKMSKeyId != key2.ARN || h.ContentLength != int64(len(small)) {
				t.Errorf("after self-copy rotation head = %+v, want %s", h, key2.ARN)
			}
			readBack("kms/small", small)
			// A self-copy that changes nothing is refused, as on AWS.
			if _, stderr, err := aws.try("s3api", "copy-object", "--bucket", bucket, "--key", "s3/small", "--copy-source", bucket+"/s3/small"); err == nil || !strings.Contains(stderr, "InvalidRequest") {
				t.Errorf("no-op self-copy: err=%v %s", err, stderr)
			}
		})

		t.Run("disabled KMS key", func(t *testing.T) {
			aws.run("kms", "disable-key", "--key-id", key1.ID)
			_, stderr, err := aws.try("s3api", "get-object", "--bucket", bucket, "--key", "kms/big", filepath.Join(dir, "disabled"))
			if err == nil || !strings.Contains(stderr, "KMS.DisabledException") {
				t.Errorf("get under a disabled key: err=%v %s", err, stderr)
			}
			if _, stderr, err := aws.try("s3", "cp", "--sse", "aws:kms", "--sse-kms-key-id", key1.ID, filepath.Join(dir, "small"), s3url("kms/refused")); err == nil || !strings.Contains(stderr, "KMS.DisabledException") {
				t.Errorf("put under a disabled key: err=%v %s", err, stderr)
			}
			aws.run("kms", "enable-key", "--key-id", key1.ID)
			readBack("kms/big", big)
		})

		t.Run("bucket default aws:kms", func(t *testing.T) {
			b2 := bucketName("ssedefault")
			aws.run("s3", "mb", "s3://"+b2)
			aws.run("s3api", "put-bucket-encryption", "--bucket", b2, "--server-side-encryption-configuration",
				`{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"`+key2.Alias+`"}}]}`)
			var enc struct {
				ServerSideEncryptionConfiguration struct {
					Rules []struct {
						ApplyServerSideEncryptionByDefault struct{ SSEAlgorithm, KMSMasterKeyID string }
					}
				}
			}
			aws.json(&enc, "s3api", "get-bucket-encryption", "--bucket", b2)
			if r := enc.ServerSideEncryptionConfiguration.Rules; len(r) != 1 || r[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "aws:kms" {
				t.Errorf("get-bucket-encryption = %+v", enc)
			}
			aws.run("s3", "cp", filepath.Join(dir, "small"), "s3://"+b2+"/plain")
			var h headResult
			aws.json(&h, "s3api", "head-object", "--bucket", b2, "--key", "plain")
			if h.ServerSideEncryption != "aws:kms" || h.SSEKMSKeyId != key2.ARN {
				t.Errorf("plain cp into an aws:kms default bucket: head = %+v, want aws:kms %s", h, key2.ARN)
			}
			// A request header still overrides the default.
			aws.run("s3", "cp", "--sse", "AES256", filepath.Join(dir, "small"), "s3://"+b2+"/explicit")
			aws.json(&h, "s3api", "head-object", "--bucket", b2, "--key", "explicit")
			if h.ServerSideEncryption != "AES256" {
				t.Errorf("--sse AES256 into an aws:kms default bucket: head = %+v", h)
			}
			assertNoPlaintextInBackend(t, tg, b2, marker)
		})

		assertNoPlaintextInBackend(t, tg, bucket, marker)
	})
}

// assertNoPlaintextInBackend searches the backend itself for marker: the
// fs objects dir file by file, or every object of bucket read from MinIO
// directly with minio-go. It fails if the search found nothing to search.
func assertNoPlaintextInBackend(t *testing.T, tg target, bucket string, marker []byte) {
	t.Helper()
	scanned := 0
	switch tg.Name {
	case "fs":
		root := filepath.Join(tg.Gateway.DataDir, "objects")
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(p, bucket) {
				scanned++
			}
			if bytes.Contains(data, marker) {
				t.Errorf("plaintext found in backend file %s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("scan %s: %v", root, err)
		}
	case "minio":
		m := miniotest.Shared(t)
		mc, err := minio.New(strings.TrimPrefix(m.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for obj := range mc.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Fatalf("list %s on MinIO: %v", bucket, obj.Err)
			}
			r, err := mc.GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("read %s from MinIO: %v", obj.Key, err)
			}
			scanned++
			if bytes.Contains(data, marker) {
				t.Errorf("plaintext found in MinIO object %s/%s", bucket, obj.Key)
			}
		}
	default:
		t.Fatalf("no backend to scan for target %q", tg.Name)
	}
	if scanned == 0 {
		t.Fatalf("found no backend objects of bucket %s to scan", bucket)
	}
}
