package gateway

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/ssegate/ssegate/store"
)

// Default bucket encryption: PutBucketEncryption, GetBucketEncryption and
// DeleteBucketEncryption, and the per-bucket lookup the object path makes
// on every write (bucketEncryption).

const (
	sseAES256  = "AES256"
	sseKMS     = "aws:kms"
	sseKMSDSSE = "aws:kms:dsse"

	encTypeSSEC = "SSE-C"
	encTypeNone = "NONE"

	// encryptionConfigName is the store's bucket config blob.
	encryptionConfigName = "encryption"
	// encCacheTTL bounds how long a change made through another gateway
	// instance on the same backend can go unnoticed by this one.
	encCacheTTL = 5 * time.Second
	// maxKMSKeyIDLen: an alias ARN is at most 2048 characters in AWS.
	maxKMSKeyIDLen = 2048
)

// bucketSSE is a bucket's effective default encryption.
type bucketSSE struct {
	Algorithm        string // "AES256" or "aws:kms"
	KMSKeyID         string // as configured; "" = alias/aws/s3
	BucketKeyEnabled bool
	BlockSSEC        bool
}

// encryptionConfig is the stored form of a bucket's configuration: compact,
// versioned JSON, so the store never holds client XML we would re-parse.
type encryptionConfig struct {
	V         int      `json:"v"`
	Algorithm string   `json:"alg"`
	KMSKeyID  string   `json:"key,omitempty"`
	BucketKey bool     `json:"bk,omitempty"`
	Blocked   []string `json:"blocked,omitempty"` // as the client set them: "SSE-C" or "NONE"
}

const encryptionConfigVersion = 1

func (c encryptionConfig) effective() bucketSSE {
	b := bucketSSE{Algorithm: c.Algorithm, KMSKeyID: c.KMSKeyID, BucketKeyEnabled: c.BucketKey}
	for _, t := range c.Blocked {
		if t == encTypeSSEC {
			b.BlockSSEC = true
		}
	}
	return b
}

// decodeEncryptionConfig parses a stored blob. An unreadable or unknown
// blob is an error, never the server default: silently falling back could
// store objects with weaker protection than the owner configured.
func decodeEncryptionConfig(data []byte) (encryptionConfig, error) {
	var c encryptionConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("bucket encryption config: %w", err)
	}
	if c.V != encryptionConfigVersion {
		return c, fmt.Errorf("bucket encryption config: unknown version %d", c.V)
	}
	if c.Algorithm != sseAES256 && c.Algorithm != sseKMS {
		return c, fmt.Errorf("bucket encryption config: unknown algorithm %q", c.Algorithm)
	}
	return c, nil
}

// The XML of ServerSideEncryptionConfiguration, shared by the Put request
// and the Get response.
type sseConfigXML struct {
	XMLName xml.Name     `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string       `xml:"xmlns,attr,omitempty"`
	Rules   []sseRuleXML `xml:"Rule"`
}

type sseRuleXML struct {
	Default          *sseDefaultXML `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled *bool          `xml:"BucketKeyEnabled"`
	Blocked          *blockedXML    `xml:"BlockedEncryptionTypes"`
}

type sseDefaultXML struct {
	SSEAlgorithm   string  `xml:"SSEAlgorithm"`
	KMSMasterKeyID *string `xml:"KMSMasterKeyID"`
}

type blockedXML struct {
	EncryptionType []string `xml:"EncryptionType"`
}

// parseEncryptionConfig validates a PutBucketEncryption request body as
// AWS does: schema violations (no rule, two rules, no or unknown
// algorithm, unknown encryption type) are MalformedXML; a key id with
// AES256 is InvalidArgument.
func parseEncryptionConfig(req sseConfigXML) (encryptionConfig, error) {
	if len(req.Rules) != 1 {
		return encryptionConfig{}, errMalformedXML
	}
	rule := req.Rules[0]
	if rule.Default == nil {
		return encryptionConfig{}, errMalformedXML
	}
	c := encryptionConfig{V: encryptionConfigVersion, Algorithm: rule.Default.SSEAlgorithm}
	switch c.Algorithm {
	case sseAES256, sseKMS:
	case sseKMSDSSE:
		// A valid AWS value, but dual-layer encryption is not something
		// this gateway does; saying so beats quietly applying single-layer.
		return encryptionConfig{}, errNotImplemented.with("The aws:kms:dsse algorithm is not supported.")
	default:
		return encryptionConfig{}, errMalformedXML
	}
	if k := rule.Default.KMSMasterKeyID; k != nil {
		if c.Algorithm != sseKMS {
			return encryptionConfig{}, errInvalidArgument.with("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		}
		if *k == "" || len(*k) > maxKMSKeyIDLen || !utf8.ValidString(*k) {
			return encryptionConfig{}, errInvalidArgument.with("The KMSMasterKeyID is not valid.")
		}
		c.KMSKeyID = *k
	}
	if rule.BucketKeyEnabled != nil {
		c.BucketKey = *rule.BucketKeyEnabled
	}
	if rule.Blocked != nil {
		seen := map[string]bool{}
		for _, t := range rule.Blocked.EncryptionType {
			if t != encTypeSSEC && t != encTypeNone {
				return encryptionConfig{}, errMalformedXML
			}
			if !seen[t] {
				seen[t] = true
				c.Blocked = append(c.Blocked, t)
			}
		}
		if seen[encTypeSSEC] && seen[encTypeNone] {
			return encryptionConfig{}, errInvalidArgument.with("NONE cannot be combined with other encryption types.")
		}
	}
	return c, nil
}

// PutBucketEncryption (PUT ?encryption). AWS requires an integrity check
// on this body (Content-MD5 or a flexible checksum), as for DeleteObjects.
func (s *Server) putBucketEncryption(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	var req sseConfigXML
	if err := readDigestedXML(r, &req); err != nil {
		return err
	}
	cfg, err := parseEncryptionConfig(req)
	if err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode bucket encryption config: %w", err)
	}
	s.encCache.invalidate(bucket)
	err = s.deps.Store.PutBucketConfig(r.Context(), bucket, encryptionConfigName, data)
	// Invalidate again after the write: a lookup that raced with it may have
	// cached the old value in between.
	s.encCache.invalidate(bucket)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// GetBucketEncryption reports the effective configuration: the stored one,
// or the server default for a bucket without one (AWS has reported SSE-S3
// for such buckets since January 2023 instead of
// ServerSideEncryptionConfigurationNotFoundError).
func (s *Server) getBucketEncryption(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	cfg, err := s.loadEncryptionConfig(r.Context(), bucket)
	if err != nil {
		return err
	}
	def := &sseDefaultXML{SSEAlgorithm: cfg.Algorithm}
	if cfg.KMSKeyID != "" {
		k := cfg.KMSKeyID
		def.KMSMasterKeyID = &k
	}
	bk := cfg.BucketKey
	rule := sseRuleXML{Default: def, BucketKeyEnabled: &bk}
	if len(cfg.Blocked) > 0 {
		rule.Blocked = &blockedXML{EncryptionType: cfg.Blocked}
	}
	writeXML(w, http.StatusOK, sseConfigXML{Xmlns: s3XMLNS, Rules: []sseRuleXML{rule}})
	return nil
}

// DeleteBucketEncryption: 204, idempotent; the bucket falls back to the
// server default.
func (s *Server) deleteBucketEncryption(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	// Backends need not report a missing bucket on config deletion.
	if _, err := s.deps.Store.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	s.encCache.invalidate(bucket)
	err := s.deps.Store.DeleteBucketConfig(r.Context(), bucket, encryptionConfigName)
	s.encCache.invalidate(bucket)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// loadEncryptionConfig reads the stored configuration from the backend, or
// builds the server default when there is none. A missing bucket is
// store.ErrNoSuchBucket.
func (s *Server) loadEncryptionConfig(ctx context.Context, bucket string) (encryptionConfig, error) {
	data, err := s.deps.Store.GetBucketConfig(ctx, bucket, encryptionConfigName)
	if errors.Is(err, store.ErrNotFound) {
		return s.defaultEncryptionConfig(), nil
	}
	if err != nil {
		return encryptionConfig{}, err
	}
	c, err := decodeEncryptionConfig(data)
	if err != nil {
		return encryptionConfig{}, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	return c, nil
}

// defaultEncryptionConfig is Config.DefaultSSE: SSE-S3 unless the operator
// chose aws:kms (with DefaultKMSKeyID, "" meaning alias/aws/s3).
func (s *Server) defaultEncryptionConfig() encryptionConfig {
	c := encryptionConfig{V: encryptionConfigVersion, Algorithm: sseAES256}
	if s.cfg.DefaultSSE == sseKMS {
		c.Algorithm = sseKMS
		c.KMSKeyID = s.cfg.DefaultKMSKeyID
	}
	return c
}

// bucketEncryption returns the bucket's effective default encryption: the
// stored configuration or the server default. It is on the path of every
// write, so results are cached for encCacheTTL; Put/DeleteBucketEncryption
// on this gateway invalidate the entry at once.
func (s *Server) bucketEncryption(ctx context.Context, bucket string) (bucketSSE, error) {
	now := s.now()
	if v, ok := s.encCache.get(bucket, now); ok {
		return v, nil
	}
	gen := s.encCache.generation()
	c, err := s.loadEncryptionConfig(ctx, bucket)
	if err != nil {
		return bucketSSE{}, err
	}
	v := c.effective()
	s.encCache.put(bucket, v, now.Add(encCacheTTL), gen)
	return v, nil
}
