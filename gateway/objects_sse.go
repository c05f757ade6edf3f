package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
)

// encSpec is the encryption a new object (or copy destination) gets: the
// request's SSE headers, else the bucket's default, else the server's.
type encSpec struct {
	Mode       sse.Mode // never ModeNone
	KMSKeyID   string   // SSE-KMS key as the client named it; "" = alias/aws/s3
	Context    string   // SSE-KMS context as sent (base64 JSON), echoed on writes
	ContextMap map[string]string
	BucketKey  bool
	Customer   *sse.CustomerKey // SSE-C
}

// SSE-C errors S3 clients rely on (docs: "Specifying server-side encryption
// with customer-provided keys").
var (
	errSSECInsecure = errInvalidRequest.with("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
	// GET/HEAD of an SSE-C object without the key.
	errSSECKeyRequired = errInvalidRequest.with("The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
	// SSE-C headers on an object that is not SSE-C.
	errSSECNotApplicable = errInvalidRequest.with("The encryption parameters are not applicable to this object.")
	errSSECBlocked       = errAccessDenied.with("Requests specifying Server Side Encryption with Customer provided keys are blocked for this bucket.")
)

// secureTransport says whether SSE-C may be used on r: over TLS, or when the
// operator declared a TLS-terminating proxy in front.
func (s *Server) secureTransport(r *http.Request) bool {
	return r.TLS != nil || s.cfg.AllowInsecureSSEC
}

// encryptionFor resolves the encryption of a write to bucket from r's SSE
// headers and the bucket default (PutObject, CreateMultipartUpload,
// CopyObject destination).
func (s *Server) encryptionFor(r *http.Request, bucket string) (encSpec, error) {
	req, err := sse.ParsePutHeaders(r.Header)
	if err != nil {
		return encSpec{}, err
	}
	def, err := s.bucketEncryption(r.Context(), bucket)
	if err != nil {
		return encSpec{}, err
	}
	spec := encSpec{Mode: req.Mode, KMSKeyID: req.KMSKeyID, Context: req.Context, ContextMap: req.ContextMap, Customer: req.CustomerKey}
	switch req.Mode {
	case sse.ModeSSEC:
		if !s.secureTransport(r) {
			return encSpec{}, errSSECInsecure
		}
		if def.BlockSSEC {
			return encSpec{}, errSSECBlocked
		}
		return spec, nil
	case sse.ModeNone:
		spec.Mode = sse.ModeSSES3
		if def.Algorithm == sse.AlgorithmKMS {
			spec.Mode, spec.KMSKeyID = sse.ModeSSEKMS, def.KMSKeyID
		}
	}
	// S3 Bucket Keys: the request's header wins, else the bucket's setting.
	if spec.Mode == sse.ModeSSEKMS {
		spec.BucketKey = def.BucketKeyEnabled
		if req.BucketKeyEnabled != nil {
			spec.BucketKey = *req.BucketKeyEnabled
		}
	}
	return spec, nil
}

// readKey returns the SSE-C key of a GET or HEAD, refusing SSE-C over plain
// HTTP and SSE-S3/KMS headers on reads, as S3 does.
func (s *Server) readKey(r *http.Request) (*sse.CustomerKey, error) {
	ck, err := sse.CheckReadHeaders(r.Header)
	if err != nil {
		return nil, err
	}
	if ck != nil && !s.secureTransport(r) {
		return nil, errSSECInsecure
	}
	return ck, nil
}

// customerKey returns the SSE-C key of UploadPart (copySource false) or the
// x-amz-copy-source-…-customer-* key of a copy (true), if any.
func (s *Server) customerKey(r *http.Request, copySource bool) (*sse.CustomerKey, error) {
	ck, err := sse.ParseSSECHeaders(r.Header, copySource)
	if err != nil {
		return nil, err
	}
	if ck != nil && !s.secureTransport(r) {
		return nil, errSSECInsecure
	}
	return ck, nil
}

// checkCustomerKey applies S3's rules for the SSE-C key of a read: required
// for SSE-C objects (400 without, 403 with a wrong one), refused for others.
// The key is checked against the object's salted hash before any decryption.
func checkCustomerKey(em *sse.ObjectMeta, ck *sse.CustomerKey) error {
	if em.Mode != sse.ModeSSEC {
		if ck != nil {
			return errSSECNotApplicable
		}
		return nil
	}
	if ck == nil {
		return errSSECKeyRequired
	}
	return em.CheckSSECKey(ck.Key)
}

// seal makes the sse metadata of a new object (or of a copy, with the
// source's object key in reuse) and returns it with the object key.
func (o *objectLayer) seal(ctx context.Context, bucket, key string, enc encSpec, reuse *sse.ObjectKey) (*sse.ObjectMeta, sse.ObjectKey, error) {
	var dek sse.ObjectKey
	if reuse != nil {
		dek = *reuse
	} else {
		var err error
		if dek, err = sse.NewObjectKey(); err != nil {
			return nil, dek, err
		}
	}
	em := &sse.ObjectMeta{Mode: enc.Mode, Suite: sse.DefaultSuite()}
	var kekBytes []byte
	switch enc.Mode {
	case sse.ModeSSEC:
		salt, err := sse.NewSSECSalt()
		if err != nil {
			return nil, dek, err
		}
		em.SSECSalt = salt
		em.SSECKeyHash = sse.SSECKeyHash(enc.Customer.Key, salt)
		em.SSECKeyMD5 = enc.Customer.KeyMD5
		kekBytes = sse.DeriveSSECKEK(enc.Customer.Key, salt)
	case sse.ModeSSES3, sse.ModeSSEKMS:
		k, err := o.keys.newKEK(ctx, kekSpec{
			SSES3: enc.Mode == sse.ModeSSES3, KMSKeyID: enc.KMSKeyID, BucketKey: enc.BucketKey,
			Bucket: bucket, Object: key, Context: kms.EncryptionContext(enc.ContextMap),
		})
		if err != nil {
			return nil, dek, err
		}
		em.KMSKeyARN, em.KMSBlob, kekBytes = k.KeyARN, k.Blob, k.Key
		if enc.Mode == sse.ModeSSEKMS {
			em.EncryptionContext, em.BucketKeyEnabled = enc.Context, enc.BucketKey
		}
	default:
		return nil, dek, errInvalidArgument.with("Unknown server-side encryption mode.")
	}
	if err := em.SealKey(kekBytes, dek, bucket, key); err != nil {
		return nil, dek, err
	}
	return em, dek, nil
}

// unseal recovers an object's key: from the client's SSE-C key, or through
// the KMS (which is where a disabled or deleted key stops the read). It
// also authenticates the whole metadata entry.
func (o *objectLayer) unseal(ctx context.Context, bucket, key string, em *sse.ObjectMeta, ck *sse.CustomerKey) (sse.ObjectKey, error) {
	if err := checkCustomerKey(em, ck); err != nil {
		return sse.ObjectKey{}, err
	}
	if em.Mode == sse.ModeSSEC {
		return em.UnsealKey(sse.DeriveSSECKEK(ck.Key, em.SSECSalt), bucket, key)
	}
	spec, err := kekSpecOf(em, bucket, key)
	if err != nil {
		return sse.ObjectKey{}, err
	}
	k, err := o.keys.openKEK(ctx, spec, em.KMSBlob)
	if err != nil {
		return sse.ObjectKey{}, err
	}
	return em.UnsealKey(k.Key, bucket, key)
}

// kekSpecOf is the KMS side of a stored object's key.
func kekSpecOf(em *sse.ObjectMeta, bucket, key string) (kekSpec, error) {
	spec := kekSpec{SSES3: em.Mode == sse.ModeSSES3, KMSKeyID: em.KMSKeyARN, BucketKey: em.BucketKeyEnabled, Bucket: bucket, Object: key}
	if em.EncryptionContext != "" {
		c, err := sse.ParseEncryptionContext(em.EncryptionContext)
		if err != nil {
			return spec, err
		}
		spec.Context = c
	}
	return spec, nil
}

// opaqueETag is the ETag of an SSE-KMS or SSE-C object. S3 does not return
// the plaintext MD5 for those modes, and neither may we: anyone allowed to
// list the bucket, with or without the key, would learn a fingerprint of
// the content. It is derived from the object key, so it is stable across
// metadata-only copies and reveals nothing about the plaintext.
func opaqueETag(dek sse.ObjectKey) string {
	h := hmac.New(sha256.New, dek[:])
	h.Write([]byte("ssegate/v1 etag"))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// setSSEHeaders echoes an object's encryption on a response; on writes the
// SSE-KMS context is echoed too, as S3 does.
func setSSEHeaders(h http.Header, em *sse.ObjectMeta, write bool) {
	if em == nil {
		return
	}
	em.SetResponseHeaders(h)
	if write && em.Mode == sse.ModeSSEKMS && em.EncryptionContext != "" {
		h.Set(sse.HeaderSSEContext, em.EncryptionContext)
	}
}
