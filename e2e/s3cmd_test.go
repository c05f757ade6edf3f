package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestS3cmdBasics(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		s := newS3cmd(t, tg)
		bucket := bucketName("s3cmd")
		dir := t.TempDir()
		small := writeRandomFile(t, filepath.Join(dir, "small file.txt"), 12_345)
		big := writeRandomFile(t, filepath.Join(dir, "big.bin"), 16<<20+5) // multipart at 15 MiB chunks

		s.run("mb", "s3://"+bucket)
		for _, name := range []string{"small file.txt", "big.bin"} {
			// s3cmd compares the returned ETag with its local MD5 and
			// complains ("MD5 Sums don't match") when they differ.
			_, stderr := s.run("put", filepath.Join(dir, name), "s3://"+bucket+"/in/"+name)
			if strings.Contains(stderr, "MD5") {
				t.Errorf("put %s: %s", name, stderr)
			}
		}
		ls, _ := s.run("ls", "s3://"+bucket+"/in/")
		if !strings.Contains(ls, "s3://"+bucket+"/in/small file.txt") || !strings.Contains(ls, "s3://"+bucket+"/in/big.bin") {
			t.Errorf("ls:\n%s", ls)
		}
		// Listings show plaintext sizes.
		rec, _ := s.run("ls", "--recursive", "s3://"+bucket)
		if !strings.Contains(rec, "16777221  s3://"+bucket+"/in/big.bin") || !strings.Contains(rec, "12345  s3://"+bucket+"/in/small file.txt") {
			t.Errorf("ls --recursive:\n%s", rec)
		}
		for name, want := range map[string][]byte{"small file.txt": small, "big.bin": big} {
			out := filepath.Join(dir, "got-"+name)
			_, stderr := s.run("get", "s3://"+bucket+"/in/"+name, out)
			if strings.Contains(stderr, "MD5") {
				t.Errorf("get %s: %s", name, stderr)
			}
			if !bytes.Equal(mustRead(t, out), want) {
				t.Errorf("get %s: content differs", name)
			}
		}
		s.run("del", "s3://"+bucket+"/in/small file.txt")
		if ls, _ := s.run("ls", "s3://"+bucket+"/in/"); strings.Contains(ls, "small file.txt") {
			t.Errorf("deleted object still listed:\n%s", ls)
		}
		s.run("del", "s3://"+bucket+"/in/big.bin")
		s.run("rb", "s3://"+bucket)
	})
}
