package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const userUsage = `Usage: ssegate user <command> [flags] [NAME]

Manage users and their access keys on a running gateway, through its IAM
API, with the root credentials (docs/authorization.md).

Commands:
  create NAME      create user NAME with one access key and print the key once
  list             list users and their access key ids
  delete NAME      delete NAME's access keys, then the user
  rotate-key NAME  give NAME a new access key, delete the old ones, print the new
  help             show this help

Flags:
  --endpoint URL   the gateway (env SSEGATE_ENDPOINT; default http://SSEGATE_LISTEN,
                   https:// when SSEGATE_TLS_CERT is set, or http://127.0.0.1:9900)
  --data-dir DIR   where credentials.json is (env SSEGATE_DATA_DIR, default ./data);
                   SSEGATE_ACCESS_KEY/SSEGATE_SECRET_KEY win over the file
  --ca-cert FILE   PEM file of the CA certificate(s) to verify an https:// gateway
                   with, e.g. its self-signed --tls-cert (env SSEGATE_CA_CERT;
                   default: the system's CAs). Verification is never skipped.

Exit status: 0 success, 1 the gateway refused or failed, 2 usage error.
`

// userCommand runs `ssegate user <sub> ...`.
func userCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("%w: ssegate user needs a command", ErrConfig)
	}
	sub := args[0]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(stdout, userUsage)
		return nil
	}
	run, ok := map[string]func(context.Context, *iamClient, []string, io.Writer) error{
		"create": userCreate, "list": userList, "delete": userDelete, "rotate-key": userRotateKey,
	}[sub]
	if !ok {
		return fmt.Errorf("%w: unknown user command %q (ssegate user help)", ErrConfig, sub)
	}
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	endpoint := fs.String("endpoint", defaultUserEndpoint(getenv), "gateway URL")
	dataDir := fs.String("data-dir", orEnv(getenv, "SSEGATE_DATA_DIR", "./data"), "data directory")
	caCert := fs.String("ca-cert", orEnv(getenv, "SSEGATE_CA_CERT", ""), caCertUsage)
	var names []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if fs.NArg() == 0 {
			break
		}
		names, rest = append(names, fs.Arg(0)), fs.Args()[1:]
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(names) != want {
		return fmt.Errorf("%w: ssegate user %s takes %d argument(s), got %d", ErrConfig, sub, want, len(names))
	}
	creds, err := userRootCredentials(getenv, *dataDir)
	if err != nil {
		return err
	}
	u, err := url.Parse(*endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: --endpoint %q is not an http(s) URL", ErrConfig, *endpoint)
	}
	tlsConfig, err := clientTLSConfig(*caCert)
	if err != nil {
		return err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConfig != nil {
		transport.TLSClientConfig = tlsConfig
	}
	c := &iamClient{endpoint: strings.TrimSuffix(u.String(), "/") + "/", creds: creds,
		http: &http.Client{Timeout: time.Minute, Transport: transport}}
	return run(ctx, c, names, stdout)
}

func orEnv(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// defaultUserEndpoint points at the gateway that `ssegate serve` with the
// same environment would run.
func defaultUserEndpoint(getenv func(string) string) string {
	if v := getenv("SSEGATE_ENDPOINT"); v != "" {
		return v
	}
	scheme := "http://"
	if getenv("SSEGATE_TLS_CERT") != "" {
		scheme = "https://"
	}
	listen := orEnv(getenv, "SSEGATE_LISTEN", "127.0.0.1:9900")
	// A wildcard listen address is reached through loopback.
	if strings.HasPrefix(listen, ":") || strings.HasPrefix(listen, "0.0.0.0:") || strings.HasPrefix(listen, "[::]:") {
		listen = "127.0.0.1:" + listen[strings.LastIndex(listen, ":")+1:]
	}
	return scheme + listen
}

// userRootCredentials reads the root credentials from the environment or
// the data directory; unlike serve it never creates them.
func userRootCredentials(getenv func(string) string, dataDir string) (rootCredentials, error) {
	if ak, sk := getenv("SSEGATE_ACCESS_KEY"), getenv("SSEGATE_SECRET_KEY"); ak != "" || sk != "" {
		if ak == "" || sk == "" {
			return rootCredentials{}, fmt.Errorf("%w: set both SSEGATE_ACCESS_KEY and SSEGATE_SECRET_KEY", ErrConfig)
		}
		return rootCredentials{AccessKey: ak, SecretKey: sk}, nil
	}
	path := filepath.Join(dataDir, credentialsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return rootCredentials{}, fmt.Errorf("%w: no root credentials: set SSEGATE_ACCESS_KEY/SSEGATE_SECRET_KEY or --data-dir (%v)", ErrConfig, err)
	}
	var c rootCredentials
	if err := json.Unmarshal(data, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
		// Never the parse error: it may quote the file.
		return rootCredentials{}, fmt.Errorf("%s is not a valid credentials file", path)
	}
	return c, nil
}

// iamClient calls the gateway's IAM Query API, signed with SigV4 for
// service iam in us-east-1 (IAM is global).
type iamClient struct {
	endpoint string
	creds    rootCredentials
	http     *http.Client
}

// iamAPIError is an IAM error answer.
type iamAPIError struct {
	Status  int
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
}

func (e *iamAPIError) Error() string { return e.Code + ": " + e.Message }

// call runs action with params and decodes the answer into out.
func (c *iamClient) call(ctx context.Context, action string, out any, params ...string) error {
	form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	for i := 0; i+1 < len(params); i += 2 {
		form.Set(params[i], params[i+1])
	}
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: c.creds.AccessKey, SecretAccessKey: c.creds.SecretKey},
		req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now())
	if err != nil {
		return fmt.Errorf("sign %s: %w", action, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &iamAPIError{Status: resp.StatusCode}
		if xml.Unmarshal(b, e) != nil || e.Code == "" {
			return fmt.Errorf("%s: HTTP %d from %s (is it an ssegate gateway?)", action, resp.StatusCode, c.endpoint)
		}
		return fmt.Errorf("%s: %w", action, e)
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: unreadable answer: %w", action, err)
	}
	return nil
}

type iamUserXML struct {
	UserName, UserId, Arn, CreateDate string
}

type iamKeyXML struct {
	UserName, AccessKeyId, Status, SecretAccessKey, CreateDate string
}

func (c *iamClient) listKeys(ctx context.Context, user string) ([]iamKeyXML, error) {
	var out struct {
		Keys []iamKeyXML `xml:"ListAccessKeysResult>AccessKeyMetadata>member"`
	}
	if err := c.call(ctx, "ListAccessKeys", &out, "UserName", user); err != nil {
		return nil, err
	}
	// Oldest first, so rotation makes room by deleting the oldest.
	sort.SliceStable(out.Keys, func(i, j int) bool { return out.Keys[i].CreateDate < out.Keys[j].CreateDate })
	return out.Keys, nil
}

func (c *iamClient) createKey(ctx context.Context, user string) (iamKeyXML, error) {
	var out struct {
		Key iamKeyXML `xml:"CreateAccessKeyResult>AccessKey"`
	}
	err := c.call(ctx, "CreateAccessKey", &out, "UserName", user)
	return out.Key, err
}

// printKey shows a new access key, the only time it is ever shown.
func printKey(w io.Writer, endpoint string, user string, k iamKeyXML) {
	fmt.Fprintf(w, `Access key for user %s (the secret is shown only this once):

    export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s

or as an aws-cli profile:

    aws configure set aws_access_key_id %s --profile %s
    aws configure set aws_secret_access_key %s --profile %s
    aws --profile %s --endpoint-url %s s3 ls
`, user, k.AccessKeyId, k.SecretAccessKey, k.AccessKeyId, user, k.SecretAccessKey, user, user, strings.TrimSuffix(endpoint, "/"))
}

func userCreate(ctx context.Context, c *iamClient, names []string, stdout io.Writer) error {
	name := names[0]
	var out struct {
		User iamUserXML `xml:"CreateUserResult>User"`
	}
	if err := c.call(ctx, "CreateUser", &out, "UserName", name); err != nil {
		return err
	}
	k, err := c.createKey(ctx, name)
	if err != nil {
		// Don't leave a user behind that nobody has a key for.
		if derr := c.call(ctx, "DeleteUser", nil, "UserName", name); derr != nil {
			return fmt.Errorf("%w (and removing the new user failed: %v)", err, derr)
		}
		return err
	}
	fmt.Fprintf(stdout, "Created user %s (%s).\n", out.User.UserName, out.User.Arn)
	printKey(stdout, c.endpoint, out.User.UserName, k)
	return nil
}

func userList(ctx context.Context, c *iamClient, _ []string, stdout io.Writer) error {
	var users []iamUserXML
	marker := ""
	for {
		var out struct {
			Users       []iamUserXML `xml:"ListUsersResult>Users>member"`
			IsTruncated bool         `xml:"ListUsersResult>IsTruncated"`
			Marker      string       `xml:"ListUsersResult>Marker"`
		}
		params := []string{}
		if marker != "" {
			params = append(params, "Marker", marker)
		}
		if err := c.call(ctx, "ListUsers", &out, params...); err != nil {
			return err
		}
		users = append(users, out.Users...)
		if !out.IsTruncated || out.Marker == "" {
			break
		}
		marker = out.Marker
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tARN\tCREATED\tACCESS KEYS")
	for _, u := range users {
		keys, err := c.listKeys(ctx, u.UserName)
		if err != nil {
			return err
		}
		var ks []string
		for _, k := range keys {
			ks = append(ks, k.AccessKeyId+" ("+k.Status+")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.UserName, u.Arn, u.CreateDate, strings.Join(ks, ", "))
	}
	return tw.Flush()
}

func userDelete(ctx context.Context, c *iamClient, names []string, stdout io.Writer) error {
	name := names[0]
	keys, err := c.listKeys(ctx, name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.call(ctx, "DeleteAccessKey", nil, "UserName", name, "AccessKeyId", k.AccessKeyId); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted access key %s.\n", k.AccessKeyId)
	}
	if err := c.call(ctx, "DeleteUser", nil, "UserName", name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Deleted user %s.\n", name)
	return nil
}

// userRotateKey creates the new key before deleting the old ones, so a
// failure leaves the user with a working key. At the limit of two keys the
// oldest goes first to make room.
func userRotateKey(ctx context.Context, c *iamClient, names []string, stdout io.Writer) error {
	name := names[0]
	old, err := c.listKeys(ctx, name)
	if err != nil {
		return err
	}
	for len(old) >= 2 {
		if err := c.call(ctx, "DeleteAccessKey", nil, "UserName", name, "AccessKeyId", old[0].AccessKeyId); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Deleted access key %s.\n", old[0].AccessKeyId)
		old = old[1:]
	}
	k, err := c.createKey(ctx, name)
	if err != nil {
		return err
	}
	// Shown before the old keys go: whatever fails next, the new secret
	// must not be lost.
	printKey(stdout, c.endpoint, k.UserName, k)
	for _, o := range old {
		if err := c.call(ctx, "DeleteAccessKey", nil, "UserName", name, "AccessKeyId", o.AccessKeyId); err != nil {
			return fmt.Errorf("new key %s created, but deleting old key %s failed: %w", k.AccessKeyId, o.AccessKeyId, err)
		}
		fmt.Fprintf(stdout, "Deleted access key %s.\n", o.AccessKeyId)
	}
	return nil
}
