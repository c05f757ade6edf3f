package minio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssegate/ssegate/store"
)

// Config says how to reach the backend.
type Config struct {
	Endpoint  string // http(s)://host:port
	AccessKey string
	SecretKey string
	Region    string // default us-east-1
	// Insecure skips TLS certificate verification (test setups only).
	Insecure bool
	// MaxRetries bounds minio-go's retries of failed requests; 0 keeps its
	// default (10, with backoff: a dead backend answers after seconds).
	MaxRetries int
}

// String never shows the secret key.
func (c Config) String() string {
	return fmt.Sprintf("minio.Config{Endpoint: %s, AccessKey: %s, Region: %s, Insecure: %v}", c.Endpoint, c.AccessKey, c.Region, c.Insecure)
}

// Store is a store.Store on an S3/MinIO server.
type Store struct {
	core     minio.Core
	client   *minio.Client
	http     *http.Client
	endpoint *url.URL
	cfg      Config
	// swept holds the buckets whose old temporary objects this Store has
	// removed (tmp.go).
	swept sync.Map
}

var _ store.Store = (*Store)(nil)

// sysPrefix is the reserved key prefix for gateway state inside a bucket.
const sysPrefix = ".ssegate.sys/"

// putPartSize bounds the memory minio-go uses for a Put of unknown size:
// it buffers one part of this size (and then caps such objects at 10,000
// parts, 156 GiB). The gateway passes exact sizes whenever it knows them.
const putPartSize = 16 << 20

// New connects to the backend and checks that it answers.
func New(ctx context.Context, cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("minio: endpoint %q must be http(s)://host:port", cfg.Endpoint)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, fmt.Errorf("minio: transport: %w", err)
	}
	// Every client request the gateway serves becomes a request to this one
	// host: keep as many idle connections as it may have requests in
	// flight, so a burst (64 concurrent uploads) does not close and redial
	// all but minio-go's default 16 afterwards.
	tr.MaxIdleConnsPerHost = tr.MaxIdleConns
	if cfg.Insecure && tr.TLSClientConfig != nil {
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Transport:    tr,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   cfg.MaxRetries,
		// Single PUTs then carry a CRC32C of the ciphertext in an
		// aws-chunked trailer: MinIO verifies it and stores it, which (a)
		// catches corruption between gateway and backend, and (b) lets the
		// metadata-completing self-copy (updateMeta) stay metadata-only.
		// MinIO rewrites every byte on a self-copy of an object without a
		// checksum, to give the copy the CRC64NVME S3 requires
		// (TestLatePutWritesTheDataOnce).
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("minio: client: %w", err)
	}
	s := &Store{
		core:     minio.Core{Client: client},
		client:   client,
		http:     &http.Client{Transport: tr},
		endpoint: u,
		cfg:      cfg,
	}
	if _, err := client.ListBuckets(ctx); err != nil {
		return nil, mapErr(err, "minio: connect %s", u.Host)
	}
	return s, nil
}

// mapErr turns backend errors into store sentinels (wrapped, with context).
func mapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if s := sentinel(err); s != nil {
		return fmt.Errorf("%s: %w (%v)", msg, s, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func sentinel(err error) error {
	for _, known := range []error{store.ErrNoSuchBucket, store.ErrBucketExists, store.ErrBucketNotEmpty,
		store.ErrNotFound, store.ErrNoSuchUpload, store.ErrInvalidPart, store.ErrInvalidRange,
		store.ErrInvalidKey, store.ErrInvalidBucket, store.ErrIncompleteBody, store.ErrUnavailable,
		store.ErrPreconditionFail, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, known) {
			return nil // already meaningful; keep the chain as is
		}
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchBucket":
		return store.ErrNoSuchBucket
	case "NoSuchKey", "NoSuchVersion":
		return store.ErrNotFound
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return store.ErrBucketExists
	case "BucketNotEmpty":
		return store.ErrBucketNotEmpty
	case "NoSuchUpload":
		return store.ErrNoSuchUpload
	case "InvalidPart", "InvalidPartOrder", "EntityTooSmall":
		return store.ErrInvalidPart
	case "InvalidRange":
		return store.ErrInvalidRange
	case "XMinioInvalidObjectName", "XMinioInvalidResourceName", "InvalidObjectName", "KeyTooLongError", "XMinioObjectExistsAsDirectory", "XMinioParentIsObject":
		return store.ErrInvalidKey
	case "InvalidBucketName":
		return store.ErrInvalidBucket
	case "PreconditionFailed":
		return store.ErrPreconditionFail
	case "IncompleteBody":
		return store.ErrIncompleteBody
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized", "RequestTimeout", "InternalError":
		return store.ErrUnavailable
	}
	switch minio.ToErrorResponse(err).StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		// An answer without a body (every HEAD) has only its status: a
		// server-side failure is the backend being unavailable, as the
		// codes above say when a body names them.
		return store.ErrUnavailable
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return store.ErrUnavailable
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return store.ErrUnavailable
	}
	return nil
}

func checkKey(key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, sysPrefix) || key == strings.TrimSuffix(sysPrefix, "/") {
		return fmt.Errorf("%w: %q is reserved", store.ErrInvalidKey, sysPrefix)
	}
	return nil
}

func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	err := s.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	return mapErr(err, "minio: create bucket %s", bucket)
}

func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	res, err := s.List(ctx, bucket, store.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(res.Objects) > 0 || len(res.CommonPrefixes) > 0 {
		return fmt.Errorf("minio: delete bucket %s: %w", bucket, store.ErrBucketNotEmpty)
	}
	// Only our hidden objects remain: force-delete removes them with the
	// bucket in one step. An object Put racing with this is lost, as on
	// the filesystem backend.
	err = s.client.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true})
	return mapErr(err, "minio: delete bucket %s", bucket)
}

func (s *Store) HeadBucket(ctx context.Context, bucket string) (store.BucketInfo, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return store.BucketInfo{}, err
	}
	ok, err := s.client.BucketExists(ctx, bucket)
	if err != nil {
		return store.BucketInfo{}, mapErr(err, "minio: head bucket %s", bucket)
	}
	if !ok {
		return store.BucketInfo{}, fmt.Errorf("minio: bucket %s: %w", bucket, store.ErrNoSuchBucket)
	}
	// S3 has no HEAD with a creation date; ListBuckets has it.
	all, err := s.ListBuckets(ctx)
	if err != nil {
		return store.BucketInfo{}, err
	}
	for _, b := range all {
		if b.Name == bucket {
			return b, nil
		}
	}
	return store.BucketInfo{Name: bucket}, nil
}

func (s *Store) ListBuckets(ctx context.Context) ([]store.BucketInfo, error) {
	bs, err := s.client.ListBuckets(ctx)
	if err != nil {
		return nil, mapErr(err, "minio: list buckets")
	}
	out := make([]store.BucketInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, store.BucketInfo{Name: b.Name, Created: b.CreationDate})
	}
	return out, nil
}

// bucketMissing tells ErrNotFound from ErrNoSuchBucket after a HEAD-style
// 404, which carries no error body.
func (s *Store) bucketMissing(ctx context.Context, bucket string) bool {
	ok, err := s.client.BucketExists(ctx, bucket)
	return err == nil && !ok
}

func configKey(name string) string { return sysPrefix + "config/" + name }

func (s *Store) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	if err := store.CheckConfigName(name); err != nil {
		return err
	}
	_, err := s.core.PutObject(ctx, bucket, configKey(name), strings.NewReader(string(data)), int64(len(data)), "", "", minio.PutObjectOptions{})
	return mapErr(err, "minio: put bucket config %s/%s", bucket, name)
}

func (s *Store) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return nil, err
	}
	if err := store.CheckConfigName(name); err != nil {
		return nil, err
	}
	rc, _, _, err := s.core.GetObject(ctx, bucket, configKey(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, mapErr(err, "minio: bucket config %s/%s", bucket, name)
	}
	defer rc.Close()
	data, err := readLimited(rc, 1<<20)
	return data, mapErr(err, "minio: bucket config %s/%s", bucket, name)
}

func (s *Store) DeleteBucketConfig(ctx context.Context, bucket, name string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	if err := store.CheckConfigName(name); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, bucket, configKey(name), minio.RemoveObjectOptions{})
	return mapErr(err, "minio: delete bucket config %s/%s", bucket, name)
}
