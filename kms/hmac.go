package kms

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
)

// HMAC keys (issue 11, part A): GenerateMac and VerifyMac. The key is raw
// bytes of the hash's size in key_versions.sealed and never leaves.

// ErrInvalidMac: VerifyMac found the MAC wrong (KMSInvalidMacException).
var ErrInvalidMac = errors.New("kms: invalid MAC")

const maxMacMessage = 4096

type MacInput struct {
	KeyID        string
	Message      []byte // 1..4096 bytes
	MacAlgorithm string // HMAC_SHA_224/256/384/512, matching the key spec
	Mac          []byte // VerifyMac only
}

type MacOutput struct {
	KeyID        string // key ARN
	Mac          []byte
	MacAlgorithm string
}

// macFor computes the HMAC of in.Message under the key in.KeyID names.
func (c *Core) macFor(ctx context.Context, o *op, action string, in MacInput) ([]byte, *cachedKey, error) {
	if len(in.Message) < 1 || len(in.Message) > maxMacMessage {
		return nil, nil, fmt.Errorf("%w: Message must be 1 to %d bytes", ErrValidation, maxMacMessage)
	}
	switch in.MacAlgorithm {
	case "HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512":
	default:
		return nil, nil, fmt.Errorf("%w: MacAlgorithm must be HMAC_SHA_224, HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512", ErrValidation)
	}
	ck, err := c.usableKey(ctx, o, in.KeyID, authzRequest{action: action})
	if err != nil {
		return nil, nil, err
	}
	o.key(ck.rec.id, ck.latest)
	if err := c.requireUsage(ck, usageMAC); err != nil {
		return nil, nil, err
	}
	spec := ck.rec.keySpec
	if algs := algorithmsFor(spec, usageMAC).mac; len(algs) != 1 || algs[0] != in.MacAlgorithm {
		return nil, nil, fmt.Errorf("%w: MacAlgorithm %s is not valid for KeySpec %s", ErrInvalidKeyUsage, in.MacAlgorithm, spec)
	}
	m := hmac.New(keySpecs[spec].macHash.New, ck.versions[ck.latest])
	m.Write(in.Message)
	return m.Sum(nil), ck, nil
}

// GenerateMac returns the HMAC of a message under an HMAC key.
func (c *Core) GenerateMac(ctx context.Context, in MacInput) (out MacOutput, err error) {
	o, err := c.begin(ctx, "GenerateMac")
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	mac, ck, err := c.macFor(ctx, o, "kms:GenerateMac", in)
	if err != nil {
		return out, err
	}
	return MacOutput{KeyID: c.arn(ck.rec.id), Mac: mac, MacAlgorithm: in.MacAlgorithm}, nil
}

// VerifyMac recomputes the HMAC and compares it in constant time; a
// mismatch is ErrInvalidMac. It returns the key ARN.
func (c *Core) VerifyMac(ctx context.Context, in MacInput) (keyARN string, err error) {
	o, err := c.begin(ctx, "VerifyMac")
	if err != nil {
		return "", err
	}
	defer func() { o.end(err) }()
	if len(in.Mac) < 1 || len(in.Mac) > 6144 {
		return "", fmt.Errorf("%w: Mac must be 1 to 6144 bytes", ErrValidation)
	}
	mac, ck, err := c.macFor(ctx, o, "kms:VerifyMac", in)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(mac, in.Mac) {
		return "", fmt.Errorf("%w: MAC verification failed", ErrInvalidMac)
	}
	return c.arn(ck.rec.id), nil
}
