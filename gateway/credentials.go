package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssegate/ssegate/kms"
)

// UserDirectory is what the gateway needs from the store of users and
// access keys (docs/authorization.md, "Principals"): SigV4 lookups and the
// IAM API. *kms.Core implements it; nil (a remote KMS) means the root
// credentials are the only ones.
type UserDirectory interface {
	// LookupAccessKey resolves an active access key; ok is false for
	// unknown and inactive keys.
	LookupAccessKey(ctx context.Context, accessKey string) (arn, secret string, ok bool, err error)
	CreateUser(ctx context.Context, name string) (kms.User, error)
	GetUser(ctx context.Context, name string) (kms.User, error)
	ListUsers(ctx context.Context) ([]kms.User, error)
	DeleteUser(ctx context.Context, name string) error
	CreateAccessKey(ctx context.Context, user string) (kms.AccessKey, error)
	ListAccessKeys(ctx context.Context, user string) ([]kms.AccessKey, error)
	UpdateAccessKey(ctx context.Context, user, accessKey, status string) error
	DeleteAccessKey(ctx context.Context, user, accessKey string) error
}

var _ UserDirectory = (*kms.Core)(nil)

// userLookupTimeout bounds one keystore lookup during SigV4 verification
// (CredentialStore.Lookup carries no context).
const userLookupTimeout = 5 * time.Second

// RootThenUsers returns a CredentialStore that answers from root first
// and then from users' access keys. Root comes first so that no user key
// can ever shadow the root credentials. users may be nil.
func RootThenUsers(root CredentialStore, users UserDirectory, log *slog.Logger) CredentialStore {
	if users == nil {
		return root
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return userCredentials{root: root, users: users, log: log}
}

type userCredentials struct {
	root  CredentialStore
	users UserDirectory
	log   *slog.Logger
}

func (u userCredentials) Lookup(accessKey string) (Credential, bool) {
	if c, ok := u.root.Lookup(accessKey); ok {
		return c, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), userLookupTimeout)
	defer cancel()
	arn, secret, ok, err := u.users.LookupAccessKey(ctx, accessKey)
	if err != nil {
		// Fail closed: the request gets InvalidAccessKeyId. The error
		// names the key id at most, never its secret.
		u.log.Error("access key lookup failed", "access_key", accessKey, "err", err)
		return Credential{}, false
	}
	if !ok {
		return Credential{}, false
	}
	return Credential{AccessKey: accessKey, SecretKey: secret, ARN: arn}, true
}

// credentials is the store authenticate uses: Deps.Credentials, then
// Deps.Users when set.
func (s *Server) credentials() CredentialStore {
	return RootThenUsers(s.deps.Credentials, s.deps.Users, s.log)
}
