package kms

import (
	"context"
	"fmt"
)

// Wire shapes of the AWS KMS JSON API (field names as in the AWS API
// reference). []byte fields are base64 in JSON, as AWS's blobs are.

type keyIDRequest struct {
	KeyId string
}

type pageRequest struct {
	KeyId  string
	Limit  *int
	Marker string
}

func (p pageRequest) limit() (int, error) {
	if p.Limit == nil {
		return 0, nil
	}
	if *p.Limit < 1 {
		return 0, fmt.Errorf("%w: Limit must be 1 to 1000", ErrValidation)
	}
	return *p.Limit, nil
}

// decodePage decodes a List* request and checks its Limit.
func decodePage(body []byte) (in pageRequest, limit int, err error) {
	if err := decodeRequest(body, &in); err != nil {
		return in, 0, err
	}
	limit, err = in.limit()
	return in, limit, err
}

type pageResponse struct {
	NextMarker string `json:",omitempty"`
	Truncated  bool
}

func pageOf(next string) pageResponse { return pageResponse{NextMarker: next, Truncated: next != ""} }

type tagJSON struct {
	TagKey   string
	TagValue string
}

type keyMetadataJSON struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                *epoch
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *epoch `json:",omitempty"`
	PendingDeletionWindowInDays int    `json:",omitempty"`
	Origin                      string
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string `json:",omitempty"`
	SigningAlgorithms           []string `json:",omitempty"` // part A: per KeySpec (keyspec.go)
	MacAlgorithms               []string `json:",omitempty"`
	MultiRegion                 bool
	// Part B: imported material and multi-Region keys.
	ExpirationModel          string                 `json:",omitempty"`
	ValidTo                  *epoch                 `json:",omitempty"`
	MultiRegionConfiguration *multiRegionConfigJSON `json:",omitempty"`
	// Part C: keys in an external key store.
	CustomKeyStoreId    string            `json:",omitempty"`
	XksKeyConfiguration *xksKeyConfigJSON `json:",omitempty"`
}

func (c *Core) metadataJSON(m KeyMetadata) keyMetadataJSON {
	return keyMetadataJSON{
		AWSAccountId: c.opts.AccountID, KeyId: m.KeyID, Arn: m.ARN,
		CreationDate: ts(m.CreationDate), Enabled: m.Enabled, Description: m.Description,
		KeyUsage: m.KeyUsage, KeyState: string(m.KeyState), DeletionDate: ts(m.DeletionDate),
		PendingDeletionWindowInDays: m.PendingDeletionWindowInDays,
		Origin:                      m.Origin, KeyManager: string(m.KeyManager),
		CustomerMasterKeySpec: m.KeySpec, KeySpec: m.KeySpec,
		EncryptionAlgorithms: algorithmsFor(m.KeySpec, m.KeyUsage).encryption,
		SigningAlgorithms:    algorithmsFor(m.KeySpec, m.KeyUsage).signing,
		MacAlgorithms:        algorithmsFor(m.KeySpec, m.KeyUsage).mac,
		MultiRegion:          m.MultiRegion != "",
		ExpirationModel:      expirationModel(m), ValidTo: ts(m.ValidTo),
		MultiRegionConfiguration: c.multiRegionJSON(m),
		CustomKeyStoreId:         m.CustomKeyStoreID, XksKeyConfiguration: xksKeyConfig(m),
	}
}

type keyMetadataResponse struct {
	KeyMetadata keyMetadataJSON
}

func opCreateKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		Description                    string
		KeyUsage                       string
		KeySpec                        string
		CustomerMasterKeySpec          string
		Origin                         string
		MultiRegion                    bool
		CustomKeyStoreId               string
		XksKeyId                       string
		Tags                           []tagJSON
		Policy                         string
		BypassPolicyLockoutSafetyCheck bool
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.KeySpec != "" && in.CustomerMasterKeySpec != "" {
		return nil, fmt.Errorf("%w: KeySpec and CustomerMasterKeySpec are exclusive", ErrValidation)
	}
	if in.KeySpec == "" {
		in.KeySpec = in.CustomerMasterKeySpec // the deprecated name
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	m, err := c.CreateKey(ctx, CreateKeyInput{Description: in.Description, Tags: tags,
		Policy: in.Policy, BypassPolicyLockoutSafetyCheck: in.BypassPolicyLockoutSafetyCheck,
		KeySpec: in.KeySpec, KeyUsage: in.KeyUsage, Origin: in.Origin, MultiRegion: in.MultiRegion,
		CustomKeyStoreID: in.CustomKeyStoreId, XksKeyID: in.XksKeyId})
	if err != nil {
		return nil, err
	}
	return keyMetadataResponse{c.metadataJSON(m)}, nil
}

func tagMap(tags []tagJSON) (map[string]string, error) {
	if len(tags) > maxTags {
		return nil, fmt.Errorf("%w: at most %d tags", ErrTagException, maxTags)
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if _, dup := m[t.TagKey]; dup {
			return nil, fmt.Errorf("%w: duplicate tag key", ErrTagException)
		}
		m[t.TagKey] = t.TagValue
	}
	return m, nil
}

func opDescribeKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId string
		grantTokens
	}
	if err := decodeWithGrantTokens(ctx, c, body, &in); err != nil {
		return nil, err
	}
	m, err := c.DescribeKey(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return keyMetadataResponse{c.metadataJSON(m)}, nil
}

func opListKeys(ctx context.Context, c *Core, body []byte) (any, error) {
	in, limit, err := decodePage(body)
	if err != nil {
		return nil, err
	}
	keys, next, err := c.ListKeys(ctx, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	type entry struct{ KeyId, KeyArn string }
	out := struct {
		Keys []entry
		pageResponse
	}{Keys: []entry{}, pageResponse: pageOf(next)}
	for _, k := range keys {
		out.Keys = append(out.Keys, entry{k.KeyID, k.ARN})
	}
	return out, nil
}

func opEnableKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.EnableKey(ctx, in.KeyId)
}

func opDisableKey(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DisableKey(ctx, in.KeyId)
}

func opScheduleKeyDeletion(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId               string
		PendingWindowInDays *int
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	days := 0
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
		if days == 0 {
			return nil, fmt.Errorf("%w: PendingWindowInDays must be 7 to 30", ErrValidation)
		}
	}
	m, err := c.ScheduleKeyDeletion(ctx, in.KeyId, days)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyId               string
		DeletionDate        *epoch
		KeyState            string
		PendingWindowInDays int
	}{m.ARN, ts(m.DeletionDate), string(m.KeyState), m.PendingDeletionWindowInDays}, nil
}

func opCancelKeyDeletion(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	m, err := c.CancelKeyDeletion(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return struct{ KeyId string }{m.ARN}, nil
}

func opUpdateKeyDescription(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct{ KeyId, Description string }
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.UpdateKeyDescription(ctx, in.KeyId, in.Description)
}

type aliasRequest struct {
	AliasName   string
	TargetKeyId string
}

func opCreateAlias(ctx context.Context, c *Core, body []byte) (any, error) {
	var in aliasRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.CreateAlias(ctx, in.AliasName, in.TargetKeyId)
}

func opUpdateAlias(ctx context.Context, c *Core, body []byte) (any, error) {
	var in aliasRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.UpdateAlias(ctx, in.AliasName, in.TargetKeyId)
}

func opDeleteAlias(ctx context.Context, c *Core, body []byte) (any, error) {
	var in aliasRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DeleteAlias(ctx, in.AliasName)
}

func opListAliases(ctx context.Context, c *Core, body []byte) (any, error) {
	in, limit, err := decodePage(body)
	if err != nil {
		return nil, err
	}
	aliases, next, err := c.ListAliases(ctx, in.KeyId, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	type entry struct {
		AliasName       string
		AliasArn        string
		TargetKeyId     string
		CreationDate    *epoch
		LastUpdatedDate *epoch
	}
	out := struct {
		Aliases []entry
		pageResponse
	}{Aliases: []entry{}, pageResponse: pageOf(next)}
	for _, a := range aliases {
		out.Aliases = append(out.Aliases, entry{a.AliasName, a.AliasARN, a.TargetKeyID, ts(a.CreationDate), ts(a.LastUpdatedDate)})
	}
	return out, nil
}

func opEnableKeyRotation(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId                string
		RotationPeriodInDays *int
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	days := 0
	if in.RotationPeriodInDays != nil {
		days = *in.RotationPeriodInDays
		if days == 0 {
			return nil, fmt.Errorf("%w: RotationPeriodInDays must be 90 to 2560", ErrValidation)
		}
	}
	return struct{}{}, c.EnableKeyRotation(ctx, in.KeyId, days)
}

func opDisableKeyRotation(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DisableKeyRotation(ctx, in.KeyId)
}

func opGetKeyRotationStatus(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	st, err := c.GetKeyRotationStatus(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return struct {
		KeyRotationEnabled   bool
		KeyId                string
		RotationPeriodInDays int    `json:",omitempty"`
		NextRotationDate     *epoch `json:",omitempty"`
	}{st.Enabled, st.KeyID, st.RotationPeriodInDays, ts(st.NextRotationDate)}, nil
}

func opRotateKeyOnDemand(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	arn, err := c.RotateKeyOnDemand(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return struct{ KeyId string }{arn}, nil
}

func opListKeyRotations(ctx context.Context, c *Core, body []byte) (any, error) {
	in, limit, err := decodePage(body)
	if err != nil {
		return nil, err
	}
	rots, next, err := c.ListKeyRotations(ctx, in.KeyId, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	type entry struct {
		KeyId        string
		RotationDate *epoch
		RotationType string
	}
	out := struct {
		Rotations []entry
		pageResponse
	}{Rotations: []entry{}, pageResponse: pageOf(next)}
	for _, r := range rots {
		out.Rotations = append(out.Rotations, entry{r.KeyID, ts(r.RotationDate), r.RotationType})
	}
	return out, nil
}

func opTagResource(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId string
		Tags  []tagJSON
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.TagResource(ctx, in.KeyId, tags)
}

func opUntagResource(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		KeyId   string
		TagKeys []string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.UntagResource(ctx, in.KeyId, in.TagKeys)
}

func opListResourceTags(ctx context.Context, c *Core, body []byte) (any, error) {
	in, limit, err := decodePage(body)
	if err != nil {
		return nil, err
	}
	tags, next, err := c.ListResourceTags(ctx, in.KeyId, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags []tagJSON
		pageResponse
	}{Tags: []tagJSON{}, pageResponse: pageOf(next)}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagJSON{t.Key, t.Value})
	}
	return out, nil
}
