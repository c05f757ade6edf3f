package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssegate/ssegate/gateway"
)

func TestPlainByteProgressPrintsAFewLinesNotOnePerWrite(t *testing.T) {
	var out bytes.Buffer
	p := newByteProgress(&out, "kms restore", 4000)
	r := &progressReader{r: bytes.NewReader(make([]byte, 4000)), p: p}
	buf := make([]byte, 100)
	for {
		if _, err := r.Read(buf); err != nil {
			break
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || len(lines) > 5 {
		t.Fatalf("%d lines for 40 reads, want a handful:\n%s", len(lines), out.String())
	}
	if last := lines[len(lines)-1]; last != "kms restore: 3.9 KiB of 3.9 KiB (100%)" {
		t.Errorf("last line %q", last)
	}
	if strings.Contains(out.String(), "\r") || strings.Contains(out.String(), "\033") {
		t.Error("terminal control characters in plain output")
	}
}

func TestTerminalProgressRedrawsOneBarAndClearsItForMessages(t *testing.T) {
	var out bytes.Buffer
	p := newByteProgress(&out, "kms backup", 2<<20)
	p.tty = true // as on a terminal
	w := &progressWriter{w: &bytes.Buffer{}, p: p}
	w.Write(make([]byte, 1<<20))
	if !strings.HasSuffix(out.String(), "\r[###############...............] 1.0 MiB/2.0 MiB") {
		t.Errorf("half-way bar: %q", out.String())
	}
	p.step("syncing")
	if !strings.HasSuffix(out.String(), "\r\033[Kkms backup: syncing\n") {
		t.Errorf("a message must clear the bar first: %q", out.String())
	}
	w.Write(make([]byte, 1<<20))
	p.finish()
	if !strings.HasSuffix(out.String(), "] 2.0 MiB/2.0 MiB\n") {
		t.Errorf("finish must end the bar's line: %q", out.String())
	}
}

func TestObjectProgressPrintsFailuresRewrapsAndPositions(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, verb: "verify"}
	p.report(gateway.ObjectProgress{Bucket: "b", Key: "ok", Outcome: gateway.OutcomeRewrapped, Done: 1})
	p.report(gateway.ObjectProgress{Bucket: "b", Key: "bad", Outcome: gateway.OutcomeDamaged, Err: errors.New("package 3: authentication failed"), Done: 2})
	p.report(gateway.ObjectProgress{Bucket: "b", Key: "k1000", Done: plainEvery})
	for _, want := range []string{
		gateway.OutcomeRewrapped + " b/ok\n",
		strings.ToUpper(gateway.OutcomeDamaged) + " b/bad: package 3: authentication failed\n",
		"verify: 1000 objects, at b/k1000\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	var hint bytes.Buffer
	p.resumeHint(&hint)
	if !strings.Contains(hint.String(), `--start-after "b/k1000"`) {
		t.Errorf("resume hint %q", hint.String())
	}
}

func TestNonTerminalsGetPlainProgress(t *testing.T) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	// /dev/null is a character device but not a terminal: a bar there
	// (or in a log file, or a pipe) would be noise.
	for name, w := range map[string]any{"buffer": &bytes.Buffer{}, "/dev/null": devNull} {
		if isTerminal(w.(interface{ Write([]byte) (int, error) })) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}

func TestKMSBackupAndRestoreReportProgress(t *testing.T) {
	dir := newKeystore(t)
	backup := filepath.Join(t.TempDir(), "kms.backup")
	code, out := runCmd(t, "kms", "backup", "--data-dir", dir, backup)
	if code != 0 {
		t.Fatalf("backup: %d %s", code, out)
	}
	for _, want := range []string{"kms backup: taking a consistent snapshot", "kms backup: syncing", "backup written to " + backup} {
		if !strings.Contains(out, want) {
			t.Errorf("backup output lacks %q:\n%s", want, out)
		}
	}
	dir2 := t.TempDir()
	mk, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	if err := os.WriteFile(filepath.Join(dir2, "master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = runCmd(t, "kms", "restore", "--data-dir", dir2, backup)
	if code != 0 {
		t.Fatalf("restore: %d %s", code, out)
	}
	for _, want := range []string{"kms restore: reading and decrypting", "(100%)", "kms restore: writing the keystore and unsealing", "keystore restored"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	// A failed restore says so and exits 1, after its progress lines.
	code, out = runCmd(t, "kms", "restore", "--data-dir", t.TempDir(), backup)
	if code != 1 {
		t.Errorf("restore without the master key: exit %d, want 1:\n%s", code, out)
	}
}
