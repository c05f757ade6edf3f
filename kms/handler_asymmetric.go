package kms

import (
	"context"
	"fmt"
)

// KMS JSON API operations of issue 11 part A: asymmetric and HMAC keys.

func opSign(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	out, err := c.Sign(ctx, SignInput{KeyID: in.KeyId, Message: in.Message, MessageType: in.MessageType, SigningAlgorithm: in.SigningAlgorithm})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId            string
		Signature        []byte
		SigningAlgorithm string
	}{out.KeyID, out.Signature, out.SigningAlgorithm}, nil
}

func opVerify(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
		Signature        []byte
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	arn, err := c.Verify(ctx, VerifyInput{KeyID: in.KeyId, Message: in.Message, MessageType: in.MessageType,
		SigningAlgorithm: in.SigningAlgorithm, Signature: in.Signature})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId            string
		SignatureValid   bool
		SigningAlgorithm string
	}{arn, true, in.SigningAlgorithm}, nil
}

func opGetPublicKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	out, err := c.GetPublicKey(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId                 string
		PublicKey             []byte
		KeySpec               string
		CustomerMasterKeySpec string
		KeyUsage              string
		EncryptionAlgorithms  []string `json:",omitempty"`
		SigningAlgorithms     []string `json:",omitempty"`
	}{out.KeyID, out.PublicKey, out.KeySpec, out.KeySpec, out.KeyUsage, out.EncryptionAlgorithms, out.SigningAlgorithms}, nil
}

// encryptRSA and decryptRSA are Encrypt and Decrypt with an RSAES_*
// EncryptionAlgorithm (opEncrypt and opDecrypt dispatch here).
func encryptRSA(ctx context.Context, c *Core, keyID string, plaintext []byte, alg string) (any, error) {
	out, err := c.EncryptRSA(ctx, AsymmetricInput{KeyID: keyID, Data: plaintext, Algorithm: alg})
	if err != nil {
		return nil, err
	}
	return struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionAlgorithm string
	}{out.CiphertextBlob, out.KeyID, alg}, nil
}

func decryptRSA(ctx context.Context, c *Core, keyID string, ciphertext []byte, alg string) (any, error) {
	out, err := c.DecryptRSA(ctx, AsymmetricInput{KeyID: keyID, Data: ciphertext, Algorithm: alg})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId               string
		Plaintext           []byte
		EncryptionAlgorithm string
	}{out.KeyID, out.Plaintext, alg}, nil
}

type dataKeyPairRequest struct {
	KeyId             string
	EncryptionContext map[string]string
	KeyPairSpec       string
	grantTokens
}

func opGenerateDataKeyPair(ctx context.Context, c *Core, body []byte) (any, error) {
	return dataKeyPairOp(ctx, c, body, true)
}

func opGenerateDataKeyPairWithoutPlaintext(ctx context.Context, c *Core, body []byte) (any, error) {
	return dataKeyPairOp(ctx, c, body, false)
}

func dataKeyPairOp(ctx context.Context, c *Core, body []byte, plaintext bool) (any, error) {
	var req dataKeyPairRequest
	if err := decodeWithGrantTokens(ctx, c, body, &req); err != nil {
		return nil, err
	}
	if req.KeyPairSpec == "" {
		return nil, fmt.Errorf("%w: KeyPairSpec is required", ErrValidation)
	}
	in := DataKeyPairInput{KeyID: req.KeyId, Context: req.EncryptionContext, KeyPairSpec: req.KeyPairSpec}
	gen := c.GenerateDataKeyPairWithoutPlaintext
	if plaintext {
		gen = c.GenerateDataKeyPair
	}
	p, err := gen(ctx, in)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId                    string
		KeyPairSpec              string
		PrivateKeyCiphertextBlob []byte
		PrivateKeyPlaintext      []byte `json:",omitempty"`
		PublicKey                []byte
	}{p.KeyID, p.KeyPairSpec, p.PrivateKeyCiphertextBlob, p.PrivateKeyPlaintext, p.PublicKey}, nil
}

type macRequest struct {
	KeyId        string
	Message      []byte
	MacAlgorithm string
	Mac          []byte
	grantTokens
}

func opGenerateMac(ctx context.Context, c *Core, body []byte) (any, error) {
	var in macRequest
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	out, err := c.GenerateMac(ctx, MacInput{KeyID: in.KeyId, Message: in.Message, MacAlgorithm: in.MacAlgorithm})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId        string
		Mac          []byte
		MacAlgorithm string
	}{out.KeyID, out.Mac, out.MacAlgorithm}, nil
}

func opVerifyMac(ctx context.Context, c *Core, body []byte) (any, error) {
	var in macRequest
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	arn, err := c.VerifyMac(ctx, MacInput{KeyID: in.KeyId, Message: in.Message, MacAlgorithm: in.MacAlgorithm, Mac: in.Mac})
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId        string
		MacValid     bool
		MacAlgorithm string
	}{arn, true, in.MacAlgorithm}, nil
}
