package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
)

// envPrefix names the environment equivalent of every flag:
// --data-dir is SSEGATE_DATA_DIR.
const envPrefix = "SSEGATE_"

// Config is everything `ssegate serve` needs, filled from flags and
// environment by parseServeConfig. Secret fields are tagged in String so
// that printing a Config never leaks them.
type Config struct {
	Listen string
	// AdminListen, when set, serves /metrics, /healthz, /readyz and
	// /debug/pprof on a second, unauthenticated listener. Off by default.
	AdminListen string
	DataDir     string
	Backend     Backend
	Region      string
	// AccountID appears in key ARNs and principal ARNs.
	AccountID string

	TLSCert string
	TLSKey  string

	LogLevel  slog.Level
	LogFormat string // "text" or "json"

	// KMSEndpoint selects a remote AWS-compatible KMS instead of the
	// embedded one; KMSAccessKey/KMSSecretKey come from the environment only.
	KMSEndpoint string
	// SSES3KeyID is the KMS key behind SSE-S3 ("" = the embedded KMS's
	// hidden key; with --kms-endpoint the default is alias/aws/s3 there).
	SSES3KeyID   string
	KMSAccessKey string
	KMSSecretKey string
	// KMSCACert (--kms-ca-cert) is the PEM file of the only CAs trusted
	// for the remote KMS and the KMS peers; kmsTransport is the transport verifying
	// against them, built at parse time so that a bad file is a
	// configuration error (kmspeers.go). nil: the system roots.
	KMSCACert    string
	kmsTransport http.RoundTripper
	// KMSPeers (--kms-peer) are other ssegates acting as the embedded
	// KMS's other regions; KMSQuotas (--kms-quota-keys, --kms-rate-*) its
	// AWS quotas (kmspeers.go).
	KMSPeers  []KMSPeer
	KMSQuotas kms.Quotas

	// MasterKeyFile holds the embedded KMS master key; MasterKey, when set
	// (from SSEGATE_MASTER_KEY), wins and the file is not touched.
	MasterKeyFile string
	MasterKey     []byte

	AllowInsecureSSEC bool
	// ReadHeaderTimeout bounds reading a request's headers (slowloris);
	// BodyReadTimeout bounds each wait for more request body bytes, so a
	// client that stalls mid-upload is cut off and nothing is stored.
	ReadHeaderTimeout time.Duration
	BodyReadTimeout   time.Duration
	// BodyWriteTimeout bounds each wait to hand response bytes to the
	// client, so a client that stops reading a download is cut off.
	BodyWriteTimeout time.Duration
	DefaultSSE       string
	DefaultKMSKeyID  string
	Domains          []string
	// Compress is the --compress value: "" (off), "default" or a
	// comma-separated list of content types ("text/*,application/json").
	Compress string

	// AccessKey/SecretKey are the root S3 credentials from the environment;
	// empty means "load or generate <data-dir>/credentials.json".
	AccessKey string
	SecretKey string

	// PrintConfig (serve --print-config) prints the effective
	// configuration instead of serving.
	PrintConfig bool

	// configPath is the --config file read, if any; settings records every
	// setting's effective value and source for --print-config.
	configPath string
	settings   []setting
}

// Backend is the parsed --backend value.
type Backend struct {
	Kind string // "fs" or "minio"
	// Path is the directory for "fs"; Endpoint the http(s)://host:port URL
	// for "minio".
	Path     string
	Endpoint string
	// AccessKey/SecretKey authenticate to a minio backend; environment only
	// (SSEGATE_BACKEND_ACCESS_KEY / SSEGATE_BACKEND_SECRET_KEY) so they stay
	// out of process listings.
	AccessKey string
	SecretKey string
}

// String describes c for logs without any secret.
func (c Config) String() string {
	return fmt.Sprintf("listen=%s admin-listen=%s data-dir=%s backend=%s region=%s tls=%t kms=%s default-sse=%s compress=%q",
		c.Listen, c.AdminListen, c.DataDir, c.Backend, c.Region, c.TLSCert != "", c.kmsDescription(), c.DefaultSSE, c.Compress)
}

func (c Config) kmsDescription() string {
	if c.KMSEndpoint != "" {
		return "remote:" + c.KMSEndpoint
	}
	return "embedded"
}

// String describes b without credentials.
func (b Backend) String() string {
	if b.Kind == "fs" {
		return "fs:" + b.Path
	}
	return b.Kind + ":" + b.Endpoint
}

// ErrConfig marks a configuration the user must fix; main prints it with
// the usage hint and exits 2.
var ErrConfig = errors.New("invalid configuration")

const serveUsage = `Usage: ssegate serve [--config FILE] [--print-config] [flags]

Runs the gateway. Settings come from flags, the environment (SSEGATE_ + the
flag name in upper case, - as _: --data-dir is SSEGATE_DATA_DIR) and an
optional config file (--config or SSEGATE_CONFIG): one "name = value" per line,
names as the flags without dashes, # comments. Precedence: flag > env > file >
default. Secrets (secret-key, backend-secret-key, kms-secret-key, master-key)
may be set in the environment or in a config file that only its owner can
read (mode 0600), never as flags. --print-config prints the effective
configuration with each value's source, secrets masked, and exits.

Exit status: 0 success (or -h, --print-config), 1 failure at run time,
2 usage or configuration error.

`

// parseServeConfig reads flags from args, their SSEGATE_* equivalents
// from getenv and the --config file (or SSEGATE_CONFIG). A flag given on
// the command line wins over the environment, which wins over the file,
// which wins over the default.
func parseServeConfig(args []string, getenv func(string) string, usageOut io.Writer) (Config, error) {
	fs, parse := configFlags("serve", usageOut)
	fs.Usage = func() { fmt.Fprint(usageOut, serveUsage); fs.PrintDefaults() }
	c, rest, err := parse(args, getenv)
	if err != nil {
		return Config{}, err
	}
	if len(rest) > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", ErrConfig, rest[0])
	}
	return c, nil
}

// configFlags defines the serve flags on a new flag set, to which operator
// subcommands (kms, rewrap, verify) add their own before calling parse.
// parse reads the config file, the environment, then args, accepting flags
// between positional arguments, which it returns. Only the serve flags
// (and the environment-only settings) may appear in a config file.
func configFlags(name string, usageOut io.Writer) (*flag.FlagSet, func(args []string, getenv func(string) string) (Config, []string, error)) {
	c := new(Config)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)

	var backend, logLevel, domains, configPath string
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	str(&configPath, "config", "", "read settings from `FILE`: one \"name = value\" per line, names as the flags without dashes; flags and env win over it")
	str(&c.Listen, "listen", "127.0.0.1:9900", "address to listen on; port 0 picks a free one")
	str(&c.AdminListen, "admin-listen", "", "address for the unauthenticated admin listener (/metrics, /healthz, /readyz, /debug/pprof); off when empty; bind it to loopback or a private network")
	str(&c.DataDir, "data-dir", "./data", "directory for credentials, KMS database, audit log and the default fs backend")
	str(&backend, "backend", "", "fs:PATH or minio:http(s)://HOST:PORT (default fs:<data-dir>/objects)")
	str(&c.Region, "region", "us-east-1", "S3 and KMS region")
	str(&c.AccountID, "account-id", "000000000000", "12-digit account id used in ARNs")
	str(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); requires --tls-key")
	str(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	str(&logLevel, "log-level", "info", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "text", "text or json")
	str(&c.KMSEndpoint, "kms-endpoint", "", "remote AWS-compatible KMS endpoint instead of the embedded KMS")
	str(&c.SSES3KeyID, "sse-s3-key-id", "", "KMS key behind SSE-S3 (default: the embedded KMS's hidden key; with --kms-endpoint, alias/aws/s3 on the remote KMS)")
	str(&c.MasterKeyFile, "master-key-file", "", "embedded KMS master key file, created 0600 if missing (default <data-dir>/master.key; env SSEGATE_MASTER_KEY gives the key itself, hex or base64)")
	str(&c.DefaultSSE, "default-sse", "AES256", "encryption for buckets without a configuration: AES256 or aws:kms")
	str(&c.DefaultKMSKeyID, "default-kms-key-id", "", "KMS key for --default-sse aws:kms (default alias/aws/s3)")
	str(&domains, "domain", "", "comma-separated domains for virtual-host-style addressing")
	str(&c.Compress, "compress", "", "compress single-part objects of these content types before encryption: \"default\" (text, JSON, XML, ...) or a comma-separated list (\"text/*,application/json\"); off by default because stored sizes then leak information (docs/format.md)")
	fs.BoolVar(&c.AllowInsecureSSEC, "allow-insecure-ssec", false,
		"accept SSE-C over plain HTTP (only behind a TLS-terminating proxy) (env "+envName("allow-insecure-ssec")+")")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", 30*time.Second,
		"longest time a client may take to send a request's headers (env "+envName("read-header-timeout")+")")
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", time.Minute,
		"longest wait for more bytes of a request body; a stalled upload is then aborted and nothing is stored (env "+envName("body-read-timeout")+")")
	fs.DurationVar(&c.BodyWriteTimeout, "body-write-timeout", time.Minute,
		"longest wait for a client to take more bytes of a response; a download the client stopped reading is then aborted (env "+envName("body-write-timeout")+")")
	var kf kmsFlags
	defineKMSFlags(fs, c, &kf)
	if name == "serve" {
		fs.BoolVar(&c.PrintConfig, "print-config", false,
			"print the effective configuration (each setting, value and source; secrets masked) and exit 0 without serving")
	}

	// The names a config file may set: the serve flags defined so far,
	// not the subcommand's own, plus the environment-only settings.
	fileNames := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { fileNames[f.Name] = true })
	delete(fileNames, "config")
	delete(fileNames, "print-config")
	for _, n := range envOnlySettings {
		fileNames[n] = true
	}

	return fs, func(args []string, getenv func(string) string) (Config, []string, error) {
		// --kms-peer's variable holds the whole list: SSEGATE_KMS_PEERS.
		flagEnv := func(key string) string {
			if key == envName("kms-peer") {
				return getenv(peersEnv)
			}
			return getenv(key)
		}
		inFile := func(n string) bool { return fileNames[n] || peerCredRe.MatchString(n) }
		rest, src, err := parseFlags(fs, args, flagEnv, inFile)
		if err != nil {
			return Config{}, nil, err
		}
		// Environment-only settings: the environment, else the file.
		lookup := func(key string) string {
			if v := getenv(key); v != "" {
				return v
			}
			if fv, ok := src.file[strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(key, envPrefix), "_", "-"))]; ok {
				return fv.value
			}
			return ""
		}
		cfg, err := finishConfig(*c, backend, logLevel, domains, lookup)
		if err != nil {
			return Config{}, nil, err
		}
		if err := finishKMS(&cfg, &kf, lookup); err != nil {
			return Config{}, nil, err
		}
		cfg.configPath = src.path
		cfg.settings = append(src.settings(fs, fileNames, cfg, flagEnv), peerSettings(cfg, getenv)...)
		return cfg, rest, nil
	}
}

// sources records where parseFlags took each value from.
type sources struct {
	path string               // the config file, "" if none
	file map[string]fileValue // everything the file set
	env  map[string]bool      // flags set from the environment
	flag map[string]bool      // flags set on the command line
}

// parseFlags sets every flag of fs from the config file (names for which
// inFile is true), then from its SSEGATE_* variable, then from args;
// flags may appear between positional arguments (returned in order).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, inFile func(string) bool) ([]string, sources, error) {
	src := sources{env: map[string]bool{}, flag: map[string]bool{}}
	// First the command line alone, to learn --config and which flags it
	// sets; the file and the environment are then applied below it and
	// the command line's values put back on top.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, src, err
			}
			return nil, src, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	explicit := map[string]string{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String(); src.flag[f.Name] = true })

	src.path = getenv(envName("config"))
	if p, ok := explicit["config"]; ok {
		src.path = p
	}
	if src.path != "" {
		vals, err := readConfigFile(src.path, inFile)
		if err != nil {
			return nil, src, err
		}
		src.file = vals
		for name, fv := range vals {
			f := fs.Lookup(name)
			if f == nil {
				continue // an environment-only setting
			}
			resetList(f)
			if err := f.Value.Set(fv.value); err != nil {
				return nil, src, fmt.Errorf("%w: %s:%d: %s: %v", ErrConfig, src.path, fv.line, name, err)
			}
		}
	}

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" {
			src.env[f.Name] = true
			resetList(f)
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%w: %s=%q: %v", ErrConfig, envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, src, envErr
	}
	for name, v := range explicit {
		resetList(fs.Lookup(name))
		if err := fs.Set(name, v); err != nil {
			return nil, src, fmt.Errorf("%w: --%s: %v", ErrConfig, name, err)
		}
	}
	return rest, src, nil
}

// settings lists every file-settable name with its effective value and
// where it came from. Derived defaults (backend, master-key-file,
// sse-s3-key-id) show the value finishConfig chose.
func (src sources) settings(fs *flag.FlagSet, names map[string]bool, c Config, getenv func(string) string) []setting {
	var out []setting
	for name := range names {
		s := setting{name: name, source: sourceDefault, secret: secretSettings[name]}
		if f := fs.Lookup(name); f != nil {
			s.value = f.Value.String()
			switch {
			case src.flag[name]:
				s.source = sourceFlag
			case src.env[name]:
				s.source = sourceEnv
			case src.hasFile(name):
				s.source = sourceFile
			}
		} else if v := getenv(envName(name)); v != "" {
			s.value, s.source = v, sourceEnv
		} else if fv, ok := src.file[name]; ok {
			s.value, s.source = fv.value, sourceFile
		}
		if s.value == "" {
			switch name {
			case "backend":
				s.value = c.Backend.String()
			case "master-key-file":
				s.value = c.MasterKeyFile
			case "sse-s3-key-id":
				s.value = c.SSES3KeyID
			}
		}
		out = append(out, s)
	}
	return out
}

// resetList empties a repeatable flag (--kms-peer) before a source of
// higher precedence sets it, so sources replace each other's lists as
// they replace plain values.
func resetList(f *flag.Flag) {
	if r, ok := f.Value.(interface{ Reset() }); ok {
		r.Reset()
	}
}

func (src sources) hasFile(name string) bool { _, ok := src.file[name]; return ok }

// finishConfig completes c from the string flags and the environment-only
// secrets, and validates it.
func finishConfig(c Config, backend, logLevel, domains string, getenv func(string) string) (Config, error) {
	for _, t := range strings.Split(c.Compress, ",") {
		if t = strings.TrimSpace(t); t != "" && t != "default" && !strings.Contains(t, "/") {
			return c, fmt.Errorf("%w: --compress %q: want \"default\" or content types like text/*", ErrConfig, t)
		}
	}
	c.AccessKey = getenv(envPrefix + "ACCESS_KEY")
	c.SecretKey = getenv(envPrefix + "SECRET_KEY")
	c.KMSAccessKey = getenv(envPrefix + "KMS_ACCESS_KEY")
	c.KMSSecretKey = getenv(envPrefix + "KMS_SECRET_KEY")
	for _, d := range strings.Split(domains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.Domains = append(c.Domains, strings.ToLower(d))
		}
	}
	if c.MasterKeyFile == "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if backend == "" {
		backend = "fs:" + filepath.Join(c.DataDir, "objects")
	}
	var err error
	if c.Backend, err = parseBackend(backend); err != nil {
		return Config{}, err
	}
	c.Backend.AccessKey = getenv(envPrefix + "BACKEND_ACCESS_KEY")
	c.Backend.SecretKey = getenv(envPrefix + "BACKEND_SECRET_KEY")
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return Config{}, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", ErrConfig, logLevel)
	}
	if mk := getenv(envPrefix + "MASTER_KEY"); mk != "" {
		if c.MasterKey, err = decodeMasterKey(mk); err != nil {
			return Config{}, err
		}
	}
	if c.KMSEndpoint != "" && c.SSES3KeyID == "" {
		c.SSES3KeyID = "alias/aws/s3" // created on first use by the remote KMS
	}
	return c, c.validate()
}

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseBackend(s string) (Backend, error) {
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case ok && kind == "fs" && rest != "":
		return Backend{Kind: "fs", Path: rest}, nil
	case ok && kind == "minio":
		u, err := url.Parse(rest)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return Backend{}, fmt.Errorf("%w: --backend %q: want minio:http(s)://HOST:PORT", ErrConfig, s)
		}
		return Backend{Kind: "minio", Endpoint: u.Scheme + "://" + u.Host}, nil
	}
	return Backend{}, fmt.Errorf("%w: --backend %q: want fs:PATH or minio:http(s)://HOST:PORT", ErrConfig, s)
}

// decodeMasterKey accepts 32 bytes as hex or (std or URL, padded or not)
// base64. The error never echoes the value: it is the root of all keys.
func decodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %sMASTER_KEY must be 32 bytes as hex (64 digits) or base64", ErrConfig, envPrefix)
}

func (c Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("--listen %q: want HOST:PORT", c.Listen)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			return bad("--admin-listen %q: want HOST:PORT", c.AdminListen)
		}
	}
	if c.DataDir == "" {
		return bad("--data-dir must not be empty")
	}
	// Zero would mean "no limit" to net/http: the very hole these close.
	if c.ReadHeaderTimeout <= 0 || c.BodyReadTimeout <= 0 || c.BodyWriteTimeout <= 0 {
		return bad("--read-header-timeout, --body-read-timeout and --body-write-timeout must be positive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("--tls-cert and --tls-key go together")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("--log-format %q: want text or json", c.LogFormat)
	}
	if c.DefaultSSE != "AES256" && c.DefaultSSE != "aws:kms" {
		return bad("--default-sse %q: want AES256 or aws:kms", c.DefaultSSE)
	}
	if c.DefaultKMSKeyID != "" && c.DefaultSSE != "aws:kms" {
		return bad("--default-kms-key-id needs --default-sse aws:kms")
	}
	if len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "" {
		return bad("--account-id %q: want 12 digits", c.AccountID)
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return bad("%sACCESS_KEY and %sSECRET_KEY go together", envPrefix, envPrefix)
	}
	if c.AccessKey != "" && (len(c.AccessKey) < 3 || len(c.SecretKey) < 8) {
		return bad("%sACCESS_KEY needs at least 3 characters and %sSECRET_KEY at least 8", envPrefix, envPrefix)
	}
	if c.Backend.Kind == "minio" && (c.Backend.AccessKey == "" || c.Backend.SecretKey == "") {
		return bad("a minio backend needs %sBACKEND_ACCESS_KEY and %sBACKEND_SECRET_KEY", envPrefix, envPrefix)
	}
	if c.KMSEndpoint != "" {
		u, err := url.Parse(c.KMSEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("--kms-endpoint %q: want http(s)://HOST:PORT", c.KMSEndpoint)
		}
		if c.KMSAccessKey == "" || c.KMSSecretKey == "" {
			return bad("--kms-endpoint needs %sKMS_ACCESS_KEY and %sKMS_SECRET_KEY", envPrefix, envPrefix)
		}
	}
	return nil
}

// compression turns --compress into the gateway's setting.
func (c Config) compression() sse.CompressionConfig {
	if c.Compress == "" {
		return sse.CompressionConfig{}
	}
	cc := sse.CompressionConfig{Enabled: true}
	if c.Compress != "default" {
		for _, t := range strings.Split(c.Compress, ",") {
			if t = strings.TrimSpace(t); t != "" {
				cc.ContentTypes = append(cc.ContentTypes, t)
			}
		}
	}
	return cc
}
