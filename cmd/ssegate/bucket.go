package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const bucketUsage = `Usage: ssegate bucket <command> [flags] [args]

Grant or revoke a user's access to a bucket on a running gateway, through its
S3 API (PutBucketPolicy), signed with the root credentials:
SSEGATE_ACCESS_KEY/SSEGATE_SECRET_KEY, else <data-dir>/credentials.json.

  grant BUCKET USER read|read-write   allow USER to read (GetObject, GetObjectTagging,
                                      ListBucket, GetBucketLocation) or also write
                                      (PutObject, DeleteObject, tagging, multipart)
  revoke BUCKET USER                  remove USER's grant
  policy BUCKET                       print the bucket policy

Each user's grant is one policy statement (Sid ssegate-grant-USER); other
statements are kept. Grant and revoke are idempotent. Two operators editing
the same bucket's policy at the same moment may overwrite each other.

Flags (before or after the arguments):
`

// grantActions are the actions of each access level (docs/authorization.md).
var grantActions = map[string][]string{
	"read": {"s3:GetObject", "s3:GetObjectTagging", "s3:ListBucket", "s3:GetBucketLocation"},
	"read-write": {"s3:GetObject", "s3:GetObjectTagging", "s3:ListBucket", "s3:GetBucketLocation",
		"s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging",
		"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucketMultipartUploads"},
}

var (
	// iamUserName is IAM's rule for user names.
	iamUserName      = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// bucketCommand runs `ssegate bucket <sub> ...`.
func bucketCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fs, _ := bucketFlags(stdout)
		fmt.Fprint(stdout, bucketUsage)
		fs.PrintDefaults()
		if len(args) == 0 {
			return fmt.Errorf("%w: missing bucket command", ErrConfig)
		}
		return nil
	}
	sub := args[0]
	fs, opts := bucketFlags(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, bucketUsage); fs.PrintDefaults() }
	pos, err := parseClientFlags(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	want := map[string]int{"grant": 3, "revoke": 2, "policy": 1}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("%w: unknown bucket command %q (ssegate bucket help)", ErrConfig, sub)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: bucket %s takes %d argument(s), got %d", ErrConfig, sub, n, len(pos))
	}
	if !accountIDPattern.MatchString(opts.accountID) {
		return fmt.Errorf("%w: --account-id %q: want 12 digits", ErrConfig, opts.accountID)
	}
	if sub != "policy" && !iamUserName.MatchString(pos[1]) {
		return fmt.Errorf("%w: user name %q: want 1-64 characters of [A-Za-z0-9+=,.@_-]", ErrConfig, pos[1])
	}
	if sub == "grant" && grantActions[pos[2]] == nil {
		return fmt.Errorf("%w: access %q: want read or read-write", ErrConfig, pos[2])
	}
	creds, err := clientRootCredentials(opts.dataDir, getenv)
	if err != nil {
		return err
	}
	tlsConfig, err := clientTLSConfig(opts.caCert)
	if err != nil {
		return err
	}
	httpClient := awshttp.NewBuildableClient()
	if tlsConfig != nil {
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) { tr.TLSClientConfig = tlsConfig })
	}
	c := &bucketClient{s3: s3.New(s3.Options{
		BaseEndpoint: aws.String(opts.endpoint),
		UsePathStyle: true,
		Region:       opts.region,
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKey, creds.SecretKey, ""),
		HTTPClient:   httpClient,
	})}
	bucket := pos[0]
	switch sub {
	case "grant":
		arn := "arn:aws:iam::" + opts.accountID + ":user/" + pos[1]
		if err := c.grant(ctx, bucket, pos[1], arn, pos[2]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted %s %s access to bucket %s\n", pos[1], pos[2], bucket)
	case "revoke":
		found, err := c.revoke(ctx, bucket, pos[1])
		if err != nil {
			return err
		}
		if found {
			fmt.Fprintf(stdout, "revoked %s's access to bucket %s\n", pos[1], bucket)
		} else {
			fmt.Fprintf(stdout, "%s had no grant on bucket %s\n", pos[1], bucket)
		}
	case "policy":
		doc, err := c.policy(ctx, bucket)
		if err != nil {
			return err
		}
		if doc == "" {
			fmt.Fprintf(stderr, "bucket %s has no policy\n", bucket)
			return nil
		}
		fmt.Fprintln(stdout, doc)
	}
	return nil
}

type bucketOptions struct {
	endpoint, region, accountID, dataDir, caCert string
}

// bucketFlags are the client flags; each has its SSEGATE_* variable.
func bucketFlags(out io.Writer) (*flag.FlagSet, *bucketOptions) {
	o := new(bucketOptions)
	fs := flag.NewFlagSet("bucket", flag.ContinueOnError)
	fs.SetOutput(out)
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	str(&o.endpoint, "endpoint", "http://127.0.0.1:9900", "the gateway's S3 endpoint")
	str(&o.region, "region", "us-east-1", "the gateway's region")
	str(&o.accountID, "account-id", "000000000000", "the gateway's account id, for user ARNs")
	str(&o.dataDir, "data-dir", "./data", "directory holding credentials.json")
	str(&o.caCert, "ca-cert", "", caCertUsage+"; default: the system's CAs")
	return fs, o
}

// parseClientFlags sets each flag of fs from its SSEGATE_* variable, then
// from args, where flags may come between the positional arguments
// (returned in order).
func parseClientFlags(fs *flag.FlagSet, args []string, getenv func(string) string) ([]string, error) {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%w: %s=%q: %v", ErrConfig, envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// clientRootCredentials are the root credentials a client command signs
// with: the environment, else <dataDir>/credentials.json. Unlike serve it
// never creates the file.
func clientRootCredentials(dataDir string, getenv func(string) string) (rootCredentials, error) {
	ak, sk := getenv(envPrefix+"ACCESS_KEY"), getenv(envPrefix+"SECRET_KEY")
	if ak != "" || sk != "" {
		if ak == "" || sk == "" {
			return rootCredentials{}, fmt.Errorf("%w: set both %sACCESS_KEY and %sSECRET_KEY", ErrConfig, envPrefix, envPrefix)
		}
		return rootCredentials{AccessKey: ak, SecretKey: sk}, nil
	}
	path := filepath.Join(dataDir, credentialsFile)
	if _, err := os.Stat(path); err != nil {
		return rootCredentials{}, fmt.Errorf("%w: no root credentials: set %sACCESS_KEY/%sSECRET_KEY or --data-dir (%s: %v)",
			ErrConfig, envPrefix, envPrefix, path, errors.Unwrap(err))
	}
	creds, _, err := loadOrCreateCredentials(dataDir) // the file exists: only loads
	return creds, err
}

// bucketClient edits bucket policies through the S3 API.
type bucketClient struct{ s3 *s3.Client }

func grantSid(user string) string { return "ssegate-grant-" + user }

// grant replaces user's statement (if any) with one for access.
func (c *bucketClient) grant(ctx context.Context, bucket, user, arn, access string) error {
	doc, err := c.policy(ctx, bucket)
	if err != nil {
		return err
	}
	p, err := parsePolicyDoc(doc)
	if err != nil {
		return err
	}
	p.remove(grantSid(user))
	st, err := json.Marshal(map[string]any{
		"Sid":       grantSid(user),
		"Effect":    "Allow",
		"Principal": map[string]string{"AWS": arn},
		"Action":    grantActions[access],
		"Resource":  []string{"arn:aws:s3:::" + bucket, "arn:aws:s3:::" + bucket + "/*"},
	})
	if err != nil {
		return err
	}
	p.statements = append(p.statements, st)
	return c.put(ctx, bucket, p)
}

// revoke removes user's statement; found is false if there was none.
func (c *bucketClient) revoke(ctx context.Context, bucket, user string) (found bool, err error) {
	doc, err := c.policy(ctx, bucket)
	if err != nil || doc == "" {
		return false, err
	}
	p, err := parsePolicyDoc(doc)
	if err != nil {
		return false, err
	}
	if !p.remove(grantSid(user)) {
		return false, nil
	}
	if len(p.statements) == 0 {
		_, err = c.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)})
		return true, err
	}
	return true, c.put(ctx, bucket, p)
}

// policy returns the bucket policy, "" if the bucket has none.
func (c *bucketClient) policy(ctx context.Context, bucket string) (string, error) {
	out, err := c.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucketPolicy" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get policy of bucket %s: %w", bucket, err)
	}
	return aws.ToString(out.Policy), nil
}

func (c *bucketClient) put(ctx context.Context, bucket string, p *policyDoc) error {
	doc, err := p.marshal()
	if err != nil {
		return err
	}
	if _, err := c.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)}); err != nil {
		return fmt.Errorf("put policy of bucket %s: %w", bucket, err)
	}
	return nil
}

// policyDoc is a policy edited statement by statement: every other field
// and statement is kept as it was.
type policyDoc struct {
	top        map[string]json.RawMessage
	statements []json.RawMessage
}

func parsePolicyDoc(doc string) (*policyDoc, error) {
	p := &policyDoc{top: map[string]json.RawMessage{}}
	if doc == "" {
		p.top["Version"] = json.RawMessage(`"2012-10-17"`)
		return p, nil
	}
	if err := json.Unmarshal([]byte(doc), &p.top); err != nil {
		return nil, fmt.Errorf("the bucket's current policy is not a JSON object: %w", err)
	}
	raw := bytes.TrimSpace(p.top["Statement"])
	if len(raw) > 0 && raw[0] == '{' {
		p.statements = []json.RawMessage{raw}
	} else if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p.statements); err != nil {
			return nil, fmt.Errorf("the bucket's current policy has an unreadable Statement: %w", err)
		}
	}
	return p, nil
}

// remove drops the statements with Sid sid and reports whether any was.
func (p *policyDoc) remove(sid string) bool {
	kept := p.statements[:0]
	found := false
	for _, st := range p.statements {
		var s struct{ Sid string }
		if json.Unmarshal(st, &s) == nil && s.Sid == sid {
			found = true
			continue
		}
		kept = append(kept, st)
	}
	p.statements = kept
	return found
}

func (p *policyDoc) marshal() (string, error) {
	st, err := json.Marshal(p.statements)
	if err != nil {
		return "", err
	}
	p.top["Statement"] = st
	b, err := json.MarshalIndent(p.top, "", "  ")
	return string(b), err
}
