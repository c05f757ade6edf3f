package kms

import (
	"context"
	"fmt"
)

const symmetricDefault = "SYMMETRIC_DEFAULT"

func checkAlgorithm(alg string) error {
	if alg != "" && alg != symmetricDefault {
		return fmt.Errorf("%w: EncryptionAlgorithm must be SYMMETRIC_DEFAULT", ErrValidation)
	}
	return nil
}

func opEncrypt(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId               string
		Plaintext           []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	defer clear(in.Plaintext)
	if IsRSAAlgorithm(in.EncryptionAlgorithm) { // part A: handler_asymmetric.go
		return encryptRSA(ctx, c, in.KeyId, in.Plaintext, in.EncryptionAlgorithm)
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	out, err := c.Encrypt(ctx, EncryptInput{KeyID: in.KeyId, Plaintext: in.Plaintext, Context: in.EncryptionContext})
	if err != nil {
		return nil, err
	}
	return struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionAlgorithm string
	}{out.CiphertextBlob, out.KeyID, symmetricDefault}, nil
}

func opDecrypt(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		CiphertextBlob      []byte
		EncryptionContext   map[string]string
		KeyId               string
		EncryptionAlgorithm string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	if IsRSAAlgorithm(in.EncryptionAlgorithm) { // part A: handler_asymmetric.go
		return decryptRSA(ctx, c, in.KeyId, in.CiphertextBlob, in.EncryptionAlgorithm)
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	out, err := c.Decrypt(ctx, DecryptInput{CiphertextBlob: in.CiphertextBlob, Context: in.EncryptionContext, KeyID: in.KeyId})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId               string
		Plaintext           []byte
		EncryptionAlgorithm string
	}{out.KeyID, out.Plaintext, symmetricDefault}, nil
}

func opReEncrypt(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		CiphertextBlob                 []byte
		SourceEncryptionContext        map[string]string
		SourceKeyId                    string
		DestinationKeyId               string
		DestinationEncryptionContext   map[string]string
		SourceEncryptionAlgorithm      string
		DestinationEncryptionAlgorithm string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	out, err := c.ReEncrypt(ctx, ReEncryptInput{
		CiphertextBlob: in.CiphertextBlob, SourceContext: in.SourceEncryptionContext, SourceKeyID: in.SourceKeyId,
		DestinationKeyID: in.DestinationKeyId, DestinationContext: in.DestinationEncryptionContext,
	})
	if err != nil {
		return nil, err
	}
	return struct {
		CiphertextBlob                 []byte
		SourceKeyId                    string
		KeyId                          string
		SourceEncryptionAlgorithm      string
		DestinationEncryptionAlgorithm string
	}{out.CiphertextBlob, out.SourceKeyID, out.KeyID, symmetricDefault, symmetricDefault}, nil
}

type generateDataKeyRequest struct {
	KeyId             string
	EncryptionContext map[string]string
	NumberOfBytes     *int
	KeySpec           string
	grantTokens
}

func (r generateDataKeyRequest) input() (GenerateDataKeyInput, error) {
	in := GenerateDataKeyInput{KeyID: r.KeyId, Context: r.EncryptionContext, KeySpec: r.KeySpec}
	if r.NumberOfBytes != nil {
		if *r.NumberOfBytes < 1 {
			return in, fmt.Errorf("%w: NumberOfBytes must be 1 to %d", ErrValidation, maxDataKeyBytes)
		}
		in.NumberOfBytes = *r.NumberOfBytes
	}
	return in, nil
}

func opGenerateDataKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var req generateDataKeyRequest
	if err := decodeWithGrantTokens(ctx, c, body, &req); err != nil {
		return nil, err
	}
	in, err := req.input()
	if err != nil {
		return nil, err
	}
	dk, err := c.GenerateDataKey(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		CiphertextBlob []byte
		Plaintext      []byte
		KeyId          string
	}{dk.CiphertextBlob, dk.Plaintext, dk.KeyID}, nil
}

func opGenerateDataKeyWithoutPlaintext(ctx context.Context, c *Core, body []byte) (any, error) {
	var req generateDataKeyRequest
	if err := decodeWithGrantTokens(ctx, c, body, &req); err != nil {
		return nil, err
	}
	in, err := req.input()
	if err != nil {
		return nil, err
	}
	dk, err := c.GenerateDataKeyWithoutPlaintext(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		CiphertextBlob []byte
		KeyId          string
	}{dk.CiphertextBlob, dk.KeyID}, nil
}

func opGenerateRandom(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct{ NumberOfBytes *int }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		return nil, fmt.Errorf("%w: NumberOfBytes is required", ErrValidation)
	}
	b, err := c.GenerateRandom(ctx, *in.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	return struct{ Plaintext []byte }{b}, nil
}
