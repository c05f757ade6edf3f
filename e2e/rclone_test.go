package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRcloneCopyCheckSync(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		bucket := bucketName("rclone")
		remote := "ssegate:" + bucket + "/data"
		src := makeTree(t, map[string]int{
			"a.bin":                  300_000,
			"b/c.bin":                1,
			"b/d e ü.txt":            65_536,
			"big/multipart.bin":      6<<20 + 7, // above --s3-upload-cutoff below
			"b/deeper/zero-length":   0,
			"b/deeper/package+1.bin": 64<<10 + 1,
		})
		rclone(t, tg, "mkdir", "ssegate:"+bucket)
		rclone(t, tg, "copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", src, remote)

		// check compares sizes and MD5s: the ETag (single part) or the
		// md5chksum metadata rclone sets on multipart uploads.
		_, out := rclone(t, tg, "check", src, remote)
		if !strings.Contains(out, "0 differences found") || strings.Contains(out, "could not be checked") {
			t.Errorf("rclone check did not verify every hash:\n%s", out)
		}

		// A same-size change is only visible through the hash: check must
		// catch it, or it proves nothing above.
		changed := filepath.Join(src, "a.bin")
		data := mustRead(t, changed)
		data[1234] ^= 0xff
		if err := os.WriteFile(changed, data, 0o644); err != nil {
			t.Fatal(err)
		}
		bin, env := rcloneEnv(t, tg)
		if _, stderr, err := tryCmd(env, bin, "check", src, remote); err == nil || !strings.Contains(stderr, "1 differences found") {
			t.Errorf("rclone check missed a same-size change: err=%v\n%s", err, stderr)
		}

		// sync uploads the change and deletes what went away locally.
		if err := os.Remove(filepath.Join(src, "b", "c.bin")); err != nil {
			t.Fatal(err)
		}
		rclone(t, tg, "sync", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", src, remote)
		_, out = rclone(t, tg, "check", src, remote)
		if !strings.Contains(out, "0 differences found") {
			t.Errorf("after sync:\n%s", out)
		}

		lsl, _ := rclone(t, tg, "lsl", remote)
		for _, want := range []string{"   300000 ", "a.bin", "b/d e ü.txt", "  6291463 ", "big/multipart.bin"} {
			if !strings.Contains(lsl, want) {
				t.Errorf("lsl lacks %q:\n%s", want, lsl)
			}
		}
		if strings.Contains(lsl, "c.bin") {
			t.Errorf("sync did not delete b/c.bin:\n%s", lsl)
		}

		dst := t.TempDir()
		rclone(t, tg, "copy", remote, dst)
		compareTrees(t, src, dst)

		rclone(t, tg, "purge", "ssegate:"+bucket)
	})
}
