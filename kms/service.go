package kms

import (
	"context"
	"errors"
	"time"
)

// Service is what the gateway needs from a KMS to implement SSE-S3 and
// SSE-KMS. The embedded core (*Core) and the remote client (*Remote) both
// implement it, and kmstest.Run checks them against the same suite.
//
// Key ids accepted wherever KeyID appears: a key id (UUID), a key ARN, an
// alias name ("alias/x") or an alias ARN.
type Service interface {
	CreateKey(ctx context.Context, in CreateKeyInput) (KeyMetadata, error)
	DescribeKey(ctx context.Context, keyID string) (KeyMetadata, error)
	Encrypt(ctx context.Context, in EncryptInput) (EncryptOutput, error)
	Decrypt(ctx context.Context, in DecryptInput) (DecryptOutput, error)
	GenerateDataKey(ctx context.Context, in GenerateDataKeyInput) (DataKey, error)
}

// SSES3KeyAlias names the gateway-owned key that seals SSE-S3 object keys.
// In the embedded core it is created on first use and hidden from users
// (like an AWS-owned key: not listed, not describable, not usable through
// the KMS API). With a remote KMS the operator points it at a key there.
const SSES3KeyAlias = "alias/ssegate/sse-s3"

// AWSManagedS3Alias is the default SSE-KMS key, created on first use.
const AWSManagedS3Alias = "alias/aws/s3"

// EncryptionContext is bound to ciphertexts as additional authenticated data
// with a canonical (sorted) encoding; Decrypt must present the same map.
type EncryptionContext map[string]string

type KeyState string

const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	// KeyStatePendingImport: a key with origin EXTERNAL that has no key
	// material (never imported, deleted, or expired). imported.go.
	KeyStatePendingImport KeyState = "PendingImport"
	// KeyStateCreating: a multi-Region replica whose material is on its
	// way from the primary (multiregion.go).
	KeyStateCreating KeyState = "Creating"
)

type KeyManager string

const (
	KeyManagerCustomer KeyManager = "CUSTOMER"
	KeyManagerAWS      KeyManager = "AWS"
)

type KeyMetadata struct {
	KeyID        string
	ARN          string
	Description  string
	CreationDate time.Time
	Enabled      bool
	KeyState     KeyState
	KeyManager   KeyManager
	KeySpec      string // "SYMMETRIC_DEFAULT", "RSA_2048", "ECC_NIST_P256", "HMAC_256", ...
	KeyUsage     string // "ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"
	Origin       string // "AWS_KMS", "EXTERNAL", "EXTERNAL_KEY_STORE"
	// MultiRegion is "" for a single-Region key, else "PRIMARY" or
	// "REPLICA"; PrimaryRegion is the primary key's region.
	MultiRegion      string
	PrimaryRegion    string
	CustomKeyStoreID string
	XksKeyID         string
	// ValidTo is when imported key material expires; zero = never.
	ValidTo      time.Time
	DeletionDate time.Time
	// PendingDeletionWindowInDays is set while KeyState is PendingDeletion.
	PendingDeletionWindowInDays int
	// ReplicaRegions lists a multi-Region key's replicas, as far as this
	// region knows them (the primary knows all). DescribeKey fills it.
	ReplicaRegions []string
}

type CreateKeyInput struct {
	Description string
	Tags        map[string]string
	// Policy is the key policy document; empty means the default policy
	// (the account root may do everything). docs/authorization.md.
	Policy string
	// BypassPolicyLockoutSafetyCheck skips the check that Policy still
	// lets the caller call PutKeyPolicy.
	BypassPolicyLockoutSafetyCheck bool
	// KeySpec and KeyUsage: "" means SYMMETRIC_DEFAULT / the spec's
	// default usage. Origin: "" means AWS_KMS.
	KeySpec          string
	KeyUsage         string
	Origin           string
	MultiRegion      bool
	CustomKeyStoreID string
	XksKeyID         string
}

// AuthorizeInput is one key authorization question the gateway asks for
// an S3 request, also when its data-key cache spares the KMS call.
type AuthorizeInput struct {
	KeyID     string            // key id, key ARN, alias name or alias ARN
	Operation string            // "Decrypt", "GenerateDataKey", "Encrypt"
	Context   EncryptionContext // the encryption context the call would carry
}

// Authorizer answers whether the caller on ctx (WithCaller) may perform an
// operation on a key, by the key policy and grants, without performing it.
// It returns nil or an error wrapping ErrAccessDenied (or ErrNotFound for
// an unknown key). Key state is not checked: the cryptographic call does.
// *Core implements it.
type Authorizer interface {
	Authorize(ctx context.Context, in AuthorizeInput) error
}

type EncryptInput struct {
	KeyID     string
	Plaintext []byte // 1..4096 bytes
	Context   EncryptionContext
}

type EncryptOutput struct {
	CiphertextBlob []byte
	KeyID          string // key ARN
}

type DecryptInput struct {
	CiphertextBlob []byte
	Context        EncryptionContext
	KeyID          string // optional; must match the blob's key when set
}

type DecryptOutput struct {
	Plaintext []byte
	KeyID     string // key ARN
}

type GenerateDataKeyInput struct {
	KeyID         string
	Context       EncryptionContext
	KeySpec       string // "AES_256" (default when NumberOfBytes is 0) or "AES_128"
	NumberOfBytes int    // 1..1024; exclusive with KeySpec
}

type DataKey struct {
	Plaintext      []byte
	CiphertextBlob []byte
	KeyID          string // key ARN
}

// Errors, mapped one-to-one to AWS KMS error types by the API handler
// (and back by the remote client), and to S3 errors by the gateway.
var (
	ErrNotFound          = errors.New("kms: key not found")                 // NotFoundException
	ErrDisabled          = errors.New("kms: key is disabled")               // DisabledException
	ErrInvalidState      = errors.New("kms: key state does not allow it")   // KMSInvalidStateException
	ErrInvalidCiphertext = errors.New("kms: invalid ciphertext")            // InvalidCiphertextException
	ErrIncorrectKey      = errors.New("kms: ciphertext is for another key") // IncorrectKeyException
	ErrValidation        = errors.New("kms: validation error")              // ValidationException
	ErrAlreadyExists     = errors.New("kms: already exists")                // AlreadyExistsException
	ErrLimitExceeded     = errors.New("kms: limit exceeded")                // LimitExceededException
	ErrThrottled         = errors.New("kms: throttled")                     // ThrottlingException
	ErrAccessDenied      = errors.New("kms: access denied")                 // AccessDeniedException
	ErrUnsupported       = errors.New("kms: unsupported operation")         // UnsupportedOperationException
	ErrInvalidAliasName  = errors.New("kms: invalid alias name")            // InvalidAliasNameException
	ErrInvalidArn        = errors.New("kms: invalid ARN")                   // InvalidArnException
	ErrInvalidMarker     = errors.New("kms: invalid marker")                // InvalidMarkerException
	ErrTagException      = errors.New("kms: invalid tag")                   // TagException
	ErrInternal          = errors.New("kms: internal error")                // KMSInternalException
)

// Caller identifies who makes a KMS call, for audit (and, later, key
// policies). The gateway sets it from the authenticated S3 or KMS request.
type Caller struct {
	AccessKey  string
	ARN        string
	ViaService string // "s3.amazonaws.com" when S3 calls on a user's behalf
	RequestID  string
	SourceIP   string
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
