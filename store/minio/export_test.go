package minio

import (
	"context"
	"time"
)

// TmpDir and SweepTemp expose the temporary-object machinery to the
// external tests.
const TmpDir = tmpDir

func (s *Store) SweepTemp(ctx context.Context, bucket string, cutoff time.Time) (int, error) {
	return s.sweepTemp(ctx, bucket, cutoff)
}
