package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// objectLayer is the one seam through which every object body and its
// metadata pass between the S3 handlers and the store, and the only place
// where the sse format meets the backend. Every body is encrypted on the
// way in and authenticated and decrypted on the way out; every object's
// client-visible facts (plaintext size, ETag, checksum, part layout) live in
// the authenticated sse metadata entry. The client's own headers and tags
// live in "g-" entries beside it (not encrypted: docs/security.md).
//
// Invariant: the client never sees the backend's size or ETag, never sees
// or sets a metadata entry of ours, and never receives a byte that failed
// authentication.
type objectLayer struct {
	store       store.Store
	keys        *keyring
	log         *slog.Logger
	compression sse.CompressionConfig
	minPartSize int64 // 0: S3's 5 MiB
}

// Metadata entries owned by the gateway. The sse package owns "ssegate*".
const (
	metaHeaders = "g-h"    // base64url JSON of the client's object headers
	metaTags    = "g-tags" // URL-query-encoded tag set (printable ASCII)
	// Upload-only entries (see multipart): the opaque ETag base of an
	// SSE-KMS/SSE-C upload and its sealed metadata MAC key.
	metaUploadETag = "g-uetag"
	metaUploadMAC  = "g-umac"
)

// errObjectChanged means the object was replaced between head and open;
// callers start over so the bytes always match the reported metadata.
var errObjectChanged = errors.New("gateway: object changed while reading")

// errPending marks an object whose PUT has not finished setting its final
// metadata (store.Store.Put on S3-like backends): it is not visible yet.
var errPending = fmt.Errorf("gateway: object write still pending: %w", store.ErrNotFound)

// objectInfo is an object as the client sees it.
type objectInfo struct {
	Key          string
	Size         int64
	ETag         string // unquoted
	LastModified time.Time
	Headers      map[string]string // lower-case names: content-type, x-amz-meta-*, ...
	Tags         string            // URL-query encoding of the tag set
	ChecksumAlgo string            // lower case ("crc32"), "" if none
	Checksum     string
	Parts        []int64 // plaintext part sizes of a multipart object
	SSE          *sse.ObjectMeta
	backendETag  string // detects replacement between head and open
	storedSize   int64
	sseEntry     string // the stored sse entry, for metadata-only rewrites
}

// objectMeta is what a client sets on an object.
type objectMeta struct {
	Headers map[string]string
	Tags    string
}

func (m objectMeta) encode(md store.Metadata) error {
	if len(m.Headers) > 0 {
		j, err := json.Marshal(m.Headers)
		if err != nil {
			return err
		}
		md[metaHeaders] = base64.RawURLEncoding.EncodeToString(j)
	}
	if m.Tags != "" {
		md[metaTags] = m.Tags
	}
	return nil
}

func decodeMeta(md store.Metadata) (objectMeta, error) {
	m := objectMeta{Tags: md[metaTags]}
	if v := md[metaHeaders]; v != "" {
		j, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return m, fmt.Errorf("decode %s: %w", metaHeaders, err)
		}
		if err := json.Unmarshal(j, &m.Headers); err != nil {
			return m, fmt.Errorf("decode %s: %w", metaHeaders, err)
		}
	}
	return m, nil
}

// toObjectInfo converts a stored object into what the client sees, from
// its sse metadata entry. The entry is authenticated only when the object
// key is unsealed (open); HEAD and listings report it as stored.
func toObjectInfo(si store.ObjectInfo) (objectInfo, error) {
	em, err := sse.DecodeObjectMeta(si.Meta)
	if err != nil {
		return objectInfo{}, fmt.Errorf("object %q: %w", si.Key, err)
	}
	if em.ETag == "" {
		return objectInfo{}, errPending
	}
	m, err := decodeMeta(si.Meta)
	if err != nil {
		return objectInfo{}, err
	}
	info := objectInfo{
		Key: si.Key, Size: em.Size, ETag: em.ETag, LastModified: si.LastModified,
		Headers: m.Headers, Tags: m.Tags, SSE: em, backendETag: si.ETag, storedSize: si.Size,
		sseEntry:     si.Meta[sse.MetaKey],
		ChecksumAlgo: strings.ToLower(em.ChecksumAlgorithm), Checksum: em.Checksum,
	}
	for _, p := range em.Parts {
		info.Parts = append(info.Parts, p.PlainSize)
	}
	return info, nil
}

func (o *objectLayer) head(ctx context.Context, bucket, key string) (objectInfo, error) {
	si, err := o.store.Head(ctx, bucket, key)
	if err != nil {
		return objectInfo{}, err
	}
	return toObjectInfo(si)
}

// prefetched is a stored body already open at ciphertext offset off,
// holding n bytes: the response of the one backend request that also
// carried the object's metadata (get, getRange).
type prefetched struct {
	rc     io.ReadCloser
	off, n int64
}

// Close closes the body unless openWith handed it on (it then belongs to
// the reader openWith returned).
func (p *prefetched) Close() error {
	if p == nil || p.rc == nil {
		return nil
	}
	rc := p.rc
	p.rc = nil
	return rc.Close()
}

// get reads an object's metadata and whole stored body in one backend
// request; the caller passes the body to openWith, and closes it.
func (o *objectLayer) get(ctx context.Context, bucket, key string) (objectInfo, *prefetched, error) {
	return o.getRange(ctx, bucket, key, 0, -1)
}

// getRange reads an object's metadata and the stored bytes [off, off+n)
// (n -1: to the end; a window past the end is cut there) in one backend
// request. A window that starts at or after the end is store.ErrInvalidRange.
func (o *objectLayer) getRange(ctx context.Context, bucket, key string, off, n int64) (objectInfo, *prefetched, error) {
	rc, si, err := o.store.Get(ctx, bucket, key, off, n)
	if err != nil {
		return objectInfo{}, nil, err
	}
	info, err := toObjectInfo(si)
	if err != nil {
		rc.Close()
		return objectInfo{}, nil, err
	}
	avail := info.storedSize - off
	if n >= 0 {
		avail = min(avail, n)
	}
	return info, &prefetched{rc: rc, off: off, n: avail}, nil
}

// open returns length plaintext bytes from offset of the object described by
// info (from head), decrypted with the key the client presented (SSE-C) or
// the KMS. If the object was replaced since head, errObjectChanged. Errors
// from Read mean the stored object failed authentication (or the backend
// failed): the caller must abort the response, never end it cleanly.
func (o *objectLayer) open(ctx context.Context, bucket, key string, info objectInfo, ck *sse.CustomerKey, offset, length int64) (io.ReadCloser, error) {
	return o.openWith(ctx, bucket, key, info, ck, offset, length, nil)
}

// openWith is open with, optionally, a stored body already open (from get
// or getRange, the same response info was read from). It serves the first
// fetch of the plan if that fetch lies at its start and within it, which
// saves a backend round trip; otherwise the plan fetches as usual and the
// caller's Close of pre discards it. Bytes of pre beyond the plan are
// never decrypted or returned.
func (o *objectLayer) openWith(ctx context.Context, bucket, key string, info objectInfo, ck *sse.CustomerKey, offset, length int64, pre *prefetched) (io.ReadCloser, error) {
	dek, err := o.unseal(ctx, bucket, key, info.SSE, ck)
	if err != nil {
		return nil, err
	}
	if info.storedSize != info.SSE.StoredSize() {
		return nil, fmt.Errorf("object %s/%s: stored %d bytes, metadata says %d: %w", bucket, key, info.storedSize, info.SSE.StoredSize(), sse.ErrTampered)
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	fetch := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if pre != nil && pre.rc != nil && off == pre.off && n <= pre.n {
			rc := pre.rc
			pre.rc = nil
			return rc, nil
		}
		rc, si, err := o.store.Get(ctx, bucket, key, off, n)
		if err != nil {
			return nil, err
		}
		if si.ETag != info.backendETag {
			rc.Close()
			return nil, errObjectChanged
		}
		return rc, nil
	}
	return sse.NewObjectReader(ctx, fetch, info.SSE, dek, offset, length)
}

// cipherWindow is the stored byte window that holds the plaintext bytes
// [a, b] (b < 0: to the end) of a single-part object, as sse.PlanRange
// would fetch it: from the package holding a to the end of the package
// holding b, cut by the backend at the object's end. It lets a ranged GET
// read metadata and ciphertext in one request before it knows the layout;
// openWith uses the body only if the real plan matches.
func cipherWindow(a, b int64) (off, n int64) {
	off = a / sse.PackageSize * sse.EncPackageSize
	if b < 0 || b >= 1<<56 {
		// To the end; a last byte this far out would overflow below.
		return off, -1
	}
	return off, (b/sse.PackageSize+1)*sse.EncPackageSize - off
}

// smallPutMax is the size up to which a PUT body is read into memory before
// it is stored, so that its digest is in the metadata from the start (one
// backend request instead of a write plus a metadata update on S3-like
// backends). It bounds memory per request.
const smallPutMax = 1 << 20

var smallPutBuffers = sync.Pool{New: func() any { b := make([]byte, smallPutMax); return &b }}

// putAheadBuffers are the two buffers by which a streamed PUT body is read
// ahead of its encryption (readAhead).
var putAheadBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// put encrypts body under a fresh object key and stores it under key.
func (o *objectLayer) put(ctx context.Context, bucket, key string, body *bodyReader, m objectMeta, enc encSpec) (objectInfo, error) {
	em, dek, err := o.seal(ctx, bucket, key, enc, nil)
	if err != nil {
		return objectInfo{}, err
	}
	em.Size = body.size
	md := store.Metadata{}
	if err := m.encode(md); err != nil {
		return objectInfo{}, err
	}
	if body.exp.Algorithm != "" && !body.exp.FromTrailer {
		em.ChecksumAlgorithm, em.Checksum = string(body.exp.Algorithm), body.exp.Value
	}
	// Everything else is known up front, except (for SSE-S3) the plaintext
	// MD5 when the client sent no Content-MD5, and a trailing checksum.
	switch {
	case em.Mode != sse.ModeSSES3:
		em.ETag = opaqueETag(dek)
		body.v.SkipMD5() // an opaque ETag: no MD5 unless Content-MD5 is checked
	case body.wantMD5 != nil:
		em.ETag = hex.EncodeToString(body.wantMD5)
	case body.size == 0:
		em.ETag = hex.EncodeToString(md5.New().Sum(nil))
	}
	if o.compresses(em, m) {
		return o.putCompressed(ctx, bucket, key, body, md, em, dek)
	}
	late := em.ETag == "" || body.exp.FromTrailer
	var plain io.Reader = body
	if body.size > smallPutMax {
		// Receiving, verifying and hashing the body (on readAhead's
		// goroutine) overlaps with encrypting and storing it (here).
		a, b := putAheadBuffers.Get().(*[]byte), putAheadBuffers.Get().(*[]byte)
		ra := newReadAhead(body, *a, *b)
		defer func() {
			ra.stop(nil) // a client body Read ends by itself (body read timeout)
			putAheadBuffers.Put(a)
			putAheadBuffers.Put(b)
		}()
		plain = ra
	} else if late {
		buf := smallPutBuffers.Get().(*[]byte)
		defer smallPutBuffers.Put(buf)
		data := (*buf)[:body.size]
		if _, err := io.ReadFull(body, data); err != nil {
			return objectInfo{}, err
		}
		if err := store.ExpectEOF(body); err != nil {
			return objectInfo{}, err
		}
		finishPut(em, body)
		plain, late = bytes.NewReader(data), false
	}
	if late {
		// Until the body ends the entry has no ETag (a pending object,
		// invisible to readers); the store re-reads md at the end.
		final := em.ETag
		em.ETag = ""
		if err := addSSEMeta(md, em); err != nil {
			return objectInfo{}, err
		}
		plain = &onEOF{r: plain, fn: func() error {
			em.ETag = final
			finishPut(em, body)
			return addSSEMeta(md, em)
		}}
	} else if err := addSSEMeta(md, em); err != nil {
		return objectInfo{}, err
	}
	ct, err := sse.EncryptReader(plain, dek, 0, em.Suite)
	if err != nil {
		return objectInfo{}, err
	}
	putCtx := ctx
	if late {
		// The metadata sent first describes a pending object: the store
		// must not let it replace the previous one (store.Store.Put).
		putCtx = store.WithLateMetadata(ctx)
	}
	si, err := o.store.Put(putCtx, bucket, key, ct, sse.EncryptedSize(body.size), md)
	if err != nil {
		return objectInfo{}, err
	}
	return toObjectInfo(si)
}

// compresses says whether a new single-part object is stored compressed:
// only when the operator enabled it for its content type, and never for
// SSE-C, whose owners expect nothing about their data to depend on its
// content but its length.
func (o *objectLayer) compresses(em *sse.ObjectMeta, m objectMeta) bool {
	return em.Mode != sse.ModeSSEC && sse.ShouldCompress(m.Headers["content-type"], o.compression)
}

// putCompressed stores body compressed, then encrypted. The stored size is
// only known at the end, so the store gets size -1 and the metadata is
// completed (and the object made visible) once the encrypted stream ends.
func (o *objectLayer) putCompressed(ctx context.Context, bucket, key string, body *bodyReader, md store.Metadata, em *sse.ObjectMeta, dek sse.ObjectKey) (objectInfo, error) {
	final := em.ETag
	em.ETag = ""
	if err := addSSEMeta(md, em); err != nil {
		return objectInfo{}, err
	}
	c := sse.NewCompressor(body)
	ct, err := sse.EncryptReader(c, dek, 0, em.Suite)
	if err != nil {
		return objectInfo{}, err
	}
	r := &onEOF{r: ct, fn: func() error {
		comp, err := c.Compression()
		if err != nil {
			return err
		}
		em.Compression, em.ETag = comp, final
		finishPut(em, body)
		return addSSEMeta(md, em)
	}}
	// Metadata completed at EOF: see the late path in put.
	si, err := o.store.Put(store.WithLateMetadata(ctx), bucket, key, r, -1, md)
	if errors.Is(err, sse.ErrTooLargeToCompress) {
		return objectInfo{}, errEntityTooLarge
	}
	if err != nil {
		return objectInfo{}, err
	}
	return toObjectInfo(si)
}

// onEOF runs fn once, when r first reports io.EOF; an error from fn
// replaces the EOF.
type onEOF struct {
	r    io.Reader
	fn   func() error
	done bool
}

func (l *onEOF) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == io.EOF && !l.done {
		l.done = true
		if ferr := l.fn(); ferr != nil {
			return n, ferr
		}
	}
	return n, err
}

// finishPut records what is known once the body has ended.
func finishPut(em *sse.ObjectMeta, body *bodyReader) {
	if em.ETag == "" {
		em.ETag = hex.EncodeToString(body.MD5())
	}
	if body.algo() != "" {
		em.ChecksumAlgorithm, em.Checksum = string(body.exp.Algorithm), body.Checksum()
	}
}

func addSSEMeta(md store.Metadata, em *sse.ObjectMeta) error {
	entries, err := em.Encode()
	if err != nil {
		return err
	}
	for k, v := range entries {
		md[k] = v
	}
	return nil
}

func (o *objectLayer) delete(ctx context.Context, bucket, key string) error {
	return o.store.Delete(ctx, bucket, key)
}

// setTags replaces the tag set of an object: a metadata-only self copy that
// keeps the sse entry byte for byte (no key is needed, as in S3).
func (o *objectLayer) setTags(ctx context.Context, bucket, key string, info objectInfo, tags string) error {
	md := store.Metadata{}
	if err := (objectMeta{Headers: info.Headers, Tags: tags}).encode(md); err != nil {
		return err
	}
	md[sse.MetaKey] = info.sseEntry
	si, err := o.store.Copy(ctx, bucket, key, bucket, key, md)
	if err != nil {
		return err
	}
	if si.ETag != info.backendETag {
		return errObjectChanged
	}
	return nil
}

// listPage is one page of a listing as the client sees it.
type listPage struct {
	Objects        []objectInfo
	CommonPrefixes []string
	IsTruncated    bool
	NextStartAfter string
}

// list reports plaintext sizes and client ETags from each object's metadata
// (one backend call per page). Pending writes are left out, and so are
// objects without our metadata (put on the backend behind our back): they
// are logged, but one foreign object must not make a whole bucket
// unlistable.
func (o *objectLayer) list(ctx context.Context, bucket string, opts store.ListOptions) (listPage, error) {
	opts.WithMeta = true
	res, err := o.store.List(ctx, bucket, opts)
	if err != nil {
		return listPage{}, err
	}
	page := listPage{CommonPrefixes: res.CommonPrefixes, IsTruncated: res.IsTruncated, NextStartAfter: res.NextStartAfter}
	for _, si := range res.Objects {
		info, err := toObjectInfo(si)
		if errors.Is(err, errPending) {
			continue
		}
		if errors.Is(err, sse.ErrBadMetadata) {
			if o.log != nil {
				o.log.Warn("listing skips an object without valid ssegate metadata", "bucket", bucket, "key", si.Key, "err", err)
			}
			continue
		}
		if err != nil {
			return listPage{}, err
		}
		page.Objects = append(page.Objects, info)
	}
	return page, nil
}
