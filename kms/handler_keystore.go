package kms

import (
	"context"
)

// Wire shapes of the custom key store operations (AWS KMS API reference).

type xksCredentialJSON struct {
	AccessKeyId        string
	RawSecretAccessKey string
}

func (j *xksCredentialJSON) credential() *XksCredential {
	if j == nil {
		return nil
	}
	return &XksCredential{AccessKeyID: j.AccessKeyId, Secret: j.RawSecretAccessKey}
}

type keyStoreIDRequest struct {
	CustomKeyStoreId string
}

type xksProxyConfigurationJSON struct {
	AccessKeyID            string `json:"AccessKeyId,omitempty"`
	Connectivity           string `json:",omitempty"`
	UriEndpoint            string `json:",omitempty"`
	UriPath                string `json:",omitempty"`
	VpcEndpointServiceName string `json:",omitempty"`
}

type customKeyStoreJSON struct {
	CustomKeyStoreId      string
	CustomKeyStoreName    string
	CustomKeyStoreType    string
	ConnectionState       string
	ConnectionErrorCode   string `json:",omitempty"`
	CreationDate          *epoch
	XksProxyConfiguration xksProxyConfigurationJSON
}

func opCreateCustomKeyStore(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		CustomKeyStoreName               string
		CustomKeyStoreType               string
		XksProxyUriEndpoint              string
		XksProxyUriPath                  string
		XksProxyConnectivity             string
		XksProxyVpcEndpointServiceName   string
		XksProxyAuthenticationCredential *xksCredentialJSON
		CloudHsmClusterId                string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreType == "" && in.CloudHsmClusterId != "" {
		in.CustomKeyStoreType = "AWS_CLOUDHSM" // AWS's default type
	}
	var cred XksCredential
	if p := in.XksProxyAuthenticationCredential.credential(); p != nil {
		cred = *p
	}
	id, err := c.CreateCustomKeyStore(ctx, CreateCustomKeyStoreInput{Name: in.CustomKeyStoreName, Type: in.CustomKeyStoreType,
		Endpoint: in.XksProxyUriEndpoint, Path: in.XksProxyUriPath, Connectivity: in.XksProxyConnectivity, Credential: cred})
	if err != nil {
		return nil, err
	}
	return struct{ CustomKeyStoreId string }{id}, nil
}

func opConnectCustomKeyStore(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyStoreIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.ConnectCustomKeyStore(ctx, in.CustomKeyStoreId)
}

func opDisconnectCustomKeyStore(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyStoreIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DisconnectCustomKeyStore(ctx, in.CustomKeyStoreId)
}

func opDeleteCustomKeyStore(ctx context.Context, c *Core, body []byte) (any, error) {
	var in keyStoreIDRequest
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.DeleteCustomKeyStore(ctx, in.CustomKeyStoreId)
}

func opUpdateCustomKeyStore(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		CustomKeyStoreId                 string
		NewCustomKeyStoreName            string
		XksProxyUriEndpoint              string
		XksProxyUriPath                  string
		XksProxyConnectivity             string
		XksProxyAuthenticationCredential *xksCredentialJSON
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, c.UpdateCustomKeyStore(ctx, UpdateCustomKeyStoreInput{ID: in.CustomKeyStoreId, NewName: in.NewCustomKeyStoreName,
		Endpoint: in.XksProxyUriEndpoint, Path: in.XksProxyUriPath, Connectivity: in.XksProxyConnectivity,
		Credential: in.XksProxyAuthenticationCredential.credential()})
}

func opDescribeCustomKeyStores(ctx context.Context, c *Core, body []byte) (any, error) {
	var in struct {
		CustomKeyStoreId   string
		CustomKeyStoreName string
		pageRequest
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	limit, err := in.limit()
	if err != nil {
		return nil, err
	}
	stores, next, err := c.DescribeCustomKeyStores(ctx, in.CustomKeyStoreId, in.CustomKeyStoreName, limit, in.Marker)
	if err != nil {
		return nil, err
	}
	out := struct {
		CustomKeyStores []customKeyStoreJSON
		pageResponse
	}{CustomKeyStores: []customKeyStoreJSON{}, pageResponse: pageOf(next)}
	for _, s := range stores {
		out.CustomKeyStores = append(out.CustomKeyStores, customKeyStoreJSON{
			CustomKeyStoreId: s.ID, CustomKeyStoreName: s.Name, CustomKeyStoreType: s.Type,
			ConnectionState: s.ConnectionState, ConnectionErrorCode: s.ConnectionErrorCode, CreationDate: ts(s.CreationDate),
			XksProxyConfiguration: xksProxyConfigurationJSON{AccessKeyID: s.AccessKeyID, Connectivity: s.Connectivity,
				UriEndpoint: s.Endpoint, UriPath: s.Path},
		})
	}
	return out, nil
}

type xksKeyConfigJSON struct {
	Id string
}

// xksKeyConfig is DescribeKey's XksKeyConfiguration (nil for other keys).
func xksKeyConfig(m KeyMetadata) *xksKeyConfigJSON {
	if m.XksKeyID == "" {
		return nil
	}
	return &xksKeyConfigJSON{Id: m.XksKeyID}
}
