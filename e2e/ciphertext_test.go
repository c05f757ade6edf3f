package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// TestBackendHoldsOnlyCiphertext is the gateway's core promise: whatever a
// client uploads with no SSE option at all (as restic does), the backend
// never sees the plaintext. It writes a recognisable marker through the
// gateway, single-part and multipart, then searches the backend itself (the
// fs directory, or MinIO read directly) for it.
func TestBackendHoldsOnlyCiphertext(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		if tg.Gateway == nil {
			t.Skip("the direct target has no gateway in front")
		}
		marker := []byte("SSEGATE-E2E-PLAINTEXT-MARKER-" + randomHex(8) + "\n")
		dir := t.TempDir()
		small := bytes.Repeat(marker, 200_000/len(marker))
		big := bytes.Repeat(marker, awsMultipartFileSize/len(marker)) // multipart
		for name, data := range map[string][]byte{"small": small, "big": big} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		aws := newAWS(t, tg)
		bucket := bucketName("cipher")
		aws.run("s3", "mb", "s3://"+bucket)
		aws.run("s3", "cp", filepath.Join(dir, "small"), "s3://"+bucket+"/small")
		aws.run("s3", "cp", filepath.Join(dir, "big"), "s3://"+bucket+"/big")
		aws.run("s3", "cp", "s3://"+bucket+"/big", filepath.Join(dir, "big.back"))
		if !bytes.Equal(mustRead(t, filepath.Join(dir, "big.back")), big) {
			t.Fatal("read back through the gateway differs")
		}
		// The same marker through rclone and restic (restic encrypts on its
		// own, so for it the scan checks that we add no plaintext of ours).
		rclone(t, tg, "copy", filepath.Join(dir, "small"), "ssegate:"+bucket+"/rclone/")
		rs := newRestic(t, tg, bucket+"/restic")
		rs.run("init")
		rs.run("backup", dir)

		switch tg.Name {
		case "fs":
			root := filepath.Join(tg.Gateway.DataDir, "objects")
			scanned := 0
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				scanned++
				if data, err := os.ReadFile(p); err != nil {
					return err
				} else if bytes.Contains(data, marker) {
					t.Errorf("plaintext found in backend file %s", p)
				}
				return nil
			})
			if err != nil || scanned == 0 {
				t.Fatalf("scan %s: %v (%d files)", root, err, scanned)
			}
		case "minio":
			m := miniotest.Shared(t)
			// MinIO's own data directory (xl.meta inlines small objects).
			scanned := 0
			err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				scanned++
				if data, err := os.ReadFile(p); err != nil {
					return err
				} else if bytes.Contains(data, marker) {
					t.Errorf("plaintext found in MinIO data file %s", p)
				}
				return nil
			})
			if err != nil || scanned == 0 {
				t.Fatalf("scan %s: %v (%d files)", m.Dir, err, scanned)
			}
			direct := newAWS(t, target{Name: "direct", Endpoint: m.Endpoint, Region: "us-east-1", AccessKey: m.AccessKey, SecretKey: m.SecretKey})
			listing := direct.run("s3", "ls", "--recursive", "s3://"+bucket)
			keys := 0
			for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
				f := strings.Fields(line)
				if len(f) < 4 {
					continue
				}
				key := strings.Join(f[3:], " ")
				out := filepath.Join(dir, "raw-"+randomHex(4))
				direct.run("s3", "cp", "s3://"+bucket+"/"+key, out)
				keys++
				if bytes.Contains(mustRead(t, out), marker) {
					t.Errorf("plaintext found in MinIO object %s", key)
				}
			}
			if keys == 0 {
				t.Fatalf("nothing stored in MinIO bucket %s:\n%s", bucket, listing)
			}
		}
	})
}
