package kms

import (
	"context"
	"fmt"
)

// Wire operations for multi-Region keys (multiregion.go), public and
// private to peers.

type regionKeyJSON struct {
	Arn    string
	Region string
}

type multiRegionConfigJSON struct {
	MultiRegionKeyType string
	PrimaryKey         regionKeyJSON
	ReplicaKeys        []regionKeyJSON
}

// multiRegionJSON is DescribeKey's MultiRegionConfiguration; nil for a
// single-Region key.
func (c *Core) multiRegionJSON(m KeyMetadata) *multiRegionConfigJSON {
	if m.MultiRegion == "" {
		return nil
	}
	out := &multiRegionConfigJSON{
		MultiRegionKeyType: m.MultiRegion,
		PrimaryKey:         regionKeyJSON{Arn: c.regionARN(m.PrimaryRegion, m.KeyID), Region: m.PrimaryRegion},
		ReplicaKeys:        []regionKeyJSON{},
	}
	seen := map[string]bool{m.PrimaryRegion: true}
	add := func(r string) {
		if !seen[r] {
			seen[r] = true
			out.ReplicaKeys = append(out.ReplicaKeys, regionKeyJSON{Arn: c.regionARN(r, m.KeyID), Region: r})
		}
	}
	if m.MultiRegion == multiRegionReplica {
		add(c.opts.Region) // a replica always lists itself
	}
	for _, r := range m.ReplicaRegions {
		add(r)
	}
	return out
}

func opReplicateKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId                          string
		ReplicaRegion                  string
		Description                    string
		Policy                         string
		Tags                           []tagJSON
		BypassPolicyLockoutSafetyCheck bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	md, err := c.ReplicateKey(ctx, ReplicateKeyInput{KeyID: in.KeyId, ReplicaRegion: in.ReplicaRegion, Description: in.Description,
		Policy: in.Policy, Tags: tags, BypassPolicyLockoutSafetyCheck: in.BypassPolicyLockoutSafetyCheck})
	if err != nil {
		return nil, err
	}
	// The replica's metadata as its region describes it, with its ARN.
	rj := c.metadataJSON(md)
	if md.MultiRegion != "" {
		rj.MultiRegionConfiguration = &multiRegionConfigJSON{MultiRegionKeyType: md.MultiRegion,
			PrimaryKey:  regionKeyJSON{Arn: c.regionARN(md.PrimaryRegion, md.KeyID), Region: md.PrimaryRegion},
			ReplicaKeys: []regionKeyJSON{}}
		for _, r := range md.ReplicaRegions {
			rj.MultiRegionConfiguration.ReplicaKeys = append(rj.MultiRegionConfiguration.ReplicaKeys, regionKeyJSON{Arn: c.regionARN(r, md.KeyID), Region: r})
		}
	}
	policy := in.Policy
	if policy == "" {
		policy = c.defaultPolicyDoc()
	}
	return struct {
		ReplicaKeyMetadata keyMetadataJSON
		ReplicaPolicy      string
		ReplicaTags        []tagJSON
	}{rj, policy, tagList(tags)}, nil
}

func opUpdatePrimaryRegion(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId         string
		PrimaryRegion string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.UpdatePrimaryRegion(ctx, in.KeyId, in.PrimaryRegion)
}

func opSsegateCreateReplicaKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in createReplicaRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return c.createReplicaKey(ctx, in)
}

func opSsegateImportReplicaMaterial(ctx context.Context, c *Core, body []byte) (any, error) {
	var in importReplicaRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	md, err := c.importReplicaMaterial(ctx, in)
	if err != nil {
		return nil, err
	}
	return keyMetadataResponse{c.metadataJSON(md)}, nil
}

func opSsegateUpdatePrimaryRegion(ctx context.Context, c *Core, body []byte) (any, error) {
	var in updatePrimaryRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.KeyId == "" {
		return nil, fmt.Errorf("%w: KeyId is required", ErrValidation)
	}
	return struct{}{}, c.updatePrimaryRegionPeer(ctx, in)
}

func opSsegatePrepareReplicaVersions(ctx context.Context, c *Core, body []byte) (any, error) {
	var in replicaKeyRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return c.prepareReplicaVersions(ctx, in)
}

func opSsegateAddReplicaVersions(ctx context.Context, c *Core, body []byte) (any, error) {
	var in addReplicaVersionsRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.addReplicaVersions(ctx, in)
}
