package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// Metadata that does not fit MinIO's user-metadata limit is spilled: the
// complete metadata becomes the JSON body of a hidden overflow object, and
// the object itself carries only the pointer entry spillField = <id>.
// store.Metadata keys never contain '_', so fromUserMetadata can return
// spillField only for our own pointer. See doc.go for the write order.
const (
	spillField = "ssegate_spill"
	spillDir   = sysPrefix + "meta/"
	// maxSpill bounds what one overflow object may hold (and what a read
	// of one may allocate).
	maxSpill = 1 << 20
)

// errSpillMissing means an object's overflow object is gone: the object
// was replaced (and its old overflow removed) while we read it.
var errSpillMissing = errors.New("minio: metadata overflow object missing")

// wireSize is the size MinIO counts for user metadata as sent.
func wireSize(um map[string]string) int {
	n := 0
	for k, v := range um {
		n += len(k) + len(v)
	}
	return n
}

func newSpillID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkSpillID(id string) error {
	if len(id) != 32 {
		return fmt.Errorf("minio: corrupt metadata pointer")
	}
	if _, err := hex.DecodeString(id); err != nil {
		return fmt.Errorf("minio: corrupt metadata pointer")
	}
	return nil
}

// encodeMeta returns the user metadata to send for m. If m does not fit,
// it first writes m to a new overflow object under dir and returns the
// pointer instead, with the overflow's id (else id is "").
func (s *Store) encodeMeta(ctx context.Context, bucket, dir string, m store.Metadata) (um map[string]string, id string, err error) {
	if _, ok := m[spillField]; ok {
		return nil, "", fmt.Errorf("minio: metadata key %q is reserved", spillField)
	}
	um = toUserMetadata(m)
	if wireSize(um) <= store.MaxMetadataSize {
		return um, "", nil
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, "", err
	}
	if len(body) > maxSpill {
		return nil, "", fmt.Errorf("minio: metadata larger than %d bytes", maxSpill)
	}
	id = newSpillID()
	if err := s.putSpill(ctx, bucket, dir, id, body); err != nil {
		return nil, "", err
	}
	return toUserMetadata(store.Metadata{spillField: id}), id, nil
}

// writeSpill writes m as the overflow object id, whatever its size (a
// multipart upload's pointer names it before the metadata is known).
func (s *Store) writeSpill(ctx context.Context, bucket, dir, id string, m store.Metadata) error {
	if _, ok := m[spillField]; ok {
		return fmt.Errorf("minio: metadata key %q is reserved", spillField)
	}
	if err := checkSpillID(id); err != nil {
		return err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(body) > maxSpill {
		return fmt.Errorf("minio: metadata larger than %d bytes", maxSpill)
	}
	return s.putSpill(ctx, bucket, dir, id, body)
}

func (s *Store) putSpill(ctx context.Context, bucket, dir, id string, body []byte) error {
	_, err := s.core.PutObject(ctx, bucket, dir+id, bytes.NewReader(body), int64(len(body)), "", "", minio.PutObjectOptions{})
	if err != nil {
		return mapErr(err, "minio: write metadata overflow")
	}
	return nil
}

// pointerOf returns the overflow id raw user metadata points to, or "".
func pointerOf(raw map[string]string) string {
	m, err := fromUserMetadata(raw)
	if err != nil {
		return ""
	}
	if id := m[spillField]; checkSpillID(id) == nil {
		return id
	}
	return ""
}

// decodeMeta turns raw user metadata back into what encodeMeta was given,
// reading the overflow object under dir if there is a pointer. A missing
// or unreadable overflow is an error (errSpillMissing if it is gone),
// never empty metadata.
func (s *Store) decodeMeta(ctx context.Context, bucket, dir string, raw map[string]string) (store.Metadata, error) {
	m, err := fromUserMetadata(raw)
	if err != nil {
		return nil, err
	}
	id, ok := m[spillField]
	if !ok {
		return m, nil
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("minio: corrupt metadata pointer")
	}
	if err := checkSpillID(id); err != nil {
		return nil, err
	}
	rc, _, _, err := s.core.GetObject(ctx, bucket, dir+id, minio.GetObjectOptions{})
	if err != nil {
		if errors.Is(mapErr(err, ""), store.ErrNotFound) {
			return nil, errSpillMissing
		}
		return nil, mapErr(err, "minio: read metadata overflow")
	}
	defer rc.Close()
	body, err := readLimited(rc, maxSpill)
	if err != nil {
		return nil, mapErr(err, "minio: read metadata overflow")
	}
	out := store.Metadata{}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("minio: corrupt metadata overflow")
	}
	return out, nil
}

// dropSpill removes an overflow object no longer referenced, best effort:
// a failure leaves an invisible orphan that costs only space.
func (s *Store) dropSpill(ctx context.Context, bucket, dir, id string) {
	if id == "" || checkSpillID(id) != nil {
		return
	}
	s.client.RemoveObject(context.WithoutCancel(ctx), bucket, dir+id, minio.RemoveObjectOptions{})
}

// currentSpill returns the overflow id of the object now stored at key,
// or "" if there is none (or it cannot be read: the overflow is then
// orphaned, which costs only space).
func (s *Store) currentSpill(ctx context.Context, bucket, key string) string {
	id, _ := s.current(ctx, bucket, key)
	return id
}

// current is currentSpill that also says whether an object may be stored
// at key: only a definite "not found" says there is none, so that a HEAD
// that failed otherwise never makes a caller treat the key as empty.
func (s *Store) current(ctx context.Context, bucket, key string) (spill string, exists bool) {
	oi, err := s.client.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return "", !errors.Is(mapErr(err, ""), store.ErrNotFound)
	}
	return pointerOf(oi.UserMetadata), true
}

// retrySpill runs op again when it failed because the object was replaced
// between reading it and reading its overflow: readers then see the new
// version, as with any overwrite.
func retrySpill[T any](op func() (T, error)) (T, error) {
	var v T
	var err error
	for range 5 {
		v, err = op()
		if !errors.Is(err, errSpillMissing) {
			return v, err
		}
	}
	return v, err
}
