package e2e

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// The crash workload: what the clients do while the gateway is killed.

const (
	crashWorkers    = 4
	keysPerWorker   = 6
	multipartPartSz = 5 << 20 // S3's minimum for all parts but the last
)

// crashClients are the clients of one gateway life.
type crashClients struct {
	s3   *minio.Client
	core minio.Core
	kms  *kms.Client
}

// crashFigures are the totals the test reports.
type crashFigures struct {
	kills, attempts, acked, ackedMultipart, ackedCopies, ackedLarge atomic.Int64
	keysCreated, rotations, verifiedReads, absentReads, pendingLost atomic.Int64
	listKeysTransportErrs                                           atomic.Int64
}

func (f *crashFigures) String() string {
	return fmt.Sprintf("kills=%d writes attempted=%d acknowledged=%d (large=%d multipart=%d copies=%d) reads verified=%d (absent=%d) acknowledged lost to a pending overwrite=%d kms keys created=%d rotations=%d ListKeys transport errors=%d",
		f.kills.Load(), f.attempts.Load(), f.acked.Load(), f.ackedLarge.Load(), f.ackedMultipart.Load(), f.ackedCopies.Load(),
		f.verifiedReads.Load(), f.absentReads.Load(), f.pendingLost.Load(), f.keysCreated.Load(), f.rotations.Load(), f.listKeysTransportErrs.Load())
}

// sse returns the encryption options of a key's mode for writes and reads.
func (r *crashRun) sse(m sseMode) encrypt.ServerSide {
	switch m {
	case modeKMS:
		s, err := encrypt.NewSSEKMS(r.kmsKeyID, nil)
		if err != nil {
			panic(err) // a constant, valid key id
		}
		return s
	case modeC:
		return r.ssec
	}
	return encrypt.NewSSE()
}

// worker drives keys [w*keysPerWorker, (w+1)*keysPerWorker) until ctx ends
// (the gateway was killed). Errors are expected (the gateway dies under
// it); only acknowledgements are recorded as facts.
func (r *crashRun) worker(ctx context.Context, c crashClients, w int, rng *mrand.Rand) {
	keys := r.keys[w*keysPerWorker : (w+1)*keysPerWorker]
	for ctx.Err() == nil {
		k := keys[rng.IntN(len(keys))]
		switch p := rng.IntN(100); {
		case p < 50:
			r.put(ctx, c, k, 1+rng.IntN(256<<10), rng)
		case p < 65:
			r.put(ctx, c, k, 2<<20+rng.IntN(3<<20), rng)
		case p < 77:
			r.multipart(ctx, c, k, rng)
		default:
			src := keys[rng.IntN(len(keys))]
			r.copy(ctx, c, src, k)
		}
	}
}

func randomBytes(rng *mrand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func (r *crashRun) put(ctx context.Context, c crashClients, k *keyModel, size int, rng *mrand.Rand) {
	data := randomBytes(rng, size)
	v := versionOf(data)
	k.attempt(v)
	r.fig.attempts.Add(1)
	_, err := c.s3.PutObject(ctx, r.bucket, k.name, bytes.NewReader(data), int64(size),
		minio.PutObjectOptions{ServerSideEncryption: r.sse(k.mode), DisableMultipart: true})
	if err == nil {
		k.ack(v)
		r.fig.acked.Add(1)
		if size >= 2<<20 {
			r.fig.ackedLarge.Add(1)
		}
	}
}

// multipart uploads one full part and a short last part with explicit
// multipart calls, so the object is really assembled from parts.
func (r *crashRun) multipart(ctx context.Context, c crashClients, k *keyModel, rng *mrand.Rand) {
	data := randomBytes(rng, multipartPartSz+1+rng.IntN(64<<10))
	v := versionOf(data)
	sse := r.sse(k.mode)
	id, err := c.core.NewMultipartUpload(ctx, r.bucket, k.name, minio.PutObjectOptions{ServerSideEncryption: sse})
	if err != nil {
		return
	}
	var partSSE encrypt.ServerSide
	if k.mode == modeC {
		partSSE = sse // SSE-C parts carry the key; SSE-S3/KMS parts carry nothing
	}
	var parts []minio.CompletePart
	for n, chunk := range [][]byte{data[:multipartPartSz], data[multipartPartSz:]} {
		p, err := c.core.PutObjectPart(ctx, r.bucket, k.name, id, n+1, bytes.NewReader(chunk), int64(len(chunk)),
			minio.PutObjectPartOptions{SSE: partSSE})
		if err != nil {
			return
		}
		parts = append(parts, minio.CompletePart{PartNumber: n + 1, ETag: p.ETag})
	}
	// Only Complete can change the object.
	k.attempt(v)
	r.fig.attempts.Add(1)
	if _, err := c.core.CompleteMultipartUpload(ctx, r.bucket, k.name, id, parts, minio.PutObjectOptions{}); err == nil {
		k.ack(v)
		r.fig.acked.Add(1)
		r.fig.ackedMultipart.Add(1)
	}
}

// copy copies src over dst when src's content is certain (it is, unless a
// write to it failed during this life, which happens only as the gateway
// dies).
func (r *crashRun) copy(ctx context.Context, c crashClients, src, dst *keyModel) {
	v, ok := src.known()
	if !ok || src == dst {
		return
	}
	dst.attempt(v)
	r.fig.attempts.Add(1)
	_, err := c.s3.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: r.bucket, Object: dst.name, Encryption: r.sse(dst.mode)},
		minio.CopySrcOptions{Bucket: r.bucket, Object: src.name, Encryption: r.copySourceSSE(src.mode)})
	if err == nil {
		dst.ack(v)
		r.fig.acked.Add(1)
		r.fig.ackedCopies.Add(1)
	}
}

// copySourceSSE: only an SSE-C source needs its key on a copy.
func (r *crashRun) copySourceSSE(m sseMode) encrypt.ServerSide {
	if m == modeC {
		return r.ssec
	}
	return nil
}

// kmsWorker creates keys and rotates them through the KMS JSON API.
func (r *crashRun) kmsWorker(ctx context.Context, c crashClients, rng *mrand.Rand) {
	for ctx.Err() == nil {
		if rng.IntN(2) == 0 {
			out, err := c.kms.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("crash")})
			if err == nil {
				r.kmsMu.Lock()
				r.createdKeys = append(r.createdKeys, *out.KeyMetadata.KeyId)
				r.kmsMu.Unlock()
				r.fig.keysCreated.Add(1)
			}
			continue
		}
		r.kmsMu.Lock()
		id := r.kmsKeyID // the key SSE-KMS objects use: rotate it under load
		if n := len(r.createdKeys); n > 0 && rng.IntN(2) == 0 {
			id = r.createdKeys[rng.IntN(n)]
		}
		r.kmsMu.Unlock()
		_, err := c.kms.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
		if err == nil {
			r.fig.rotations.Add(1)
		} else if isAPIError(err, "LimitExceededException") {
			// AWS allows a bounded number of on-demand rotations per key.
			continue
		}
	}
}

// load runs the workers until ctx ends and waits for them.
func (r *crashRun) load(ctx context.Context, c crashClients, seed uint64) {
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Go(func() { r.worker(ctx, c, w, mrand.New(mrand.NewPCG(seed, uint64(w)))) })
	}
	wg.Go(func() { r.kmsWorker(ctx, c, mrand.New(mrand.NewPCG(seed, 99))) })
	wg.Wait()
}
