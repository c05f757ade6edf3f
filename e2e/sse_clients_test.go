package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sseTree writes files full of marker (so the backend scan can look for
// them): single-part, one over rclone's 5 MiB cutoff below (multipart), a
// package-boundary size and an empty file.
func sseTree(t *testing.T, marker []byte) string {
	t.Helper()
	dir := t.TempDir()
	for rel, size := range map[string]int{"a.txt": 100_000, "sub/pkg+1.bin": 64<<10 + 1, "big/mp.bin": 6<<20 + 7, "sub/empty": 0} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), markerData(marker, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSSERcloneModes copies a tree with each of rclone's SSE options,
// verifies it with rclone check (sizes and MD5s: rclone stores md5chksum
// metadata when the ETag is not an MD5), copies it back and compares bytes,
// and checks with aws-cli that the mode asked for is the mode stored.
func TestSSERcloneModes(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTLSTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		key := createKMSKey(t, aws)
		cKeyFile, cKeyB64, cKeyMD5 := sseCKey(t)
		marker := []byte("SSEGATE-E2E-RCLONE-MARKER-" + randomHex(8) + "\n")
		src := sseTree(t, marker)
		bucket := bucketName("rclonesse")
		rclone(t, tg, "mkdir", "ssegate:"+bucket)

		modes := []struct {
			name  string
			flags []string
			head  []string // aws s3api head-object extra args
			check func(h headResult) bool
		}{
			{"SSE-S3", []string{"--s3-server-side-encryption", "AES256"}, nil,
				func(h headResult) bool { return h.ServerSideEncryption == "AES256" }},
			{"SSE-KMS", []string{"--s3-server-side-encryption", "aws:kms", "--s3-sse-kms-key-id", key.ARN}, nil,
				func(h headResult) bool { return h.ServerSideEncryption == "aws:kms" && h.SSEKMSKeyId == key.ARN }},
			{"SSE-C", []string{"--s3-sse-customer-algorithm", "AES256", "--s3-sse-customer-key-base64", cKeyB64},
				[]string{"--sse-customer-algorithm", "AES256", "--sse-customer-key", "fileb://" + cKeyFile},
				func(h headResult) bool { return h.SSECustomerAlgorithm == "AES256" && h.SSECustomerKeyMD5 == cKeyMD5 }},
		}
		for _, m := range modes {
			t.Run(m.name, func(t *testing.T) {
				remote := "ssegate:" + bucket + "/" + m.name
				common := append([]string{"--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}, m.flags...)
				rclone(t, tg, append([]string{"copy", src, remote}, common...)...)
				_, out := rclone(t, tg, append([]string{"check", src, remote}, common...)...)
				if !strings.Contains(out, "0 differences found") || strings.Contains(out, "could not be checked") || strings.Contains(out, "hashes could not be") {
					t.Errorf("rclone check did not verify every hash:\n%s", out)
				}
				dst := t.TempDir()
				rclone(t, tg, append([]string{"copy", remote, dst}, common...)...)
				compareTrees(t, src, dst)
				for _, obj := range []string{"a.txt", "big/mp.bin"} {
					var h headResult
					aws.json(&h, append([]string{"s3api", "head-object", "--bucket", bucket, "--key", m.name + "/" + obj}, m.head...)...)
					if !m.check(h) {
						t.Errorf("%s/%s stored as %+v", m.name, obj, h)
					}
				}
			})
		}
		// Without the customer key the SSE-C copy cannot be read back.
		// rclone takes the 400 InvalidRequest of its HEAD for "not a
		// file" and exits 0 having printed nothing, so what is asserted
		// is that no plaintext comes out.
		bin, env := rcloneEnv(t, tg)
		if stdout, stderr, err := tryCmd(env, bin, "cat", "ssegate:"+bucket+"/SSE-C/a.txt"); strings.Contains(stdout, string(marker)) {
			t.Errorf("rclone read an SSE-C object without its key: err=%v\n%s", err, stderr)
		}
		assertNoPlaintextInBackend(t, tg, bucket, marker)
	})
}

// TestSSES3cmdModes puts with s3cmd's --server-side-encryption and
// --server-side-encryption-kms-id, gets back, and reads the mode with
// s3cmd info and aws-cli.
func TestSSES3cmdModes(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTLSTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		key := createKMSKey(t, aws)
		s := newS3cmd(t, tg)
		bucket := bucketName("s3cmdsse")
		marker := []byte("SSEGATE-E2E-S3CMD-MARKER-" + randomHex(8) + "\n")
		dir := t.TempDir()
		body := markerData(marker, 300_000)
		if err := os.WriteFile(filepath.Join(dir, "f"), body, 0o600); err != nil {
			t.Fatal(err)
		}
		s.run("mb", "s3://"+bucket)
		for _, m := range []struct {
			name, wantSSE, wantKey string
			flags                  []string
		}{
			{"sse-s3", "AES256", "", []string{"--server-side-encryption"}},
			{"sse-kms", "aws:kms", key.ARN, []string{"--server-side-encryption-kms-id=" + key.ID}},
		} {
			t.Run(m.name, func(t *testing.T) {
				obj := "s3://" + bucket + "/" + m.name
				_, stderr := s.run(append([]string{"put", filepath.Join(dir, "f"), obj}, m.flags...)...)
				if strings.Contains(stderr, "MD5") {
					t.Errorf("put: %s", stderr)
				}
				out := filepath.Join(dir, "got-"+m.name)
				if _, stderr := s.run("get", obj, out); strings.Contains(stderr, "MD5") {
					t.Errorf("get: %s", stderr)
				}
				if got := mustRead(t, out); string(got) != string(body) {
					t.Errorf("get: %d bytes differ from the %d put", len(got), len(body))
				}
				info, _ := s.run("info", obj)
				if !strings.Contains(info, m.wantSSE) || !strings.Contains(info, "300000") {
					t.Errorf("s3cmd info lacks %s or the plaintext size:\n%s", m.wantSSE, info)
				}
				var h headResult
				aws.json(&h, "s3api", "head-object", "--bucket", bucket, "--key", m.name)
				if h.ServerSideEncryption != m.wantSSE || h.SSEKMSKeyId != m.wantKey {
					t.Errorf("head = %+v, want %s %s", h, m.wantSSE, m.wantKey)
				}
			})
		}
		assertNoPlaintextInBackend(t, tg, bucket, marker)
	})
}

// TestSSEResticOnKMSDefaultBucket backs up into a bucket whose default
// encryption is aws:kms (restic has no SSE options) and checks that its
// pack files are stored under that key.
func TestSSEResticOnKMSDefaultBucket(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTLSTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		key := createKMSKey(t, aws)
		bucket := bucketName("resticsse")
		aws.run("s3", "mb", "s3://"+bucket)
		aws.run("s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration",
			`{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"`+key.ID+`"}}]}`)

		src := makeTree(t, map[string]int{"docs/a.txt": 10_000, "photos/1.raw": 2 << 20, "db/dump.sql": 700_000, "db/empty": 0})
		r := newRestic(t, tg, bucket)
		r.run("init")
		r.run("backup", "--host", "e2e", src)
		if out := r.run("check", "--read-data"); !strings.Contains(out, "no errors were found") {
			t.Errorf("restic check --read-data:\n%s", out)
		}
		dst := t.TempDir()
		r.run("restore", "latest", "--target", dst)
		compareTrees(t, src, filepath.Join(dst, src))

		var list struct{ Contents []struct{ Key string } }
		aws.json(&list, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "data/")
		if len(list.Contents) == 0 {
			t.Fatal("no restic pack files under data/")
		}
		for _, obj := range []string{list.Contents[0].Key, "config"} {
			var h headResult
			aws.json(&h, "s3api", "head-object", "--bucket", bucket, "--key", obj)
			if h.ServerSideEncryption != "aws:kms" || h.SSEKMSKeyId != key.ARN {
				t.Errorf("restic object %s stored as %+v, want aws:kms %s", obj, h, key.ARN)
			}
		}
	})
}
