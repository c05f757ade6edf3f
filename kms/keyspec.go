package kms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
)

// Key specs and usages (issue 11, part A). A key's spec and usage are
// fixed at CreateKey; every cryptographic operation checks that the key
// it names was made for it (InvalidKeyUsageException otherwise, as AWS).

const (
	usageEncrypt = "ENCRYPT_DECRYPT"
	usageSign    = "SIGN_VERIFY"
	usageMAC     = "GENERATE_VERIFY_MAC"
)

// ErrInvalidKeyUsage: the key's spec or usage does not allow the
// operation or algorithm (InvalidKeyUsageException).
var ErrInvalidKeyUsage = errors.New("kms: invalid key usage")

// keySpecInfo describes one KeySpec: what its material is, which usages
// it allows, and which request-rate class its operations count against.
type keySpecInfo struct {
	usages  []string
	rsaBits int
	curve   elliptic.Curve
	macHash crypto.Hash // HMAC keys: the hash, and the key is Size() bytes
	class   quotaClass
}

var keySpecs = map[string]keySpecInfo{
	symmetricDefault: {usages: []string{usageEncrypt}, class: classSymmetric},
	"RSA_2048":       {usages: []string{usageEncrypt, usageSign}, rsaBits: 2048, class: classRSA},
	"RSA_3072":       {usages: []string{usageEncrypt, usageSign}, rsaBits: 3072, class: classRSA},
	"RSA_4096":       {usages: []string{usageEncrypt, usageSign}, rsaBits: 4096, class: classRSA},
	"ECC_NIST_P256":  {usages: []string{usageSign}, curve: elliptic.P256(), class: classECC},
	"ECC_NIST_P384":  {usages: []string{usageSign}, curve: elliptic.P384(), class: classECC},
	"ECC_NIST_P521":  {usages: []string{usageSign}, curve: elliptic.P521(), class: classECC},
	"HMAC_224":       {usages: []string{usageMAC}, macHash: crypto.SHA224, class: classHMAC},
	"HMAC_256":       {usages: []string{usageMAC}, macHash: crypto.SHA256, class: classHMAC},
	"HMAC_384":       {usages: []string{usageMAC}, macHash: crypto.SHA384, class: classHMAC},
	"HMAC_512":       {usages: []string{usageMAC}, macHash: crypto.SHA512, class: classHMAC},
}

// unsupportedSpecs are AWS key specs ssegate knowingly does not offer:
// Go's standard library has no secp256k1, SM2 is China-Regions only and
// ML-DSA is not implemented yet.
var unsupportedSpecs = map[string]bool{
	"ECC_SECG_P256K1": true, "SM2": true, "ML_DSA_44": true, "ML_DSA_65": true, "ML_DSA_87": true,
}

// checkSpec validates CreateKey's KeySpec and KeyUsage and records them.
// KeyUsage defaults to ENCRYPT_DECRYPT as in AWS, which makes it required
// in practice for ECC and HMAC keys.
func checkSpec(in *CreateKeyInput, rec *keyRecord) error {
	spec, usage := in.KeySpec, in.KeyUsage
	if spec == "" {
		spec = symmetricDefault
	}
	if usage == "" {
		usage = usageEncrypt
	}
	info, ok := keySpecs[spec]
	if !ok {
		if unsupportedSpecs[spec] {
			return fmt.Errorf("%w: KeySpec %s is not supported by ssegate", ErrUnsupported, spec)
		}
		return fmt.Errorf("%w: unknown KeySpec %q", ErrValidation, spec)
	}
	if usage == "KEY_AGREEMENT" && info.curve != nil {
		return fmt.Errorf("%w: KeyUsage KEY_AGREEMENT is not supported by ssegate", ErrUnsupported)
	}
	if !contains(info.usages, usage) {
		return fmt.Errorf("%w: KeyUsage %s is not compatible with KeySpec %s", ErrValidation, usage, spec)
	}
	rec.keySpec, rec.keyUsage = spec, usage
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// newKeyMaterial generates the material of a key of spec: 32 random bytes
// for SYMMETRIC_DEFAULT, PKCS#8 DER for RSA and ECC, raw bytes of the
// hash's size for HMAC (AWS: HMAC_224 has a 224-bit key, and so on).
func newKeyMaterial(spec string) ([]byte, error) {
	info, ok := keySpecs[spec]
	if !ok {
		return nil, fmt.Errorf("%w: unknown KeySpec %q", ErrValidation, spec)
	}
	switch {
	case info.rsaBits != 0:
		k, err := rsa.GenerateKey(rand.Reader, info.rsaBits)
		if err != nil {
			return nil, fmt.Errorf("%w: generate RSA key", ErrInternal)
		}
		return marshalPrivate(k)
	case info.curve != nil:
		k, err := ecdsa.GenerateKey(info.curve, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("%w: generate ECC key", ErrInternal)
		}
		return marshalPrivate(k)
	}
	n := 32
	if info.macHash != 0 {
		n = info.macHash.Size()
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("%w: random", ErrInternal)
	}
	return b, nil
}

func marshalPrivate(k any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("%w: marshal private key", ErrInternal)
	}
	return der, nil
}

// prepareMaterial generates the first version's material of a new
// non-symmetric key before CreateKey's write transaction, so a slow RSA
// key generation never holds the single SQLite writer.
func prepareMaterial(rec *keyRecord) error {
	if rec.keySpec == "" || rec.keySpec == symmetricDefault {
		return nil
	}
	m, err := newKeyMaterial(rec.keySpec)
	if err != nil {
		return err
	}
	rec.initial = m
	return nil
}

// algorithms lists what DescribeKey and GetPublicKey report for a key, in
// AWS's order.
type algorithms struct {
	encryption, signing, mac []string
}

func algorithmsFor(spec, usage string) algorithms {
	info := keySpecs[spec]
	switch {
	case spec == symmetricDefault || spec == "":
		return algorithms{encryption: []string{symmetricDefault}}
	case info.rsaBits != 0 && usage == usageEncrypt:
		return algorithms{encryption: []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}}
	case info.rsaBits != 0:
		return algorithms{signing: []string{
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
			"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		}}
	case info.curve != nil:
		for name, a := range signingAlgorithms {
			if a.curveSpec == spec {
				return algorithms{signing: []string{name}}
			}
		}
	case info.macHash != 0:
		return algorithms{mac: []string{"HMAC_SHA_" + spec[len("HMAC_"):]}}
	}
	return algorithms{}
}

// requireUsage checks that ck was made for usage, then counts the call
// against its spec's shared request-rate quota (quota.go).
func (c *Core) requireUsage(ck *cachedKey, usage string) error {
	rec := ck.rec.withDefaults()
	if rec.keyUsage != usage {
		return fmt.Errorf("%w: key %s has KeyUsage %s (KeySpec %s); this operation needs %s",
			ErrInvalidKeyUsage, rec.id, rec.keyUsage, rec.keySpec, usage)
	}
	return c.quota.allow(keySpecs[rec.keySpec].class)
}

// requireSymmetric is the check of the symmetric operations (Encrypt,
// Decrypt, ReEncrypt, GenerateDataKey*, GenerateDataKeyPair*): only a
// SYMMETRIC_DEFAULT key can make or open our ciphertext blobs.
func (c *Core) requireSymmetric(ck *cachedKey) error {
	rec := ck.rec.withDefaults()
	if rec.keySpec != symmetricDefault {
		return fmt.Errorf("%w: key %s is %s; this operation needs a SYMMETRIC_DEFAULT key",
			ErrInvalidKeyUsage, rec.id, rec.keySpec)
	}
	return c.requireUsage(ck, usageEncrypt)
}

// rotatableSpec refuses EnableKeyRotation and RotateKeyOnDemand on
// asymmetric and HMAC keys (AWS: UnsupportedOperationException); only
// SYMMETRIC_DEFAULT keys rotate.
func rotatableSpec(k *keyRecord) error {
	if spec := k.withDefaults().keySpec; spec != symmetricDefault {
		return fmt.Errorf("%w: keys with KeySpec %s can't be rotated", ErrUnsupported, spec)
	}
	// As in AWS: the external key manager owns the material of a key in an
	// external key store, so neither automatic nor on-demand rotation exist.
	if k.origin == "EXTERNAL_KEY_STORE" {
		return fmt.Errorf("%w: keys in an external key store can't be rotated", ErrUnsupported)
	}
	return nil
}
