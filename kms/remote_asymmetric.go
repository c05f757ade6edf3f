package kms

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Asymmetric, HMAC and ReEncrypt operations of issue 11 on the remote
// client, with the same signatures and error semantics as *Core, so the
// kmstest suite runs unchanged against both.

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// Sign signs a message or digest with an asymmetric SIGN_VERIFY key.
func (r *Remote) Sign(ctx context.Context, in SignInput) (SignOutput, error) {
	out, err := r.client.Sign(ctx, &awskms.SignInput{
		KeyId: aws.String(in.KeyID), Message: in.Message, MessageType: types.MessageType(in.MessageType),
		SigningAlgorithm: types.SigningAlgorithmSpec(in.SigningAlgorithm),
	})
	if err != nil {
		return SignOutput{}, remoteErr(err)
	}
	return SignOutput{KeyID: aws.ToString(out.KeyId), Signature: out.Signature, SigningAlgorithm: string(out.SigningAlgorithm)}, nil
}

// Verify returns the key ARN when the signature is valid, and an error
// wrapping ErrInvalidSignature when it is not (AWS answers
// KMSInvalidSignatureException, which remoteErr maps back).
func (r *Remote) Verify(ctx context.Context, in VerifyInput) (string, error) {
	out, err := r.client.Verify(ctx, &awskms.VerifyInput{
		KeyId: aws.String(in.KeyID), Message: in.Message, MessageType: types.MessageType(in.MessageType),
		SigningAlgorithm: types.SigningAlgorithmSpec(in.SigningAlgorithm), Signature: in.Signature,
	})
	if err != nil {
		return "", remoteErr(err)
	}
	// A server that answers SignatureValid false without an error must
	// not be read as a valid signature.
	if !out.SignatureValid {
		return "", fmt.Errorf("%w: remote answered SignatureValid false", ErrInvalidSignature)
	}
	return aws.ToString(out.KeyId), nil
}

// GetPublicKey returns an asymmetric key's public key (DER SPKI).
func (r *Remote) GetPublicKey(ctx context.Context, keyID string) (PublicKeyOutput, error) {
	out, err := r.client.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return PublicKeyOutput{}, remoteErr(err)
	}
	p := PublicKeyOutput{KeyID: aws.ToString(out.KeyId), PublicKey: out.PublicKey, KeySpec: string(out.KeySpec), KeyUsage: string(out.KeyUsage)}
	for _, a := range out.EncryptionAlgorithms {
		p.EncryptionAlgorithms = append(p.EncryptionAlgorithms, string(a))
	}
	for _, a := range out.SigningAlgorithms {
		p.SigningAlgorithms = append(p.SigningAlgorithms, string(a))
	}
	return p, nil
}

// EncryptRSA is Encrypt with an RSAES_OAEP_* EncryptionAlgorithm.
func (r *Remote) EncryptRSA(ctx context.Context, in AsymmetricInput) (EncryptOutput, error) {
	if !IsRSAAlgorithm(in.Algorithm) {
		// Without this the remote would take the symmetric path.
		return EncryptOutput{}, fmt.Errorf("%w: EncryptionAlgorithm must be RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256", ErrValidation)
	}
	out, err := r.client.Encrypt(ctx, &awskms.EncryptInput{
		KeyId: aws.String(in.KeyID), Plaintext: in.Data, EncryptionAlgorithm: types.EncryptionAlgorithmSpec(in.Algorithm),
	})
	if err != nil {
		return EncryptOutput{}, remoteErr(err)
	}
	return EncryptOutput{CiphertextBlob: out.CiphertextBlob, KeyID: aws.ToString(out.KeyId)}, nil
}

// DecryptRSA is Decrypt of a raw RSAES-OAEP ciphertext; KeyID is required.
func (r *Remote) DecryptRSA(ctx context.Context, in AsymmetricInput) (DecryptOutput, error) {
	if !IsRSAAlgorithm(in.Algorithm) {
		return DecryptOutput{}, fmt.Errorf("%w: EncryptionAlgorithm must be RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256", ErrValidation)
	}
	if in.KeyID == "" {
		return DecryptOutput{}, fmt.Errorf("%w: KeyId is required to decrypt with an asymmetric key", ErrValidation)
	}
	out, err := r.client.Decrypt(ctx, &awskms.DecryptInput{
		KeyId: aws.String(in.KeyID), CiphertextBlob: in.Data, EncryptionAlgorithm: types.EncryptionAlgorithmSpec(in.Algorithm),
	})
	if err != nil {
		return DecryptOutput{}, remoteErr(err)
	}
	return DecryptOutput{Plaintext: out.Plaintext, KeyID: aws.ToString(out.KeyId)}, nil
}

// GenerateDataKeyPair returns a fresh key pair, the private key both in
// plaintext (PKCS#8 DER) and encrypted under in.KeyID.
func (r *Remote) GenerateDataKeyPair(ctx context.Context, in DataKeyPairInput) (DataKeyPair, error) {
	out, err := r.client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{
		KeyId: aws.String(in.KeyID), EncryptionContext: in.Context, KeyPairSpec: types.DataKeyPairSpec(in.KeyPairSpec),
	})
	if err != nil {
		return DataKeyPair{}, remoteErr(err)
	}
	return DataKeyPair{PrivateKeyPlaintext: out.PrivateKeyPlaintext, PrivateKeyCiphertextBlob: out.PrivateKeyCiphertextBlob,
		PublicKey: out.PublicKey, KeyID: aws.ToString(out.KeyId), KeyPairSpec: string(out.KeyPairSpec)}, nil
}

// GenerateDataKeyPairWithoutPlaintext returns the pair without the
// plaintext private key.
func (r *Remote) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in DataKeyPairInput) (DataKeyPair, error) {
	out, err := r.client.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{
		KeyId: aws.String(in.KeyID), EncryptionContext: in.Context, KeyPairSpec: types.DataKeyPairSpec(in.KeyPairSpec),
	})
	if err != nil {
		return DataKeyPair{}, remoteErr(err)
	}
	return DataKeyPair{PrivateKeyCiphertextBlob: out.PrivateKeyCiphertextBlob, PublicKey: out.PublicKey,
		KeyID: aws.ToString(out.KeyId), KeyPairSpec: string(out.KeyPairSpec)}, nil
}

// GenerateMac returns the HMAC of a message under an HMAC key.
func (r *Remote) GenerateMac(ctx context.Context, in MacInput) (MacOutput, error) {
	out, err := r.client.GenerateMac(ctx, &awskms.GenerateMacInput{
		KeyId: aws.String(in.KeyID), Message: in.Message, MacAlgorithm: types.MacAlgorithmSpec(in.MacAlgorithm),
	})
	if err != nil {
		return MacOutput{}, remoteErr(err)
	}
	return MacOutput{KeyID: aws.ToString(out.KeyId), Mac: out.Mac, MacAlgorithm: string(out.MacAlgorithm)}, nil
}

// VerifyMac returns the key ARN when in.Mac is right, and an error
// wrapping ErrInvalidMac when it is not (KMSInvalidMacException).
func (r *Remote) VerifyMac(ctx context.Context, in MacInput) (string, error) {
	out, err := r.client.VerifyMac(ctx, &awskms.VerifyMacInput{
		KeyId: aws.String(in.KeyID), Message: in.Message, MacAlgorithm: types.MacAlgorithmSpec(in.MacAlgorithm), Mac: in.Mac,
	})
	if err != nil {
		return "", remoteErr(err)
	}
	if !out.MacValid {
		return "", fmt.Errorf("%w: remote answered MacValid false", ErrInvalidMac)
	}
	return aws.ToString(out.KeyId), nil
}

// ReEncrypt moves a ciphertext to another key without exposing the
// plaintext to the caller.
func (r *Remote) ReEncrypt(ctx context.Context, in ReEncryptInput) (ReEncryptOutput, error) {
	out, err := r.client.ReEncrypt(ctx, &awskms.ReEncryptInput{
		CiphertextBlob: in.CiphertextBlob, SourceEncryptionContext: in.SourceContext, SourceKeyId: optionalString(in.SourceKeyID),
		DestinationKeyId: aws.String(in.DestinationKeyID), DestinationEncryptionContext: in.DestinationContext,
	})
	if err != nil {
		return ReEncryptOutput{}, remoteErr(err)
	}
	return ReEncryptOutput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: aws.ToString(out.SourceKeyId), KeyID: aws.ToString(out.KeyId)}, nil
}
