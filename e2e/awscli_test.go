package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// awsMultipartFileSize is above aws-cli's 8 MiB multipart threshold and not
// a multiple of its part size or of any encryption package size.
const awsMultipartFileSize = 9<<20 + 12345

func TestAWSCLIHighLevelCommands(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		bucket := bucketName("awss3")
		aws.run("s3", "mb", "s3://"+bucket)

		unicodeName := "dir with space/ünïcødé file €.txt"
		src := makeTree(t, map[string]int{
			"small.txt":          1000,
			"empty":              0,
			"big.bin":            awsMultipartFileSize,
			unicodeName:          70_000,
			"nested/deeper/a.md": 65_536,
		})

		// cp up and down, multipart on the way up (and ranged GETs down).
		aws.run("s3", "cp", filepath.Join(src, "big.bin"), "s3://"+bucket+"/single/big.bin")
		down := t.TempDir()
		aws.run("s3", "cp", "s3://"+bucket+"/single/big.bin", filepath.Join(down, "big.bin"))
		if !bytes.Equal(mustRead(t, filepath.Join(down, "big.bin")), mustRead(t, filepath.Join(src, "big.bin"))) {
			t.Fatal("multipart object read back differs")
		}
		aws.run("s3", "cp", filepath.Join(src, unicodeName), "s3://"+bucket+"/single/"+unicodeName)
		aws.run("s3", "cp", "s3://"+bucket+"/single/"+unicodeName, filepath.Join(down, "u.txt"))
		if !bytes.Equal(mustRead(t, filepath.Join(down, "u.txt")), mustRead(t, filepath.Join(src, unicodeName))) {
			t.Fatal("object with spaces and unicode in its name read back differs")
		}

		// sync up, then down into an empty directory: identical trees.
		aws.run("s3", "sync", src, "s3://"+bucket+"/tree/")
		dst := t.TempDir()
		aws.run("s3", "sync", "s3://"+bucket+"/tree/", dst)
		compareTrees(t, src, dst)
		// A second sync compares sizes (plaintext sizes, or it re-uploads
		// everything) and must find nothing to do.
		if out := aws.run("s3", "sync", src, "s3://"+bucket+"/tree/"); strings.TrimSpace(out) != "" {
			t.Errorf("second sync up transferred again:\n%s", out)
		}
		if out := aws.run("s3", "sync", "s3://"+bucket+"/tree/", dst); strings.TrimSpace(out) != "" {
			t.Errorf("second sync down transferred again:\n%s", out)
		}

		ls := aws.run("s3", "ls", "--recursive", "s3://"+bucket+"/tree/")
		for _, want := range []string{" " + strconv.Itoa(awsMultipartFileSize) + " tree/big.bin", " 1000 tree/small.txt", " 70000 tree/" + unicodeName, " 0 tree/empty"} {
			if !strings.Contains(ls, want) {
				t.Errorf("s3 ls lacks %q (plaintext size and name):\n%s", want, ls)
			}
		}
		if buckets := aws.run("s3", "ls"); !strings.Contains(buckets, bucket) {
			t.Errorf("s3 ls does not list bucket %s:\n%s", bucket, buckets)
		}

		aws.run("s3", "rm", "s3://"+bucket+"/single/big.bin")
		if ls := aws.run("s3", "ls", "--recursive", "s3://"+bucket+"/single/"); strings.Contains(ls, "big.bin") {
			t.Errorf("removed object still listed:\n%s", ls)
		}
		aws.run("s3", "rm", "--recursive", "s3://"+bucket)
		aws.run("s3", "rb", "s3://"+bucket)
		if buckets := aws.run("s3", "ls"); strings.Contains(buckets, bucket) {
			t.Errorf("removed bucket still listed:\n%s", buckets)
		}
	})
}

func TestAWSCLIObjectAPI(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		aws := newAWS(t, tg)
		bucket := bucketName("awsapi")
		aws.run("s3api", "create-bucket", "--bucket", bucket)
		dir := t.TempDir()
		body := writeRandomFile(t, filepath.Join(dir, "body"), 200_000)

		var put struct{ ETag string }
		aws.json(&put, "s3api", "put-object", "--bucket", bucket, "--key", "obj", "--body", filepath.Join(dir, "body"),
			"--metadata", "color=blue", "--content-type", "application/x-e2e")
		sum := md5.Sum(body)
		// Default (SSE-S3) encryption keeps the plaintext MD5 as ETag:
		// sync tools compare it with their local MD5.
		if put.ETag != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("put ETag = %s, want the quoted MD5 %x of the plaintext", put.ETag, sum)
		}

		var head struct {
			ContentLength int64
			ContentType   string
			ETag          string
			Metadata      map[string]string
		}
		aws.json(&head, "s3api", "head-object", "--bucket", bucket, "--key", "obj")
		if head.ContentLength != int64(len(body)) || head.ContentType != "application/x-e2e" ||
			head.Metadata["color"] != "blue" || head.ETag != put.ETag {
			t.Errorf("head = %+v", head)
		}
		for k := range head.Metadata {
			if k != "color" {
				t.Errorf("head shows metadata %q the client never set", k)
			}
		}

		// Ranged GET across an encryption package boundary (64 KiB).
		var get struct {
			ContentLength int64
			ContentRange  string
		}
		aws.json(&get, "s3api", "get-object", "--bucket", bucket, "--key", "obj", "--range", "bytes=65000-66000", filepath.Join(dir, "range"))
		if got := mustRead(t, filepath.Join(dir, "range")); !bytes.Equal(got, body[65000:66001]) {
			t.Errorf("range read differs (%d bytes)", len(got))
		}
		if get.ContentLength != 1001 || get.ContentRange != "bytes 65000-66000/200000" {
			t.Errorf("range response = %+v", get)
		}

		aws.run("s3api", "copy-object", "--bucket", bucket, "--key", "copy", "--copy-source", bucket+"/obj")
		aws.run("s3api", "get-object", "--bucket", bucket, "--key", "copy", filepath.Join(dir, "copy"))
		if !bytes.Equal(mustRead(t, filepath.Join(dir, "copy")), body) {
			t.Error("copied object differs")
		}

		t.Run("multipart", func(t *testing.T) { awsMultipart(t, aws, bucket) })

		// Reading a missing key is a clean NoSuchKey.
		_, stderr, err := aws.try("s3api", "head-object", "--bucket", bucket, "--key", "missing")
		if err == nil || !strings.Contains(stderr, "404") {
			t.Errorf("head of a missing key: err=%v stderr=%s", err, stderr)
		}
	})
}

// awsMultipart uploads parts out of order, re-uploads one, lists, completes
// and reads back; then aborts a second upload.
func awsMultipart(t *testing.T, aws *awsCLI, bucket string) {
	dir := t.TempDir()
	part1 := writeRandomFile(t, filepath.Join(dir, "p1"), 5<<20+1) // not a package multiple
	writeRandomFile(t, filepath.Join(dir, "p2-old"), 4000)
	part2 := writeRandomFile(t, filepath.Join(dir, "p2"), 1<<20+3)

	var create struct{ UploadId string }
	aws.json(&create, "s3api", "create-multipart-upload", "--bucket", bucket, "--key", "mp")
	if create.UploadId == "" {
		t.Fatal("no UploadId")
	}
	up := func(n, file string) string {
		var r struct{ ETag string }
		aws.json(&r, "s3api", "upload-part", "--bucket", bucket, "--key", "mp", "--upload-id", create.UploadId,
			"--part-number", n, "--body", filepath.Join(dir, file))
		return r.ETag
	}
	up("2", "p2-old")
	e2 := up("2", "p2") // replaces the first part 2
	e1 := up("1", "p1")

	var parts struct {
		Parts []struct {
			PartNumber int
			Size       int64
			ETag       string
		}
	}
	aws.json(&parts, "s3api", "list-parts", "--bucket", bucket, "--key", "mp", "--upload-id", create.UploadId)
	if len(parts.Parts) != 2 || parts.Parts[0].PartNumber != 1 || parts.Parts[0].Size != int64(len(part1)) ||
		parts.Parts[1].Size != int64(len(part2)) || parts.Parts[1].ETag != e2 {
		t.Fatalf("list-parts = %+v", parts)
	}

	manifest, _ := json.Marshal(map[string]any{"Parts": []map[string]any{
		{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2},
	}})
	if err := os.WriteFile(filepath.Join(dir, "parts.json"), manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	var done struct{ ETag string }
	aws.json(&done, "s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "mp",
		"--upload-id", create.UploadId, "--multipart-upload", "file://"+filepath.Join(dir, "parts.json"))
	if !strings.HasSuffix(done.ETag, `-2"`) {
		t.Errorf("multipart ETag = %s, want a -2 suffix", done.ETag)
	}
	aws.run("s3api", "get-object", "--bucket", bucket, "--key", "mp", filepath.Join(dir, "whole"))
	if !bytes.Equal(mustRead(t, filepath.Join(dir, "whole")), append(append([]byte{}, part1...), part2...)) {
		t.Error("completed multipart object differs from its parts")
	}
	// A range across the part boundary.
	aws.run("s3api", "get-object", "--bucket", bucket, "--key", "mp", "--range", "bytes=5242800-5242999", filepath.Join(dir, "cross"))
	whole := append(append([]byte{}, part1...), part2...)
	if !bytes.Equal(mustRead(t, filepath.Join(dir, "cross")), whole[5242800:5243000]) {
		t.Error("range across the part boundary differs")
	}

	var abort struct{ UploadId string }
	aws.json(&abort, "s3api", "create-multipart-upload", "--bucket", bucket, "--key", "aborted")
	up2 := func() {
		aws.run("s3api", "upload-part", "--bucket", bucket, "--key", "aborted", "--upload-id", abort.UploadId,
			"--part-number", "1", "--body", filepath.Join(dir, "p2"))
	}
	up2()
	aws.run("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "aborted", "--upload-id", abort.UploadId)
	if out := aws.run("s3api", "list-multipart-uploads", "--bucket", bucket); strings.Contains(out, abort.UploadId) {
		t.Errorf("aborted upload still listed:\n%s", out)
	}
	if _, stderr, err := aws.try("s3api", "list-parts", "--bucket", bucket, "--key", "aborted", "--upload-id", abort.UploadId); err == nil || !strings.Contains(stderr, "NoSuchUpload") {
		t.Errorf("list-parts of an aborted upload: err=%v stderr=%s", err, stderr)
	}
	if _, stderr, err := aws.try("s3api", "head-object", "--bucket", bucket, "--key", "aborted"); err == nil || !strings.Contains(stderr, "404") {
		t.Errorf("aborted upload left an object: err=%v stderr=%s", err, stderr)
	}
}
