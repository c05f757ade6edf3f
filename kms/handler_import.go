package kms

import (
	"context"
	"fmt"
	"time"
)

// Wire operations for imported key material (imported.go).

func opGetParametersForImport(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId             string
		WrappingAlgorithm string
		WrappingKeySpec   string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	p, err := c.GetParametersForImport(ctx, in.KeyId, in.WrappingAlgorithm, in.WrappingKeySpec)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId             string
		ImportToken       []byte
		PublicKey         []byte
		ParametersValidTo *epoch
	}{p.KeyID, p.ImportToken, p.PublicKey, ts(p.ParametersValidTo)}, nil
}

func opImportKeyMaterial(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId                string
		ImportToken          []byte
		EncryptedKeyMaterial []byte
		ExpirationModel      string
		ValidTo              *epoch
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if len(in.ImportToken) == 0 {
		return nil, fmt.Errorf("%w: ImportToken is required", ErrValidation)
	}
	var validTo time.Time
	if in.ValidTo != nil {
		validTo = time.Time(*in.ValidTo)
	}
	err := c.ImportKeyMaterial(ctx, ImportKeyMaterialInput{KeyID: in.KeyId, ImportToken: in.ImportToken,
		EncryptedKeyMaterial: in.EncryptedKeyMaterial, ExpirationModel: in.ExpirationModel, ValidTo: validTo})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func opDeleteImportedKeyMaterial(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DeleteImportedKeyMaterial(ctx, in.KeyId)
}
