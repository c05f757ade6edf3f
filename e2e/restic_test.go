package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestResticBackupCheckRestore runs the backup tool that has no SSE flags
// at all and relies on the bucket default; check --read-data reads every
// pack back (ranged GETs) and verifies its hashes.
func TestResticBackupCheckRestore(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	forEachTarget(t, func(t *testing.T, tg target) {
		src := makeTree(t, map[string]int{
			"docs/a.txt":        10_000,
			"docs/b.txt":        1,
			"photos/1.raw":      2 << 20,
			"photos/2.raw":      1<<20 + 17,
			"db/dump.sql":       700_000,
			"db/empty":          0,
			"deep/x/y/z/ü ö.md": 65_537,
		})
		r := newRestic(t, tg, bucketName("restic"))
		r.run("init")
		r.run("backup", "--host", "e2e", src)
		// A second backup of the same data only re-reads the index.
		r.run("backup", "--host", "e2e", src)
		if out := r.run("check", "--read-data"); !strings.Contains(out, "no errors were found") {
			t.Errorf("restic check --read-data:\n%s", out)
		}
		if out := r.run("snapshots", "--json"); strings.Count(out, `"id"`) != 2 {
			t.Errorf("want 2 snapshots:\n%s", out)
		}
		dst := t.TempDir()
		r.run("restore", "latest", "--target", dst)
		// restic restores absolute paths below the target.
		compareTrees(t, src, filepath.Join(dst, src))
	})
}
