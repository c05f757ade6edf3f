package gateway

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ssegate/ssegate/store"
)

// objectLayer is the one seam through which every object body and its
// metadata pass between the S3 handlers and the store. It owns the mapping
// from client-visible object facts (plaintext size, ETag over the plaintext,
// headers, tags, checksums, part sizes) to store.Metadata entries prefixed
// "g-". Today bodies are stored as plaintext; the sse integration replaces
// the internals here (stored size and ETag then differ from the client's,
// ranges map to ciphertext packages) without touching the handlers.
//
// Invariant: the client never sees the backend's size or ETag, and never
// sees or sets a metadata entry of ours.
type objectLayer struct {
	store       store.Store
	minPartSize int64 // 0: S3's 5 MiB
}

// Metadata entries owned by the gateway. The sse package owns "ssegate*".
const (
	metaSize     = "g-size"     // plaintext size, decimal
	metaETag     = "g-etag"     // client ETag, unquoted
	metaHeaders  = "g-h"        // base64url JSON of the client's object headers
	metaTags     = "g-tags"     // URL-query-encoded tag set (printable ASCII)
	metaChecksum = "g-ck"       // "<algo>:<base64>" of the plaintext
	metaParts    = "g-parts"    // plaintext part sizes, run-length encoded
	metaInternal = "g-internal" // marks the gateway's own uploads (see put)
)

// errObjectChanged means the object was replaced between head and open;
// callers start over so the bytes always match the reported metadata.
var errObjectChanged = errors.New("gateway: object changed while reading")

// objectInfo is an object as the client sees it.
type objectInfo struct {
	Key          string
	Size         int64
	ETag         string // unquoted
	LastModified time.Time
	Headers      map[string]string // lower-case names: content-type, x-amz-meta-*, ...
	Tags         string            // URL-query encoding of the tag set
	ChecksumAlgo string
	Checksum     string
	Parts        []int64 // plaintext part sizes of a multipart object
	backendETag  string  // detects replacement between head and open
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

// toObjectInfo converts a stored object into what the client sees. An
// object without our size and ETag was not written by the gateway; it is
// refused rather than shown with backend values.
func toObjectInfo(si store.ObjectInfo) (objectInfo, error) {
	size, err := strconv.ParseInt(si.Meta[metaSize], 10, 64)
	if err != nil || si.Meta[metaETag] == "" {
		return objectInfo{}, fmt.Errorf("object %q has no gateway metadata", si.Key)
	}
	m, err := decodeMeta(si.Meta)
	if err != nil {
		return objectInfo{}, err
	}
	info := objectInfo{
		Key: si.Key, Size: size, ETag: si.Meta[metaETag], LastModified: si.LastModified,
		Headers: m.Headers, Tags: m.Tags, backendETag: si.ETag,
	}
	if ck := si.Meta[metaChecksum]; ck != "" {
		info.ChecksumAlgo, info.Checksum, _ = strings.Cut(ck, ":")
	}
	if p := si.Meta[metaParts]; p != "" {
		if info.Parts, err = decodeParts(p); err != nil {
			return objectInfo{}, err
		}
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

// open returns length plaintext bytes from offset of the object described by
// info (from head). If the object was replaced since, errObjectChanged.
func (o *objectLayer) open(ctx context.Context, bucket, key string, info objectInfo, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	rc, si, err := o.store.Get(ctx, bucket, key, offset, length)
	if err != nil {
		return nil, err
	}
	if si.ETag != info.backendETag {
		rc.Close()
		return nil, errObjectChanged
	}
	return rc, nil
}

// put stores body under key. The plaintext MD5 must be in the metadata when
// the object becomes visible; when the client did not send Content-MD5 it is
// only known at the end of the body, so the body goes through a one-part
// store upload whose Complete carries the final metadata, keeping the write
// atomic on every backend.
func (o *objectLayer) put(ctx context.Context, bucket, key string, body *bodyReader, m objectMeta) (objectInfo, error) {
	md := store.Metadata{}
	if err := m.encode(md); err != nil {
		return objectInfo{}, err
	}
	if body.wantMD5 != nil || body.size == 0 {
		sum := body.wantMD5
		if sum == nil {
			sum = md5.New().Sum(nil)
		}
		md[metaSize] = strconv.FormatInt(body.size, 10)
		md[metaETag] = hex.EncodeToString(sum)
		if body.algo() != "" && body.exp.Value != "" {
			md[metaChecksum] = body.algo() + ":" + body.exp.Value
		}
		si, err := o.store.Put(ctx, bucket, key, body, body.size, md)
		if err != nil {
			return objectInfo{}, err
		}
		return toObjectInfo(si)
	}
	id, err := o.store.CreateMultipart(ctx, bucket, key, store.Metadata{metaInternal: "1"})
	if err != nil {
		return objectInfo{}, err
	}
	pi, err := o.store.UploadPart(ctx, bucket, key, id, 1, body, body.size, store.Metadata{})
	if err != nil {
		o.abortQuietly(bucket, key, id)
		return objectInfo{}, err
	}
	md[metaSize] = strconv.FormatInt(body.size, 10)
	md[metaETag] = hex.EncodeToString(body.MD5())
	if body.algo() != "" {
		md[metaChecksum] = body.algo() + ":" + body.Checksum()
	}
	si, err := o.store.CompleteMultipart(ctx, bucket, key, id, []store.CompletePart{{Number: 1, ETag: pi.ETag}}, md)
	if err != nil {
		o.abortQuietly(bucket, key, id)
		return objectInfo{}, err
	}
	return toObjectInfo(si)
}

// abortQuietly cleans up after a failed upload even if the request's
// context is gone; failure leaves only invisible garbage.
func (o *objectLayer) abortQuietly(bucket, key, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = o.store.AbortMultipart(ctx, bucket, key, id)
}

func (o *objectLayer) delete(ctx context.Context, bucket, key string) error {
	return o.store.Delete(ctx, bucket, key)
}

// copy makes dst a copy of src (described by srcInfo) with metadata m.
func (o *objectLayer) copy(ctx context.Context, srcBucket, srcKey string, srcInfo objectInfo, dstBucket, dstKey string, m objectMeta) (objectInfo, error) {
	md := store.Metadata{
		metaSize: strconv.FormatInt(srcInfo.Size, 10),
		metaETag: srcInfo.ETag,
	}
	if srcInfo.Checksum != "" {
		md[metaChecksum] = srcInfo.ChecksumAlgo + ":" + srcInfo.Checksum
	}
	if len(srcInfo.Parts) > 0 {
		md[metaParts] = encodeParts(srcInfo.Parts)
	}
	if err := m.encode(md); err != nil {
		return objectInfo{}, err
	}
	si, err := o.store.Copy(ctx, srcBucket, srcKey, dstBucket, dstKey, md)
	if err != nil {
		return objectInfo{}, err
	}
	if si.ETag != srcInfo.backendETag && srcBucket == dstBucket && srcKey == dstKey {
		// Replaced concurrently between head and copy: our size/ETag may
		// not describe the bytes now under the key.
		return objectInfo{}, errObjectChanged
	}
	return toObjectInfo(si)
}

// setTags replaces the tag set of an object (a metadata-only self copy).
func (o *objectLayer) setTags(ctx context.Context, bucket, key string, info objectInfo, tags string) error {
	_, err := o.copy(ctx, bucket, key, info, bucket, key, objectMeta{Headers: info.Headers, Tags: tags})
	return err
}

// listPage is one page of a listing as the client sees it.
type listPage struct {
	Objects        []objectInfo
	CommonPrefixes []string
	IsTruncated    bool
	NextStartAfter string
}

func (o *objectLayer) list(ctx context.Context, bucket string, opts store.ListOptions) (listPage, error) {
	opts.WithMeta = true
	res, err := o.store.List(ctx, bucket, opts)
	if err != nil {
		return listPage{}, err
	}
	page := listPage{CommonPrefixes: res.CommonPrefixes, IsTruncated: res.IsTruncated, NextStartAfter: res.NextStartAfter}
	for _, si := range res.Objects {
		info, err := toObjectInfo(si)
		if err != nil {
			return listPage{}, err
		}
		page.Objects = append(page.Objects, info)
	}
	return page, nil
}

// encodeParts run-length encodes part sizes ("5242880*3,17"), which keeps
// the entry short for the usual equal-sized parts.
func encodeParts(sizes []int64) string {
	var b strings.Builder
	for i := 0; i < len(sizes); {
		j := i
		for j < len(sizes) && sizes[j] == sizes[i] {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(sizes[i], 10))
		if j-i > 1 {
			b.WriteString("*" + strconv.Itoa(j-i))
		}
		i = j
	}
	return b.String()
}

func decodeParts(s string) ([]int64, error) {
	var sizes []int64
	for _, run := range strings.Split(s, ",") {
		sz, cnt, found := strings.Cut(run, "*")
		size, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("decode %s: bad size %q", metaParts, sz)
		}
		n := 1
		if found {
			if n, err = strconv.Atoi(cnt); err != nil || n < 1 || len(sizes)+n > maxParts {
				return nil, fmt.Errorf("decode %s: bad count %q", metaParts, cnt)
			}
		}
		if len(sizes)+n > maxParts {
			return nil, fmt.Errorf("decode %s: more than %d parts", metaParts, maxParts)
		}
		for ; n > 0; n-- {
			sizes = append(sizes, size)
		}
	}
	return sizes, nil
}

// Multipart uploads.

const (
	maxParts       = 10000
	defaultMinPart = 5 << 20
)

// partInfo is an uploaded part as the client sees it.
type partInfo struct {
	Number       int
	Size         int64
	ETag         string // plaintext MD5, hex
	LastModified time.Time
	backendETag  string
}

// Part metadata entries.
const (
	partMetaSize = "g-size"
	partMetaMD5  = "g-md5"
)

type uploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Meta      objectMeta
}

func (o *objectLayer) createMultipart(ctx context.Context, bucket, key string, m objectMeta) (string, error) {
	md := store.Metadata{}
	if err := m.encode(md); err != nil {
		return "", err
	}
	return o.store.CreateMultipart(ctx, bucket, key, md)
}

// getUpload returns a client upload; the gateway's own one-part uploads
// (see put) do not exist for clients.
func (o *objectLayer) getUpload(ctx context.Context, bucket, key, id string) (uploadInfo, error) {
	ui, err := o.store.GetUpload(ctx, bucket, key, id)
	if err != nil {
		return uploadInfo{}, err
	}
	if ui.Meta[metaInternal] != "" {
		return uploadInfo{}, store.ErrNoSuchUpload
	}
	m, err := decodeMeta(ui.Meta)
	if err != nil {
		return uploadInfo{}, err
	}
	return uploadInfo{Key: ui.Key, UploadID: ui.UploadID, Initiated: ui.Initiated, Meta: m}, nil
}

// uploadPart stores one part. Its MD5 is only known at the end of the body,
// so the part metadata map is filled in by the time the body reports EOF;
// the store contract this relies on (part metadata is recorded after the
// part's bytes) is checked on the result.
func (o *objectLayer) uploadPart(ctx context.Context, bucket, key, id string, n int, body *bodyReader) (partInfo, error) {
	if _, err := o.getUpload(ctx, bucket, key, id); err != nil {
		return partInfo{}, err
	}
	pm := store.Metadata{partMetaSize: strconv.FormatInt(body.size, 10)}
	if body.wantMD5 != nil {
		pm[partMetaMD5] = hex.EncodeToString(body.wantMD5)
	}
	lr := &lateMeta{r: body, meta: pm, fill: func(m store.Metadata) { m[partMetaMD5] = hex.EncodeToString(body.MD5()) }}
	pi, err := o.store.UploadPart(ctx, bucket, key, id, n, lr, body.size, pm)
	if err != nil {
		return partInfo{}, err
	}
	if pi.Meta != nil && pi.Meta[partMetaMD5] != hex.EncodeToString(body.MD5()) {
		return partInfo{}, fmt.Errorf("store recorded part metadata before the part's end")
	}
	return partInfo{Number: n, Size: body.size, ETag: hex.EncodeToString(body.MD5()), LastModified: pi.LastModified, backendETag: pi.ETag}, nil
}

// lateMeta fills meta just before its reader reports EOF.
type lateMeta struct {
	r    *bodyReader
	meta store.Metadata
	fill func(store.Metadata)
	done bool
}

func (l *lateMeta) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.r.done && !l.done {
		l.done = true
		l.fill(l.meta)
	}
	return n, err
}

func (o *objectLayer) listParts(ctx context.Context, bucket, key, id string) ([]partInfo, error) {
	if _, err := o.getUpload(ctx, bucket, key, id); err != nil {
		return nil, err
	}
	sps, err := o.store.ListParts(ctx, bucket, key, id)
	if err != nil {
		return nil, err
	}
	parts := make([]partInfo, 0, len(sps))
	for _, sp := range sps {
		size, err := strconv.ParseInt(sp.Meta[partMetaSize], 10, 64)
		if err != nil || sp.Meta[partMetaMD5] == "" {
			return nil, fmt.Errorf("part %d of upload has no gateway metadata", sp.Number)
		}
		parts = append(parts, partInfo{Number: sp.Number, Size: size, ETag: sp.Meta[partMetaMD5], LastModified: sp.LastModified, backendETag: sp.ETag})
	}
	return parts, nil
}

// completePart is a part named in CompleteMultipartUpload.
type completePart struct {
	Number int
	ETag   string // unquoted
}

// complete checks the client's part list against the uploaded parts, as S3
// does, and joins them. The ETag is the MD5 of the concatenated binary part
// MD5s, then "-N".
func (o *objectLayer) complete(ctx context.Context, bucket, key, id string, want []completePart) (objectInfo, error) {
	up, err := o.getUpload(ctx, bucket, key, id)
	if err != nil {
		return objectInfo{}, err
	}
	have, err := o.listParts(ctx, bucket, key, id)
	if err != nil {
		return objectInfo{}, err
	}
	byNum := make(map[int]partInfo, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	minPart := o.minPartSize
	if minPart == 0 {
		minPart = defaultMinPart
	}
	var (
		sizes  []int64
		total  int64
		md5s   []byte
		sparts []store.CompletePart
	)
	for i := 1; i < len(want); i++ {
		if want[i].Number <= want[i-1].Number {
			return objectInfo{}, errInvalidPartOrder
		}
	}
	for i, cp := range want {
		p, ok := byNum[cp.Number]
		if !ok || !strings.EqualFold(p.ETag, cp.ETag) {
			return objectInfo{}, errInvalidPart
		}
		if i < len(want)-1 && p.Size < minPart {
			return objectInfo{}, errEntityTooSmall
		}
		raw, err := hex.DecodeString(p.ETag)
		if err != nil {
			return objectInfo{}, err
		}
		md5s = append(md5s, raw...)
		sizes = append(sizes, p.Size)
		total += p.Size
		sparts = append(sparts, store.CompletePart{Number: p.Number, ETag: p.backendETag})
	}
	sum := md5.Sum(md5s)
	md := store.Metadata{
		metaSize:  strconv.FormatInt(total, 10),
		metaETag:  fmt.Sprintf("%x-%d", sum, len(want)),
		metaParts: encodeParts(sizes),
	}
	if err := up.Meta.encode(md); err != nil {
		return objectInfo{}, err
	}
	si, err := o.store.CompleteMultipart(ctx, bucket, key, id, sparts, md)
	if err != nil {
		return objectInfo{}, err
	}
	return toObjectInfo(si)
}

func (o *objectLayer) abort(ctx context.Context, bucket, key, id string) error {
	if _, err := o.getUpload(ctx, bucket, key, id); err != nil {
		return err
	}
	return o.store.AbortMultipart(ctx, bucket, key, id)
}

// listUploads lists client uploads under prefix, hiding the gateway's own.
func (o *objectLayer) listUploads(ctx context.Context, bucket, prefix string) ([]uploadInfo, error) {
	uis, err := o.store.ListMultipartUploads(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	var out []uploadInfo
	for _, ui := range uis {
		if ui.Meta[metaInternal] != "" {
			continue
		}
		out = append(out, uploadInfo{Key: ui.Key, UploadID: ui.UploadID, Initiated: ui.Initiated})
	}
	return out, nil
}
