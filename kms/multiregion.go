package kms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Multi-Region keys: a primary (CreateKey MultiRegion) has an id
// "mrk-<32 hex>" that every replica shares, with the same material and
// versions, so a ciphertext blob (version 2, naming the mrk id) made in
// one region decrypts in any other. Replicas live in other ssegates
// ("peers", Options.Peers) reached over the KMS JSON API with SigV4 as the
// peer's account root, through private operations (handler_multiregion.go):
//
//	SsegateCreateReplicaKey       peer creates the replica row (Creating) and
//	                              an RSA-3072 wrapping key; answers its public
//	                              key and an import token
//	SsegateImportReplicaMaterial  primary sends every version wrapped with
//	                              RSAES_OAEP_SHA_256; never plaintext
//	SsegateUpdatePrimaryRegion    peer takes the primary or replica role
//
// Rotation of a primary reaches its replicas through two more private
// operations, with pending pushes retried by maintenance (replicapush.go).

const (
	multiRegionPrimary = "PRIMARY"
	multiRegionReplica = "REPLICA"
	replicaWrapSpec    = "RSA_3072"
)

// RemotePeer is another ssegate acting as the KMS of another region.
type RemotePeer struct {
	Endpoint  string // e.g. "https://kms-eu.example:9000"
	AccessKey string // the peer's account root
	SecretKey string
	// HTTPClient, when set, makes the calls (a private CA's TLS roots,
	// say); nil is a client with a one-minute timeout and system roots.
	HTTPClient *http.Client
}

// ReplicateKeyInput is ReplicateKey's request.
type ReplicateKeyInput struct {
	KeyID                          string
	ReplicaRegion                  string
	Description                    string
	Policy                         string
	Tags                           map[string]string
	BypassPolicyLockoutSafetyCheck bool
}

// makeMultiRegion turns a new key into a multi-Region primary.
func (c *Core) makeMultiRegion(in CreateKeyInput, rec *keyRecord) error {
	if in.CustomKeyStoreID != "" {
		return fmt.Errorf("%w: multi-Region keys can't be in a custom key store", ErrUnsupported)
	}
	rec.id = newMRKID()
	rec.multiRegion, rec.primaryRegion = multiRegionPrimary, c.opts.Region
	return nil
}

func newMRKID() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return mrkPrefix + hex.EncodeToString(b)
}

// replicaRegions lists the regions a multi-Region key is known to be
// replicated to, sorted.
func (c *Core) replicaRegions(ctx context.Context, q rowsQuerier, id string) ([]string, error) {
	return queryStrings(ctx, q, "replicas", `SELECT region FROM replicas WHERE key_id = ? ORDER BY region`, id)
}

// rowsQuerier is what *sql.DB and *sql.Tx share for multi-row reads
// (querier, in keys.go, for single rows).
type rowsQuerier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// queryStrings runs a one-column query and returns its values; what names
// them in errors.
func queryStrings(ctx context.Context, q rowsQuerier, what, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrInternal, what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%w: read %s: %v", ErrInternal, what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// fillMultiRegion adds the replica regions to a multi-Region key's metadata.
func (c *Core) fillMultiRegion(ctx context.Context, m *KeyMetadata) error {
	if m.MultiRegion == "" {
		return nil
	}
	r, err := c.replicaRegions(ctx, c.rdb, m.KeyID)
	m.ReplicaRegions = r
	return err
}

// regionARN is the ARN of key id in another region of this account.
func (c *Core) regionARN(region, id string) string {
	return "arn:aws:kms:" + region + ":" + c.opts.AccountID + ":key/" + id
}

// ReplicateKey copies a multi-Region primary, material and all versions,
// to the peer acting as in.ReplicaRegion; it answers the replica's
// metadata as the peer reports it.
func (c *Core) ReplicateKey(ctx context.Context, in ReplicateKeyInput) (md KeyMetadata, err error) {
	o, err := c.begin(ctx, "ReplicateKey")
	if err != nil {
		return md, err
	}
	defer func() { o.end(err) }()
	id, err := c.resolveID(ctx, in.KeyID)
	if err != nil {
		return md, err
	}
	o.key(id, 0)
	ck, err := c.loadKey(ctx, id)
	if err != nil {
		return md, err
	}
	if isAPICall(ctx) && ck.rec.hidden {
		return md, fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if err := c.authorize(ctx, o, ck, authzRequest{action: "kms:ReplicateKey"}); err != nil {
		return md, err
	}
	if ck.rec.multiRegion != multiRegionPrimary {
		return md, fmt.Errorf("%w: %s is not a multi-Region primary key", ErrUnsupported, id)
	}
	if err := notPendingDeletion(&ck.rec); err != nil {
		return md, err
	}
	if in.ReplicaRegion == "" || in.ReplicaRegion == c.opts.Region {
		return md, fmt.Errorf("%w: ReplicaRegion must name another region", ErrValidation)
	}
	if len(in.Description) > maxDescription {
		return md, fmt.Errorf("%w: Description is too long", ErrValidation)
	}
	if err := validateTags(in.Tags); err != nil {
		return md, err
	}
	known, err := c.replicaRegions(ctx, c.rdb, id)
	if err != nil {
		return md, err
	}
	if slices.Contains(known, in.ReplicaRegion) {
		return md, fmt.Errorf("%w: %s already has a replica in %s", ErrAlreadyExists, id, in.ReplicaRegion)
	}
	peer, err := c.peer(in.ReplicaRegion)
	if err != nil {
		return md, err
	}
	if len(ck.versions) == 0 {
		return md, fmt.Errorf("%w: %s has no key material", ErrInvalidState, id)
	}
	created, err := peer.createReplica(ctx, createReplicaRequest{
		KeyId: id, PrimaryRegion: c.opts.Region, Description: in.Description,
		Policy: in.Policy, Tags: tagList(in.Tags), BypassPolicyLockoutSafetyCheck: in.BypassPolicyLockoutSafetyCheck,
		CreationDate: ts(ck.rec.created), ReplicaRegions: append(slices.Clone(known), in.ReplicaRegion),
	})
	if err != nil {
		return md, err
	}
	versions, err := c.wrapVersions(ctx, id, ck, created.PublicKey)
	if err != nil {
		return md, err
	}
	state := ck.rec.state
	if state != KeyStateDisabled {
		state = KeyStateEnabled
	}
	md, err = peer.importReplica(ctx, importReplicaRequest{KeyId: id, ImportToken: created.ImportToken, Versions: versions, KeyState: string(state)})
	if err != nil {
		return md, err
	}
	err = c.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO replicas (key_id, region) VALUES (?, ?)`, id, in.ReplicaRegion)
		return err
	})
	return md, err
}

// wrapVersions wraps every version of ck under the replica's public key.
func (c *Core) wrapVersions(ctx context.Context, id string, ck *cachedKey, spki []byte) ([]replicaVersion, error) {
	pk, err := x509.ParsePKIXPublicKey(spki)
	pub, ok := pk.(*rsa.PublicKey)
	if err != nil || !ok || pub.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%w: the replica region answered no usable RSA wrapping key", ErrInternal)
	}
	rows, err := c.rdb.QueryContext(ctx, `SELECT version, created, rotation_type FROM key_versions WHERE key_id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("%w: read key versions: %v", ErrInternal, err)
	}
	defer rows.Close()
	var out []replicaVersion
	for rows.Next() {
		var v replicaVersion
		var created int64
		if err := rows.Scan(&v.Version, &created, &v.RotationType); err != nil {
			return nil, fmt.Errorf("%w: read key versions: %v", ErrInternal, err)
		}
		material, ok := ck.versions[v.Version]
		if !ok {
			return nil, fmt.Errorf("%w: key versions changed during replication", ErrInternal)
		}
		// The key id is the OAEP label: wrapped material can't be
		// imported under another key id.
		v.EncryptedKeyMaterial, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("%w: wrap key material", ErrInternal)
		}
		v.CreationDate = ts(time.Unix(0, created))
		out = append(out, v)
	}
	return out, rows.Err()
}

// createReplicaKey is the peer side of ReplicateKey, step 1: a replica row
// without material and a wrapping key for it.
func (c *Core) createReplicaKey(ctx context.Context, in createReplicaRequest) (out createReplicaResponse, err error) {
	o, err := c.beginPeerOp(ctx, "SsegateCreateReplicaKey", in.KeyId)
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	if _, mrk, ok := parseKeyID(in.KeyId); !ok || !mrk {
		return out, fmt.Errorf("%w: KeyId must be a multi-Region key id", ErrValidation)
	}
	if in.PrimaryRegion == "" || in.PrimaryRegion == c.opts.Region {
		return out, fmt.Errorf("%w: PrimaryRegion must name another region", ErrValidation)
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return out, err
	}
	if err := validateTags(tags); err != nil {
		return out, err
	}
	rec := keyRecord{
		id: in.KeyId, description: in.Description, created: c.now().UTC(),
		state: KeyStateCreating, manager: KeyManagerCustomer,
		multiRegion: multiRegionReplica, primaryRegion: in.PrimaryRegion,
	}
	if in.CreationDate != nil {
		rec.created = time.Time(*in.CreationDate).UTC()
	}
	if in.Policy != "" {
		if _, err := c.checkNewPolicy(ctx, rec, &authzState{tags: tags}, in.Policy, in.BypassPolicyLockoutSafetyCheck); err != nil {
			return out, err
		}
	}
	w, err := newWrappingKey(3072)
	if err != nil {
		return out, err
	}
	defer clear(w.der)
	out.PublicKey, out.ImportToken = w.public, w.token
	err = c.write(ctx, func(tx *sql.Tx) error {
		if old, err := getKey(ctx, tx, rec.id); err == nil {
			// A replication that failed half-way may be retried; a
			// finished replica is never overwritten.
			if old.state != KeyStateCreating {
				return fmt.Errorf("%w: key %s exists in %s", ErrAlreadyExists, rec.id, c.opts.Region)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ?`, rec.id); err != nil {
				return fmt.Errorf("%w: replace replica: %v", ErrInternal, err)
			}
		}
		if err := c.insertKey(ctx, tx, rec); err != nil {
			return err
		}
		if in.Policy != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET policy = ? WHERE id = ?`, in.Policy, rec.id); err != nil {
				return fmt.Errorf("%w: store key policy: %v", ErrInternal, err)
			}
		}
		for k, v := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?,?,?)`, rec.id, k, v); err != nil {
				return fmt.Errorf("%w: insert tag: %v", ErrInternal, err)
			}
		}
		if err := setReplicas(ctx, tx, rec.id, in.ReplicaRegions, c.opts.Region, in.PrimaryRegion); err != nil {
			return err
		}
		return c.storeWrappingKey(ctx, tx, rec.id, w, oaepSHA256, replicaWrapSpec, c.now().Add(time.Hour))
	})
	return out, err
}

// setReplicas records the other regions of a multi-Region key as this
// region knows them (not this region, not the primary's).
func setReplicas(ctx context.Context, tx *sql.Tx, id string, regions []string, self, primary string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM replicas WHERE key_id = ?`, id); err != nil {
		return fmt.Errorf("%w: replicas: %v", ErrInternal, err)
	}
	for _, r := range regions {
		if r == "" || r == primary {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO replicas (key_id, region) VALUES (?, ?)`, id, r); err != nil {
			return fmt.Errorf("%w: replicas: %v", ErrInternal, err)
		}
	}
	return nil
}

// importReplicaMaterial is the peer side of ReplicateKey, step 2: unwrap
// and store every version, then make the replica usable.
func (c *Core) importReplicaMaterial(ctx context.Context, in importReplicaRequest) (md KeyMetadata, err error) {
	o, err := c.beginPeerOp(ctx, "SsegateImportReplicaMaterial", in.KeyId)
	if err != nil {
		return md, err
	}
	defer func() { o.end(err) }()
	tokenID, err := parseImportToken(in.ImportToken)
	if err != nil {
		return md, err
	}
	if in.KeyState != string(KeyStateEnabled) && in.KeyState != string(KeyStateDisabled) {
		return md, fmt.Errorf("%w: KeyState must be Enabled or Disabled", ErrValidation)
	}
	if len(in.Versions) == 0 {
		return md, fmt.Errorf("%w: Versions is required", ErrValidation)
	}
	var rec keyRecord
	err = c.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, in.KeyId)
		if err != nil {
			return err
		}
		if k.state != KeyStateCreating || k.multiRegion != multiRegionReplica {
			return fmt.Errorf("%w: %s is not a replica being created", ErrInvalidState, k.id)
		}
		for _, v := range in.Versions {
			if v.Version == 0 {
				return fmt.Errorf("%w: version 0", ErrValidation)
			}
			material, err := c.unwrapReplica(ctx, tx, k.id, tokenID, v.EncryptedKeyMaterial)
			if err != nil {
				return err
			}
			created := c.now()
			if v.CreationDate != nil {
				created = time.Time(*v.CreationDate)
			}
			err = c.insertVersion(ctx, tx, k.id, v.Version, v.RotationType, created, material)
			clear(material)
			if err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_tokens WHERE token = ?`, tokenID); err != nil {
			return fmt.Errorf("%w: spend import token: %v", ErrInternal, err)
		}
		k.state = KeyState(in.KeyState)
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET state = ? WHERE id = ?`, string(k.state), k.id); err != nil {
			return fmt.Errorf("%w: update key: %v", ErrInternal, err)
		}
		rec = k
		return nil
	})
	if err != nil {
		return md, err
	}
	md = c.metadata(rec)
	return md, c.fillMultiRegion(ctx, &md)
}

// unwrapReplica opens one wrapped version with the replica's import token.
func (c *Core) unwrapReplica(ctx context.Context, tx *sql.Tx, id, tokenID string, wrapped []byte) ([]byte, error) {
	priv, _, err := c.loadWrappingKey(ctx, tx, id, tokenID)
	if err != nil {
		return nil, err
	}
	material, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, []byte(id))
	if err != nil || len(material) != importedMaterialSize {
		return nil, fmt.Errorf("%w: replica key material does not unwrap", ErrInvalidCiphertext)
	}
	return material, nil
}

// UpdatePrimaryRegion makes the replica in region the primary and this
// key (which must be the primary) a replica.
func (c *Core) UpdatePrimaryRegion(ctx context.Context, keyID, region string) (err error) {
	o, err := c.begin(ctx, "UpdatePrimaryRegion")
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	rec, err := c.keyByRef(ctx, keyID)
	if err != nil {
		return err
	}
	o.key(rec.id, 0)
	if err := c.authorizeID(ctx, o, rec.id, authzRequest{action: "kms:UpdatePrimaryRegion"}); err != nil {
		return err
	}
	if rec.multiRegion == "" {
		return fmt.Errorf("%w: %s is not a multi-Region key", ErrUnsupported, rec.id)
	}
	if rec.multiRegion != multiRegionPrimary {
		// Only the primary knows every replica, so the swap starts there.
		return fmt.Errorf("%w: call UpdatePrimaryRegion in the primary key's region %s", ErrInvalidState, rec.primaryRegion)
	}
	if err := notPendingDeletion(&rec); err != nil {
		return err
	}
	if region == "" {
		return fmt.Errorf("%w: PrimaryRegion is required", ErrValidation)
	}
	if region == c.opts.Region {
		return nil // already the primary: AWS accepts this as a no-op
	}
	replicas, err := c.replicaRegions(ctx, c.rdb, rec.id)
	if err != nil {
		return err
	}
	if !slices.Contains(replicas, region) {
		return fmt.Errorf("%w: %s has no replica in %s", ErrNotFound, rec.id, region)
	}
	others := []string{c.opts.Region}
	for _, r := range replicas {
		if r != region {
			others = append(others, r)
		}
	}
	req := updatePrimaryRequest{KeyId: rec.id, PrimaryRegion: region, ReplicaRegions: others}
	peer, err := c.peer(region)
	if err != nil {
		return err
	}
	if err := peer.updatePrimary(ctx, req); err != nil {
		return err
	}
	if err := c.takeRole(ctx, req); err != nil {
		return err
	}
	// The other replicas learn the new primary; one that can't be reached
	// keeps naming the old one in DescribeKey until told again.
	for _, r := range others[1:] {
		if p, err := c.peer(r); err == nil {
			if err := p.updatePrimary(ctx, req); err != nil {
				c.log.Warn("multi-Region replica not updated", "key", rec.id, "region", r, "err", err)
			}
		}
	}
	return nil
}

// takeRole sets this region's role for a multi-Region key after a
// primary region change.
func (c *Core) takeRole(ctx context.Context, in updatePrimaryRequest) error {
	return c.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, in.KeyId)
		if err != nil {
			return err
		}
		if k.multiRegion == "" {
			return fmt.Errorf("%w: %s is not a multi-Region key", ErrUnsupported, k.id)
		}
		role := multiRegionReplica
		regions := []string(nil)
		if in.PrimaryRegion == c.opts.Region {
			role, regions = multiRegionPrimary, in.ReplicaRegions
		}
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET multi_region = ?, primary_region = ? WHERE id = ?`, role, in.PrimaryRegion, k.id); err != nil {
			return fmt.Errorf("%w: update key: %v", ErrInternal, err)
		}
		return setReplicas(ctx, tx, k.id, regions, c.opts.Region, in.PrimaryRegion)
	})
}

// updatePrimaryRegionPeer is the peer side of UpdatePrimaryRegion.
func (c *Core) updatePrimaryRegionPeer(ctx context.Context, in updatePrimaryRequest) (err error) {
	o, err := c.beginPeerOp(ctx, "SsegateUpdatePrimaryRegion", in.KeyId)
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	if _, mrk, ok := parseKeyID(in.KeyId); !ok || !mrk || in.PrimaryRegion == "" {
		return fmt.Errorf("%w: KeyId must be a multi-Region key id and PrimaryRegion set", ErrValidation)
	}
	return c.takeRole(ctx, in)
}

// beginPeerOp starts one of the private operations another region's
// ssegate calls (audited under name, about keyID), for the account root
// only. When it fails, the operation has already been audited.
func (c *Core) beginPeerOp(ctx context.Context, name, keyID string) (*op, error) {
	o, err := c.begin(ctx, name)
	if err != nil {
		return nil, err
	}
	o.key(keyID, 0)
	if err := c.rootOnly(ctx, o, "kms:"+name); err != nil {
		o.end(err)
		return nil, err
	}
	return o, nil
}

// rootOnly admits the private peer operations from the account root only:
// they create keys and move material, which no key policy can grant.
func (c *Core) rootOnly(ctx context.Context, o *op, action string) error {
	caller, _ := CallerFrom(ctx)
	if caller.ARN != c.rootARN() {
		o.record("ImplicitDeny", "")
		return &accessDeniedError{fmt.Sprintf("User: %s is not authorized to perform: %s (account root only)", caller.ARN, action)}
	}
	o.record("Allow", decidedByAccountRoot)
	return nil
}

func tagList(tags map[string]string) []tagJSON {
	out := make([]tagJSON, 0, len(tags))
	for k, v := range tags {
		out = append(out, tagJSON{TagKey: k, TagValue: v})
	}
	return out
}
