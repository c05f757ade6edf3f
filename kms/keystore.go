package kms

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Custom key stores (issue 11 part C, docs/kms.md "External key stores").
// ssegate supports AWS's EXTERNAL_KEY_STORE type only; the external key
// manager is reached through the AWS KMS JSON API (another ssegate's KMS),
// not through the AWS XKS proxy protocol (xks.go).

// Custom key store errors, mapped to AWS error types in errors.go.
var (
	ErrCustomKeyStoreNotFound     = errors.New("kms: custom key store not found")                         // CustomKeyStoreNotFoundException
	ErrCustomKeyStoreNameInUse    = errors.New("kms: custom key store name in use")                       // CustomKeyStoreNameInUseException
	ErrCustomKeyStoreInvalidState = errors.New("kms: custom key store state does not allow it")           // CustomKeyStoreInvalidStateException
	ErrCustomKeyStoreHasCMKs      = errors.New("kms: custom key store still has KMS keys")                // CustomKeyStoreHasCMKsException
	ErrXksKeyNotFound             = errors.New("kms: external key not found")                             // XksKeyNotFoundException
	ErrXksKeyInvalidConfiguration = errors.New("kms: external key is not a usable symmetric key")         // XksKeyInvalidConfigurationException
	ErrXksKeyAlreadyInUse         = errors.New("kms: external key already backs a KMS key of this store") // XksKeyAlreadyInUseException
	ErrXksProxyURIInUse           = errors.New("kms: proxy URI already used by another key store")        // XksProxyUriInUseException
	ErrXksProxyIncorrectAuth      = errors.New("kms: external key manager refused the credential")        // XksProxyIncorrectAuthenticationCredentialException
	ErrXksProxyInvalidConfig      = errors.New("kms: invalid external key store configuration")           // XksProxyInvalidConfigurationException
	ErrXksProxyUnreachable        = errors.New("kms: external key manager unreachable")                   // XksProxyUriUnreachableException
	ErrXksProxyInvalidResponse    = errors.New("kms: external key manager answered unexpectedly")         // XksProxyInvalidResponseException
)

// Custom key store constants as in the AWS API.
const (
	KeyStoreTypeExternal = "EXTERNAL_KEY_STORE"
	originExternalStore  = "EXTERNAL_KEY_STORE"
	connectivityPublic   = "PUBLIC_ENDPOINT"

	ConnectionConnected    = "CONNECTED"
	ConnectionDisconnected = "DISCONNECTED"
	ConnectionFailed       = "FAILED"

	// Connection error codes (AWS ConnectionErrorCodeType).
	ConnErrProxyUnreachable   = "XKS_PROXY_NOT_REACHABLE"
	ConnErrInvalidCredentials = "INVALID_CREDENTIALS"
	ConnErrInvalidResponse    = "XKS_PROXY_INVALID_RESPONSE"

	purposeXksCredential = "xks-credential"
	maxCustomKeyStores   = 10 // AWS: custom key stores per account and Region
)

// XksCredential authenticates ssegate to the external key manager. Its
// String never prints the secret.
type XksCredential struct {
	AccessKeyID string
	Secret      string
}

func (c XksCredential) String() string {
	return "XksCredential{" + c.AccessKeyID + ", secret redacted}"
}
func (c XksCredential) GoString() string { return c.String() }

// CustomKeyStore describes one custom key store (DescribeCustomKeyStores).
type CustomKeyStore struct {
	ID                  string
	Name                string
	Type                string
	Endpoint            string // XksProxyUriEndpoint
	Path                string // XksProxyUriPath
	Connectivity        string
	AccessKeyID         string // of the credential; the secret never leaves
	ConnectionState     string
	ConnectionErrorCode string // set when ConnectionState is FAILED
	CreationDate        time.Time
}

type CreateCustomKeyStoreInput struct {
	Name         string
	Type         string // "" means EXTERNAL_KEY_STORE
	Endpoint     string
	Path         string
	Connectivity string // "" means PUBLIC_ENDPOINT
	Credential   XksCredential
}

// UpdateCustomKeyStoreInput changes the fields that are set.
type UpdateCustomKeyStoreInput struct {
	ID           string
	NewName      string
	Endpoint     string
	Path         string
	Connectivity string
	Credential   *XksCredential
}

var (
	keyStoreNameRe = regexp.MustCompile(`^[a-zA-Z0-9:/_.@-]{1,256}$`)
	// xksPathRe is AWS's pattern: an optional prefix, then /kms/xks/v<N>.
	xksPathRe      = regexp.MustCompile(`^(/[a-zA-Z0-9/_-]+)?/kms/xks/v[0-9]{1,2}$`)
	keyStoreIDRe   = regexp.MustCompile(`^cks-[0-9a-f]{17}$`)
	credentialIDRe = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
)

func newKeyStoreID() (string, error) {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("%w: random", ErrInternal)
	}
	return "cks-" + hex.EncodeToString(b)[:17], nil
}

// checkEndpoint accepts https, and http only to a loopback address: the
// external key manager sees every plaintext data key of its keys, which
// must not cross a network in the clear (AWS requires https always).
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%w: XksProxyUriEndpoint must be a scheme and host, e.g. https://xks.example.com", ErrXksProxyInvalidConfig)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("%w: XksProxyUriEndpoint must use https (http only to a loopback address)", ErrXksProxyInvalidConfig)
}

func checkCredential(cr XksCredential) error {
	if !credentialIDRe.MatchString(cr.AccessKeyID) || len(cr.Secret) < 1 || len(cr.Secret) > 128 {
		return fmt.Errorf("%w: XksProxyAuthenticationCredential needs an AccessKeyId (letters and digits) and a RawSecretAccessKey of 1 to 128 characters", ErrValidation)
	}
	return nil
}

func checkKeyStoreConfig(s *keyStoreRecord) error {
	if !keyStoreNameRe.MatchString(s.name) {
		return fmt.Errorf("%w: CustomKeyStoreName must be 1 to 256 characters of [a-zA-Z0-9:/_.@-]", ErrValidation)
	}
	if s.connectivity != connectivityPublic {
		return fmt.Errorf("%w: XksProxyConnectivity must be PUBLIC_ENDPOINT (VPC endpoint services are not supported)", ErrUnsupported)
	}
	if err := checkEndpoint(s.endpoint); err != nil {
		return err
	}
	if !xksPathRe.MatchString(s.path) || len(s.path) > 128 {
		return fmt.Errorf("%w: XksProxyUriPath must end in /kms/xks/v<N>, e.g. /kms/xks/v1", ErrXksProxyInvalidConfig)
	}
	return checkCredential(s.cred)
}

// keyStoreRecord is one row of custom_key_stores with its credential
// unsealed. The state column holds CONNECTED, DISCONNECTED or
// "FAILED:<error code>", so a failure survives a restart.
type keyStoreRecord struct {
	id, name, typ, endpoint, path, connectivity string
	cred                                        XksCredential
	state, errorCode                            string
	created                                     time.Time
}

func (s *keyStoreRecord) public() CustomKeyStore {
	return CustomKeyStore{ID: s.id, Name: s.name, Type: s.typ, Endpoint: s.endpoint, Path: s.path,
		Connectivity: s.connectivity, AccessKeyID: s.cred.AccessKeyID, ConnectionState: s.state,
		ConnectionErrorCode: s.errorCode, CreationDate: s.created}
}

func (s *keyStoreRecord) stateColumn() string {
	if s.state == ConnectionFailed {
		return ConnectionFailed + ":" + s.errorCode
	}
	return s.state
}

const keyStoreColumns = `id, name, type, endpoint, path, connectivity, sealed_credential, state, created`

// scanKeyStore reads a row and unseals its credential with master.
func scanKeyStore(r rowScanner, master []byte) (*keyStoreRecord, error) {
	var s keyStoreRecord
	var sealed []byte
	var created int64
	if err := r.Scan(&s.id, &s.name, &s.typ, &s.endpoint, &s.path, &s.connectivity, &sealed, &s.state, &created); err != nil {
		return nil, err
	}
	s.created = time.Unix(0, created).UTC()
	if st, code, ok := strings.Cut(s.state, ":"); ok {
		s.state, s.errorCode = st, code
	}
	raw, err := unseal(master, s.id, 0, purposeXksCredential, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: credential of custom key store %s does not unseal", ErrInternal, s.id)
	}
	s.cred, err = parseXksCredential(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: credential of custom key store %s: %v", ErrInternal, s.id, err)
	}
	return &s, nil
}

func (c *Core) getKeyStore(ctx context.Context, q querier, id string) (*keyStoreRecord, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return getKeyStoreWith(ctx, q, id, c.master)
}

// getKeyStoreWith reads a store with master given: inside c.write, which
// already holds c.mu, taking it again could deadlock with RotateMasterKey.
func getKeyStoreWith(ctx context.Context, q querier, id string, master []byte) (*keyStoreRecord, error) {
	if !keyStoreIDRe.MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrCustomKeyStoreNotFound, id)
	}
	s, err := scanKeyStore(q.QueryRowContext(ctx, `SELECT `+keyStoreColumns+` FROM custom_key_stores WHERE id = ?`, id), master)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrCustomKeyStoreNotFound, id)
	}
	if err != nil && !errors.Is(err, ErrInternal) {
		return nil, fmt.Errorf("%w: read custom key store: %v", ErrInternal, err)
	}
	return s, err
}

// storeKeyStore writes every column of s (insert or replace) inside tx,
// sealing the credential under the current master key.
func (c *Core) storeKeyStore(ctx context.Context, tx *sql.Tx, s *keyStoreRecord, insert bool) error {
	raw := marshalXksCredential(s.cred)
	sealed, err := seal(c.master, s.id, 0, purposeXksCredential, raw)
	clear(raw)
	if err != nil {
		return err
	}
	if insert {
		_, err = tx.ExecContext(ctx, `INSERT INTO custom_key_stores (`+keyStoreColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
			s.id, s.name, s.typ, s.endpoint, s.path, s.connectivity, sealed, s.stateColumn(), s.created.UnixNano())
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE custom_key_stores SET name=?, endpoint=?, path=?, connectivity=?, sealed_credential=?, state=? WHERE id=?`,
			s.name, s.endpoint, s.path, s.connectivity, sealed, s.stateColumn(), s.id)
	}
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("%w: %s", ErrCustomKeyStoreNameInUse, s.name)
		}
		return fmt.Errorf("%w: write custom key store: %v", ErrInternal, err)
	}
	return nil
}

// checkUnique refuses a name or endpoint+path another store uses (AWS:
// CustomKeyStoreNameInUseException, XksProxyUriInUseException).
func checkUnique(ctx context.Context, tx *sql.Tx, s *keyStoreRecord) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM custom_key_stores WHERE name = ? AND id != ?`, s.name, s.id).Scan(&n); err != nil {
		return fmt.Errorf("%w: %v", ErrInternal, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s", ErrCustomKeyStoreNameInUse, s.name)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM custom_key_stores WHERE endpoint = ? AND path = ? AND id != ?`, s.endpoint, s.path, s.id).Scan(&n); err != nil {
		return fmt.Errorf("%w: %v", ErrInternal, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s%s", ErrXksProxyURIInUse, s.endpoint, s.path)
	}
	return nil
}

// CreateCustomKeyStore creates an external key store, DISCONNECTED. As
// AWS does, it first checks that the external key manager answers and
// accepts the credential.
func (c *Core) CreateCustomKeyStore(ctx context.Context, in CreateCustomKeyStoreInput) (id string, err error) {
	o, err := c.begin(ctx, "CreateCustomKeyStore")
	if err != nil {
		return "", err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:CreateCustomKeyStore"); err != nil {
		return "", err
	}
	switch in.Type {
	case "", KeyStoreTypeExternal:
	case "AWS_CLOUDHSM":
		return "", fmt.Errorf("%w: AWS CloudHSM key stores are not supported", ErrUnsupported)
	default:
		return "", fmt.Errorf("%w: CustomKeyStoreType must be EXTERNAL_KEY_STORE", ErrValidation)
	}
	if in.Connectivity == "" {
		in.Connectivity = connectivityPublic
	}
	id, err = newKeyStoreID()
	if err != nil {
		return "", err
	}
	s := &keyStoreRecord{id: id, name: in.Name, typ: KeyStoreTypeExternal, endpoint: strings.TrimSuffix(in.Endpoint, "/"),
		path: in.Path, connectivity: in.Connectivity, cred: in.Credential, state: ConnectionDisconnected, created: c.now().UTC()}
	if err := checkKeyStoreConfig(s); err != nil {
		return "", err
	}
	if _, err := c.probeExternal(ctx, s); err != nil {
		return "", err
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM custom_key_stores`).Scan(&n); err != nil {
			return fmt.Errorf("%w: %v", ErrInternal, err)
		}
		if n >= maxCustomKeyStores {
			return fmt.Errorf("%w: at most %d custom key stores", ErrLimitExceeded, maxCustomKeyStores)
		}
		if err := checkUnique(ctx, tx, s); err != nil {
			return err
		}
		return c.storeKeyStore(ctx, tx, s, true)
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// keyStoreOp runs one store operation after its account-level
// authorization: pre (may be nil) on a snapshot of the store outside any
// transaction, where calls to the external key manager belong (a network
// call must not hold SQLite's one writer), then fn on the current row
// inside a write transaction.
func (c *Core) keyStoreOp(ctx context.Context, name, id string, pre, fn func(s *keyStoreRecord) error, tx func(*sql.Tx, *keyStoreRecord) error) (err error) {
	o, err := c.begin(ctx, name)
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:"+name); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("%w: CustomKeyStoreId is required", ErrValidation)
	}
	if pre != nil {
		s, err := c.getKeyStore(ctx, c.rdb, id)
		if err != nil {
			return err
		}
		if err := pre(s); err != nil {
			return err
		}
	}
	defer c.xks.forget(id)
	return c.write(ctx, func(t *sql.Tx) error {
		s, err := getKeyStoreWith(ctx, t, id, c.master)
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		return tx(t, s)
	})
}

// ConnectCustomKeyStore connects a store. ssegate connects synchronously:
// it asks the external key manager now, and a failure both leaves the
// store FAILED with a ConnectionErrorCode (as AWS) and is returned (AWS
// answers at once and reports the failure only in DescribeCustomKeyStores).
// A FAILED store must be disconnected before it connects again (AWS).
func (c *Core) ConnectCustomKeyStore(ctx context.Context, id string) error {
	var probeErr error
	var code string
	err := c.keyStoreOp(ctx, "ConnectCustomKeyStore", id, func(s *keyStoreRecord) error {
		if s.state == ConnectionFailed {
			return fmt.Errorf("%w: %s is FAILED; disconnect it before connecting again", ErrCustomKeyStoreInvalidState, s.id)
		}
		if s.state != ConnectionConnected {
			code, probeErr = c.probeExternal(ctx, s)
		}
		return nil
	}, func(s *keyStoreRecord) error {
		if s.state == ConnectionFailed {
			return fmt.Errorf("%w: %s is FAILED; disconnect it before connecting again", ErrCustomKeyStoreInvalidState, s.id)
		}
		s.state, s.errorCode = ConnectionConnected, ""
		if probeErr != nil {
			s.state, s.errorCode = ConnectionFailed, code
		}
		return nil
	}, c.updateKeyStore)
	if err != nil {
		return err
	}
	return probeErr
}

func (c *Core) updateKeyStore(tx *sql.Tx, s *keyStoreRecord) error {
	return c.storeKeyStore(context.Background(), tx, s, false)
}

// DisconnectCustomKeyStore disconnects a store: its keys are unusable
// (KMSInvalidStateException) until it connects again.
func (c *Core) DisconnectCustomKeyStore(ctx context.Context, id string) error {
	return c.keyStoreOp(ctx, "DisconnectCustomKeyStore", id, nil, func(s *keyStoreRecord) error {
		s.state, s.errorCode = ConnectionDisconnected, ""
		return nil
	}, c.updateKeyStore)
}

// DeleteCustomKeyStore deletes a DISCONNECTED store without keys (keys in
// any state count, as in AWS).
func (c *Core) DeleteCustomKeyStore(ctx context.Context, id string) error {
	return c.keyStoreOp(ctx, "DeleteCustomKeyStore", id, nil, func(s *keyStoreRecord) error {
		if s.state != ConnectionDisconnected {
			return fmt.Errorf("%w: %s must be DISCONNECTED to be deleted", ErrCustomKeyStoreInvalidState, s.id)
		}
		return nil
	}, func(tx *sql.Tx, s *keyStoreRecord) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM keys WHERE custom_key_store_id = ?`, s.id).Scan(&n); err != nil {
			return fmt.Errorf("%w: %v", ErrInternal, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s has %d KMS keys", ErrCustomKeyStoreHasCMKs, s.id, n)
		}
		if _, err := tx.Exec(`DELETE FROM custom_key_stores WHERE id = ?`, s.id); err != nil {
			return fmt.Errorf("%w: delete custom key store: %v", ErrInternal, err)
		}
		return nil
	})
}

// UpdateCustomKeyStore changes a store's settings. As in AWS, the name,
// path and credential may change while CONNECTED (the new path and
// credential are checked against the external key manager first); the
// endpoint and connectivity only while DISCONNECTED.
func (c *Core) UpdateCustomKeyStore(ctx context.Context, in UpdateCustomKeyStoreInput) error {
	apply := func(s *keyStoreRecord) error {
		if (in.Endpoint != "" || in.Connectivity != "") && s.state != ConnectionDisconnected {
			return fmt.Errorf("%w: disconnect %s before changing its endpoint or connectivity", ErrCustomKeyStoreInvalidState, s.id)
		}
		if in.NewName != "" {
			s.name = in.NewName
		}
		if in.Endpoint != "" {
			s.endpoint = strings.TrimSuffix(in.Endpoint, "/")
		}
		if in.Path != "" {
			s.path = in.Path
		}
		if in.Connectivity != "" {
			s.connectivity = in.Connectivity
		}
		if in.Credential != nil {
			s.cred = *in.Credential
		}
		return checkKeyStoreConfig(s)
	}
	pre := func(s *keyStoreRecord) error {
		if err := apply(s); err != nil {
			return err
		}
		if s.state == ConnectionConnected && (in.Path != "" || in.Credential != nil) {
			_, err := c.probeExternal(ctx, s)
			return err
		}
		return nil
	}
	return c.keyStoreOp(ctx, "UpdateCustomKeyStore", in.ID, pre, apply, func(tx *sql.Tx, s *keyStoreRecord) error {
		if err := checkUnique(ctx, tx, s); err != nil {
			return err
		}
		return c.storeKeyStore(ctx, tx, s, false)
	})
}

// DescribeCustomKeyStores lists stores in id order, or the one named by
// id or name (exclusive); an unknown one is CustomKeyStoreNotFoundException.
func (c *Core) DescribeCustomKeyStores(ctx context.Context, id, name string, limit int, marker string) (out []CustomKeyStore, next string, err error) {
	o, err := c.begin(ctx, "DescribeCustomKeyStores")
	if err != nil {
		return nil, "", err
	}
	defer func() { o.end(err) }()
	if err := c.authorizeAccount(ctx, o, "kms:DescribeCustomKeyStores"); err != nil {
		return nil, "", err
	}
	if id != "" && name != "" {
		return nil, "", fmt.Errorf("%w: CustomKeyStoreId and CustomKeyStoreName are exclusive", ErrValidation)
	}
	limit, after, err := pageArgs(limit, marker)
	if err != nil {
		return nil, "", err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	rows, err := c.rdb.QueryContext(ctx, `SELECT `+keyStoreColumns+` FROM custom_key_stores
		WHERE (? = '' OR id = ?) AND (? = '' OR name = ?) AND id > ? ORDER BY id LIMIT ?`, id, id, name, name, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("%w: list custom key stores: %v", ErrInternal, err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanKeyStore(rows, c.master)
		if err != nil {
			return nil, "", err
		}
		out = append(out, s.public())
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("%w: list custom key stores: %v", ErrInternal, err)
	}
	if len(out) == 0 && (id != "" || name != "") {
		return nil, "", fmt.Errorf("%w: %s%s", ErrCustomKeyStoreNotFound, id, name)
	}
	out, next = page(out, limit, func(s CustomKeyStore) string { return s.ID })
	return out, next, nil
}

// checkExternalKey validates CreateKey's custom key store fields and
// fills rec (lifecycle.go CreateKey calls it). As AWS, the store must be
// CONNECTED and the external key must exist there as an enabled
// symmetric encryption key (DescribeKey at the external manager).
func (c *Core) checkExternalKey(ctx context.Context, in CreateKeyInput, rec *keyRecord) error {
	switch {
	case in.Origin != originExternalStore && in.CustomKeyStoreID == "" && in.XksKeyID == "":
		return nil
	case in.Origin == "AWS_CLOUDHSM":
		return fmt.Errorf("%w: AWS CloudHSM key stores are not supported", ErrUnsupported)
	case in.Origin != originExternalStore:
		return fmt.Errorf("%w: CustomKeyStoreId and XksKeyId need Origin EXTERNAL_KEY_STORE", ErrValidation)
	case in.CustomKeyStoreID == "" || in.XksKeyID == "":
		return fmt.Errorf("%w: Origin EXTERNAL_KEY_STORE needs CustomKeyStoreId and XksKeyId", ErrValidation)
	case in.KeySpec != "" && in.KeySpec != "SYMMETRIC_DEFAULT", in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT":
		return fmt.Errorf("%w: keys in an external key store are SYMMETRIC_DEFAULT ENCRYPT_DECRYPT", ErrUnsupported)
	case in.MultiRegion:
		return fmt.Errorf("%w: keys in an external key store can't be multi-Region", ErrUnsupported)
	case len(in.XksKeyID) > 128:
		return fmt.Errorf("%w: XksKeyId is longer than 128 characters", ErrValidation)
	}
	s, err := c.getKeyStore(ctx, c.rdb, in.CustomKeyStoreID)
	if err != nil {
		return err
	}
	if s.state != ConnectionConnected {
		return fmt.Errorf("%w: %s is %s", ErrCustomKeyStoreInvalidState, s.id, s.state)
	}
	var n int
	if err := c.rdb.QueryRowContext(ctx, `SELECT count(*) FROM keys WHERE custom_key_store_id = ? AND xks_key_id = ?`, s.id, in.XksKeyID).Scan(&n); err != nil {
		return fmt.Errorf("%w: %v", ErrInternal, err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s", ErrXksKeyAlreadyInUse, in.XksKeyID)
	}
	if err := c.checkXksKey(ctx, s, in.XksKeyID); err != nil {
		return err
	}
	rec.origin, rec.customKeyStoreID, rec.xksKeyID = originExternalStore, s.id, in.XksKeyID
	return nil
}
