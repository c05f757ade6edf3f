package minio

import (
	"context"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
)

// TmpDir and SweepTemp expose the temporary-object machinery to the
// external tests.
const TmpDir = tmpDir

func (s *Store) SweepTemp(ctx context.Context, bucket string, cutoff time.Time) (int, error) {
	return s.sweepTemp(ctx, bucket, cutoff)
}

// CreateMultipartWithoutChecksum creates an upload the way gateways before
// FULL_OBJECT CRC32C uploads did: no checksum algorithm, no recCRC.
func (s *Store) CreateMultipartWithoutChecksum(ctx context.Context, bucket, key string) (string, error) {
	id, err := s.CreateMultipart(ctx, bucket, key, nil)
	if err != nil {
		return "", err
	}
	// Replace the backend upload by one without an algorithm, under the
	// same record (minus recCRC).
	rec, err := s.readRecord(ctx, bucket, key, id)
	if err != nil {
		return "", err
	}
	s.core.AbortMultipartUpload(ctx, bucket, key, id)
	s.removeRecords(ctx, bucket, id)
	nid, err := s.core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{UserMetadata: toUserMetadata(store.Metadata{spillField: rec[recFinal]})})
	if err != nil {
		return "", err
	}
	delete(rec, recCRC)
	return nid, s.putRecord(ctx, bucket, nid, uploadRecord(nid), rec)
}
