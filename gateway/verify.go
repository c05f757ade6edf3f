package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// Scope selects the objects an operator command (Verify, Rewrap) walks:
// every bucket, or one bucket, optionally under a key prefix. Objects are
// visited in (bucket, key) order, so a run can resume after the last object
// it reported.
type Scope struct {
	Bucket string // "" = every bucket
	Prefix string // only with Bucket
	// StartAfter is "bucket/key" of the last object already processed:
	// the walk starts with the object after it.
	StartAfter string
}

// ErrScope is an invalid Scope.
var ErrScope = errors.New("gateway: invalid scope")

func (s Scope) check() error {
	if s.Prefix != "" && s.Bucket == "" {
		return fmt.Errorf("%w: a prefix needs a bucket", ErrScope)
	}
	if s.StartAfter != "" && !strings.Contains(s.StartAfter, "/") {
		return fmt.Errorf("%w: start-after must be BUCKET/KEY", ErrScope)
	}
	return nil
}

// walk calls fn for every stored object in scope, in order, with its
// metadata. It stops at the first error of fn or of the store.
func walk(ctx context.Context, st store.Store, sc Scope, withMeta bool, fn func(bucket string, si store.ObjectInfo) error) error {
	if err := sc.check(); err != nil {
		return err
	}
	afterBucket, afterKey, _ := strings.Cut(sc.StartAfter, "/")
	var buckets []string
	if sc.Bucket != "" {
		buckets = []string{sc.Bucket}
	} else {
		all, err := st.ListBuckets(ctx)
		if err != nil {
			return fmt.Errorf("list buckets: %w", err)
		}
		for _, b := range all {
			buckets = append(buckets, b.Name)
		}
	}
	sort.Strings(buckets)
	for _, b := range buckets {
		opts := store.ListOptions{Prefix: sc.Prefix, WithMeta: withMeta}
		switch {
		case sc.StartAfter == "":
		case b < afterBucket:
			continue
		case b == afterBucket:
			opts.StartAfter = afterKey
		}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := st.List(ctx, b, opts)
			if err != nil {
				return fmt.Errorf("list %s: %w", b, err)
			}
			for _, si := range res.Objects {
				if err := fn(b, si); err != nil {
					return err
				}
			}
			if !res.IsTruncated {
				break
			}
			opts.StartAfter = res.NextStartAfter
		}
	}
	return nil
}

// CountObjects counts the stored objects in scope (one listing, no
// metadata), so that a terminal progress bar knows its total.
func CountObjects(ctx context.Context, st store.Store, sc Scope) (int64, error) {
	var n int64
	err := walk(ctx, st, sc, false, func(string, store.ObjectInfo) error { n++; return nil })
	return n, err
}

// Outcomes reported per object by Verify and Rewrap.
const (
	OutcomeOK          = "ok"           // Verify: every package authenticated
	OutcomeSSECChecked = "ssec-checked" // Verify: SSE-C, sizes and metadata only
	OutcomeDamaged     = "damaged"      // Verify: see Err
	OutcomePending     = "pending"      // an unfinished write; left alone
	OutcomeRewrapped   = "rewrapped"    // Rewrap: new KMS blob stored
	OutcomeWouldRewrap = "would-rewrap" // Rewrap --dry-run
	OutcomeCurrent     = "current"      // Rewrap: already under the newest key version
	OutcomeSkippedSSEC = "skipped-ssec" // Rewrap: no key to re-seal with
	OutcomeFailed      = "failed"       // Rewrap: see Err
)

// ObjectProgress reports one object visited by Verify or Rewrap. Err never
// holds key material: it comes from the sse, kms and store errors, which
// carry none.
type ObjectProgress struct {
	Bucket, Key string
	Outcome     string
	Err         error
	Done        int64 // objects visited so far, this one included
}

// VerifySummary counts what Verify found.
type VerifySummary struct {
	Scanned     int64
	Verified    int64 // SSE-S3/SSE-KMS: decrypted and authenticated in full
	SSECChecked int64 // SSE-C: sizes and metadata decoding only (no key)
	Pending     int64
	Damaged     int64 // includes objects whose key the KMS refused
}

// Verify scrubs the objects in scope: for SSE-S3 and SSE-KMS objects it
// unseals the object key through k (authenticating the metadata) and
// decrypts every package to io.Discard, which authenticates each one and
// detects truncation, reordering and bit flips; the plaintext goes nowhere.
// SSE-C objects, whose key the gateway never has, get the checks possible
// without it: the metadata decodes and the stored size matches it.
//
// Each object is reported through progress (may be nil). A damaged object
// is counted and reported, not returned as an error; err is for failures
// to list the backend or a cancelled ctx.
func Verify(ctx context.Context, st store.Store, k kms.Service, sc Scope, progress func(ObjectProgress)) (VerifySummary, error) {
	o := &objectLayer{store: st, keys: newKeyring(k, nil)}
	var sum VerifySummary
	err := walk(ctx, st, sc, true, func(bucket string, si store.ObjectInfo) error {
		sum.Scanned++
		outcome, verr := o.verifyObject(ctx, bucket, si)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch outcome {
		case OutcomeOK:
			sum.Verified++
		case OutcomeSSECChecked:
			sum.SSECChecked++
		case OutcomePending:
			sum.Pending++
		default:
			sum.Damaged++
		}
		if progress != nil {
			progress(ObjectProgress{Bucket: bucket, Key: si.Key, Outcome: outcome, Err: verr, Done: sum.Scanned})
		}
		return nil
	})
	return sum, err
}

// verifyObject checks one listed object; a non-nil error is the reason it
// is damaged.
func (o *objectLayer) verifyObject(ctx context.Context, bucket string, si store.ObjectInfo) (string, error) {
	info, err := toObjectInfo(si)
	if errors.Is(err, errPending) {
		return OutcomePending, nil
	}
	if err != nil {
		return OutcomeDamaged, fmt.Errorf("metadata: %w", err)
	}
	if info.storedSize != info.SSE.StoredSize() {
		return OutcomeDamaged, fmt.Errorf("stored %d bytes, metadata says %d: %w", info.storedSize, info.SSE.StoredSize(), sse.ErrTampered)
	}
	if info.SSE.Mode == sse.ModeSSEC {
		return OutcomeSSECChecked, nil
	}
	rc, err := o.open(ctx, bucket, si.Key, info, nil, 0, info.Size)
	if err != nil {
		return OutcomeDamaged, fmt.Errorf("unseal: %w", err)
	}
	defer rc.Close()
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(io.Discard, rc, *buf)
	if err != nil {
		return OutcomeDamaged, fmt.Errorf("decrypt at plaintext offset ~%d: %w", n, err)
	}
	if n != info.Size {
		return OutcomeDamaged, fmt.Errorf("decrypted %d bytes, metadata says %d: %w", n, info.Size, sse.ErrTampered)
	}
	return OutcomeOK, nil
}
