package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"strings"

	_ "crypto/sha512" // SHA-384 and SHA-512 for signing algorithms
)

// Asymmetric keys (issue 11, part A): Sign, Verify, GetPublicKey, RSA
// Encrypt/Decrypt and GenerateDataKeyPair*. The private key is PKCS#8 DER
// in key_versions.sealed and leaves only as the public half.

// ErrInvalidSignature: Verify found the signature wrong
// (KMSInvalidSignatureException).
var ErrInvalidSignature = errors.New("kms: invalid signature")

const (
	maxSignMessage = 4096 // RAW messages, as AWS
	maxSignature   = 6144
	messageRaw     = "RAW"
	messageDigest  = "DIGEST"
)

// signingAlgorithm: RSA algorithms fit any RSA key; each ECDSA algorithm
// fits one curve (curveSpec), as in AWS.
type signingAlgorithm struct {
	hash      crypto.Hash
	pss       bool
	curveSpec string // "" for RSA
}

var signingAlgorithms = map[string]signingAlgorithm{
	"RSASSA_PSS_SHA_256":        {hash: crypto.SHA256, pss: true},
	"RSASSA_PSS_SHA_384":        {hash: crypto.SHA384, pss: true},
	"RSASSA_PSS_SHA_512":        {hash: crypto.SHA512, pss: true},
	"RSASSA_PKCS1_V1_5_SHA_256": {hash: crypto.SHA256},
	"RSASSA_PKCS1_V1_5_SHA_384": {hash: crypto.SHA384},
	"RSASSA_PKCS1_V1_5_SHA_512": {hash: crypto.SHA512},
	"ECDSA_SHA_256":             {hash: crypto.SHA256, curveSpec: "ECC_NIST_P256"},
	"ECDSA_SHA_384":             {hash: crypto.SHA384, curveSpec: "ECC_NIST_P384"},
	"ECDSA_SHA_512":             {hash: crypto.SHA512, curveSpec: "ECC_NIST_P521"},
}

type SignInput struct {
	KeyID            string
	Message          []byte
	MessageType      string // RAW (default) or DIGEST
	SigningAlgorithm string
}

type SignOutput struct {
	KeyID            string // key ARN
	Signature        []byte // PKCS#1 v1.5 / PSS bytes, or DER ECDSA-Sig-Value
	SigningAlgorithm string
}

type VerifyInput struct {
	KeyID            string
	Message          []byte
	MessageType      string
	SigningAlgorithm string
	Signature        []byte
}

// signingKey resolves the key of a Sign or Verify call, checks its usage
// and the algorithm, and returns the digest to sign or verify.
func (c *Core) signingKey(ctx context.Context, o *op, action, ref string, msg []byte, msgType, alg string) (crypto.Signer, signingAlgorithm, []byte, *cachedKey, error) {
	var none signingAlgorithm
	a, ok := signingAlgorithms[alg]
	if !ok {
		return nil, none, nil, nil, fmt.Errorf("%w: SigningAlgorithm must be one of RSASSA_PSS_SHA_*, RSASSA_PKCS1_V1_5_SHA_*, ECDSA_SHA_*", ErrValidation)
	}
	digest, err := messageDigestFor(msg, msgType, a.hash)
	if err != nil {
		return nil, none, nil, nil, err
	}
	ck, err := c.usableKey(ctx, o, ref, authzRequest{action: action})
	if err != nil {
		return nil, none, nil, nil, err
	}
	o.key(ck.rec.id, ck.latest)
	if err := c.requireUsage(ck, usageSign); err != nil {
		return nil, none, nil, nil, err
	}
	spec := ck.rec.keySpec
	if a.curveSpec != "" && a.curveSpec != spec || a.curveSpec == "" && !strings.HasPrefix(spec, "RSA_") {
		return nil, none, nil, nil, fmt.Errorf("%w: SigningAlgorithm %s is not valid for KeySpec %s", ErrInvalidKeyUsage, alg, spec)
	}
	signer, err := privateKey(ck)
	if err != nil {
		return nil, none, nil, nil, err
	}
	return signer, a, digest, ck, nil
}

// messageDigestFor hashes a RAW message or checks a DIGEST's length
// against the algorithm's hash, as AWS.
func messageDigestFor(msg []byte, msgType string, h crypto.Hash) ([]byte, error) {
	switch msgType {
	case "", messageRaw:
		if len(msg) < 1 || len(msg) > maxSignMessage {
			return nil, fmt.Errorf("%w: Message must be 1 to %d bytes", ErrValidation, maxSignMessage)
		}
		d := h.New()
		d.Write(msg)
		return d.Sum(nil), nil
	case messageDigest:
		if len(msg) != h.Size() {
			return nil, fmt.Errorf("%w: a DIGEST message for this algorithm must be %d bytes", ErrValidation, h.Size())
		}
		return msg, nil
	}
	return nil, fmt.Errorf("%w: MessageType must be RAW or DIGEST", ErrValidation)
}

// privateKey parses the newest version's PKCS#8 material.
func privateKey(ck *cachedKey) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(ck.versions[ck.latest])
	if err != nil {
		return nil, fmt.Errorf("%w: key material of %s does not parse", ErrInternal, ck.rec.id)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key material of %s is not a private key", ErrInternal, ck.rec.id)
	}
	return s, nil
}

// Sign signs a message or digest with an asymmetric SIGN_VERIFY key. PSS
// uses a salt as long as the hash, and ECDSA signatures are DER, as AWS.
func (c *Core) Sign(ctx context.Context, in SignInput) (out SignOutput, err error) {
	o, err := c.begin(ctx, "Sign")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	signer, a, digest, ck, err := c.signingKey(ctx, o, "kms:Sign", in.KeyID, in.Message, in.MessageType, in.SigningAlgorithm)
	if err != nil {
		return out, err
	}
	var opts crypto.SignerOpts = a.hash
	if a.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash}
	}
	sig, err := signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return out, fmt.Errorf("%w: sign", ErrInternal)
	}
	return SignOutput{KeyID: c.arn(ck.rec.id), Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

// Verify checks a signature made by Sign (or by anyone holding the
// private key). It returns the key ARN, or ErrInvalidSignature.
func (c *Core) Verify(ctx context.Context, in VerifyInput) (keyARN string, err error) {
	o, err := c.begin(ctx, "Verify")
	if err != nil {
		return "", err
	}
	defer func() { o.end(err) }()
	if len(in.Signature) < 1 || len(in.Signature) > maxSignature {
		return "", fmt.Errorf("%w: Signature must be 1 to %d bytes", ErrValidation, maxSignature)
	}
	signer, a, digest, ck, err := c.signingKey(ctx, o, "kms:Verify", in.KeyID, in.Message, in.MessageType, in.SigningAlgorithm)
	if err != nil {
		return "", err
	}
	if !verifySignature(signer.Public(), a, digest, in.Signature) {
		return "", fmt.Errorf("%w: signature verification failed", ErrInvalidSignature)
	}
	return c.arn(ck.rec.id), nil
}

func verifySignature(pub crypto.PublicKey, a signingAlgorithm, digest, sig []byte) bool {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if a.pss {
			return rsa.VerifyPSS(pub, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, a.hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	}
	return false
}

// PublicKeyOutput is GetPublicKey's answer: the DER SubjectPublicKeyInfo
// and what the key may do. Never any private material.
type PublicKeyOutput struct {
	KeyID                string // key ARN
	PublicKey            []byte
	KeySpec              string
	KeyUsage             string
	EncryptionAlgorithms []string
	SigningAlgorithms    []string
}

// GetPublicKey returns an asymmetric key's public key.
func (c *Core) GetPublicKey(ctx context.Context, keyID string) (out PublicKeyOutput, err error) {
	o, err := c.begin(ctx, "GetPublicKey")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	ck, err := c.usableKey(ctx, o, keyID, authzRequest{action: "kms:GetPublicKey"})
	if err != nil {
		return out, err
	}
	o.key(ck.rec.id, ck.latest)
	rec := ck.rec.withDefaults()
	if info := keySpecs[rec.keySpec]; info.rsaBits == 0 && info.curve == nil {
		return out, fmt.Errorf("%w: key %s is %s, which has no public key", ErrUnsupported, rec.id, rec.keySpec)
	}
	signer, err := privateKey(ck)
	if err != nil {
		return out, err
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return out, fmt.Errorf("%w: marshal public key", ErrInternal)
	}
	algs := algorithmsFor(rec.keySpec, rec.keyUsage)
	return PublicKeyOutput{KeyID: c.arn(rec.id), PublicKey: der, KeySpec: rec.keySpec, KeyUsage: rec.keyUsage,
		EncryptionAlgorithms: algs.encryption, SigningAlgorithms: algs.signing}, nil
}

// AsymmetricInput is an RSA Encrypt or Decrypt: Data is the plaintext or
// the raw RSA ciphertext (AWS returns no envelope for RSA keys).
type AsymmetricInput struct {
	KeyID     string
	Data      []byte
	Algorithm string // RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256
}

func rsaOAEPHash(alg string) (hash.Hash, error) {
	switch alg {
	case "RSAES_OAEP_SHA_1":
		return sha1.New(), nil
	case "RSAES_OAEP_SHA_256":
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("%w: EncryptionAlgorithm must be SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256", ErrValidation)
}

// IsRSAAlgorithm reports whether an EncryptionAlgorithm selects the RSA
// path of Encrypt and Decrypt.
func IsRSAAlgorithm(alg string) bool { return strings.HasPrefix(alg, "RSAES_") }

func (c *Core) rsaKey(ctx context.Context, o *op, action, ref, alg string) (*rsa.PrivateKey, *cachedKey, error) {
	if _, err := rsaOAEPHash(alg); err != nil {
		return nil, nil, err
	}
	ck, err := c.usableKey(ctx, o, ref, authzRequest{action: action, algorithm: alg})
	if err != nil {
		return nil, nil, err
	}
	o.key(ck.rec.id, ck.latest)
	if err := c.requireUsage(ck, usageEncrypt); err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(ck.rec.keySpec, "RSA_") {
		return nil, nil, fmt.Errorf("%w: EncryptionAlgorithm %s is not valid for KeySpec %s", ErrInvalidKeyUsage, alg, ck.rec.withDefaults().keySpec)
	}
	signer, err := privateKey(ck)
	if err != nil {
		return nil, nil, err
	}
	k, ok := signer.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: key material of %s is not RSA", ErrInternal, ck.rec.id)
	}
	return k, ck, nil
}

// EncryptRSA encrypts with RSAES-OAEP under an RSA ENCRYPT_DECRYPT key.
// The plaintext limit is AWS's table: key bytes - 2*hash bytes - 2
// (RSA_2048: 214 with SHA-1, 190 with SHA-256).
func (c *Core) EncryptRSA(ctx context.Context, in AsymmetricInput) (out EncryptOutput, err error) {
	o, err := c.begin(ctx, "Encrypt")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	k, ck, err := c.rsaKey(ctx, o, "kms:Encrypt", in.KeyID, in.Algorithm)
	if err != nil {
		return out, err
	}
	h, _ := rsaOAEPHash(in.Algorithm)
	if limit := k.Size() - 2*h.Size() - 2; len(in.Data) < 1 || len(in.Data) > limit {
		return out, fmt.Errorf("%w: Plaintext must be 1 to %d bytes for %s with %s", ErrValidation, limit, ck.rec.keySpec, in.Algorithm)
	}
	ct, err := rsa.EncryptOAEP(h, rand.Reader, &k.PublicKey, in.Data, nil)
	if err != nil {
		return out, fmt.Errorf("%w: RSA encrypt", ErrInternal)
	}
	return EncryptOutput{CiphertextBlob: ct, KeyID: c.arn(ck.rec.id)}, nil
}

// DecryptRSA decrypts a raw RSAES-OAEP ciphertext; AWS requires KeyId and
// the algorithm for asymmetric keys since the ciphertext names neither.
func (c *Core) DecryptRSA(ctx context.Context, in AsymmetricInput) (out DecryptOutput, err error) {
	o, err := c.begin(ctx, "Decrypt")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	if in.KeyID == "" {
		return out, fmt.Errorf("%w: KeyId is required to decrypt with an asymmetric key", ErrValidation)
	}
	k, ck, err := c.rsaKey(ctx, o, "kms:Decrypt", in.KeyID, in.Algorithm)
	if err != nil {
		return out, err
	}
	h, _ := rsaOAEPHash(in.Algorithm)
	// One answer for every failure: no padding oracle.
	pt, err := rsa.DecryptOAEP(h, nil, k, in.Data, nil)
	if err != nil {
		return out, ErrInvalidCiphertext
	}
	return DecryptOutput{Plaintext: pt, KeyID: c.arn(ck.rec.id)}, nil
}

// DataKeyPairInput asks for a data key pair whose private key is
// encrypted under a SYMMETRIC_DEFAULT key.
type DataKeyPairInput struct {
	KeyID       string
	Context     EncryptionContext
	KeyPairSpec string // RSA_2048/3072/4096, ECC_NIST_P256/P384/P521
}

type DataKeyPair struct {
	PrivateKeyPlaintext      []byte // PKCS#8 DER; nil from ...WithoutPlaintext
	PrivateKeyCiphertextBlob []byte // our ciphertext blob of the PKCS#8 DER
	PublicKey                []byte // DER SubjectPublicKeyInfo
	KeyID                    string // key ARN
	KeyPairSpec              string
}

func (c *Core) generateDataKeyPair(ctx context.Context, name string, in DataKeyPairInput) (out DataKeyPair, err error) {
	o, err := c.begin(ctx, name)
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	o.context(in.Context)
	info, ok := keySpecs[in.KeyPairSpec]
	if !ok || info.rsaBits == 0 && info.curve == nil {
		if unsupportedSpecs[in.KeyPairSpec] {
			return out, fmt.Errorf("%w: KeyPairSpec %s is not supported by ssegate", ErrUnsupported, in.KeyPairSpec)
		}
		return out, fmt.Errorf("%w: KeyPairSpec must be RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521", ErrValidation)
	}
	if err := validateContext(in.Context); err != nil {
		return out, err
	}
	ck, err := c.usableKey(ctx, o, in.KeyID, authzRequest{action: "kms:" + name, ec: in.Context, withEC: true})
	if err != nil {
		return out, err
	}
	o.key(ck.rec.id, ck.latest)
	if err := c.requireSymmetric(ck); err != nil {
		return out, err
	}
	der, err := newKeyMaterial(in.KeyPairSpec)
	if err != nil {
		return out, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return out, fmt.Errorf("%w: parse generated key", ErrInternal)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
	if err != nil {
		return out, fmt.Errorf("%w: marshal public key", ErrInternal)
	}
	blob, err := c.encryptWith(ctx, ck, der, in.Context)
	if err != nil {
		clear(der)
		return out, err
	}
	return DataKeyPair{PrivateKeyPlaintext: der, PrivateKeyCiphertextBlob: blob, PublicKey: pub,
		KeyID: c.arn(ck.rec.id), KeyPairSpec: in.KeyPairSpec}, nil
}

// GenerateDataKeyPair returns a fresh key pair, the private key both in
// plaintext and encrypted under in.KeyID.
func (c *Core) GenerateDataKeyPair(ctx context.Context, in DataKeyPairInput) (DataKeyPair, error) {
	return c.generateDataKeyPair(ctx, "GenerateDataKeyPair", in)
}

// GenerateDataKeyPairWithoutPlaintext returns the pair without the
// plaintext private key.
func (c *Core) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in DataKeyPairInput) (DataKeyPair, error) {
	p, err := c.generateDataKeyPair(ctx, "GenerateDataKeyPairWithoutPlaintext", in)
	clear(p.PrivateKeyPlaintext)
	p.PrivateKeyPlaintext = nil
	return p, err
}
