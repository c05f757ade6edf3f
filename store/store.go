package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store is what the gateway needs from a backend. It stores opaque bytes
// (ciphertext, once the sse layer sits in front of it) and a flat map of
// metadata per object; it knows nothing of S3 headers, encryption or users.
//
// Every method takes a context first; a cancelled context aborts the call and
// a Put or UploadPart interrupted that way leaves nothing visible.
type Store interface {
	// Buckets.
	CreateBucket(ctx context.Context, bucket string) error // ErrBucketExists
	DeleteBucket(ctx context.Context, bucket string) error // ErrNoSuchBucket, ErrBucketNotEmpty
	HeadBucket(ctx context.Context, bucket string) (BucketInfo, error)
	ListBuckets(ctx context.Context) ([]BucketInfo, error)

	// Bucket configuration blobs (e.g. "encryption", "tagging", "owner"),
	// stored by the backend out of sight of object listings. A missing one
	// is ErrNotFound. name matches [a-z0-9-]{1,64}.
	PutBucketConfig(ctx context.Context, bucket, name string, data []byte) error
	GetBucketConfig(ctx context.Context, bucket, name string) ([]byte, error)
	DeleteBucketConfig(ctx context.Context, bucket, name string) error

	// Put stores r (exactly size bytes; size -1 means "until EOF") under key,
	// atomically: readers see the old object or the new one, never a mix or
	// a prefix. If r returns an error or fewer than size bytes, nothing is
	// stored and that error is returned.
	//
	// meta is read again after r has returned io.EOF, so a caller may
	// complete it with values only known at the end of the body (a digest).
	// A backend that must send metadata before the body (S3) first stores
	// the entries as they were when Put was called, then, if they changed,
	// replaces them with a metadata-only update that applies only if the
	// object is still the one this Put wrote.
	//
	// A caller that completes meta at EOF marks ctx with WithLateMetadata.
	// The entries as they were at the call then describe an unfinished
	// object (the gateway hides it), so a backend that writes metadata in
	// two steps must keep the previous object at key visible until the
	// final metadata is in place: a failure or a crash in between leaves
	// the previous object, never the unfinished one, in its place ("old or
	// new, never lost"). A backend that commits atomically after EOF anyway
	// (store/fs) may ignore the flag.
	Put(ctx context.Context, bucket, key string, r io.Reader, size int64, meta Metadata) (ObjectInfo, error)
	// Get returns length bytes from offset (length -1: to the end). The
	// returned info describes the whole stored object. Reading past the end
	// is ErrInvalidRange.
	Get(ctx context.Context, bucket, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error)
	Head(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, bucket, key string) error
	List(ctx context.Context, bucket string, opts ListOptions) (ListResult, error)
	// Copy makes dst a copy of src's bytes with meta replacing src's
	// metadata, as cheaply as the backend can (hard link, server-side copy).
	// src and dst may be the same object: that is a metadata update.
	Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta Metadata) (ObjectInfo, error)

	// Multipart uploads. meta given at create is the object's metadata
	// unless Complete replaces it.
	CreateMultipart(ctx context.Context, bucket, key string, meta Metadata) (uploadID string, err error)
	// UploadPart stores one part (1..10000); uploading the same number again
	// replaces it. partMeta is kept with the part and returned by ListParts.
	UploadPart(ctx context.Context, bucket, key, uploadID string, part int, r io.Reader, size int64, partMeta Metadata) (PartInfo, error)
	// ListParts returns the uploaded parts in part-number order.
	ListParts(ctx context.Context, bucket, key, uploadID string) ([]PartInfo, error)
	// CompleteMultipart joins the named parts, in the order given (strictly
	// ascending numbers), into the object key with metadata meta, atomically.
	// A part that is missing, or whose ETag differs from the one given, is
	// ErrInvalidPart.
	CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, meta Metadata) (ObjectInfo, error)
	AbortMultipart(ctx context.Context, bucket, key, uploadID string) error
	ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]UploadInfo, error)
	// GetUpload returns the metadata given at CreateMultipart;
	// ErrNoSuchUpload if the upload is unknown or belongs to another key.
	GetUpload(ctx context.Context, bucket, key, uploadID string) (UploadInfo, error)
}

type lateMetadataKey struct{}

// WithLateMetadata returns ctx marked to tell Put that the caller will
// complete its metadata when the body reaches EOF (see Store.Put).
func WithLateMetadata(ctx context.Context) context.Context {
	return context.WithValue(ctx, lateMetadataKey{}, true)
}

// LateMetadata reports whether ctx was marked by WithLateMetadata.
func LateMetadata(ctx context.Context) bool {
	v, _ := ctx.Value(lateMetadataKey{}).(bool)
	return v
}

// Metadata is the flat metadata of an object or part. Keys are lower-case
// ASCII matching [a-z0-9][a-z0-9-]*; values are printable ASCII (callers
// encode anything else). Backends store it verbatim and return it verbatim.
type Metadata map[string]string

// Clone returns a copy of m.
func (m Metadata) Clone() Metadata {
	c := make(Metadata, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

type BucketInfo struct {
	Name    string
	Created time.Time
}

type ObjectInfo struct {
	Key          string
	Size         int64  // stored size in bytes
	ETag         string // backend's ETag, unquoted; opaque
	LastModified time.Time
	Meta         Metadata
}

type ListOptions struct {
	Prefix     string
	Delimiter  string
	StartAfter string // list keys strictly greater than this (marker / continuation)
	MaxKeys    int    // 1..1000; 0 means 1000
	// WithMeta asks for each object's Meta in the listing (one backend call
	// per page where the backend can).
	WithMeta bool
}

type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	// IsTruncated is set when more keys follow; NextStartAfter is then the
	// last key or common prefix returned, to pass as StartAfter.
	IsTruncated    bool
	NextStartAfter string
}

type PartInfo struct {
	Number       int
	Size         int64  // stored size
	ETag         string // backend's ETag for the part, unquoted
	LastModified time.Time
	Meta         Metadata
}

type CompletePart struct {
	Number int
	ETag   string // backend ETag, as returned by UploadPart/ListParts
}

type UploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Meta      Metadata
}

// Errors every backend returns (wrapped with context) so that callers can
// map them with errors.Is.
var (
	ErrNoSuchBucket     = errors.New("store: no such bucket")
	ErrBucketExists     = errors.New("store: bucket already exists")
	ErrBucketNotEmpty   = errors.New("store: bucket not empty")
	ErrNotFound         = errors.New("store: not found")
	ErrNoSuchUpload     = errors.New("store: no such upload")
	ErrInvalidPart      = errors.New("store: invalid part")
	ErrInvalidRange     = errors.New("store: invalid range")
	ErrInvalidKey       = errors.New("store: invalid object key")
	ErrInvalidBucket    = errors.New("store: invalid bucket name")
	ErrIncompleteBody   = errors.New("store: body shorter than declared size")
	ErrUnavailable      = errors.New("store: backend unavailable")
	ErrPreconditionFail = errors.New("store: precondition failed")
)

// ErrBodyTooLong is returned by a Put whose reader holds more than size bytes.
var ErrBodyTooLong = errors.New("store: body longer than declared size")

// ExpectEOF reads on after a body's declared size has been consumed, so that
// the reader reaches io.EOF before the object is committed (Put re-reads
// metadata only then, and readers that verify a digest report failure only
// then). Any byte there is ErrBodyTooLong.
func ExpectEOF(r io.Reader) error {
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return ErrBodyTooLong
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
