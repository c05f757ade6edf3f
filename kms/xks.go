package kms

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"
)

// The external key manager of an external key store.
//
// AWS reaches an external key manager through an XKS proxy (SigV4 service
// "kms-xks", POST <path>/keys/{id}/encrypt ...). ssegate does not speak
// that protocol: it speaks the AWS KMS JSON API to the endpoint (another
// ssegate's KMS, or AWS KMS), signed with the store's credential and this
// KMS's region. XksProxyUriPath must have AWS's shape (.../kms/xks/v1);
// what comes before /kms/xks/vN is the base path of the KMS API there.
//
// Double encryption, as AWS does it for external keys: for a key in an
// external key store, the plaintext (a data key, or Encrypt's plaintext)
// is first encrypted by the external manager under XksKeyId, with the
// encryption context {"ssegate:key-arn": <this key's ARN>}; that external
// ciphertext is then sealed as an ordinary blob (docs/kms.md) under the
// key's own material kept here, binding the caller's encryption context.
// Decrypt needs both: this keystore and the external manager.

// xksContextKey binds the external ciphertext to the KMS key using it.
const xksContextKey = "ssegate:key-arn"

// xksTimeout bounds one call to the external key manager (AWS gives an
// XKS proxy 250 ms; a KMS over the network needs more).
const xksTimeout = 10 * time.Second

// externalManager is a client for one store's external key manager.
type externalManager struct {
	client *awskms.Client
}

func (c *Core) newExternalManager(s *keyStoreRecord) *externalManager {
	base := s.endpoint + strings.TrimSuffix(s.path[:strings.LastIndex(s.path, "/kms/xks/")], "/")
	return &externalManager{client: awskms.New(awskms.Options{
		Region:       c.opts.Region,
		BaseEndpoint: aws.String(base),
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(s.cred.AccessKeyID, s.cred.Secret, "")),
		HTTPClient:   &http.Client{Timeout: xksTimeout},
		// One retry: a data path call must fail fast when the manager
		// is down, not after the SDK's default backoff.
		Retryer: retry.AddWithMaxAttempts(retry.NewStandard(), 2),
	})}
}

// authErrorCodes are the answers of a KMS API to a credential it refuses.
var authErrorCodes = map[string]bool{
	"UnrecognizedClientException": true, "InvalidSignatureException": true, "IncompleteSignatureException": true,
	"MissingAuthenticationTokenException": true, "InvalidClientTokenId": true, "SignatureDoesNotMatch": true,
}

// classifyExternal maps a failed call to the external key manager to a
// ConnectionErrorCode and the XksProxy* error of the store operations.
func classifyExternal(err error) (string, error) {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && authErrorCodes[apiErr.ErrorCode()]:
		return ConnErrInvalidCredentials, fmt.Errorf("%w: %s", ErrXksProxyIncorrectAuth, apiErr.ErrorCode())
	case errors.As(err, &apiErr):
		return ConnErrInvalidResponse, fmt.Errorf("%w: %s", ErrXksProxyInvalidResponse, apiErr.ErrorCode())
	}
	// No API answer: connection refused, timeout, TLS failure. The
	// transport error names only the endpoint, which is no secret.
	return ConnErrProxyUnreachable, fmt.Errorf("%w: %v", ErrXksProxyUnreachable, err)
}

// probeExternal checks that the external key manager answers and accepts
// the store's credential: DescribeKey of a random key id must answer
// NotFoundException (or AccessDeniedException: authenticated, not
// allowed). It returns the ConnectionErrorCode with the error.
func (c *Core) probeExternal(ctx context.Context, s *keyStoreRecord) (string, error) {
	_, err := c.newExternalManager(s).client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(uuid.NewString())})
	var apiErr smithy.APIError
	if err == nil || errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotFoundException" || apiErr.ErrorCode() == "AccessDeniedException") {
		return "", nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return classifyExternal(err)
}

// checkXksKey asks the external manager for the key CreateKey names: it
// must exist and be an enabled symmetric encryption key.
func (c *Core) checkXksKey(ctx context.Context, s *keyStoreRecord, xksKeyID string) error {
	out, err := c.newExternalManager(s).client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(xksKeyID)})
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "NotFoundException":
		return fmt.Errorf("%w: %s", ErrXksKeyNotFound, xksKeyID)
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		_, err = classifyExternal(err)
		return err
	}
	m := out.KeyMetadata
	if m == nil || string(m.KeySpec) != "SYMMETRIC_DEFAULT" || string(m.KeyUsage) != "ENCRYPT_DECRYPT" || !m.Enabled {
		return fmt.Errorf("%w: %s must be an enabled SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key", ErrXksKeyInvalidConfiguration, xksKeyID)
	}
	return nil
}

// xksRegistry caches, per store, its connection state and client, so the
// data path does not read SQLite for every use. Store operations forget
// the entry they change; entries also expire after the cache TTL.
type xksRegistry struct {
	mu      sync.Mutex
	entries map[string]xksEntry
}

type xksEntry struct {
	state   string
	manager *externalManager
	loaded  time.Time
}

func (r *xksRegistry) forget(id string) {
	r.mu.Lock()
	delete(r.entries, id)
	r.mu.Unlock()
}

// managerFor returns the client of a key's store, or KMSInvalidState when
// the store is not CONNECTED: its keys are unusable (AWS).
func (c *Core) managerFor(ctx context.Context, rec keyRecord) (*externalManager, error) {
	r := &c.xks
	now := c.now()
	r.mu.Lock()
	e, ok := r.entries[rec.customKeyStoreID]
	r.mu.Unlock()
	if !ok || now.Sub(e.loaded) > c.opts.CacheTTL {
		s, err := c.getKeyStore(ctx, c.rdb, rec.customKeyStoreID)
		if err != nil {
			return nil, fmt.Errorf("%w: custom key store of %s: %v", ErrInvalidState, rec.id, err)
		}
		e = xksEntry{state: s.state, loaded: now}
		if s.state == ConnectionConnected {
			e.manager = c.newExternalManager(s)
		}
		r.mu.Lock()
		if r.entries == nil {
			r.entries = map[string]xksEntry{}
		}
		r.entries[s.id] = e
		r.mu.Unlock()
	}
	if e.manager == nil {
		return nil, fmt.Errorf("%w: custom key store %s of key %s is %s", ErrInvalidState, rec.customKeyStoreID, rec.id, e.state)
	}
	return e.manager, nil
}

// externalUseErr maps a failed external call on the data path. AWS
// answers KMSInvalidStateException for a key whose external key or proxy
// is unusable; a ciphertext the external key won't open stays invalid.
func externalUseErr(ctx context.Context, rec keyRecord, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if apiErr.ErrorCode() == "InvalidCiphertextException" {
			return ErrInvalidCiphertext
		}
		return fmt.Errorf("%w: external key %s of %s: %s", ErrInvalidState, rec.xksKeyID, rec.id, apiErr.ErrorCode())
	}
	return fmt.Errorf("%w: external key manager of %s unreachable", ErrInvalidState, rec.id)
}

// xksWrap is the outer layer for a key in an external key store: the
// external manager's ciphertext of plaintext. Other keys pass through.
func (c *Core) xksWrap(ctx context.Context, rec keyRecord, plaintext []byte) ([]byte, error) {
	if rec.origin != originExternalStore {
		return plaintext, nil
	}
	m, err := c.managerFor(ctx, rec)
	if err != nil {
		return nil, err
	}
	out, err := m.client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(rec.xksKeyID), Plaintext: plaintext,
		EncryptionContext: map[string]string{xksContextKey: c.arn(rec.id)}})
	if err != nil {
		return nil, externalUseErr(ctx, rec, err)
	}
	return out.CiphertextBlob, nil
}

// xksUnwrap reverses xksWrap on the payload of an opened blob.
func (c *Core) xksUnwrap(ctx context.Context, rec keyRecord, inner []byte) ([]byte, error) {
	if rec.origin != originExternalStore {
		return inner, nil
	}
	m, err := c.managerFor(ctx, rec)
	if err != nil {
		return nil, err
	}
	out, err := m.client.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(rec.xksKeyID), CiphertextBlob: inner,
		EncryptionContext: map[string]string{xksContextKey: c.arn(rec.id)}})
	if err != nil {
		return nil, externalUseErr(ctx, rec, err)
	}
	return out.Plaintext, nil
}

// Sealed credential plaintext: 0x01 || uint16be(len(id)) || id || secret.
const xksCredentialV1 = 0x01

func marshalXksCredential(cr XksCredential) []byte {
	b := []byte{xksCredentialV1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(cr.AccessKeyID)))
	b = append(b, cr.AccessKeyID...)
	return append(b, cr.Secret...)
}

var errBadCredential = errors.New("malformed sealed credential")

func parseXksCredential(b []byte) (XksCredential, error) {
	if len(b) < 3 || b[0] != xksCredentialV1 {
		return XksCredential{}, errBadCredential
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 || len(b) < 3+n+1 {
		return XksCredential{}, errBadCredential
	}
	return XksCredential{AccessKeyID: string(b[3 : 3+n]), Secret: string(b[3+n:])}, nil
}
