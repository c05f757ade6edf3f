package kms

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

const (
	xksAccessKey = "XKSTESTACCESSKEY1234"
	xksSecret    = "xks-test-secret-do-not-log-0123456789abcdef"
)

// newExternalManager serves a second core's KMS API as the external key
// manager. Like the gateway, it refuses requests not signed with
// xksAccessKey (the signature itself is checked in the gateway and e2e).
func newExternalManagerServer(t *testing.T) (*testCore, *httptest.Server) {
	t.Helper()
	tc := newTestCore(t)
	h := callerMiddleware(NewHandler(tc.Core, nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+xksAccessKey+"/") {
			w.Header().Set("Content-Type", jsonContentType)
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return tc, srv
}

func xksSDKClient(t *testing.T, url string) *awskms.Client {
	t.Helper()
	return awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("x", "y", "")})
}

func createStoreInput(name, endpoint string) *awskms.CreateCustomKeyStoreInput {
	return &awskms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: aws.String(name), CustomKeyStoreType: types.CustomKeyStoreTypeExternalKeyStore,
		XksProxyUriEndpoint: aws.String(endpoint), XksProxyUriPath: aws.String("/kms/xks/v1"),
		XksProxyConnectivity: types.XksProxyConnectivityTypePublicEndpoint,
		XksProxyAuthenticationCredential: &types.XksProxyAuthenticationCredentialType{
			AccessKeyId: aws.String(xksAccessKey), RawSecretAccessKey: aws.String(xksSecret)},
	}
}

func wantAPICode(t *testing.T, err error, code string) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
}

func wantSDKError[T error](t *testing.T, what string, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("%s: error = %v, want %T", what, err, target)
	}
}

// TestExternalKeyStoreLifecycleThroughSDK is the whole story through
// aws-sdk-go-v2: create, connect, a key backed by the external manager,
// double encryption, disconnect makes the key unusable, reconnect, delete
// refused while keys exist.
func TestExternalKeyStoreLifecycleThroughSDK(t *testing.T) {
	ctx := context.Background()
	ext, extSrv := newExternalManagerServer(t)
	extKey := ext.key(t)
	local, localSrv := newTestServer(t)
	client := xksSDKClient(t, localSrv.URL)

	created, err := client.CreateCustomKeyStore(ctx, createStoreInput("ext-1", extSrv.URL))
	if err != nil {
		t.Fatalf("CreateCustomKeyStore: %v", err)
	}
	storeID := aws.ToString(created.CustomKeyStoreId)
	if !regexp.MustCompile(`^cks-[0-9a-f]{17}$`).MatchString(storeID) {
		t.Fatalf("CustomKeyStoreId %q", storeID)
	}
	desc, err := client.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("ext-1")})
	if err != nil || len(desc.CustomKeyStores) != 1 {
		t.Fatalf("DescribeCustomKeyStores = %v, %v", desc, err)
	}
	s := desc.CustomKeyStores[0]
	if aws.ToString(s.CustomKeyStoreId) != storeID || s.ConnectionState != types.ConnectionStateTypeDisconnected ||
		s.CustomKeyStoreType != types.CustomKeyStoreTypeExternalKeyStore || s.XksProxyConfiguration == nil ||
		aws.ToString(s.XksProxyConfiguration.AccessKeyId) != xksAccessKey || aws.ToString(s.XksProxyConfiguration.UriEndpoint) != extSrv.URL ||
		aws.ToString(s.XksProxyConfiguration.UriPath) != "/kms/xks/v1" || s.CreationDate == nil {
		t.Fatalf("store = %+v", s)
	}

	xksKey := func() *awskms.CreateKeyInput {
		return &awskms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: aws.String(storeID), XksKeyId: aws.String(extKey.KeyID)}
	}
	_, err = client.CreateKey(ctx, xksKey())
	wantSDKError[*types.CustomKeyStoreInvalidStateException](t, "CreateKey in a disconnected store", err)

	if _, err := client.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)}); err != nil {
		t.Fatalf("ConnectCustomKeyStore: %v", err)
	}
	key, err := client.CreateKey(ctx, xksKey())
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	m := key.KeyMetadata
	if m.Origin != types.OriginTypeExternalKeyStore || aws.ToString(m.CustomKeyStoreId) != storeID ||
		m.XksKeyConfiguration == nil || aws.ToString(m.XksKeyConfiguration.Id) != extKey.KeyID || m.KeySpec != types.KeySpecSymmetricDefault {
		t.Fatalf("KeyMetadata = %+v", m)
	}
	_, err = client.CreateKey(ctx, xksKey())
	wantSDKError[*types.XksKeyAlreadyInUseException](t, "a second key on the same external key", err)
	_, err = client.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: m.KeyId})
	wantSDKError[*types.UnsupportedOperationException](t, "EnableKeyRotation of an external-store key", err)
	_, err = client.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: m.KeyId})
	wantSDKError[*types.UnsupportedOperationException](t, "RotateKeyOnDemand of an external-store key", err)

	ec := map[string]string{"purpose": "test"}
	dk, err := client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: m.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	decrypt := func() ([]byte, error) {
		out, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			return nil, err
		}
		return out.Plaintext, nil
	}
	if pt, err := decrypt(); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("Decrypt = %x, %v", pt, err)
	}

	// Double encryption: under the local layer lies the external
	// manager's blob for its key, and the external key's state governs.
	h, _, err := parseBlob(dk.CiphertextBlob)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := local.loadKey(ctx, aws.ToString(m.KeyId))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := openBlob(dk.CiphertextBlob, h, ck.versions[h.version], ec)
	if err != nil {
		t.Fatal(err)
	}
	ih, _, err := parseBlob(inner)
	if err != nil || ih.keyID.String() != extKey.KeyID || bytes.Contains(inner, dk.Plaintext) {
		t.Fatalf("inner layer is not the external manager's blob for %s: %v", extKey.KeyID, err)
	}
	if err := ext.DisableKey(ctx, extKey.KeyID); err != nil {
		t.Fatal(err)
	}
	_, err = decrypt()
	wantSDKError[*types.KMSInvalidStateException](t, "Decrypt with the external key disabled", err)
	if err := ext.EnableKey(ctx, extKey.KeyID); err != nil {
		t.Fatal(err)
	}

	if _, err := client.DisconnectCustomKeyStore(ctx, &awskms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)}); err != nil {
		t.Fatalf("DisconnectCustomKeyStore: %v", err)
	}
	_, err = decrypt()
	wantSDKError[*types.KMSInvalidStateException](t, "Decrypt in a disconnected store", err)
	_, err = client.Encrypt(ctx, &awskms.EncryptInput{KeyId: m.KeyId, Plaintext: []byte("x")})
	wantSDKError[*types.KMSInvalidStateException](t, "Encrypt in a disconnected store", err)
	// The gateway calls the Core directly: same answer, as a sentinel.
	_, err = local.Decrypt(ctx, DecryptInput{CiphertextBlob: dk.CiphertextBlob, Context: ec})
	wantErr(t, err, ErrInvalidState)

	_, err = client.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)})
	wantSDKError[*types.CustomKeyStoreHasCMKsException](t, "DeleteCustomKeyStore with a key", err)

	if _, err := client.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)}); err != nil {
		t.Fatalf("ConnectCustomKeyStore again: %v", err)
	}
	if pt, err := decrypt(); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("Decrypt after reconnecting = %x, %v", pt, err)
	}
	_, err = client.DeleteCustomKeyStore(ctx, &awskms.DeleteCustomKeyStoreInput{CustomKeyStoreId: aws.String(storeID)})
	wantSDKError[*types.CustomKeyStoreInvalidStateException](t, "DeleteCustomKeyStore while connected", err)

	enc, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: m.KeyId, Plaintext: bytes.Repeat([]byte("p"), 4096)})
	if err != nil {
		t.Fatalf("Encrypt of 4096 bytes: %v", err)
	}
	if out, err := client.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || len(out.Plaintext) != 4096 {
		t.Fatalf("Decrypt of 4096 bytes: %v", err)
	}
}

// TestCustomKeyStoreErrors covers every error type the store operations
// and CreateKey answer.
func TestCustomKeyStoreErrors(t *testing.T) {
	ctx := context.Background()
	ext, extSrv := newExternalManagerServer(t)
	disabled := ext.key(t)
	if err := ext.DisableKey(ctx, disabled.KeyID); err != nil {
		t.Fatal(err)
	}
	_, localSrv := newTestServer(t)
	client := xksSDKClient(t, localSrv.URL)
	created, err := client.CreateCustomKeyStore(ctx, createStoreInput("taken", extSrv.URL))
	if err != nil {
		t.Fatal(err)
	}
	storeID := created.CustomKeyStoreId
	if _, err := client.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: storeID}); err != nil {
		t.Fatal(err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	withInput := func(f func(in *awskms.CreateCustomKeyStoreInput)) error {
		in := createStoreInput("other", extSrv.URL+"/")
		in.XksProxyUriPath = aws.String("/prefix/kms/xks/v1")
		f(in)
		_, err := client.CreateCustomKeyStore(ctx, in)
		return err
	}
	cases := []struct {
		name  string
		err   error
		check func(t *testing.T, err error)
	}{
		{"name in use", withInput(func(in *awskms.CreateCustomKeyStoreInput) { in.CustomKeyStoreName = aws.String("taken") }),
			func(t *testing.T, err error) { wantSDKError[*types.CustomKeyStoreNameInUseException](t, "", err) }},
		{"endpoint and path in use", withInput(func(in *awskms.CreateCustomKeyStoreInput) { in.XksProxyUriPath = aws.String("/kms/xks/v1") }),
			func(t *testing.T, err error) { wantSDKError[*types.XksProxyUriInUseException](t, "", err) }},
		{"plain http to a remote host", withInput(func(in *awskms.CreateCustomKeyStoreInput) {
			in.XksProxyUriEndpoint = aws.String("http://xks.example.com")
		}), func(t *testing.T, err error) { wantSDKError[*types.XksProxyInvalidConfigurationException](t, "", err) }},
		{"path not ending in /kms/xks/v1", withInput(func(in *awskms.CreateCustomKeyStoreInput) { in.XksProxyUriPath = aws.String("/kms") }),
			func(t *testing.T, err error) { wantSDKError[*types.XksProxyInvalidConfigurationException](t, "", err) }},
		{"unreachable manager", withInput(func(in *awskms.CreateCustomKeyStoreInput) { in.XksProxyUriEndpoint = aws.String(closed.URL) }),
			func(t *testing.T, err error) { wantSDKError[*types.XksProxyUriUnreachableException](t, "", err) }},
		{"credential refused", withInput(func(in *awskms.CreateCustomKeyStoreInput) {
			in.XksProxyAuthenticationCredential.AccessKeyId = aws.String("WRONGACCESSKEY000000")
		}), func(t *testing.T, err error) {
			wantSDKError[*types.XksProxyIncorrectAuthenticationCredentialException](t, "", err)
		}},
		{"VPC endpoint connectivity", withInput(func(in *awskms.CreateCustomKeyStoreInput) {
			in.XksProxyConnectivity = types.XksProxyConnectivityTypeVpcEndpointService
		}), func(t *testing.T, err error) { wantSDKError[*types.UnsupportedOperationException](t, "", err) }},
		{"CloudHSM store", withInput(func(in *awskms.CreateCustomKeyStoreInput) {
			in.CustomKeyStoreType = types.CustomKeyStoreTypeAwsCloudhsm
		}),
			func(t *testing.T, err error) { wantSDKError[*types.UnsupportedOperationException](t, "", err) }},
		{"unknown store", func() error {
			_, err := client.ConnectCustomKeyStore(ctx, &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: aws.String("cks-0123456789abcdef0")})
			return err
		}(), func(t *testing.T, err error) { wantSDKError[*types.CustomKeyStoreNotFoundException](t, "", err) }},
		{"describe unknown name", func() error {
			_, err := client.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreName: aws.String("nope")})
			return err
		}(), func(t *testing.T, err error) { wantSDKError[*types.CustomKeyStoreNotFoundException](t, "", err) }},
		{"external key missing", func() error {
			_, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: storeID,
				XksKeyId: aws.String("11111111-2222-3333-4444-555555555555")})
			return err
		}(), func(t *testing.T, err error) { wantSDKError[*types.XksKeyNotFoundException](t, "", err) }},
		{"external key disabled", func() error {
			_, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: storeID,
				XksKeyId: aws.String(disabled.KeyID)})
			return err
		}(), func(t *testing.T, err error) { wantSDKError[*types.XksKeyInvalidConfigurationException](t, "", err) }},
		{"store id without origin", func() error {
			_, err := client.CreateKey(ctx, &awskms.CreateKeyInput{CustomKeyStoreId: storeID, XksKeyId: aws.String(disabled.KeyID)})
			return err
		}(), func(t *testing.T, err error) { wantAPICode(t, err, "ValidationException") }},
		{"external store key without XksKeyId", func() error {
			_, err := client.CreateKey(ctx, &awskms.CreateKeyInput{Origin: types.OriginTypeExternalKeyStore, CustomKeyStoreId: storeID})
			return err
		}(), func(t *testing.T, err error) { wantAPICode(t, err, "ValidationException") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, tc.err) })
	}
}

// A store whose external manager stops answering fails to connect with
// XKS_PROXY_NOT_REACHABLE, stays FAILED until disconnected, and a user
// (not the account root) may not administer stores at all.
func TestConnectFailureAndAuthorization(t *testing.T) {
	ctx := context.Background()
	_, extSrv := newExternalManagerServer(t)
	local := newTestCore(t)
	id, err := local.CreateCustomKeyStore(ctx, CreateCustomKeyStoreInput{Name: "s", Endpoint: extSrv.URL, Path: "/kms/xks/v1",
		Credential: XksCredential{AccessKeyID: xksAccessKey, Secret: xksSecret}})
	if err != nil {
		t.Fatal(err)
	}
	extSrv.Close()
	wantErr(t, local.ConnectCustomKeyStore(ctx, id), ErrXksProxyUnreachable)
	stores, _, err := local.DescribeCustomKeyStores(ctx, id, "", 0, "")
	if err != nil || len(stores) != 1 || stores[0].ConnectionState != ConnectionFailed || stores[0].ConnectionErrorCode != ConnErrProxyUnreachable {
		t.Fatalf("after a failed connect: %+v, %v", stores, err)
	}
	wantErr(t, local.ConnectCustomKeyStore(ctx, id), ErrCustomKeyStoreInvalidState)
	if err := local.DisconnectCustomKeyStore(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := local.DeleteCustomKeyStore(ctx, id); err != nil {
		t.Fatalf("DeleteCustomKeyStore: %v", err)
	}
	wantErr(t, local.DisconnectCustomKeyStore(ctx, id), ErrCustomKeyStoreNotFound)

	user := WithCaller(ctx, Caller{AccessKey: "AKUSER", ARN: "arn:aws:iam::000000000000:user/alice"})
	_, err = local.CreateCustomKeyStore(user, CreateCustomKeyStoreInput{Name: "u", Endpoint: "https://x.example", Path: "/kms/xks/v1",
		Credential: XksCredential{AccessKeyID: "A", Secret: "b"}})
	wantErr(t, err, ErrAccessDenied)
	_, _, err = local.DescribeCustomKeyStores(user, "", "", 0, "")
	wantErr(t, err, ErrAccessDenied)
}

// The store's secret is sealed under the master key: not in the database
// file, not in the audit log, not in String(); RotateMasterKey re-seals it
// and VerifyAll checks it.
func TestXksCredentialIsSealedAndRotatesWithTheMasterKey(t *testing.T) {
	ctx := context.Background()
	_, extSrv := newExternalManagerServer(t)
	local := newTestCore(t)
	id, err := local.CreateCustomKeyStore(ctx, CreateCustomKeyStoreInput{Name: "s", Endpoint: extSrv.URL, Path: "/kms/xks/v1",
		Credential: XksCredential{AccessKeyID: xksAccessKey, Secret: xksSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := local.RotateMasterKey(ctx, randomMaster(t)); err != nil {
		t.Fatalf("RotateMasterKey: %v", err)
	}
	if bad, err := local.VerifyAll(ctx); err != nil || len(bad) != 0 {
		t.Fatalf("VerifyAll = %v, %v", bad, err)
	}
	if err := local.ConnectCustomKeyStore(ctx, id); err != nil {
		t.Fatalf("connect with the re-sealed credential: %v", err)
	}
	for _, suffix := range []string{"", "-wal"} {
		raw, _ := os.ReadFile(local.path + suffix)
		if bytes.Contains(raw, []byte(xksSecret)) {
			t.Fatalf("kms.db%s holds the store secret in the clear", suffix)
		}
	}
	if strings.Contains(local.audit.String(), xksSecret) {
		t.Fatal("audit log holds the store secret")
	}
	if s := (XksCredential{AccessKeyID: "A", Secret: xksSecret}).String(); strings.Contains(s, xksSecret) {
		t.Fatalf("String() = %q", s)
	}
	if _, err := local.wdb.ExecContext(ctx, `UPDATE custom_key_stores SET sealed_credential = x'00'`); err != nil {
		t.Fatal(err)
	}
	bad, err := local.VerifyAll(ctx)
	if err != nil || len(bad) != 1 || bad[0].KeyID != "custom-key-store/"+id {
		t.Fatalf("VerifyAll with a broken credential = %v, %v", bad, err)
	}
}

func FuzzParseXksCredential(f *testing.F) {
	f.Add(marshalXksCredential(XksCredential{AccessKeyID: "AK", Secret: "s"}))
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		cr, err := parseXksCredential(b)
		if err != nil {
			return
		}
		if cr.AccessKeyID == "" || cr.Secret == "" || !bytes.Equal(marshalXksCredential(cr), b) {
			t.Fatalf("parse(%x) = %+v does not round-trip", b, cr)
		}
	})
}
