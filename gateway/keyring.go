package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
)

// keyring turns an SSE-S3 or SSE-KMS request into the key-encryption key
// (KEK) that seals an object's DEK, and back. The KEK is a KMS data key: its
// plaintext seals the DEK, its ciphertext blob travels in the object's
// metadata, and only the KMS can turn the blob back into the KEK.
//
// Calls to the KMS are what makes SSE-KMS controllable (disable the key and
// the objects become unreadable), so per-object SSE-KMS calls the KMS on
// every PUT and GET, as S3 does. SSE-S3 and S3 Bucket Keys instead use one
// bucket-level data key for a bounded time (bucketKeyTTL), as S3 does, so a
// burst of PUTs or GETs does not call the KMS per object; the cost is that
// disabling a key takes effect for those objects only once the cached key
// expires. SSE-C never reaches the keyring.
type keyring struct {
	kms kms.Service
	// sseS3Key is the KMS key behind SSE-S3: the embedded KMS's hidden
	// gateway-owned key by default; with a remote KMS, a key there.
	sseS3Key string
	now      func() time.Time
	ttl      time.Duration
	max      int
	// onCache, if set, is told of every bucket-level cache lookup (metrics).
	onCache func(hit bool)
	// viaService is the kms:ViaService of the calls the gateway makes on
	// a user's behalf: "s3.<region>.amazonaws.com", as S3 sends it.
	viaService string
	// authz, when the KMS offers it (the embedded one), authorizes the uses
	// of a customer key that the bucket-level cache spares: otherwise a user
	// without kms:Decrypt could read what another user's GET just cached.
	authz kms.Authorizer

	mu  sync.Mutex
	gen map[string]cachedKey // bucket-level data keys to seal new objects
	dec map[string]cachedKey // unsealed bucket-level blobs, by blob digest + context
}

type cachedKey struct {
	key     []byte
	blob    []byte
	keyARN  string
	expires time.Time
}

// Defaults for the bucket-level key cache. AWS does not publish its bucket
// key lifetime; five minutes bounds how long a disabled key stays usable for
// SSE-S3/bucket-key objects while removing almost all KMS calls from a burst.
const (
	bucketKeyTTL     = 5 * time.Minute
	bucketKeyMaxKeys = 4096
)

func newKeyring(svc kms.Service, now func() time.Time) *keyring {
	if now == nil {
		now = time.Now
	}
	return &keyring{
		kms:      svc,
		sseS3Key: kms.SSES3KeyAlias,
		now:      now,
		ttl:      bucketKeyTTL,
		max:      bucketKeyMaxKeys,
		gen:      make(map[string]cachedKey),
		dec:      make(map[string]cachedKey),
	}
}

// withAuthorizer makes cache hits of SSE-KMS bucket keys ask a for
// permission (a nil a: no check, as with a remote KMS).
func (r *keyring) withAuthorizer(a kms.Authorizer) *keyring {
	r.authz = a
	return r
}

// authorizeCached asks the KMS whether the request's principal may perform
// op with the customer key of spec, when a cached data key spares the call
// that would otherwise have asked.
func (r *keyring) authorizeCached(ctx context.Context, spec kekSpec, keyID, op string, ec kms.EncryptionContext) error {
	if spec.SSES3 || r.authz == nil {
		return nil // SSE-S3: a service-owned key, no customer permission applies
	}
	return r.authz.Authorize(ctx, kms.AuthorizeInput{KeyID: keyID, Operation: op, Context: ec})
}

// withRegion sets the region S3 names in kms:ViaService.
func (r *keyring) withRegion(region string) *keyring {
	r.viaService = "s3." + region + ".amazonaws.com"
	return r
}

// onBehalf makes the KMS calls of an S3 request in ctx calls by the
// requesting principal via S3 (docs/authorization.md, "Through S3"), so
// key policies and grants apply to the user, not to the gateway. Work
// outside a request (rewrap, verify: the operator) carries no caller.
func (r *keyring) onBehalf(ctx context.Context) context.Context {
	ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo)
	if !ok || ri.auth.ARN == "" {
		return ctx
	}
	return kms.WithCaller(ctx, kms.Caller{
		AccessKey: ri.auth.AccessKey, ARN: ri.auth.ARN, ViaService: r.viaService, RequestID: ri.id,
	})
}

// kekSpec says which KMS key and context a KEK comes from.
type kekSpec struct {
	// KMSKeyID is the key for SSE-KMS as the client named it (id, ARN,
	// alias, alias ARN), or empty for alias/aws/s3. Ignored for SSE-S3.
	KMSKeyID string
	SSES3    bool // gateway-owned key (SSE-S3)
	// BucketKey: one data key per bucket (and key and context) for a
	// bounded time instead of one per object.
	BucketKey bool
	Bucket    string
	Object    string
	// Context is the client's x-amz-server-side-encryption-context.
	Context kms.EncryptionContext
}

// kek is a key-encryption key with what must be stored to recover it.
type kek struct {
	Key    []byte // 32 bytes; never stored, never logged
	Blob   []byte // KMS ciphertext blob of Key
	KeyARN string
}

// s3Context is the encryption context S3 passes to KMS: the client's context
// merged with aws:s3:arn, the object ARN, or the bucket ARN for bucket-level
// keys (S3 Bucket Keys and our SSE-S3).
func s3Context(spec kekSpec) kms.EncryptionContext {
	return sse.KMSContext(spec.Bucket, spec.Object, spec.SSES3 || spec.BucketKey, spec.Context)
}

// withSSES3Key makes id (if set) the key behind SSE-S3.
func (r *keyring) withSSES3Key(id string) *keyring {
	if id != "" {
		r.sseS3Key = id
	}
	return r
}

func (r *keyring) keyID(s kekSpec) string {
	if s.SSES3 {
		return r.sseS3Key
	}
	if s.KMSKeyID == "" {
		return kms.AWSManagedS3Alias
	}
	return s.KMSKeyID
}

// newKEK returns a KEK for a new object (or a new seal of an existing one).
func (r *keyring) newKEK(ctx context.Context, spec kekSpec) (kek, error) {
	ctx = r.onBehalf(ctx)
	ec := s3Context(spec)
	in := kms.GenerateDataKeyInput{KeyID: r.keyID(spec), Context: ec, KeySpec: "AES_256"}
	if !spec.SSES3 && !spec.BucketKey {
		dk, err := r.kms.GenerateDataKey(ctx, in)
		if err != nil {
			return kek{}, err
		}
		return kek{Key: dk.Plaintext, Blob: dk.CiphertextBlob, KeyARN: dk.KeyID}, nil
	}
	id := "gen\x00" + in.KeyID + "\x00" + canonicalContext(ec)
	now := r.now()
	r.mu.Lock()
	c, ok := r.gen[id]
	r.mu.Unlock()
	hit := ok && now.Before(c.expires)
	r.cacheLookup(hit)
	if hit {
		if err := r.authorizeCached(ctx, spec, in.KeyID, "GenerateDataKey", ec); err != nil {
			return kek{}, err
		}
		return kek{Key: c.key, Blob: c.blob, KeyARN: c.keyARN}, nil
	}
	dk, err := r.kms.GenerateDataKey(ctx, in)
	if err != nil {
		return kek{}, err
	}
	c = cachedKey{key: dk.Plaintext, blob: dk.CiphertextBlob, keyARN: dk.KeyID, expires: now.Add(r.ttl)}
	r.put(r.gen, id, c)
	// The same blob will be opened by GETs soon: remember it there too.
	r.put(r.dec, decID(dk.CiphertextBlob, ec), c)
	return kek{Key: c.key, Blob: c.blob, KeyARN: c.keyARN}, nil
}

// openKEK recovers the KEK of a stored object from its blob.
func (r *keyring) openKEK(ctx context.Context, spec kekSpec, blob []byte) (kek, error) {
	if len(blob) == 0 {
		return kek{}, errors.New("keyring: object has no KMS blob")
	}
	ctx = r.onBehalf(ctx)
	ec := s3Context(spec)
	cacheable := spec.SSES3 || spec.BucketKey
	var id string
	if cacheable {
		id = decID(blob, ec)
		now := r.now()
		r.mu.Lock()
		c, ok := r.dec[id]
		r.mu.Unlock()
		hit := ok && now.Before(c.expires)
		r.cacheLookup(hit)
		if hit {
			if err := r.authorizeCached(ctx, spec, c.keyARN, "Decrypt", ec); err != nil {
				return kek{}, err
			}
			return kek{Key: c.key, Blob: blob, KeyARN: c.keyARN}, nil
		}
	}
	out, err := r.kms.Decrypt(ctx, kms.DecryptInput{CiphertextBlob: blob, Context: ec})
	if err != nil {
		return kek{}, err
	}
	if len(out.Plaintext) != 32 {
		return kek{}, fmt.Errorf("keyring: data key has %d bytes: %w", len(out.Plaintext), kms.ErrInvalidCiphertext)
	}
	if cacheable {
		r.put(r.dec, id, cachedKey{key: out.Plaintext, blob: blob, keyARN: out.KeyID, expires: r.now().Add(r.ttl)})
	}
	return kek{Key: out.Plaintext, Blob: blob, KeyARN: out.KeyID}, nil
}

func (r *keyring) cacheLookup(hit bool) {
	if r.onCache != nil {
		r.onCache(hit)
	}
}

// put stores c under id, evicting expired entries (and, when still full,
// everything: the cache only saves KMS calls, it holds no state of record).
func (r *keyring) put(m map[string]cachedKey, id string, c cachedKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(m) >= r.max {
		now := r.now()
		for k, v := range m {
			if !now.Before(v.expires) {
				delete(m, k)
			}
		}
		if len(m) >= r.max {
			clear(m)
		}
	}
	m[id] = c
}

func decID(blob []byte, ec kms.EncryptionContext) string {
	h := sha256.New()
	h.Write(blob)
	h.Write([]byte{0})
	h.Write([]byte(canonicalContext(ec)))
	return string(h.Sum(nil))
}

// canonicalContext encodes a context order-independently, for cache keys.
func canonicalContext(ec kms.EncryptionContext) string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%d:%s%d:%s", len(k), k, len(ec[k]), ec[k])
	}
	return b.String()
}
