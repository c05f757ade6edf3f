package gateway

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// Multipart uploads. The object key (DEK) is made and sealed at
// CreateMultipartUpload; each part is encrypted on its own under a key
// derived from the DEK and its part number, so parts may arrive in any
// order, concurrently, and again. Each part's plaintext size and MD5 are
// kept with the part; Complete writes the part table into the object's
// authenticated metadata.

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

type uploadInfo struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Meta      objectMeta
	SSE       *sse.ObjectMeta
	raw       store.Metadata
}

// createMultipart seals a fresh object key for the upload. S3 clients send
// no SSE-C key on CompleteMultipartUpload, yet Complete must write the
// final, authenticated metadata; so the metadata MAC key (which cannot
// decrypt anything) is kept with the upload, sealed under the gateway's
// SSE-S3 key, and dropped at Complete.
func (o *objectLayer) createMultipart(ctx context.Context, bucket, key string, m objectMeta, enc encSpec) (string, *sse.ObjectMeta, error) {
	em, dek, err := o.seal(ctx, bucket, key, enc, nil)
	if err != nil {
		return "", nil, err
	}
	md := store.Metadata{}
	if err := m.encode(md); err != nil {
		return "", nil, err
	}
	if em.Mode != sse.ModeSSES3 {
		md[metaUploadETag] = opaqueETag(dek)
	}
	mk, err := em.MACKey()
	if err != nil {
		return "", nil, err
	}
	if md[metaUploadMAC], err = o.sealUploadSecret(ctx, bucket, key, mk); err != nil {
		return "", nil, err
	}
	if err := addSSEMeta(md, em); err != nil {
		return "", nil, err
	}
	id, err := o.store.CreateMultipart(ctx, bucket, key, md)
	return id, em, err
}

func (o *objectLayer) getUpload(ctx context.Context, bucket, key, id string) (uploadInfo, error) {
	ui, err := o.store.GetUpload(ctx, bucket, key, id)
	if err != nil {
		return uploadInfo{}, err
	}
	m, err := decodeMeta(ui.Meta)
	if err != nil {
		return uploadInfo{}, err
	}
	em, err := sse.DecodeObjectMeta(ui.Meta)
	if err != nil {
		return uploadInfo{}, err
	}
	return uploadInfo{Key: ui.Key, UploadID: ui.UploadID, Initiated: ui.Initiated, Meta: m, SSE: em, raw: ui.Meta}, nil
}

// uploadPart encrypts and stores one part. Its MD5 is only known at the end
// of the body; the part metadata is completed then, before the store
// records it (store.Store.UploadPart reads it after the part's bytes).
func (o *objectLayer) uploadPart(ctx context.Context, bucket, key, id string, n int, body *bodyReader, ck *sse.CustomerKey) (partInfo, *sse.ObjectMeta, error) {
	up, err := o.getUpload(ctx, bucket, key, id)
	if err != nil {
		return partInfo{}, nil, err
	}
	dek, err := o.unseal(ctx, bucket, key, up.SSE, ck)
	if err != nil {
		return partInfo{}, nil, err
	}
	part := &sse.PartMeta{PlainSize: body.size}
	pm := store.Metadata{}
	if err := addPartMeta(pm, part); err != nil {
		return partInfo{}, nil, err
	}
	plain := &onEOF{r: body, fn: func() error {
		copy(part.MD5[:], body.MD5())
		if body.algo() != "" {
			part.ChecksumAlgorithm, part.Checksum = string(body.exp.Algorithm), body.Checksum()
		}
		return addPartMeta(pm, part)
	}}
	ct, err := sse.EncryptReader(plain, dek, n, up.SSE.Suite)
	if err != nil {
		return partInfo{}, nil, err
	}
	pi, err := o.store.UploadPart(ctx, bucket, key, id, n, ct, sse.EncryptedSize(body.size), pm)
	if err != nil {
		return partInfo{}, nil, err
	}
	if pi.Meta != nil {
		got, err := sse.DecodePartMeta(pi.Meta)
		if err != nil || got.MD5 != part.MD5 {
			return partInfo{}, nil, fmt.Errorf("store recorded part metadata before the part's end")
		}
	}
	return partInfo{Number: n, Size: body.size, ETag: hex.EncodeToString(part.MD5[:]), LastModified: pi.LastModified, backendETag: pi.ETag}, up.SSE, nil
}

func addPartMeta(pm store.Metadata, p *sse.PartMeta) error {
	e, err := p.Encode()
	if err != nil {
		return err
	}
	for k, v := range e {
		pm[k] = v
	}
	return nil
}

// storedPart is an uploaded part with what Complete needs.
type storedPart struct {
	partInfo
	md5 [16]byte
}

func (o *objectLayer) storedParts(ctx context.Context, bucket, key, id string) ([]storedPart, error) {
	sps, err := o.store.ListParts(ctx, bucket, key, id)
	if err != nil {
		return nil, err
	}
	parts := make([]storedPart, 0, len(sps))
	for _, sp := range sps {
		pm, err := sse.DecodePartMeta(sp.Meta)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", sp.Number, err)
		}
		if sp.Size != sse.EncryptedSize(pm.PlainSize) {
			return nil, fmt.Errorf("part %d: stored %d bytes for %d plaintext: %w", sp.Number, sp.Size, pm.PlainSize, sse.ErrTampered)
		}
		parts = append(parts, storedPart{
			partInfo: partInfo{Number: sp.Number, Size: pm.PlainSize, ETag: hex.EncodeToString(pm.MD5[:]), LastModified: sp.LastModified, backendETag: sp.ETag},
			md5:      pm.MD5,
		})
	}
	return parts, nil
}

func (o *objectLayer) listParts(ctx context.Context, bucket, key, id string) ([]partInfo, error) {
	if _, err := o.getUpload(ctx, bucket, key, id); err != nil {
		return nil, err
	}
	sps, err := o.storedParts(ctx, bucket, key, id)
	if err != nil {
		return nil, err
	}
	parts := make([]partInfo, len(sps))
	for i, p := range sps {
		parts[i] = p.partInfo
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
// MD5s, then "-N" (SSE-S3), or an opaque value then "-N" (SSE-KMS, SSE-C).
func (o *objectLayer) complete(ctx context.Context, bucket, key, id string, want []completePart) (objectInfo, error) {
	up, err := o.getUpload(ctx, bucket, key, id)
	if err != nil {
		return objectInfo{}, err
	}
	have, err := o.storedParts(ctx, bucket, key, id)
	if err != nil {
		return objectInfo{}, err
	}
	byNum := make(map[int]storedPart, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	minPart := o.minPartSize
	if minPart == 0 {
		minPart = defaultMinPart
	}
	var (
		layout []sse.PartLayout
		total  int64
		md5s   [][16]byte
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
		md5s = append(md5s, p.md5)
		layout = append(layout, sse.PartLayout{Number: p.Number, PlainSize: p.Size})
		total += p.Size
		sparts = append(sparts, store.CompletePart{Number: p.Number, ETag: p.backendETag})
	}
	em := up.SSE
	mk, err := o.openUploadSecret(ctx, bucket, key, up.raw[metaUploadMAC])
	if err != nil {
		return objectInfo{}, err
	}
	if err := em.VerifyMAC(mk); err != nil {
		return objectInfo{}, err
	}
	em.Parts, em.Size = layout, total
	em.ETag = sse.MultipartETag(md5s)
	if em.Mode != sse.ModeSSES3 {
		em.ETag = up.raw[metaUploadETag] + "-" + strconv.Itoa(len(want))
	}
	md := store.Metadata{}
	if err := up.Meta.encode(md); err != nil {
		return objectInfo{}, err
	}
	if err := addSSEMeta(md, em); err != nil {
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

func (o *objectLayer) listUploads(ctx context.Context, bucket, prefix string) ([]uploadInfo, error) {
	uis, err := o.store.ListMultipartUploads(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]uploadInfo, 0, len(uis))
	for _, ui := range uis {
		out = append(out, uploadInfo{Key: ui.Key, UploadID: ui.UploadID, Initiated: ui.Initiated})
	}
	return out, nil
}

// sealUploadSecret seals a small secret of an open upload under the
// gateway's SSE-S3 bucket key (AES-256-GCM, AAD binding bucket and key):
// "<base64 KMS blob>.<base64 nonce+ciphertext>".
func (o *objectLayer) sealUploadSecret(ctx context.Context, bucket, key string, secret []byte) (string, error) {
	k, err := o.keys.newKEK(ctx, kekSpec{SSES3: true, Bucket: bucket, Object: key})
	if err != nil {
		return "", err
	}
	aead, err := newGCM(k.Key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, secret, uploadSecretAAD(bucket, key))
	return base64.RawURLEncoding.EncodeToString(k.Blob) + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

func (o *objectLayer) openUploadSecret(ctx context.Context, bucket, key, v string) ([]byte, error) {
	blobS, ctS, ok := strings.Cut(v, ".")
	blob, err1 := base64.RawURLEncoding.DecodeString(blobS)
	ct, err2 := base64.RawURLEncoding.DecodeString(ctS)
	if !ok || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("upload secret: %w", sse.ErrBadMetadata)
	}
	k, err := o.keys.openKEK(ctx, kekSpec{SSES3: true, Bucket: bucket, Object: key}, blob)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(k.Key)
	if err != nil {
		return nil, err
	}
	if len(ct) < aead.NonceSize() {
		return nil, fmt.Errorf("upload secret: %w", sse.ErrTampered)
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], uploadSecretAAD(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("upload secret: %w", sse.ErrTampered)
	}
	return pt, nil
}

// uploadSecretAAD binds the two names unambiguously (length-prefixed).
func uploadSecretAAD(bucket, key string) []byte {
	return fmt.Appendf(nil, "ssegate/v1 upload-mac %d:%s%d:%s", len(bucket), bucket, len(key), key)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
