package kms

import (
	"context"
	"crypto/rand"
	"fmt"
)

// AWS limits for the data plane.
const (
	maxPlaintext     = 4096
	maxDataKeyBytes  = 1024
	maxRandomBytes   = 1024
	maxContextPairs  = 64
	maxContextLength = 8192
)

func validateContext(ec EncryptionContext) error {
	if len(ec) > maxContextPairs {
		return fmt.Errorf("%w: encryption context has too many pairs", ErrValidation)
	}
	n := 0
	for k, v := range ec {
		if k == "" {
			return fmt.Errorf("%w: encryption context key must not be empty", ErrValidation)
		}
		n += len(k) + len(v)
	}
	if n > maxContextLength {
		return fmt.Errorf("%w: encryption context is too large", ErrValidation)
	}
	return nil
}

// usableKey resolves ref to an enabled key with its material that the
// caller may use for r.
func (c *Core) usableKey(ctx context.Context, o *op, ref string, r authzRequest) (*cachedKey, error) {
	id, err := c.resolveID(ctx, ref)
	if err != nil {
		return nil, err
	}
	ck, err := c.loadKey(ctx, id)
	if err != nil {
		return nil, err
	}
	// Authorization comes before the state check, as in AWS: a caller
	// without permission learns nothing about the key's state.
	if err := c.authorize(ctx, o, ck, r); err != nil {
		return nil, err
	}
	// Recorded before the state check: an attempt on a key pending
	// deletion must hold its deletion back (deletion.go).
	c.recordUse(id)
	if err := c.usable(ck.rec); err != nil {
		return nil, err
	}
	return ck, nil
}

// encryptWith seals plaintext under the newest version of ck; for a key
// in an external key store, after the external manager encrypted it
// (xks.go: double encryption).
func (c *Core) encryptWith(ctx context.Context, ck *cachedKey, plaintext []byte, ec EncryptionContext) ([]byte, error) {
	inner, err := c.xksWrap(ctx, ck.rec, plaintext)
	if err != nil {
		return nil, err
	}
	return sealBlobFor(ck.rec.id, ck.latest, ck.versions[ck.latest], inner, ec)
}

// Encrypt encrypts up to 4096 bytes under a key's newest version.
func (c *Core) Encrypt(ctx context.Context, in EncryptInput) (out EncryptOutput, err error) {
	o, err := c.begin(ctx, "Encrypt")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	o.context(in.Context)
	if len(in.Plaintext) < 1 || len(in.Plaintext) > maxPlaintext {
		return out, fmt.Errorf("%w: Plaintext must be 1 to %d bytes", ErrValidation, maxPlaintext)
	}
	if err := validateContext(in.Context); err != nil {
		return out, err
	}
	ck, err := c.usableKey(ctx, o, in.KeyID, authzRequest{action: "kms:Encrypt", ec: in.Context, withEC: true, algorithm: symmetricDefault})
	if err != nil {
		return out, err
	}
	if err := c.requireSymmetric(ck); err != nil {
		return out, err
	}
	o.key(ck.rec.id, ck.latest)
	blob, err := c.encryptWith(ctx, ck, in.Plaintext, in.Context)
	if err != nil {
		return out, err
	}
	return EncryptOutput{CiphertextBlob: blob, KeyID: c.arn(ck.rec.id)}, nil
}

// decrypt opens a blob; the blob names its key and version. When keyRef is
// set it must resolve to that key (IncorrectKeyException otherwise, as AWS).
//
// action is the permission checked on the blob's key: kms:Decrypt, or
// kms:ReEncryptFrom for ReEncrypt.
func (c *Core) decrypt(ctx context.Context, o *op, action string, blob []byte, ec EncryptionContext, keyRef string) ([]byte, *cachedKey, error) {
	h, _, err := parseBlob(blob)
	if err != nil {
		return nil, nil, err
	}
	id := h.id()
	o.key(id, h.version)
	if keyRef != "" {
		want, err := c.resolveID(ctx, keyRef)
		if err != nil {
			return nil, nil, err
		}
		if want != id {
			return nil, nil, fmt.Errorf("%w: ciphertext was not encrypted under %s", ErrIncorrectKey, keyRef)
		}
	}
	ck, err := c.loadKey(ctx, id)
	if err != nil {
		// A blob naming a key we don't have is, to an API caller, bad
		// ciphertext (AWS answers InvalidCiphertextException too). To the
		// gateway it is a stored object whose key was deleted: a KMS
		// condition its client must see (S3's KMS.NotFoundException), not
		// a corrupt object.
		if errorType(err) == "NotFoundException" {
			if isAPICall(ctx) {
				return nil, nil, ErrInvalidCiphertext
			}
			return nil, nil, fmt.Errorf("%w: the key %s of this ciphertext does not exist (deleted)", ErrNotFound, id)
		}
		return nil, nil, err
	}
	if isAPICall(ctx) && ck.rec.hidden {
		return nil, nil, ErrInvalidCiphertext
	}
	if err := c.authorize(ctx, o, ck, authzRequest{action: action, ec: ec, withEC: true, algorithm: symmetricDefault}); err != nil {
		return nil, nil, err
	}
	c.recordUse(id) // before the state check, as in usableKey
	if err := c.usable(ck.rec); err != nil {
		return nil, nil, err
	}
	if err := c.requireSymmetric(ck); err != nil {
		return nil, nil, err
	}
	material, ok := ck.versions[h.version]
	if !ok {
		return nil, nil, ErrInvalidCiphertext
	}
	inner, err := openBlob(blob, h, material, ec)
	if err != nil {
		return nil, nil, err
	}
	pt, err := c.xksUnwrap(ctx, ck.rec, inner) // the external layer, if any (xks.go)
	if err != nil {
		return nil, nil, err
	}
	return pt, ck, nil
}

// Decrypt decrypts a blob made by Encrypt or GenerateDataKey*.
func (c *Core) Decrypt(ctx context.Context, in DecryptInput) (out DecryptOutput, err error) {
	o, err := c.begin(ctx, "Decrypt")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	o.context(in.Context)
	pt, ck, err := c.decrypt(ctx, o, "kms:Decrypt", in.CiphertextBlob, in.Context, in.KeyID)
	if err != nil {
		return out, err
	}
	return DecryptOutput{Plaintext: pt, KeyID: c.arn(ck.rec.id)}, nil
}

// ReEncryptInput moves a ciphertext to another key (or the newest version
// of the same key) without exposing the plaintext to the caller.
type ReEncryptInput struct {
	CiphertextBlob     []byte
	SourceContext      EncryptionContext
	SourceKeyID        string // optional
	DestinationKeyID   string
	DestinationContext EncryptionContext
}

type ReEncryptOutput struct {
	CiphertextBlob []byte
	SourceKeyID    string // ARN
	KeyID          string // destination ARN
}

func (c *Core) ReEncrypt(ctx context.Context, in ReEncryptInput) (out ReEncryptOutput, err error) {
	o, err := c.begin(ctx, "ReEncrypt")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	o.context(in.SourceContext)
	if err := validateContext(in.DestinationContext); err != nil {
		return out, err
	}
	pt, src, err := c.decrypt(ctx, o, "kms:ReEncryptFrom", in.CiphertextBlob, in.SourceContext, in.SourceKeyID)
	if err != nil {
		return out, err
	}
	defer clear(pt)
	dst, err := c.usableKey(ctx, o, in.DestinationKeyID,
		authzRequest{action: "kms:ReEncryptTo", ec: in.DestinationContext, withEC: true, algorithm: symmetricDefault})
	if err != nil {
		return out, err
	}
	if err := c.requireSymmetric(dst); err != nil {
		return out, err
	}
	blob, err := c.encryptWith(ctx, dst, pt, in.DestinationContext)
	if err != nil {
		return out, err
	}
	return ReEncryptOutput{CiphertextBlob: blob, SourceKeyID: c.arn(src.rec.id), KeyID: c.arn(dst.rec.id)}, nil
}

func dataKeySize(in GenerateDataKeyInput) (int, error) {
	switch {
	case in.NumberOfBytes != 0 && in.KeySpec != "":
		return 0, fmt.Errorf("%w: KeySpec and NumberOfBytes are exclusive", ErrValidation)
	case in.NumberOfBytes != 0:
		if in.NumberOfBytes < 1 || in.NumberOfBytes > maxDataKeyBytes {
			return 0, fmt.Errorf("%w: NumberOfBytes must be 1 to %d", ErrValidation, maxDataKeyBytes)
		}
		return in.NumberOfBytes, nil
	case in.KeySpec == "" || in.KeySpec == "AES_256":
		return 32, nil
	case in.KeySpec == "AES_128":
		return 16, nil
	}
	return 0, fmt.Errorf("%w: KeySpec must be AES_256 or AES_128", ErrValidation)
}

func (c *Core) generateDataKey(ctx context.Context, name string, in GenerateDataKeyInput) (dk DataKey, err error) {
	o, err := c.begin(ctx, name)
	if err != nil {
		return dk, err
	}
	defer func() { o.end(err) }()
	o.context(in.Context)
	n, err := dataKeySize(in)
	if err != nil {
		return dk, err
	}
	if err := validateContext(in.Context); err != nil {
		return dk, err
	}
	ck, err := c.usableKey(ctx, o, in.KeyID, authzRequest{action: "kms:" + name, ec: in.Context, withEC: true})
	if err != nil {
		return dk, err
	}
	if err := c.requireSymmetric(ck); err != nil {
		return dk, err
	}
	o.key(ck.rec.id, ck.latest)
	pt := make([]byte, n)
	if _, err := rand.Read(pt); err != nil {
		return dk, fmt.Errorf("%w: random", ErrInternal)
	}
	blob, err := c.encryptWith(ctx, ck, pt, in.Context)
	if err != nil {
		return dk, err
	}
	return DataKey{Plaintext: pt, CiphertextBlob: blob, KeyID: c.arn(ck.rec.id)}, nil
}

// GenerateDataKey returns a fresh data key and its ciphertext blob.
func (c *Core) GenerateDataKey(ctx context.Context, in GenerateDataKeyInput) (DataKey, error) {
	return c.generateDataKey(ctx, "GenerateDataKey", in)
}

// GenerateDataKeyWithoutPlaintext returns only the ciphertext blob.
func (c *Core) GenerateDataKeyWithoutPlaintext(ctx context.Context, in GenerateDataKeyInput) (DataKey, error) {
	dk, err := c.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", in)
	clear(dk.Plaintext)
	dk.Plaintext = nil
	return dk, err
}

// GenerateRandom returns n (1..1024) random bytes.
func (c *Core) GenerateRandom(ctx context.Context, n int) (b []byte, err error) {
	o, err := c.begin(ctx, "GenerateRandom")
	if err != nil {
		return nil, err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:GenerateRandom"); err != nil {
		return nil, err
	}
	if n < 1 || n > maxRandomBytes {
		return nil, fmt.Errorf("%w: NumberOfBytes must be 1 to %d", ErrValidation, maxRandomBytes)
	}
	b = make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("%w: random", ErrInternal)
	}
	return b, nil
}
