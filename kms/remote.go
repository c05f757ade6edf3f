package kms

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// RemoteConfig points a Remote at an AWS KMS compatible endpoint.
type RemoteConfig struct {
	Endpoint  string // e.g. "https://kms.eu-west-1.amazonaws.com"; empty = AWS default
	Region    string
	AccessKey string
	SecretKey string
	// HTTPClient is optional (custom TLS, timeouts).
	HTTPClient *http.Client
	// ViaService, when set, is sent (signed) in every request as
	// ViaServiceHeader: a gateway using another ssegate's KMS is S3 to it,
	// and AWS-managed keys (alias/aws/s3) are usable only via S3. The
	// receiving ssegate honours the claim from its account root only
	// (docs/authorization.md, "Through S3"). AWS KMS ignores the header.
	ViaService string
}

// ViaServiceHeader carries a remote gateway's kms:ViaService claim. It is
// an x-amz- header so that SigV4 must sign it.
const ViaServiceHeader = "X-Amz-Ssegate-Via-Service"

// Remote is a kms.Service backed by an AWS KMS API (AWS itself, or
// another ssegate) through aws-sdk-go-v2. AWS error types map back to the
// kms sentinels, so errors.Is works across the wire.
type Remote struct {
	client *awskms.Client
}

var _ Service = (*Remote)(nil)

// NewRemote creates a Remote. It makes no request.
func NewRemote(ctx context.Context, cfg RemoteConfig) (*Remote, error) {
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: remote KMS region is required", ErrValidation)
	}
	opts := awskms.Options{
		Region:      cfg.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")),
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	if cfg.ViaService != "" {
		opts.APIOptions = append(opts.APIOptions, smithyhttp.AddHeaderValue(ViaServiceHeader, cfg.ViaService))
	}
	return &Remote{client: awskms.New(opts)}, nil
}

// remoteErr maps an AWS API error to the kms sentinel of the same type,
// keeping the remote message (AWS messages carry no secrets).
func remoteErr(err error) error {
	if err == nil {
		return nil
	}
	// The SDK checks required parameters before sending; a missing one is
	// the caller's mistake, as the server's ValidationException would be.
	var invalid smithy.InvalidParamsError
	if errors.As(err, &invalid) {
		return fmt.Errorf("%w: %v", ErrValidation, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if s := errorFromType(apiErr.ErrorCode()); s != nil {
			return fmt.Errorf("%w: remote: %s", s, apiErr.ErrorMessage())
		}
		return fmt.Errorf("%w: remote %s: %s", ErrInternal, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: remote: %v", ErrInternal, err)
}

func remoteMetadata(m *types.KeyMetadata) KeyMetadata {
	if m == nil {
		return KeyMetadata{}
	}
	out := KeyMetadata{
		KeyID: aws.ToString(m.KeyId), ARN: aws.ToString(m.Arn), Description: aws.ToString(m.Description),
		CreationDate: aws.ToTime(m.CreationDate), Enabled: m.Enabled, KeyState: KeyState(m.KeyState),
		KeyManager: KeyManager(m.KeyManager), KeySpec: string(m.KeySpec), KeyUsage: string(m.KeyUsage),
		DeletionDate: aws.ToTime(m.DeletionDate),
	}
	if m.PendingDeletionWindowInDays != nil {
		out.PendingDeletionWindowInDays = int(*m.PendingDeletionWindowInDays)
	}
	out.Origin = string(m.Origin)
	out.CustomKeyStoreID = aws.ToString(m.CustomKeyStoreId)
	if m.XksKeyConfiguration != nil {
		out.XksKeyID = aws.ToString(m.XksKeyConfiguration.Id)
	}
	out.ValidTo = aws.ToTime(m.ValidTo)
	if mr := m.MultiRegionConfiguration; mr != nil {
		out.MultiRegion = string(mr.MultiRegionKeyType)
		if mr.PrimaryKey != nil {
			out.PrimaryRegion = aws.ToString(mr.PrimaryKey.Region)
		}
		for _, r := range mr.ReplicaKeys {
			out.ReplicaRegions = append(out.ReplicaRegions, aws.ToString(r.Region))
		}
	}
	return out
}

func (r *Remote) CreateKey(ctx context.Context, in CreateKeyInput) (KeyMetadata, error) {
	req := &awskms.CreateKeyInput{
		KeySpec:                        types.KeySpec(in.KeySpec),
		KeyUsage:                       types.KeyUsageType(in.KeyUsage),
		Origin:                         types.OriginType(in.Origin),
		BypassPolicyLockoutSafetyCheck: in.BypassPolicyLockoutSafetyCheck,
	}
	if in.Description != "" {
		req.Description = aws.String(in.Description)
	}
	if in.Policy != "" {
		req.Policy = aws.String(in.Policy)
	}
	if in.MultiRegion {
		req.MultiRegion = aws.Bool(true)
	}
	if in.CustomKeyStoreID != "" {
		req.CustomKeyStoreId = aws.String(in.CustomKeyStoreID)
	}
	if in.XksKeyID != "" {
		req.XksKeyId = aws.String(in.XksKeyID)
	}
	for k, v := range in.Tags {
		req.Tags = append(req.Tags, types.Tag{TagKey: aws.String(k), TagValue: aws.String(v)})
	}
	out, err := r.client.CreateKey(ctx, req)
	if err != nil {
		return KeyMetadata{}, remoteErr(err)
	}
	return remoteMetadata(out.KeyMetadata), nil
}

func (r *Remote) DescribeKey(ctx context.Context, keyID string) (KeyMetadata, error) {
	out, err := r.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return KeyMetadata{}, remoteErr(err)
	}
	return remoteMetadata(out.KeyMetadata), nil
}

func (r *Remote) Encrypt(ctx context.Context, in EncryptInput) (EncryptOutput, error) {
	out, err := r.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(in.KeyID), Plaintext: in.Plaintext, EncryptionContext: in.Context})
	if err != nil {
		return EncryptOutput{}, remoteErr(err)
	}
	return EncryptOutput{CiphertextBlob: out.CiphertextBlob, KeyID: aws.ToString(out.KeyId)}, nil
}

func (r *Remote) Decrypt(ctx context.Context, in DecryptInput) (DecryptOutput, error) {
	req := &awskms.DecryptInput{CiphertextBlob: in.CiphertextBlob, EncryptionContext: in.Context}
	if in.KeyID != "" {
		req.KeyId = aws.String(in.KeyID)
	}
	out, err := r.client.Decrypt(ctx, req)
	if err != nil {
		return DecryptOutput{}, remoteErr(err)
	}
	return DecryptOutput{Plaintext: out.Plaintext, KeyID: aws.ToString(out.KeyId)}, nil
}

func (r *Remote) GenerateDataKey(ctx context.Context, in GenerateDataKeyInput) (DataKey, error) {
	req := &awskms.GenerateDataKeyInput{KeyId: aws.String(in.KeyID), EncryptionContext: in.Context}
	if in.NumberOfBytes != 0 {
		req.NumberOfBytes = aws.Int32(int32(in.NumberOfBytes))
	}
	switch {
	case in.KeySpec != "":
		req.KeySpec = types.DataKeySpec(in.KeySpec)
	case in.NumberOfBytes == 0:
		req.KeySpec = types.DataKeySpecAes256
	}
	out, err := r.client.GenerateDataKey(ctx, req)
	if err != nil {
		return DataKey{}, remoteErr(err)
	}
	return DataKey{Plaintext: out.Plaintext, CiphertextBlob: out.CiphertextBlob, KeyID: aws.ToString(out.KeyId)}, nil
}

// EnableKey and DisableKey are administrative calls used by operators and
// by the conformance suite.
func (r *Remote) EnableKey(ctx context.Context, keyID string) error {
	_, err := r.client.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(keyID)})
	return remoteErr(err)
}

func (r *Remote) DisableKey(ctx context.Context, keyID string) error {
	_, err := r.client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(keyID)})
	return remoteErr(err)
}
