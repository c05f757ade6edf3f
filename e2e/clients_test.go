package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func targetNames() []string {
	v := os.Getenv("SSEGATE_E2E_TARGETS")
	if v == "" {
		v = "fs,minio"
	}
	var names []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// awsCLI runs aws-cli against tg with an isolated HOME and config, so no
// profile or credential of the machine leaks in. Debian's v2 at /usr/bin/aws
// is preferred over a pip v1 earlier on PATH.
type awsCLI struct {
	t   testing.TB
	bin string
	env []string
	tg  target
}

func newAWS(t testing.TB, tg target) *awsCLI {
	t.Helper()
	bin := requireTool(t, "aws", os.Getenv("SSEGATE_E2E_AWS"), "/usr/bin/aws")
	home := t.TempDir()
	env := append(cleanEnv(),
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_ACCESS_KEY_ID="+tg.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+tg.SecretKey,
		"AWS_DEFAULT_REGION="+tg.Region,
		"AWS_REGION="+tg.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	if tg.CACert != "" {
		env = append(env, "AWS_CA_BUNDLE="+tg.CACert)
	}
	return &awsCLI{t: t, bin: bin, env: env, tg: tg}
}

// args adds the endpoint and a short read timeout. aws-cli 2.9 on Python
// 3.11 sometimes misparses the response after "Expect: 100-continue"
// (urllib3 MissingHeaderBodySeparatorDefect, seen against MinIO too) and
// then waits for the 60 s default read timeout before retrying; 15 s keeps
// the retry but not the minute-long stall.
func (a *awsCLI) args(args []string) []string {
	return append([]string{"--endpoint-url", a.tg.Endpoint, "--output", "json", "--cli-read-timeout", "15"}, args...)
}

// run runs aws with args and fails the test on error.
func (a *awsCLI) run(args ...string) string {
	a.t.Helper()
	out, _ := runCmd(a.t, a.env, a.bin, a.args(args)...)
	return out
}

// try runs aws and returns its error, for expected failures.
func (a *awsCLI) try(args ...string) (stdout, stderr string, err error) {
	return tryCmd(a.env, a.bin, a.args(args)...)
}

// json runs aws and decodes its JSON output into v.
func (a *awsCLI) json(v any, args ...string) {
	a.t.Helper()
	out := a.run(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("aws %s: decode %q: %v", strings.Join(args, " "), out, err)
	}
}

// rclone runs rclone with the remote "ssegate:" configured from the
// environment and no config file of the machine; it fails the test on error.
func rclone(t testing.TB, tg target, args ...string) (stdout, stderr string) {
	t.Helper()
	bin, env := rcloneEnv(t, tg)
	return runCmd(t, env, bin, args...)
}

// rcloneEnv returns the rclone binary and its environment. AWS_CA_BUNDLE
// stays unset: rclone's S3 backend fails with it.
func rcloneEnv(t testing.TB, tg target) (string, []string) {
	t.Helper()
	bin := requireTool(t, "rclone")
	home := t.TempDir()
	conf := filepath.Join(home, "rclone.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv()
	if tg.CACert != "" {
		env = append(env, "RCLONE_CA_CERT="+tg.CACert)
	}
	return bin, append(env,
		"HOME="+home,
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_SSEGATE_TYPE=s3",
		"RCLONE_CONFIG_SSEGATE_PROVIDER=Other",
		"RCLONE_CONFIG_SSEGATE_ENV_AUTH=false",
		"RCLONE_CONFIG_SSEGATE_ENDPOINT="+tg.Endpoint,
		"RCLONE_CONFIG_SSEGATE_ACCESS_KEY_ID="+tg.AccessKey,
		"RCLONE_CONFIG_SSEGATE_SECRET_ACCESS_KEY="+tg.SecretKey,
		"RCLONE_CONFIG_SSEGATE_REGION="+tg.Region,
		"RCLONE_CONFIG_SSEGATE_FORCE_PATH_STYLE=true",
	)
}

// restic runs restic on the repository s3:<endpoint>/<bucket>.
type restic struct {
	t   testing.TB
	bin string
	env []string
	tg  target
}

func newRestic(t testing.TB, tg target, bucket string) *restic {
	t.Helper()
	bin := requireTool(t, "restic")
	home := t.TempDir()
	env := append(cleanEnv(),
		"HOME="+home,
		"RESTIC_REPOSITORY=s3:"+tg.Endpoint+"/"+bucket,
		"RESTIC_PASSWORD=e2e-"+randomHex(8),
		"RESTIC_CACHE_DIR="+filepath.Join(home, "cache"),
		"AWS_ACCESS_KEY_ID="+tg.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+tg.SecretKey,
		"AWS_DEFAULT_REGION="+tg.Region,
	)
	return &restic{t: t, bin: bin, env: env, tg: tg}
}

func (r *restic) run(args ...string) string {
	r.t.Helper()
	flags := []string{"-o", "s3.region=" + r.tg.Region}
	if r.tg.CACert != "" {
		flags = append(flags, "--cacert", r.tg.CACert)
	}
	out, _ := runCmd(r.t, r.env, r.bin, append(flags, args...)...)
	return out
}

// s3cmd runs s3cmd with a generated config (path-style, SigV4, plain HTTP).
type s3cmd struct {
	t   testing.TB
	bin string
	env []string
	cfg string
}

func newS3cmd(t testing.TB, tg target) *s3cmd {
	t.Helper()
	bin := requireTool(t, "s3cmd")
	home := t.TempDir()
	u, err := url.Parse(tg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(home, ".s3cfg")
	conf := fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
use_https = %s
signature_v2 = False
check_ssl_certificate = %s
ca_certs_file = %s
`, tg.AccessKey, tg.SecretKey, u.Host, u.Host, tg.Region, map[bool]string{true: "True", false: "False"}[u.Scheme == "https"],
		map[bool]string{true: "True", false: "False"}[tg.CACert != ""], tg.CACert)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return &s3cmd{t: t, bin: bin, env: append(cleanEnv(), "HOME="+home), cfg: cfg}
}

func (s *s3cmd) run(args ...string) (stdout, stderr string) {
	s.t.Helper()
	return runCmd(s.t, s.env, s.bin, append([]string{"-c", s.cfg}, args...)...)
}
