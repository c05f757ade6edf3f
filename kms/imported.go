package kms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Imported key material (BYOK), AWS's Origin EXTERNAL: a key is created
// without material (PendingImport); GetParametersForImport hands out an
// RSA wrapping public key and an import token; ImportKeyMaterial unwraps
// the caller's 32 bytes with the matching private key and stores them as
// version 1, sealed under the master key like any other material.
//
// The same key accepts only the same material ever after: a SHA-256
// fingerprint of it (domain-separated, bound to the key id) is kept in the
// meta table under "import-fp:<key id>" and survives
// DeleteImportedKeyMaterial and expiry, so old ciphertexts decrypt again
// once the same material is re-imported (AWS: IncorrectKeyMaterial for
// other material). A plain hash of 256 random bits reveals nothing useful
// about them, and unlike an HMAC under the master key it survives master
// key rotation.

const (
	originExternal        = "EXTERNAL"
	expiresModel          = "KEY_MATERIAL_EXPIRES"
	doesNotExpireModel    = "KEY_MATERIAL_DOES_NOT_EXPIRE"
	importTokenValidity   = 24 * time.Hour
	importedMaterialSize  = 32
	importTokenVersion    = 0x01
	importTokenRandomSize = 32
	// importTokenSize: "ssegate-import" magic, version byte, random.
	importTokenSize   = len(importTokenMagic) + 1 + importTokenRandomSize
	importTokenMagic  = "ssegate-import"
	purposeWrapKey    = "import-wrapping-key"
	importFPMetaName  = "import-fp:"
	importFPDomain    = "ssegate-kms/v1 imported material"
	oaepSHA1          = "RSAES_OAEP_SHA_1"
	oaepSHA256        = "RSAES_OAEP_SHA_256"
	maxValidToFromNow = 365 * 24 * time.Hour
)

// ImportParameters is GetParametersForImport's answer.
type ImportParameters struct {
	KeyID             string // key ARN
	ImportToken       []byte
	PublicKey         []byte // DER SubjectPublicKeyInfo
	ParametersValidTo time.Time
}

// ImportKeyMaterialInput is ImportKeyMaterial's request.
type ImportKeyMaterialInput struct {
	KeyID                string
	ImportToken          []byte
	EncryptedKeyMaterial []byte
	// ExpirationModel is KEY_MATERIAL_EXPIRES (the default, ValidTo
	// required) or KEY_MATERIAL_DOES_NOT_EXPIRE (ValidTo must be zero).
	ExpirationModel string
	ValidTo         time.Time
}

// awaitingMaterial: the key legitimately has no versions yet (or any more).
func awaitingMaterial(k keyRecord) bool {
	return k.state == KeyStatePendingImport || k.state == KeyStateCreating
}

// materialExpired reports imported material whose ValidTo has passed.
func materialExpired(k keyRecord, now time.Time) bool {
	return k.origin == originExternal && !k.materialExpires.IsZero() && !now.Before(k.materialExpires)
}

// expirationModel is DescribeKey's ExpirationModel ("" if not imported).
func expirationModel(m KeyMetadata) string {
	if m.Origin != originExternal || m.KeyState == KeyStatePendingImport {
		return ""
	}
	if m.ValidTo.IsZero() {
		return doesNotExpireModel
	}
	return expiresModel
}

// checkImportedAndMultiRegion is CreateKey's part B: Origin EXTERNAL makes
// a key without material, MultiRegion a primary with an mrk- id.
func (c *Core) checkImportedAndMultiRegion(in CreateKeyInput, rec *keyRecord) error {
	if in.Origin == originExternal {
		if in.MultiRegion {
			// AWS allows multi-Region imported keys; replicating them
			// needs the import on every replica, which ssegate lacks.
			return fmt.Errorf("%w: multi-Region keys with imported material are not supported", ErrUnsupported)
		}
		if in.KeySpec != "" && in.KeySpec != "SYMMETRIC_DEFAULT" {
			return fmt.Errorf("%w: imported key material is supported for SYMMETRIC_DEFAULT keys only", ErrUnsupported)
		}
		rec.origin, rec.state = originExternal, KeyStatePendingImport
	}
	if in.MultiRegion {
		return c.makeMultiRegion(in, rec)
	}
	return nil
}

// importedKey refuses operations on keys whose material wasn't imported
// (AWS: UnsupportedOperationException) and on keys pending deletion.
func importedKey(k *keyRecord) error {
	if k.origin != originExternal {
		return fmt.Errorf("%w: %s does not have imported key material (Origin %s)", ErrUnsupported, k.id, k.origin)
	}
	return notPendingDeletion(k)
}

// GetParametersForImport creates an RSA wrapping key pair for importing
// material into an EXTERNAL key, valid for 24 hours.
func (c *Core) GetParametersForImport(ctx context.Context, keyID, algorithm, spec string) (p ImportParameters, err error) {
	if _, err := oaepHash(algorithm); err != nil {
		return p, err
	}
	bits, err := wrappingKeyBits(spec)
	if err != nil {
		return p, err
	}
	w, err := newWrappingKey(bits)
	if err != nil {
		return p, err
	}
	defer clear(w.der)
	validTo := c.now().UTC().Add(importTokenValidity)
	rec, err := c.mutateKey(ctx, "GetParametersForImport", keyID, func(tx *sql.Tx, k *keyRecord) error {
		if err := importedKey(k); err != nil {
			return err
		}
		if err := c.storeWrappingKey(ctx, tx, k.id, w, algorithm, spec, validTo); err != nil {
			return err
		}
		// Spent tokens are useless after a day; drop them here rather
		// than in a sweeper.
		_, err = tx.ExecContext(ctx, `DELETE FROM import_tokens WHERE expires <= ?`, c.now().UnixNano())
		return err
	})
	if err != nil {
		return p, err
	}
	return ImportParameters{KeyID: c.arn(rec.id), ImportToken: w.token, PublicKey: w.public, ParametersValidTo: validTo}, nil
}

// wrapKeyPair is an RSA key pair that receives key material wrapped with
// RSA-OAEP (imports and multi-Region replication), and the import token
// that names it.
type wrapKeyPair struct {
	der     []byte // PKCS#8 private key: the caller clears it after storing
	public  []byte // DER SubjectPublicKeyInfo, returned to the sender
	token   []byte
	tokenID string // the import_tokens row key
}

func newWrappingKey(bits int) (w wrapKeyPair, err error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return w, fmt.Errorf("%w: generate wrapping key", ErrInternal)
	}
	if w.public, err = x509.MarshalPKIXPublicKey(&priv.PublicKey); err != nil {
		return w, fmt.Errorf("%w: encode wrapping key", ErrInternal)
	}
	if w.der, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
		return w, fmt.Errorf("%w: encode wrapping key", ErrInternal)
	}
	w.token = newImportToken()
	w.tokenID, _ = parseImportToken(w.token)
	return w, nil
}

// storeWrappingKey seals w's private key under the master key (bound to
// keyID and the token) and records it for keyID until expires.
func (c *Core) storeWrappingKey(ctx context.Context, tx *sql.Tx, keyID string, w wrapKeyPair, algorithm, spec string, expires time.Time) error {
	sealed, err := seal(c.master, keyID, 0, purposeWrapKey+":"+w.tokenID, w.der)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO import_tokens (token, key_id, wrapping_algorithm, wrapping_key_spec, sealed_private, expires) VALUES (?,?,?,?,?,?)`,
		w.tokenID, keyID, algorithm, spec, sealed, expires.UnixNano())
	if err != nil {
		return fmt.Errorf("%w: store import token: %v", ErrInternal, err)
	}
	return nil
}

func oaepHash(algorithm string) (crypto.Hash, error) {
	switch algorithm {
	case oaepSHA1:
		return crypto.SHA1, nil
	case oaepSHA256:
		return crypto.SHA256, nil
	case "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE":
		return 0, fmt.Errorf("%w: WrappingAlgorithm %s is not supported by ssegate (use RSAES_OAEP_SHA_256)", ErrUnsupported, algorithm)
	}
	return 0, fmt.Errorf("%w: WrappingAlgorithm must be RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256", ErrValidation)
}

func wrappingKeyBits(spec string) (int, error) {
	switch spec {
	case "RSA_2048":
		return 2048, nil
	case "RSA_3072":
		return 3072, nil
	case "RSA_4096":
		return 4096, nil
	}
	return 0, fmt.Errorf("%w: WrappingKeySpec must be RSA_2048, RSA_3072 or RSA_4096", ErrValidation)
}

// newImportToken is the opaque ImportToken: a magic, a version byte and 32
// random bytes. Only the random part (hex) is the import_tokens row key.
func newImportToken() []byte {
	b := make([]byte, 0, importTokenSize)
	b = append(b, importTokenMagic...)
	b = append(b, importTokenVersion)
	r := make([]byte, importTokenRandomSize)
	rand.Read(r) // crypto/rand.Read does not fail (Go 1.24+)
	return append(b, r...)
}

// parseImportToken checks an ImportToken's framing and returns its row key.
func parseImportToken(tok []byte) (string, error) {
	if len(tok) != importTokenSize || !bytes.HasPrefix(tok, []byte(importTokenMagic)) || tok[len(importTokenMagic)] != importTokenVersion {
		return "", fmt.Errorf("%w: not an import token of this KMS", ErrInvalidImportToken)
	}
	return hex.EncodeToString(tok[len(importTokenMagic)+1:]), nil
}

// materialFingerprint identifies imported material for the "same material
// only" rule without storing anything that opens ciphertexts.
func materialFingerprint(keyID string, material []byte) []byte {
	h := sha256.New()
	h.Write([]byte(importFPDomain))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(keyID))))
	h.Write([]byte(keyID))
	h.Write(material)
	return h.Sum(nil)
}

func checkValidTo(in ImportKeyMaterialInput, now time.Time) (time.Time, error) {
	switch in.ExpirationModel {
	case "", expiresModel:
		if in.ValidTo.IsZero() {
			return time.Time{}, fmt.Errorf("%w: ValidTo is required with ExpirationModel KEY_MATERIAL_EXPIRES", ErrValidation)
		}
		if !in.ValidTo.After(now) {
			return time.Time{}, fmt.Errorf("%w: ValidTo must be in the future", ErrValidation)
		}
		if in.ValidTo.After(now.Add(maxValidToFromNow)) {
			return time.Time{}, fmt.Errorf("%w: ValidTo must be within 365 days", ErrValidation)
		}
		return in.ValidTo.UTC(), nil
	case doesNotExpireModel:
		if !in.ValidTo.IsZero() {
			return time.Time{}, fmt.Errorf("%w: ValidTo is not allowed with ExpirationModel KEY_MATERIAL_DOES_NOT_EXPIRE", ErrValidation)
		}
		return time.Time{}, nil
	}
	return time.Time{}, fmt.Errorf("%w: ExpirationModel must be KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE", ErrValidation)
}

// ImportKeyMaterial unwraps and stores imported material as version 1 and
// enables a PendingImport key.
func (c *Core) ImportKeyMaterial(ctx context.Context, in ImportKeyMaterialInput) (err error) {
	validTo, err := checkValidTo(in, c.now())
	if err != nil {
		return err
	}
	tokenID, err := parseImportToken(in.ImportToken)
	if err != nil {
		return err
	}
	if len(in.EncryptedKeyMaterial) == 0 || len(in.EncryptedKeyMaterial) > 6144 {
		return fmt.Errorf("%w: EncryptedKeyMaterial must be 1 to 6144 bytes", ErrValidation)
	}
	_, err = c.mutateKey(ctx, "ImportKeyMaterial", in.KeyID, func(tx *sql.Tx, k *keyRecord) error {
		if err := importedKey(k); err != nil {
			return err
		}
		material, err := c.unwrapImport(ctx, tx, k.id, tokenID, in.EncryptedKeyMaterial)
		if err != nil {
			return err
		}
		defer clear(material)
		if len(material) != importedMaterialSize {
			return fmt.Errorf("%w: symmetric key material must be %d bytes", ErrIncorrectKeyMaterial, importedMaterialSize)
		}
		if err := c.storeImported(ctx, tx, k.id, material); err != nil {
			return err
		}
		if k.state == KeyStatePendingImport {
			k.state = KeyStateEnabled
		}
		k.materialExpires = validTo
		_, err = tx.ExecContext(ctx, `UPDATE keys SET material_expires = ? WHERE id = ?`, unixNano(validTo), k.id)
		return err
	})
	return err
}

// unwrapImport finds the import token of key id and decrypts the wrapped
// material with its private key.
func (c *Core) unwrapImport(ctx context.Context, tx *sql.Tx, id, tokenID string, wrapped []byte) ([]byte, error) {
	priv, algorithm, err := c.loadWrappingKey(ctx, tx, id, tokenID)
	if err != nil {
		return nil, err
	}
	h, err := oaepHash(algorithm)
	if err != nil {
		return nil, err
	}
	newHash := sha256.New
	if h == crypto.SHA1 {
		newHash = sha1.New
	}
	material, err := rsa.DecryptOAEP(newHash(), nil, priv, wrapped, nil)
	if err != nil {
		// AWS: InvalidCiphertextException when the wrapped material does
		// not decrypt with the wrapping key of the token.
		return nil, fmt.Errorf("%w: EncryptedKeyMaterial does not decrypt with the wrapping key of this import token", ErrInvalidCiphertext)
	}
	return material, nil
}

// loadWrappingKey reads the unexpired import token tokenID of key id (as
// storeWrappingKey recorded it) and returns its private key and wrapping
// algorithm.
func (c *Core) loadWrappingKey(ctx context.Context, tx *sql.Tx, id, tokenID string) (*rsa.PrivateKey, string, error) {
	var keyOf, algorithm string
	var sealed []byte
	var expires int64
	err := tx.QueryRowContext(ctx, `SELECT key_id, wrapping_algorithm, sealed_private, expires FROM import_tokens WHERE token = ?`, tokenID).
		Scan(&keyOf, &algorithm, &sealed, &expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && keyOf != id {
		// A token of another key is as good as none (AWS answers the same).
		return nil, "", fmt.Errorf("%w: import token is not valid for %s", ErrInvalidImportToken, id)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: read import token: %v", ErrInternal, err)
	}
	if !c.now().Before(time.Unix(0, expires)) {
		return nil, "", fmt.Errorf("%w: import token expired at %s", ErrExpiredImportToken, time.Unix(0, expires).UTC().Format(time.RFC3339))
	}
	der, err := unseal(c.master, id, 0, purposeWrapKey+":"+tokenID, sealed)
	if err != nil {
		return nil, "", fmt.Errorf("%w: wrapping key does not unseal", ErrInternal)
	}
	defer clear(der)
	pk, err := x509.ParsePKCS8PrivateKey(der)
	priv, ok := pk.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, "", fmt.Errorf("%w: wrapping key", ErrInternal)
	}
	return priv, algorithm, nil
}

// storeImported checks material against the key's fingerprint (recording
// it on first import) and stores it as version 1.
func (c *Core) storeImported(ctx context.Context, tx *sql.Tx, id string, material []byte) error {
	fp := materialFingerprint(id, material)
	var have []byte
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = ?`, importFPMetaName+id).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES (?, ?)`, importFPMetaName+id, fp); err != nil {
			return fmt.Errorf("%w: store material fingerprint: %v", ErrInternal, err)
		}
	case err != nil:
		return fmt.Errorf("%w: read material fingerprint: %v", ErrInternal, err)
	case !bytes.Equal(have, fp):
		return fmt.Errorf("%w: %s accepts only the key material imported into it first", ErrIncorrectKeyMaterial, id)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM key_versions WHERE key_id = ?`, id); err != nil {
		return fmt.Errorf("%w: replace key material: %v", ErrInternal, err)
	}
	return c.insertVersion(ctx, tx, id, 1, "", c.now(), material)
}

// insertVersion seals given material as one key version.
func (c *Core) insertVersion(ctx context.Context, tx *sql.Tx, id string, version uint32, rotationType string, created time.Time, material []byte) error {
	sealed, err := seal(c.master, id, version, purposeKeyMaterial, material)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO key_versions (key_id, version, created, rotation_type, sealed) VALUES (?,?,?,?,?)`,
		id, version, created.UnixNano(), rotationType, sealed)
	if err != nil {
		return fmt.Errorf("%w: insert key version: %v", ErrInternal, err)
	}
	return nil
}

// DeleteImportedKeyMaterial deletes a key's imported material: the key
// becomes PendingImport until the same material is imported again.
func (c *Core) DeleteImportedKeyMaterial(ctx context.Context, keyID string) error {
	_, err := c.mutateKey(ctx, "DeleteImportedKeyMaterial", keyID, func(tx *sql.Tx, k *keyRecord) error {
		if err := importedKey(k); err != nil {
			return err
		}
		return dropImported(ctx, tx, k)
	})
	return err
}

func dropImported(ctx context.Context, tx *sql.Tx, k *keyRecord) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM key_versions WHERE key_id = ?`, k.id); err != nil {
		return fmt.Errorf("%w: delete key material: %v", ErrInternal, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keys SET material_expires = 0 WHERE id = ?`, k.id); err != nil {
		return fmt.Errorf("%w: delete key material: %v", ErrInternal, err)
	}
	k.state, k.materialExpires = KeyStatePendingImport, time.Time{}
	return nil
}

// expireImportedMaterial deletes imported material past its ValidTo, as
// AWS does; the data path refuses it already (Core.usable).
func (c *Core) expireImportedMaterial(ctx context.Context) error {
	now := c.now().UnixNano()
	return c.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM keys WHERE origin = ? AND material_expires > 0 AND material_expires <= ? AND state != ?`,
			originExternal, now, string(KeyStatePendingDeletion))
		if err != nil {
			return fmt.Errorf("%w: find expired material: %v", ErrInternal, err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("%w: find expired material: %v", ErrInternal, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			k := &keyRecord{id: id}
			if err := dropImported(ctx, tx, k); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE keys SET state = ? WHERE id = ?`, string(KeyStatePendingImport), id); err != nil {
				return fmt.Errorf("%w: expire material: %v", ErrInternal, err)
			}
			c.log.Info("imported key material expired", "key", id)
		}
		return nil
	})
}

// rotationOfImportedOrReplica: imported material never rotates (AWS
// rotates imported keys on demand only with new material, which ssegate
// does not support: UnsupportedOperationException), and a replica rotates
// only with its primary.
func rotationOfImportedOrReplica(k *keyRecord) error {
	if k.origin == originExternal {
		return fmt.Errorf("%w: %s has imported key material, which ssegate does not rotate", ErrUnsupported, k.id)
	}
	if k.multiRegion == multiRegionReplica {
		return fmt.Errorf("%w: %s is a multi-Region replica; rotation is managed on its primary in %s", ErrUnsupported, k.id, k.primaryRegion)
	}
	return nil
}
