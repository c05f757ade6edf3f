package gateway

import (
	"log/slog"
	"net/http"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// Config is the gateway's typed configuration; cmd/ssegate fills it from
// flags and environment.
type Config struct {
	Region string // default "us-east-1"
	// Domains for virtual-host-style addressing ("s3.example.com" makes
	// "bucket.s3.example.com" address bucket). Empty: path style only,
	// plus the Host "<bucket>.localhost" convention is not assumed.
	Domains []string
	// AllowInsecureSSEC permits SSE-C over plain HTTP (for a TLS-terminating
	// proxy in front). Off by default: AWS refuses SSE-C without TLS.
	AllowInsecureSSEC bool
	// DefaultSSE is the mode for buckets without an encryption
	// configuration: "AES256" (default) or "aws:kms".
	DefaultSSE string
	// DefaultKMSKeyID is used with DefaultSSE "aws:kms"; empty means
	// alias/aws/s3.
	DefaultKMSKeyID string
	// Compression compresses single-part objects of the listed content
	// types before encryption. Off by default: stored sizes then leak
	// information about the plaintext (docs/format.md, 8).
	Compression sse.CompressionConfig
	// SSES3KeyID is the KMS key that backs SSE-S3. Empty: the embedded
	// KMS's hidden gateway-owned key (kms.SSES3KeyAlias). A gateway using
	// a remote KMS names a key there (cmd defaults it to alias/aws/s3).
	SSES3KeyID string
}

// Credential is one access key the gateway accepts.
type Credential struct {
	AccessKey string
	SecretKey string
	// ARN of the principal: "arn:aws:iam::<account>:root" for the root
	// credentials, "arn:aws:iam::<account>:user/<name>" for users.
	ARN string
}

// CredentialStore looks up access keys for SigV4 verification.
type CredentialStore interface {
	Lookup(accessKey string) (Credential, bool)
}

// Deps are the gateway's collaborators, built by cmd/ssegate.
type Deps struct {
	Store store.Store
	KMS   kms.Service
	// KMSAPI serves the AWS KMS JSON API (TrentService.*) after the gateway
	// has authenticated the request with SigV4 (service "kms") and put the
	// caller in the request context with kms.WithCaller. Nil: not mounted.
	KMSAPI http.Handler
	// Credentials are the root credentials; the gateway consults Users
	// after them (RootThenUsers).
	Credentials CredentialStore
	// Users are the IAM-style users and their access keys (the embedded
	// KMS's *kms.Core). Nil: only the root credentials exist and the IAM
	// API answers that users need the embedded KMS.
	Users  UserDirectory
	Logger *slog.Logger
}
