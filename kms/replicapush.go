package kms

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rotation of multi-Region keys. AWS rotates a primary and all its
// replicas together, so a ciphertext made under the new version in any
// region decrypts in every other. Here the primary pushes the new version
// to each replica right after it commits the rotation, through two private
// peer operations (account root only, as the others in multiregion.go):
//
//	SsegatePrepareReplicaVersions  the replica answers a fresh RSA-3072
//	                               wrapping key and an import token
//	SsegateAddReplicaVersions      the primary sends every version wrapped
//	                               RSAES_OAEP_SHA_256 (label = key id); the
//	                               replica stores those it lacks and checks
//	                               the others are the same material
//
// The rotation never waits on a replica: the same transaction that adds
// the version records a pending push per replica in meta
// ("replica-push:<key id>:<region>", so no schema change and nothing lost
// on a crash between commit and push). A push that succeeds removes its
// row; one that fails is logged and retried by every maintenance run.

const replicaPushPrefix = "replica-push:"

// replicaPushTimeout bounds one push, so an unreachable replica does not
// hold a rotation (or Open's maintenance run) for the HTTP client's minute.
const replicaPushTimeout = 20 * time.Second

// errPushObsolete means a pending push no longer applies (key deleted, no
// longer multi-Region, region no longer a replica); its row is dropped.
var errPushObsolete = errors.New("replica push no longer applies")

type replicaKeyRequest struct {
	KeyId string
}

type addReplicaVersionsRequest struct {
	KeyId       string
	ImportToken []byte
	Versions    []replicaVersion
}

func replicaPushName(id, region string) string { return replicaPushPrefix + id + ":" + region }

// markReplicaPushes records, inside the rotation's transaction, that every
// replica of id must receive the key's versions.
func (c *Core) markReplicaPushes(ctx context.Context, tx *sql.Tx, id string) error {
	regions, err := c.replicaRegions(ctx, tx, id)
	if err != nil {
		return err
	}
	stamp := []byte(strconv.FormatInt(c.now().UnixNano(), 10))
	for _, r := range regions {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)`, replicaPushName(id, r), stamp); err != nil {
			return fmt.Errorf("%w: record replica push: %v", ErrInternal, err)
		}
	}
	return nil
}

// PendingReplicaPushes lists the "key id:region" pairs whose replica has
// not yet received the key's latest versions, sorted.
func (c *Core) PendingReplicaPushes(ctx context.Context) ([]string, error) {
	names, err := queryStrings(ctx, c.rdb, "replica pushes", `SELECT name FROM meta WHERE substr(name, 1, ?) = ? ORDER BY name`, len(replicaPushPrefix), replicaPushPrefix)
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, replicaPushPrefix)
	}
	return names, err
}

// pushPendingReplicas tries every pending push (of key onlyKey, or of all
// keys when it is ""). A replica that fails stays pending and is logged;
// only a keystore error is returned.
func (c *Core) pushPendingReplicas(ctx context.Context, onlyKey string) error {
	pending, err := c.PendingReplicaPushes(ctx)
	if err != nil {
		return err
	}
	for _, p := range pending {
		id, region, ok := strings.Cut(p, ":")
		if !ok || (onlyKey != "" && id != onlyKey) {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, replicaPushTimeout)
		err := c.pushReplica(pctx, id, region)
		cancel()
		if err != nil && !errors.Is(err, errPushObsolete) {
			c.log.Warn("multi-Region rotation not yet pushed to replica; maintenance retries it",
				"key", id, "region", region, "err", err)
			continue
		}
		if err == nil {
			c.log.Info("multi-Region key versions pushed to replica", "key", id, "region", region)
		}
		if _, err := c.wdb.ExecContext(ctx, `DELETE FROM meta WHERE name = ?`, replicaPushName(id, region)); err != nil {
			return fmt.Errorf("%w: clear replica push: %v", ErrInternal, err)
		}
	}
	return nil
}

// pushReplica sends every version of multi-Region key id to region.
func (c *Core) pushReplica(ctx context.Context, id, region string) error {
	ck, err := c.loadKey(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return errPushObsolete
	}
	if err != nil {
		return err
	}
	if ck.rec.multiRegion == "" || region == c.opts.Region {
		return errPushObsolete
	}
	// After UpdatePrimaryRegion a former primary knows only the new
	// primary, which may still lack a version made here before the swap.
	known, err := c.replicaRegions(ctx, c.rdb, id)
	if err != nil {
		return err
	}
	if region != ck.rec.primaryRegion && !slices.Contains(known, region) {
		return errPushObsolete
	}
	peer, err := c.peer(region)
	if err != nil {
		return err
	}
	params, err := peer.prepareReplicaVersions(ctx, replicaKeyRequest{KeyId: id})
	if err != nil {
		return err
	}
	versions, err := c.wrapVersions(ctx, id, ck, params.PublicKey)
	if err != nil {
		return err
	}
	return peer.addReplicaVersions(ctx, addReplicaVersionsRequest{KeyId: id, ImportToken: params.ImportToken, Versions: versions})
}

// prepareReplicaVersions is the replica side, step 1: a wrapping key and
// import token for an existing multi-Region key.
func (c *Core) prepareReplicaVersions(ctx context.Context, in replicaKeyRequest) (out createReplicaResponse, err error) {
	o, err := c.beginPeerOp(ctx, "SsegatePrepareReplicaVersions", in.KeyId)
	if err != nil {
		return out, err
	}
	defer func() { o.end(err) }()
	if _, mrk, ok := parseKeyID(in.KeyId); !ok || !mrk {
		return out, fmt.Errorf("%w: KeyId must be a multi-Region key id", ErrValidation)
	}
	k, err := getKey(ctx, c.rdb, in.KeyId)
	if err != nil {
		return out, err
	}
	if k.multiRegion == "" || k.state == KeyStateCreating {
		return out, fmt.Errorf("%w: %s is not a multi-Region key with material", ErrInvalidState, k.id)
	}
	w, err := newWrappingKey(3072)
	if err != nil {
		return out, err
	}
	defer clear(w.der)
	out.PublicKey, out.ImportToken = w.public, w.token
	err = c.write(ctx, func(tx *sql.Tx) error {
		return c.storeWrappingKey(ctx, tx, k.id, w, oaepSHA256, replicaWrapSpec, c.now().Add(time.Hour))
	})
	return out, err
}

// addReplicaVersions is the replica side, step 2: store the versions this
// region lacks. A version it has must be the same material: a primary that
// sent other bytes under a known version number would make old
// ciphertexts undecryptable, so that is refused (IncorrectKeyMaterial).
func (c *Core) addReplicaVersions(ctx context.Context, in addReplicaVersionsRequest) (err error) {
	o, err := c.beginPeerOp(ctx, "SsegateAddReplicaVersions", in.KeyId)
	if err != nil {
		return err
	}
	defer func() { o.end(err) }()
	tokenID, err := parseImportToken(in.ImportToken)
	if err != nil {
		return err
	}
	if len(in.Versions) == 0 {
		return fmt.Errorf("%w: Versions is required", ErrValidation)
	}
	return c.write(ctx, func(tx *sql.Tx) error {
		k, err := getKey(ctx, tx, in.KeyId)
		if err != nil {
			return err
		}
		if k.multiRegion == "" || k.state == KeyStateCreating {
			return fmt.Errorf("%w: %s is not a multi-Region key with material", ErrInvalidState, k.id)
		}
		for _, v := range in.Versions {
			if v.Version == 0 {
				return fmt.Errorf("%w: version 0", ErrValidation)
			}
			if v.RotationType != "" && v.RotationType != rotationAutomatic && v.RotationType != rotationOnDemand {
				return fmt.Errorf("%w: RotationType %q", ErrValidation, v.RotationType)
			}
			material, err := c.unwrapReplica(ctx, tx, k.id, tokenID, v.EncryptedKeyMaterial)
			if err != nil {
				return err
			}
			err = c.storeReplicaVersion(ctx, tx, k.id, v, material)
			clear(material)
			if err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM import_tokens WHERE token = ?`, tokenID); err != nil {
			return fmt.Errorf("%w: spend import token: %v", ErrInternal, err)
		}
		return nil
	})
}

// storeReplicaVersion inserts one pushed version, or checks that a version
// already held is the same material.
func (c *Core) storeReplicaVersion(ctx context.Context, tx *sql.Tx, id string, v replicaVersion, material []byte) error {
	var sealed []byte
	err := tx.QueryRowContext(ctx, `SELECT sealed FROM key_versions WHERE key_id = ? AND version = ?`, id, v.Version).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		created := c.now()
		if v.CreationDate != nil {
			created = time.Time(*v.CreationDate)
		}
		return c.insertVersion(ctx, tx, id, v.Version, v.RotationType, created, material)
	}
	if err != nil {
		return fmt.Errorf("%w: read key version: %v", ErrInternal, err)
	}
	have, err := unseal(c.master, id, v.Version, purposeKeyMaterial, sealed)
	if err != nil {
		return fmt.Errorf("%w: key version %d does not unseal", ErrInternal, v.Version)
	}
	defer clear(have)
	if subtle.ConstantTimeCompare(have, material) != 1 {
		return fmt.Errorf("%w: version %d of %s differs from this region's", ErrIncorrectKeyMaterial, v.Version, id)
	}
	return nil
}
