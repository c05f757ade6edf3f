package main

import (
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ssegate/ssegate/kms"
)

// Settings of the embedded KMS that only it uses: the peers acting as
// other regions for multi-Region keys (--kms-peer) and AWS's quotas
// (--kms-quota-keys, --kms-rate-*); and --kms-ca-cert, the CAs that the
// peers and the remote KMS (--kms-endpoint) are verified against.

// KMSPeer is one --kms-peer: another ssegate acting as the KMS of Region.
// Its root credentials come from SSEGATE_KMS_PEER_<REGION>_ACCESS_KEY and
// _SECRET_KEY (region upper case, - as _), or the config file names
// kms-peer-<region>-access-key / -secret-key.
type KMSPeer struct {
	Region    string
	Endpoint  string
	AccessKey string
	SecretKey string
}

// String names the peer without its credentials.
func (p KMSPeer) String() string { return p.Region + "=" + p.Endpoint }

// peersEnv is the environment variable of --kms-peer: plural, since it
// holds the whole comma-separated list.
const peersEnv = envPrefix + "KMS_PEERS"

// regionRe is an AWS region name: us-east-1, eu-west-2, us-gov-west-1.
var regionRe = regexp.MustCompile(`^[a-z]{2,}(-[a-z]+)+-[0-9]{1,2}$`)

// peerCredRe is a config-file name of a peer credential.
var peerCredRe = regexp.MustCompile(`^kms-peer-[a-z0-9-]+-(access|secret)-key$`)

// isSecretSetting reports whether a setting is masked by --print-config
// and makes a config file that holds it subject to the 0600 rule.
func isSecretSetting(name string) bool {
	return secretSettings[name] || (peerCredRe.MatchString(name) && strings.HasSuffix(name, "-secret-key"))
}

// peerList is the repeatable --kms-peer flag; each value may itself be a
// comma-separated list (as in SSEGATE_KMS_PEERS and the config file).
type peerList struct{ entries []string }

func (l *peerList) String() string { return strings.Join(l.entries, ",") }

func (l *peerList) Set(v string) error {
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			l.entries = append(l.entries, e)
		}
	}
	return nil
}

// Reset lets parseFlags replace, not merge, the list when a source of
// higher precedence sets it.
func (l *peerList) Reset() { l.entries = nil }

// kmsFlags are the raw values of the KMS flags, turned into Config fields
// by finishKMS.
type kmsFlags struct {
	peers peerList
}

func defineKMSFlags(fs *flag.FlagSet, c *Config, kf *kmsFlags) {
	fs.Var(&kf.peers, "kms-peer", "`REGION=URL` of another ssegate acting as the KMS of REGION for multi-Region keys; repeatable "+
		"(env "+peersEnv+", comma-separated); its root credentials from SSEGATE_KMS_PEER_<REGION>_ACCESS_KEY/_SECRET_KEY (region upper case, - as _)")
	fs.StringVar(&c.KMSCACert, "kms-ca-cert", "", "PEM `FILE` of the CA certificate(s) the remote KMS (--kms-endpoint) and the --kms-peer endpoints are verified against "+
		"instead of the system roots, e.g. the peer's self-signed --tls-cert (env "+envName("kms-ca-cert")+")")
	fs.IntVar(&c.KMSQuotas.KeysPerAccount, "kms-quota-keys", 0,
		"most customer managed keys in the embedded KMS; 0 = AWS default (100000), negative = no limit (env "+envName("kms-quota-keys")+")")
	rate := func(p *float64, name, class, def string) {
		fs.Float64Var(p, name, 0, class+" KMS requests per second shared by all callers; 0 = AWS default ("+def+"), negative = no limit (env "+envName(name)+")")
	}
	rate(&c.KMSQuotas.SymmetricPerSecond, "kms-rate-symmetric", "symmetric (Encrypt, Decrypt, GenerateDataKey*, ...)", "100000")
	rate(&c.KMSQuotas.RSAPerSecond, "kms-rate-rsa", "RSA", "500")
	rate(&c.KMSQuotas.ECCPerSecond, "kms-rate-ecc", "ECC", "300")
	rate(&c.KMSQuotas.HMACPerSecond, "kms-rate-hmac", "HMAC", "100000")
}

// peerEnvPrefix is the environment prefix of region's credentials.
func peerEnvPrefix(region string) string {
	return envPrefix + "KMS_PEER_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_")) + "_"
}

// finishKMS parses the peers and reads their credentials with lookup
// (environment, then config file).
func finishKMS(c *Config, kf *kmsFlags, lookup func(string) string) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	q := c.KMSQuotas
	for _, r := range []float64{q.SymmetricPerSecond, q.RSAPerSecond, q.ECCPerSecond, q.HMACPerSecond} {
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return bad("--kms-rate-*: want a finite number")
		}
	}
	for _, e := range kf.peers.entries {
		region, endpoint, ok := strings.Cut(e, "=")
		if !ok || !regionRe.MatchString(region) {
			return bad("--kms-peer %q: want REGION=http(s)://HOST:PORT with a region like eu-west-1", e)
		}
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
			return bad("--kms-peer %s: want http(s)://HOST:PORT", region)
		}
		if region == c.Region {
			return bad("--kms-peer %s: that is this gateway's own --region", region)
		}
		if slices.ContainsFunc(c.KMSPeers, func(p KMSPeer) bool { return p.Region == region }) {
			return bad("--kms-peer %s is given twice", region)
		}
		pre := peerEnvPrefix(region)
		p := KMSPeer{Region: region, Endpoint: u.Scheme + "://" + u.Host,
			AccessKey: lookup(pre + "ACCESS_KEY"), SecretKey: lookup(pre + "SECRET_KEY")}
		if p.AccessKey == "" || p.SecretKey == "" {
			return bad("--kms-peer %s needs %sACCESS_KEY and %sSECRET_KEY (the peer's root credentials)", region, pre, pre)
		}
		c.KMSPeers = append(c.KMSPeers, p)
	}
	if len(c.KMSPeers) > 0 && c.KMSEndpoint != "" {
		return bad("--kms-peer is for the embedded KMS, not with --kms-endpoint")
	}
	// Read now, not at the first KMS call: an unreadable or garbage file
	// is the operator's to fix before the gateway starts (exit 2), not a
	// run-time "unknown authority" on the first SSE-KMS request.
	tlsConfig, err := tlsConfigTrusting("--kms-ca-cert", c.KMSCACert)
	if err != nil {
		return err
	}
	if tlsConfig != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = tlsConfig
		c.kmsTransport = t
	}
	return nil
}

// peerTimeout bounds one call to a KMS peer, as kms does for its default
// peer client.
const peerTimeout = time.Minute

// kmsHTTPClient is the client of the remote KMS (--kms-endpoint): nil, the
// SDK's default, unless --kms-ca-cert names the CAs to trust. There is
// deliberately no way to skip verification.
func (c Config) kmsHTTPClient() *http.Client {
	if c.kmsTransport == nil {
		return nil
	}
	return &http.Client{Transport: c.kmsTransport}
}

// kmsPeers maps the peers onto kms.Options.Peers.
func (c Config) kmsPeers() map[string]kms.RemotePeer {
	if len(c.KMSPeers) == 0 {
		return nil
	}
	var client *http.Client // nil: kms's default client
	if c.kmsTransport != nil {
		client = &http.Client{Transport: c.kmsTransport, Timeout: peerTimeout}
	}
	out := make(map[string]kms.RemotePeer, len(c.KMSPeers))
	for _, p := range c.KMSPeers {
		out[p.Region] = kms.RemotePeer{Endpoint: p.Endpoint, AccessKey: p.AccessKey, SecretKey: p.SecretKey, HTTPClient: client}
	}
	return out
}

// peerSettings are the --print-config lines of the peers' credentials.
func peerSettings(c Config, getenv func(string) string) []setting {
	var out []setting
	for _, p := range c.KMSPeers {
		pre := peerEnvPrefix(p.Region)
		name := "kms-peer-" + p.Region + "-"
		for _, kv := range []struct{ suffix, value string }{{"access-key", p.AccessKey}, {"secret-key", p.SecretKey}} {
			src := sourceFile
			if getenv(pre+strings.ToUpper(strings.ReplaceAll(kv.suffix, "-", "_"))) != "" {
				src = sourceEnv
			}
			out = append(out, setting{name: name + kv.suffix, value: kv.value, source: src, secret: isSecretSetting(name + kv.suffix)})
		}
	}
	return out
}
