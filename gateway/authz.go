package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/ssegate/ssegate/kms/policy"
	"github.com/ssegate/ssegate/store"
)

// S3 authorization (docs/authorization.md, "S3: ownership and bucket
// policies"). Every S3 operation is checked once, before its handler, by
// authorized, keyed on the route's op name through opActions. The few
// checks that depend on the request body or on a second resource are made
// by the handlers through allow: the copy source of CopyObject and
// UploadPartCopy, each key of DeleteObjects, and the ListBuckets filter.

// opAction is the IAM action an S3 operation needs and whether its resource
// is the object (arn:aws:s3:::bucket/key) or the bucket (arn:aws:s3:::bucket).
type opAction struct {
	action string
	object bool
}

// opActions is the action table of docs/authorization.md. An operation
// missing from it (and from opsCheckedInHandler) is denied to everyone but
// the account root, so a new route can't be reachable unchecked.
var opActions = map[string]opAction{
	"GetObject":               {"s3:GetObject", true},
	"HeadObject":              {"s3:GetObject", true},
	"PutObject":               {"s3:PutObject", true},
	"CopyObject":              {"s3:PutObject", true},
	"CreateMultipartUpload":   {"s3:PutObject", true},
	"UploadPart":              {"s3:PutObject", true},
	"UploadPartCopy":          {"s3:PutObject", true},
	"CompleteMultipartUpload": {"s3:PutObject", true},
	"DeleteObject":            {"s3:DeleteObject", true},
	"AbortMultipartUpload":    {"s3:AbortMultipartUpload", true},
	"ListParts":               {"s3:ListMultipartUploadParts", true},
	"GetObjectTagging":        {"s3:GetObjectTagging", true},
	"PutObjectTagging":        {"s3:PutObjectTagging", true},
	"DeleteObjectTagging":     {"s3:DeleteObjectTagging", true},
	"ListObjects":             {"s3:ListBucket", false},
	"ListObjectsV2":           {"s3:ListBucket", false},
	"HeadBucket":              {"s3:ListBucket", false},
	"ListMultipartUploads":    {"s3:ListBucketMultipartUploads", false},
	"GetBucketLocation":       {"s3:GetBucketLocation", false},
	"GetBucketVersioning":     {"s3:GetBucketVersioning", false},
	"GetBucketEncryption":     {"s3:GetEncryptionConfiguration", false},
	"PutBucketEncryption":     {"s3:PutEncryptionConfiguration", false},
	"DeleteBucketEncryption":  {"s3:PutEncryptionConfiguration", false},
	"GetBucketPolicy":         {"s3:GetBucketPolicy", false},
	"PutBucketPolicy":         {"s3:PutBucketPolicy", false},
	"DeleteBucketPolicy":      {"s3:DeleteBucketPolicy", false},
	"DeleteBucket":            {"s3:DeleteBucket", false},
}

// opsCheckedInHandler are the operations whose authorization depends on
// more than the route: ListBuckets filters its answer, CreateBucket is open
// to every principal (the creator becomes the owner), DeleteObjects checks
// s3:DeleteObject per key and reports denials per key, as S3 does.
var opsCheckedInHandler = map[string]bool{
	"ListBuckets":   true,
	"CreateBucket":  true,
	"DeleteObjects": true,
}

// Condition keys a bucket policy may use (and the request context carries).
const (
	condPrincipalArn    = "aws:PrincipalArn"
	condUsername        = "aws:username"
	condSecureTransport = "aws:SecureTransport"
	condPrefix          = "s3:prefix"
	condSSE             = "s3:x-amz-server-side-encryption"
	condSSEKMSKeyID     = "s3:x-amz-server-side-encryption-aws-kms-key-id"
)

var bucketPolicyConditionKeys = []string{
	condPrincipalArn, condUsername, condSecureTransport, condPrefix, condSSE, condSSEKMSKeyID,
}

// principal is the authenticated caller, parsed from its ARN.
type principal struct {
	arn     string
	account string // 12-digit account id from the ARN
	user    string // IAM user name; "" for the root
	root    bool
}

// principalOf parses "arn:aws:iam::<account>:root" and
// "arn:aws:iam::<account>:user/<name>". Anything else is a principal that
// is neither root nor a user: it may only do what a policy naming its exact
// ARN allows (fail closed).
func principalOf(arn string) principal {
	p := principal{arn: arn}
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return p
	}
	account, res, ok := strings.Cut(rest, ":")
	if !ok || account == "" {
		return p
	}
	p.account = account
	switch {
	case res == "root":
		p.root = true
	case strings.HasPrefix(res, "user/") && len(res) > len("user/"):
		p.user = strings.TrimPrefix(res, "user/")
	}
	return p
}

func bucketARN(bucket string) string      { return "arn:aws:s3:::" + bucket }
func objectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// authorized wraps the handler of operation op with its authorization
// check. It runs after authentication and after withTarget has validated
// the bucket and key.
func (s *Server) authorized(op string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.authorizeOp(r, op); err != nil {
			return err
		}
		return h(w, r)
	}
}

// authorizeOp is the one place every S3 operation is authorized.
func (s *Server) authorizeOp(r *http.Request, op string) error {
	ri := requestInfo(r)
	if ri.auth.ARN == "" {
		// A credential without a principal is a wiring mistake; it may
		// do nothing rather than create buckets nobody can own.
		return errAccessDenied
	}
	p := principalOf(ri.auth.ARN)
	if p.root {
		return nil // rule 1: the account root may do everything on the S3 side
	}
	if opsCheckedInHandler[op] {
		if op == "DeleteObjects" {
			// The per-key checks come later; a missing bucket is 404 first.
			_, err := s.bucketAuthz(r.Context(), ri.bucket)
			return err
		}
		return nil
	}
	a, ok := opActions[op]
	if !ok {
		return errAccessDenied
	}
	key := ""
	if a.object {
		key = ri.key
	}
	return s.allow(r.Context(), p, a.action, ri.bucket, key, a.object, requestConditions(r, p, op))
}

// allow applies the algorithm of docs/authorization.md to principal p,
// action on bucket (object key when object is set) with condition context
// cond. A missing bucket is store.ErrNoSuchBucket (404 before 403, as S3).
func (s *Server) allow(ctx context.Context, p principal, action, bucket, key string, object bool, cond map[string][]string) error {
	if p.root {
		return nil
	}
	ba, err := s.bucketAuthz(ctx, bucket)
	if err != nil {
		return err
	}
	resource := bucketARN(bucket)
	if object {
		resource = objectARN(bucket, key)
	}
	d := policy.Decision{}
	if ba.policy != nil {
		d = ba.policy.Evaluate(policy.Request{
			Principal: p.arn, Account: p.account, Action: action, Resource: resource, Context: cond,
		})
	}
	switch {
	case d.Effect == policy.Deny: // rule 2: an explicit deny beats ownership
		s.log.Debug("authz deny", "principal", p.arn, "action", action, "resource", resource, "statement", d.Statement)
		return errAccessDenied
	case ba.owner != "" && ba.owner == p.arn: // rule 3
		return nil
	case d.Effect == policy.Allow: // rule 4
		return nil
	}
	s.log.Debug("authz implicit deny", "principal", p.arn, "action", action, "resource", resource)
	return errAccessDenied
}

// allowObject authorizes a second object of a request: the copy source
// (s3:GetObject) or a key of DeleteObjects (s3:DeleteObject).
func (s *Server) allowObject(r *http.Request, action, bucket, key string) error {
	p := principalOf(requestInfo(r).auth.ARN)
	if p.root {
		return nil
	}
	return s.allow(r.Context(), p, action, bucket, key, true, baseConditions(r, p))
}

// baseConditions are the global condition keys of every request.
func baseConditions(r *http.Request, p principal) map[string][]string {
	secure := "false"
	if r.TLS != nil {
		secure = "true"
	}
	c := map[string][]string{
		condPrincipalArn:    {p.arn},
		condSecureTransport: {secure},
	}
	// aws:username exists for IAM users only, as in AWS.
	if p.user != "" {
		c[condUsername] = []string{p.user}
	}
	return c
}

// requestConditions adds the operation's own condition keys: s3:prefix on
// listings (present, possibly empty, on every ListObjects request) and the
// SSE request headers on writes. The KMS key id is the header as sent (a
// key id, ARN or alias), not resolved to the key ARN as AWS does:
// docs/authorization.md.
func requestConditions(r *http.Request, p principal, op string) map[string][]string {
	c := baseConditions(r, p)
	switch op {
	case "ListObjects", "ListObjectsV2":
		c[condPrefix] = []string{r.URL.Query().Get("prefix")}
	case "PutObject", "CreateMultipartUpload", "CopyObject":
		if v := r.Header.Get("X-Amz-Server-Side-Encryption"); v != "" {
			c[condSSE] = []string{v}
		}
		if v := r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); v != "" {
			c[condSSEKMSKeyID] = []string{v}
		}
	}
	return c
}

// visibleBuckets filters a ListBuckets answer: the root sees every bucket,
// a user those it owns or whose policy allows it s3:ListBucket. A bucket
// whose authorization state can't be read is left out (and logged).
func (s *Server) visibleBuckets(r *http.Request, bs []store.BucketInfo) []store.BucketInfo {
	p := principalOf(requestInfo(r).auth.ARN)
	if p.root {
		return bs
	}
	cond := baseConditions(r, p)
	out := bs[:0:0]
	for _, b := range bs {
		err := s.allow(r.Context(), p, "s3:ListBucket", b.Name, "", false, cond)
		if err == nil {
			out = append(out, b)
			continue
		}
		var ae *apiError
		if !errors.As(err, &ae) && !errors.Is(err, store.ErrNoSuchBucket) {
			s.log.Error("list buckets: bucket authorization", "request_id", requestInfo(r).id, "bucket", b.Name, "err", err)
		}
	}
	return out
}
