package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ssegate/ssegate/kms/policy"
	"github.com/ssegate/ssegate/store"
)

// Bucket ownership and bucket policies: the "owner" and "policy" bucket
// config blobs, PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, and
// the cached per-bucket authorization state (bucketAuthz) that authz.go
// evaluates on every request by a user.

const (
	ownerConfigName  = "owner"
	policyConfigName = "policy"
	// maxBucketPolicySize is S3's limit on a bucket policy.
	maxBucketPolicySize = 20 << 10
	// authzCacheTTL bounds how long an ownership or policy change made
	// through another gateway instance on the same backend goes unnoticed
	// here. Changes through this instance apply at once.
	authzCacheTTL = 5 * time.Second
)

// bucketPolicyOptions are what a bucket policy may name.
var bucketPolicyOptions = policy.ParseOptions{
	Services:        []string{"s3"},
	ConditionKeys:   bucketPolicyConditionKeys,
	RequireResource: true,
	MaxSize:         maxBucketPolicySize,
}

// bucketAuthzState is what authorization needs to know about a bucket.
type bucketAuthzState struct {
	owner  string         // ARN of the owner; "" means the account root
	policy *policy.Policy // nil: no bucket policy
}

// ownerRecord is the stored "owner" blob.
type ownerRecord struct {
	ARN string `json:"arn"`
}

// bucketAuthz returns the bucket's owner and parsed policy, from the cache
// or the store. A missing bucket is store.ErrNoSuchBucket and is never
// cached. A blob that can't be read or parsed is an error, never "no
// policy": a Deny we can't read must not turn into an allow.
func (s *Server) bucketAuthz(ctx context.Context, bucket string) (bucketAuthzState, error) {
	now := s.now()
	if v, ok := s.authzCache.get(bucket, now); ok {
		return v, nil
	}
	gen := s.authzCache.generation()
	v, err := s.loadBucketAuthz(ctx, bucket)
	if err != nil {
		return bucketAuthzState{}, err
	}
	s.authzCache.put(bucket, v, now.Add(authzCacheTTL), gen)
	return v, nil
}

func (s *Server) loadBucketAuthz(ctx context.Context, bucket string) (bucketAuthzState, error) {
	var v bucketAuthzState
	owner, err := s.loadOwner(ctx, bucket)
	if err != nil {
		return v, err
	}
	v.owner = owner
	doc, err := s.deps.Store.GetBucketConfig(ctx, bucket, policyConfigName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return v, nil
	case err != nil:
		return v, err
	}
	p, err := policy.Parse(doc, bucketPolicyOptions)
	if err != nil {
		return v, fmt.Errorf("bucket %s: stored policy: %w", bucket, err)
	}
	v.policy = p
	return v, nil
}

// loadOwner reads the owner ARN from the store: "" when the bucket has no
// owner record (it belongs to the account root).
func (s *Server) loadOwner(ctx context.Context, bucket string) (string, error) {
	data, err := s.deps.Store.GetBucketConfig(ctx, bucket, ownerConfigName)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var o ownerRecord
	if err := json.Unmarshal(data, &o); err != nil || o.ARN == "" {
		return "", fmt.Errorf("bucket %s: unreadable owner record", bucket)
	}
	return o.ARN, nil
}

// recordOwner stores the creator of a new bucket. The root's buckets need
// no record.
func (s *Server) recordOwner(ctx context.Context, bucket string, p principal) error {
	if p.root {
		return nil
	}
	data, err := json.Marshal(ownerRecord{ARN: p.arn})
	if err != nil {
		return err
	}
	s.authzCache.invalidate(bucket)
	err = s.deps.Store.PutBucketConfig(ctx, bucket, ownerConfigName, data)
	s.authzCache.invalidate(bucket)
	return err
}

// bucketExistsError is CreateBucket's answer for a name already taken:
// BucketAlreadyOwnedByYou for its owner (and the account root, which owns
// the account's buckets), BucketAlreadyExists for everyone else.
func (s *Server) bucketExistsError(ctx context.Context, bucket string, p principal) error {
	if p.root {
		return errBucketAlreadyOwned
	}
	owner, err := s.loadOwner(ctx, bucket)
	if errors.Is(err, store.ErrNoSuchBucket) {
		// Deleted meanwhile; the client may retry.
		return errBucketAlreadyExists
	}
	if err != nil {
		return err
	}
	if owner != "" && owner == p.arn {
		return errBucketAlreadyOwned
	}
	return errBucketAlreadyExists
}

// PutBucketPolicy (PUT ?policy): the JSON document, ≤ 20 KB, validated by
// kms/policy for S3 and checked to name only this bucket. 204 as in S3.
func (s *Server) putBucketPolicy(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	doc, err := readPolicyBody(r)
	if err != nil {
		return err
	}
	if err := validateBucketPolicy(doc, bucket); err != nil {
		return err
	}
	// Backends need not report a missing bucket when writing config.
	if _, err := s.deps.Store.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	s.authzCache.invalidate(bucket)
	err = s.deps.Store.PutBucketConfig(r.Context(), bucket, policyConfigName, doc)
	// Again after the write: a lookup racing with it may have cached the
	// old policy in between.
	s.authzCache.invalidate(bucket)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GetBucketPolicy: the document as stored; 404 NoSuchBucketPolicy without.
func (s *Server) getBucketPolicy(w http.ResponseWriter, r *http.Request) error {
	doc, err := s.deps.Store.GetBucketConfig(r.Context(), requestInfo(r).bucket, policyConfigName)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchBucketPolicy
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(doc)
	return err
}

// DeleteBucketPolicy: 204, also when there is none (as S3).
func (s *Server) deleteBucketPolicy(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	if _, err := s.deps.Store.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	s.authzCache.invalidate(bucket)
	err := s.deps.Store.DeleteBucketConfig(r.Context(), bucket, policyConfigName)
	s.authzCache.invalidate(bucket)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readPolicyBody reads the (verified) request body, refusing more than
// maxBucketPolicySize bytes before reading them.
func readPolicyBody(r *http.Request) ([]byte, error) {
	if r.ContentLength < 0 {
		return nil, errMissingContentLength
	}
	if r.ContentLength > maxBucketPolicySize {
		return nil, errMalformedPolicy.with("Policy exceeds the maximum allowed document size of 20480 bytes.")
	}
	body, err := newBodyReader(r, r.ContentLength)
	if err != nil {
		return nil, err
	}
	doc, err := io.ReadAll(body)
	if err != nil {
		return nil, readBodyError(err)
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, errMalformedPolicy.with("Policies must be valid JSON and the first byte must be '{'")
	}
	return doc, nil
}

// validateBucketPolicy parses doc as a bucket policy and checks that every
// Resource/NotResource is the bucket or an object pattern in it, as S3
// does ("Policy has invalid resource").
func validateBucketPolicy(doc []byte, bucket string) error {
	if _, err := policy.Parse(doc, bucketPolicyOptions); err != nil {
		return malformedPolicy(err)
	}
	resources, err := policyResources(doc)
	if err != nil {
		return errMalformedPolicy.with("Policies must be valid JSON and the first byte must be '{'")
	}
	want := bucketARN(bucket)
	for _, res := range resources {
		if res != want && !strings.HasPrefix(res, want+"/") {
			return errMalformedPolicy.with("Policy has invalid resource")
		}
	}
	return nil
}

// malformedPolicy turns a parser error into MalformedPolicy with the
// parser's reason (the document is the caller's own; no secret is in it).
func malformedPolicy(err error) error {
	msg := strings.TrimPrefix(err.Error(), "policy: ")
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return errMalformedPolicy.with(msg)
}

// policyResources lists the Resource and NotResource values of every
// statement of a document kms/policy has already accepted.
func policyResources(doc []byte) ([]string, error) {
	var top struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	var stmts []map[string]json.RawMessage
	if t := bytes.TrimSpace(top.Statement); len(t) > 0 && t[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(t, &one); err != nil {
			return nil, err
		}
		stmts = append(stmts, one)
	} else if err := json.Unmarshal(top.Statement, &stmts); err != nil {
		return nil, err
	}
	var out []string
	for _, st := range stmts {
		for name, raw := range st {
			if !strings.EqualFold(name, "Resource") && !strings.EqualFold(name, "NotResource") {
				continue
			}
			vals, err := stringOrList(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, vals...)
		}
	}
	return out, nil
}

func stringOrList(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	err := json.Unmarshal(raw, &list)
	return list, err
}
