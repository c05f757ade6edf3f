package kms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Wire shapes of the private peer operations (multiregion.go). Material
// only ever travels wrapped under the receiving region's RSA key.

type createReplicaRequest struct {
	KeyId                          string
	PrimaryRegion                  string
	Description                    string
	Policy                         string `json:",omitempty"`
	Tags                           []tagJSON
	BypassPolicyLockoutSafetyCheck bool
	CreationDate                   *epoch `json:",omitempty"`
	ReplicaRegions                 []string
}

type createReplicaResponse struct {
	PublicKey   []byte // DER SubjectPublicKeyInfo, RSA 3072
	ImportToken []byte
}

type replicaVersion struct {
	Version              uint32
	CreationDate         *epoch `json:",omitempty"`
	RotationType         string
	EncryptedKeyMaterial []byte // RSAES_OAEP_SHA_256, label = key id
}

type importReplicaRequest struct {
	KeyId       string
	ImportToken []byte
	Versions    []replicaVersion
	KeyState    string
}

type updatePrimaryRequest struct {
	KeyId          string
	PrimaryRegion  string
	ReplicaRegions []string // the regions that are replicas afterwards
}

// peerClient calls one peer's private KMS operations with SigV4.
type peerClient struct {
	region string
	p      RemotePeer
	http   *http.Client
}

// peer returns the client for region, or ValidationException when no peer
// is configured for it (AWS would answer for an unknown region the same).
func (c *Core) peer(region string) (*peerClient, error) {
	p, ok := c.opts.Peers[region]
	if !ok || p.Endpoint == "" {
		return nil, fmt.Errorf("%w: no KMS peer is configured for region %s", ErrValidation, region)
	}
	hc := p.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &peerClient{region: region, p: p, http: hc}, nil
}

func (p *peerClient) createReplica(ctx context.Context, in createReplicaRequest) (out createReplicaResponse, err error) {
	err = p.call(ctx, "SsegateCreateReplicaKey", in, &out)
	return out, err
}

func (p *peerClient) importReplica(ctx context.Context, in importReplicaRequest) (KeyMetadata, error) {
	var out struct{ KeyMetadata wireMetadata }
	if err := p.call(ctx, "SsegateImportReplicaMaterial", in, &out); err != nil {
		return KeyMetadata{}, err
	}
	return out.KeyMetadata.toMetadata(), nil
}

func (p *peerClient) updatePrimary(ctx context.Context, in updatePrimaryRequest) error {
	return p.call(ctx, "SsegateUpdatePrimaryRegion", in, &struct{}{})
}

// wireMetadata reads the subset of keyMetadataJSON a primary reports back.
type wireMetadata struct {
	KeyId, Arn, Description, KeyState, KeyManager, KeySpec, KeyUsage, Origin string
	Enabled                                                                  bool
	CreationDate                                                             *epoch
	MultiRegionConfiguration                                                 *multiRegionConfigJSON
}

func (w wireMetadata) toMetadata() KeyMetadata {
	m := KeyMetadata{KeyID: w.KeyId, ARN: w.Arn, Description: w.Description, KeyState: KeyState(w.KeyState),
		KeyManager: KeyManager(w.KeyManager), KeySpec: w.KeySpec, KeyUsage: w.KeyUsage, Origin: w.Origin, Enabled: w.Enabled}
	if w.CreationDate != nil {
		m.CreationDate = time.Time(*w.CreationDate)
	}
	if mr := w.MultiRegionConfiguration; mr != nil {
		m.MultiRegion = mr.MultiRegionKeyType
		m.PrimaryRegion = mr.PrimaryKey.Region
		for _, r := range mr.ReplicaKeys {
			m.ReplicaRegions = append(m.ReplicaRegions, r.Region)
		}
	}
	return m
}

// call posts one JSON operation, signed as the peer's account root.
func (p *peerClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %v", ErrInternal, op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.p.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: peer %s: bad endpoint", ErrInternal, p.region)
	}
	req.Header.Set("Content-Type", jsonContentType)
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: p.p.AccessKey, SecretAccessKey: p.p.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", p.region, time.Now()); err != nil {
		return fmt.Errorf("%w: sign request to peer %s", ErrInternal, p.region)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		// The transport error names the endpoint, never credentials.
		return fmt.Errorf("%w: KMS peer %s unreachable: %v", ErrInternal, p.region, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBody))
	if err != nil {
		return fmt.Errorf("%w: read answer of peer %s", ErrInternal, p.region)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		if s := errorFromType(e.Type); s != nil {
			return fmt.Errorf("%w: peer %s: %s", s, p.region, e.Message)
		}
		return fmt.Errorf("%w: peer %s answered %d %s", ErrInternal, p.region, resp.StatusCode, e.Type)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: peer %s: malformed answer", ErrInternal, p.region)
	}
	return nil
}

func (p *peerClient) prepareReplicaVersions(ctx context.Context, in replicaKeyRequest) (out createReplicaResponse, err error) {
	err = p.call(ctx, "SsegatePrepareReplicaVersions", in, &out)
	return out, err
}

func (p *peerClient) addReplicaVersions(ctx context.Context, in addReplicaVersionsRequest) error {
	return p.call(ctx, "SsegateAddReplicaVersions", in, &struct{}{})
}
