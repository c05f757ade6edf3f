package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// RewrapOptions says which objects Rewrap visits and where their keys go.
type RewrapOptions struct {
	Scope
	// ToKMSKey moves SSE-S3 and SSE-KMS objects to this SSE-KMS key (id,
	// ARN or alias); ToSSES3 moves them to SSE-S3. Neither: each object
	// stays under its own key and mode, re-sealed by the key's newest
	// version.
	ToKMSKey string
	ToSSES3  bool
	DryRun   bool // report what would be rewrapped, change nothing
	// SSES3KeyID is the KMS key behind SSE-S3, as the gateway is
	// configured (Config.SSES3KeyID); "" = the embedded KMS's hidden key.
	SSES3KeyID string
}

// ErrRewrapOptions is an invalid RewrapOptions.
var ErrRewrapOptions = errors.New("gateway: invalid rewrap options")

// RewrapSummary counts what Rewrap did.
type RewrapSummary struct {
	Scanned     int64
	Rewrapped   int64
	WouldRewrap int64 // DryRun
	Current     int64 // already sealed by the target key's newest version
	SkippedSSEC int64 // the gateway has no SSE-C keys
	Pending     int64
	Failed      int64
}

// Rewrap re-seals the object key of every SSE-S3 and SSE-KMS object in
// scope: the object key is unsealed through k and sealed again under a new
// KMS data key from the newest version of the target key (its own key, or
// opts.ToKMSKey, or the SSE-S3 key), and the new metadata is stored with a
// metadata-only self copy (store.Copy). The body is never re-encrypted, so
// the stored ciphertext stays byte for byte the same; only the KMS blob
// and the metadata MAC change. After a key rotation this lets the operator
// stop depending on old key versions; with ToKMSKey/ToSSES3 it moves
// objects between keys and modes.
//
// Objects whose blob (an embedded-KMS blob, whose header names key and
// version) is already from the target's newest version are left alone, so
// a rerun after an interruption does no repeated work. SSE-C objects are
// counted and skipped. A failed object is reported and counted, not
// returned; err is for listing failures and a cancelled ctx.
//
// Safe while the gateway serves: a copy that finds the object replaced
// since it was listed fails that object (errObjectChanged) and keeps the
// newer one.
func Rewrap(ctx context.Context, st store.Store, k kms.Service, opts RewrapOptions, progress func(ObjectProgress)) (RewrapSummary, error) {
	if opts.ToKMSKey != "" && opts.ToSSES3 {
		return RewrapSummary{}, fmt.Errorf("%w: a KMS key and SSE-S3 are exclusive targets", ErrRewrapOptions)
	}
	if err := opts.Scope.check(); err != nil {
		return RewrapSummary{}, err
	}
	rw := &rewrapper{
		o:      &objectLayer{store: st, keys: newKeyring(k, nil).withSSES3Key(opts.SSES3KeyID)},
		kms:    k,
		opts:   opts,
		newest: make(map[string]keyVersion),
	}
	if opts.ToKMSKey != "" {
		// Fail early on a key that does not exist or cannot encrypt,
		// rather than once per object.
		if _, err := rw.newestVersion(ctx, opts.ToKMSKey); err != nil {
			return RewrapSummary{}, fmt.Errorf("target key %q: %w", opts.ToKMSKey, err)
		}
	}
	var sum RewrapSummary
	err := walk(ctx, st, opts.Scope, true, func(bucket string, si store.ObjectInfo) error {
		sum.Scanned++
		outcome, rerr := rw.object(ctx, bucket, si)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch outcome {
		case OutcomeRewrapped:
			sum.Rewrapped++
		case OutcomeWouldRewrap:
			sum.WouldRewrap++
		case OutcomeCurrent:
			sum.Current++
		case OutcomeSkippedSSEC:
			sum.SkippedSSEC++
		case OutcomePending:
			sum.Pending++
		default:
			sum.Failed++
		}
		if progress != nil {
			progress(ObjectProgress{Bucket: bucket, Key: si.Key, Outcome: outcome, Err: rerr, Done: sum.Scanned})
		}
		return nil
	})
	return sum, err
}

type keyVersion struct {
	keyID   string
	version uint32
}

type rewrapper struct {
	o    *objectLayer
	kms  kms.Service
	opts RewrapOptions
	// newest caches, per key reference, the key id and version that new
	// blobs get; one probe per key and run.
	newest map[string]keyVersion
}

// newestVersion learns which key version seals new data under ref by
// sealing one throwaway byte: the Service interface has no call for it,
// and this works for any key the gateway may use. A blob that is not an
// embedded-KMS blob (remote KMS) yields an error: callers then re-seal.
func (r *rewrapper) newestVersion(ctx context.Context, ref string) (keyVersion, error) {
	if kv, ok := r.newest[ref]; ok {
		return kv, nil
	}
	out, err := r.kms.Encrypt(ctx, kms.EncryptInput{KeyID: ref, Plaintext: []byte{0}})
	if err != nil {
		return keyVersion{}, err
	}
	id, v, err := kms.BlobKeyVersion(out.CiphertextBlob)
	if err != nil {
		return keyVersion{}, err
	}
	kv := keyVersion{keyID: id, version: v}
	r.newest[ref] = kv
	return kv, nil
}

// target is the encryption an object moves to.
func (r *rewrapper) target(em *sse.ObjectMeta) (encSpec, string, error) {
	enc := encSpec{Mode: em.Mode, BucketKey: em.BucketKeyEnabled}
	if em.Mode == sse.ModeSSEKMS && em.EncryptionContext != "" {
		c, err := sse.ParseEncryptionContext(em.EncryptionContext)
		if err != nil {
			return enc, "", err
		}
		enc.Context, enc.ContextMap = em.EncryptionContext, c
	}
	switch {
	case r.opts.ToSSES3:
		return encSpec{Mode: sse.ModeSSES3}, r.o.keys.sseS3Key, nil
	case r.opts.ToKMSKey != "":
		enc.Mode, enc.KMSKeyID = sse.ModeSSEKMS, r.opts.ToKMSKey
		if em.Mode != sse.ModeSSEKMS {
			enc.BucketKey = false
		}
		return enc, r.opts.ToKMSKey, nil
	case em.Mode == sse.ModeSSES3:
		return enc, r.o.keys.sseS3Key, nil
	default:
		enc.KMSKeyID = em.KMSKeyARN
		return enc, em.KMSKeyARN, nil
	}
}

func (r *rewrapper) object(ctx context.Context, bucket string, si store.ObjectInfo) (string, error) {
	info, err := toObjectInfo(si)
	if errors.Is(err, errPending) {
		return OutcomePending, nil
	}
	if err != nil {
		return OutcomeFailed, fmt.Errorf("metadata: %w", err)
	}
	em := info.SSE
	if em.Mode == sse.ModeSSEC {
		return OutcomeSkippedSSEC, nil
	}
	enc, ref, err := r.target(em)
	if err != nil {
		return OutcomeFailed, err
	}
	if enc.Mode == em.Mode && r.current(ctx, em.KMSBlob, ref) {
		return OutcomeCurrent, nil
	}
	if r.opts.DryRun {
		return OutcomeWouldRewrap, nil
	}
	m := objectMeta{Headers: info.Headers, Tags: info.Tags}
	// copy unseals (authenticating the metadata), checks the stored size,
	// re-seals the same object key and stores the new entry in place.
	if _, err := r.o.copy(ctx, bucket, si.Key, info, nil, bucket, si.Key, m, enc); err != nil {
		return OutcomeFailed, err
	}
	return OutcomeRewrapped, nil
}

// current reports whether blob already comes from the newest version of
// the key ref names. Any doubt (unparsable blob, failed probe) is false:
// re-sealing is always safe.
func (r *rewrapper) current(ctx context.Context, blob []byte, ref string) bool {
	id, v, err := kms.BlobKeyVersion(blob)
	if err != nil {
		return false
	}
	kv, err := r.newestVersion(ctx, ref)
	return err == nil && kv.keyID == id && kv.version == v
}
