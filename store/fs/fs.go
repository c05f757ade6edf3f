package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ssegate/ssegate/store"
)

// Store keeps buckets and objects under one root directory. It is safe for
// concurrent use by one process.
type Store struct {
	root   string
	tmp    string
	noSync bool
	// locks serialise the read-old-sidecar-and-replace step per key (striped).
	locks [256]sync.Mutex
	// dirLocks keep Delete's removal of empty directories from racing with
	// a writer that has created a directory but not yet put a file in it:
	// writers hold a read lock from creating the directories until their
	// files are inside, Delete a write lock while removing directories.
	dirLocks [64]sync.RWMutex
	bufs     sync.Pool
	// inlineMax: Put stores objects up to this size inline in the sidecar.
	inlineMax int64

	// Background orphan sweeps (sweep.go): buckets already swept or being
	// swept, one sweep at a time, and how old an unreferenced data file
	// must be to go.
	swept       sync.Map
	sweepSem    chan struct{}
	sweeps      sync.WaitGroup
	orphanGrace time.Duration
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithoutFsync skips fsync of files and directories. Only for tests and
// benchmarks on throwaway data: a power loss can then lose committed writes.
func WithoutFsync() Option { return func(s *Store) { s.noSync = true } }

const (
	sysDir      = ".sys"
	tmpDir      = ".tmp"
	copyBufSize = 1 << 20
)

// New opens (creating if needed) a filesystem store at root and removes
// temp files left by a previous process.
func New(root string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fs: root %q: %w", root, err)
	}
	s := &Store{root: abs, tmp: filepath.Join(abs, tmpDir), sweepSem: make(chan struct{}, 1), orphanGrace: defaultOrphanGrace, inlineMax: inlineMax}
	for _, o := range opts {
		o(s)
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("fs: create root: %w", err)
	}
	// A crashed process leaves temp files behind; nothing refers to them.
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("fs: clean temp dir: %w", err)
	}
	if err := os.Mkdir(s.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("fs: create temp dir: %w", err)
	}
	return s, nil
}

func (s *Store) lockFor(parts ...string) *sync.Mutex {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

func (s *Store) dirLock(bucket string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(bucket))
	return &s.dirLocks[h.Sum32()%uint32(len(s.dirLocks))]
}

func newGen() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func (s *Store) bucketDir(bucket string) string { return filepath.Join(s.root, bucket) }

// checkBucket validates the name and returns the bucket directory, or
// ErrNoSuchBucket.
func (s *Store) checkBucket(bucket string) (string, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return "", err
	}
	dir := s.bucketDir(bucket)
	if _, err := os.Stat(filepath.Join(dir, sysDir)); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return "", fmt.Errorf("fs: bucket %s: %w", bucket, store.ErrNoSuchBucket)
		}
		return "", fmt.Errorf("fs: bucket %s: %w", bucket, err)
	}
	return dir, nil
}

type bucketRecord struct {
	Created time.Time `json:"created"`
}

func (s *Store) CreateBucket(ctx context.Context, bucket string) error {
	if err := store.CheckBucketName(bucket); err != nil {
		return err
	}
	// Build the bucket in the temp dir and rename it into place, so a bucket
	// is never seen without its .sys directory. Renaming onto an existing
	// bucket fails because that directory is never empty.
	stage, err := os.MkdirTemp(s.tmp, "bucket-")
	if err != nil {
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	defer os.RemoveAll(stage)
	if err := os.MkdirAll(filepath.Join(stage, sysDir, "config"), 0o700); err != nil {
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	if err := os.Mkdir(filepath.Join(stage, sysDir, "mpu"), 0o700); err != nil {
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	rec, _ := json.Marshal(bucketRecord{Created: time.Now().UTC()})
	if err := s.writeFileAtomic(filepath.Join(stage, sysDir, "bucket.json"), rec); err != nil {
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	if err := os.Chmod(stage, 0o700); err != nil {
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	if err := os.Rename(stage, s.bucketDir(bucket)); err != nil {
		if errors.Is(err, iofs.ErrExist) || isNotEmpty(err) {
			return fmt.Errorf("fs: create bucket %s: %w", bucket, store.ErrBucketExists)
		}
		return fmt.Errorf("fs: create bucket %s: %w", bucket, err)
	}
	return s.syncDir(s.root)
}

func (s *Store) DeleteBucket(ctx context.Context, bucket string) error {
	dir, err := s.checkBucket(bucket)
	if err != nil {
		return err
	}
	res, err := s.List(ctx, bucket, store.ListOptions{MaxKeys: 1})
	if err != nil {
		return err
	}
	if len(res.Objects) > 0 {
		return fmt.Errorf("fs: delete bucket %s: %w", bucket, store.ErrBucketNotEmpty)
	}
	// Move it out of sight first so the removal is atomic for readers. A Put
	// racing with this into the moved directory is lost, as on S3.
	trash := filepath.Join(s.tmp, "trash-"+newGen())
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("fs: delete bucket %s: %w", bucket, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("fs: delete bucket %s: %w", bucket, err)
	}
	return s.syncDir(s.root)
}

func (s *Store) HeadBucket(ctx context.Context, bucket string) (store.BucketInfo, error) {
	dir, err := s.checkBucket(bucket)
	if err != nil {
		return store.BucketInfo{}, err
	}
	var rec bucketRecord
	data, err := os.ReadFile(filepath.Join(dir, sysDir, "bucket.json"))
	if err != nil {
		return store.BucketInfo{}, fmt.Errorf("fs: head bucket %s: %w", bucket, err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return store.BucketInfo{}, fmt.Errorf("fs: head bucket %s: corrupt record: %w", bucket, err)
	}
	return store.BucketInfo{Name: bucket, Created: rec.Created}, nil
}

func (s *Store) ListBuckets(ctx context.Context) ([]store.BucketInfo, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("fs: list buckets: %w", err)
	}
	var out []store.BucketInfo
	for _, e := range ents {
		if !e.IsDir() || store.CheckBucketName(e.Name()) != nil {
			continue
		}
		bi, err := s.HeadBucket(ctx, e.Name())
		if errors.Is(err, store.ErrNoSuchBucket) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) configPath(bucket, name string) (string, error) {
	dir, err := s.checkBucket(bucket)
	if err != nil {
		return "", err
	}
	if err := store.CheckConfigName(name); err != nil {
		return "", err
	}
	return filepath.Join(dir, sysDir, "config", name), nil
}

func (s *Store) PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error {
	p, err := s.configPath(bucket, name)
	if err != nil {
		return err
	}
	if err := s.writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("fs: put bucket config %s/%s: %w", bucket, name, err)
	}
	return nil
}

func (s *Store) GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error) {
	p, err := s.configPath(bucket, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, fmt.Errorf("fs: bucket config %s/%s: %w", bucket, name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("fs: bucket config %s/%s: %w", bucket, name, err)
	}
	return data, nil
}

func (s *Store) DeleteBucketConfig(ctx context.Context, bucket, name string) error {
	p, err := s.configPath(bucket, name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("fs: delete bucket config %s/%s: %w", bucket, name, err)
	}
	return nil
}
