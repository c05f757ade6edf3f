package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxRequestBody bounds a KMS API request (the largest legitimate one is
// a 6 KiB ciphertext plus context, base64 encoded).
const maxRequestBody = 64 << 10

const jsonContentType = "application/x-amz-json-1.1"

// opFunc decodes a request body, performs the operation and returns the
// response value to encode.
type opFunc func(ctx context.Context, c *Core, body []byte) (any, error)

// operations is the KMS API surface: X-Amz-Target "TrentService.<name>".
var operations = map[string]opFunc{
	"CreateKey":                       opCreateKey,
	"DescribeKey":                     opDescribeKey,
	"ListKeys":                        opListKeys,
	"EnableKey":                       opEnableKey,
	"DisableKey":                      opDisableKey,
	"ScheduleKeyDeletion":             opScheduleKeyDeletion,
	"CancelKeyDeletion":               opCancelKeyDeletion,
	"UpdateKeyDescription":            opUpdateKeyDescription,
	"CreateAlias":                     opCreateAlias,
	"UpdateAlias":                     opUpdateAlias,
	"DeleteAlias":                     opDeleteAlias,
	"ListAliases":                     opListAliases,
	"EnableKeyRotation":               opEnableKeyRotation,
	"DisableKeyRotation":              opDisableKeyRotation,
	"GetKeyRotationStatus":            opGetKeyRotationStatus,
	"RotateKeyOnDemand":               opRotateKeyOnDemand,
	"ListKeyRotations":                opListKeyRotations,
	"Encrypt":                         opEncrypt,
	"Decrypt":                         opDecrypt,
	"ReEncrypt":                       opReEncrypt,
	"GenerateDataKey":                 opGenerateDataKey,
	"GenerateDataKeyWithoutPlaintext": opGenerateDataKeyWithoutPlaintext,
	"GenerateRandom":                  opGenerateRandom,
	"TagResource":                     opTagResource,
	"UntagResource":                   opUntagResource,
	"ListResourceTags":                opListResourceTags,
	"PutKeyPolicy":                    opPutKeyPolicy,
	"GetKeyPolicy":                    opGetKeyPolicy,
	"ListKeyPolicies":                 opListKeyPolicies,
	"CreateGrant":                     opCreateGrant,
	"ListGrants":                      opListGrants,
	"ListRetirableGrants":             opListRetirableGrants,
	"RetireGrant":                     opRetireGrant,
	"RevokeGrant":                     opRevokeGrant,
	// Part A of issue 11: asymmetric and HMAC keys (handler_asymmetric.go).
	"Sign":                                opSign,
	"Verify":                              opVerify,
	"GetPublicKey":                        opGetPublicKey,
	"GenerateDataKeyPair":                 opGenerateDataKeyPair,
	"GenerateDataKeyPairWithoutPlaintext": opGenerateDataKeyPairWithoutPlaintext,
	"GenerateMac":                         opGenerateMac,
	"VerifyMac":                           opVerifyMac,
	// Issue 11 part B: imported key material and multi-Region keys; the
	// Ssegate* operations are private to peers (account root only).
	"GetParametersForImport":       opGetParametersForImport,
	"ImportKeyMaterial":            opImportKeyMaterial,
	"DeleteImportedKeyMaterial":    opDeleteImportedKeyMaterial,
	"ReplicateKey":                 opReplicateKey,
	"UpdatePrimaryRegion":          opUpdatePrimaryRegion,
	"SsegateCreateReplicaKey":      opSsegateCreateReplicaKey,
	"SsegateImportReplicaMaterial": opSsegateImportReplicaMaterial,
	"SsegateUpdatePrimaryRegion":   opSsegateUpdatePrimaryRegion,
	// Rotation of multi-Region primaries reaches replicas (replicapush.go).
	"SsegatePrepareReplicaVersions": opSsegatePrepareReplicaVersions,
	"SsegateAddReplicaVersions":     opSsegateAddReplicaVersions,
	// Issue 11 part C: custom key stores (external key stores only).
	"CreateCustomKeyStore":     opCreateCustomKeyStore,
	"ConnectCustomKeyStore":    opConnectCustomKeyStore,
	"DisconnectCustomKeyStore": opDisconnectCustomKeyStore,
	"DescribeCustomKeyStores":  opDescribeCustomKeyStores,
	"UpdateCustomKeyStore":     opUpdateCustomKeyStore,
	"DeleteCustomKeyStore":     opDeleteCustomKeyStore,
}

// Errors only the protocol layer produces.
var (
	errUnknownOperation = errors.New("unknown operation")
	errSerialization    = errors.New("malformed request")
)

type handler struct {
	core *Core
	log  *slog.Logger
}

// NewHandler serves the AWS KMS JSON 1.1 protocol. It does no
// authentication: the gateway verifies SigV4 first and puts the caller on
// the request context with WithCaller.
func NewHandler(core *Core, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &handler{core: core, log: logger}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	caller, _ := CallerFrom(ctx)
	if caller.RequestID == "" {
		caller.RequestID = uuid.NewString()
	}
	ctx = withAPICall(WithCaller(ctx, caller))
	w.Header().Set("x-amzn-RequestId", caller.RequestID)

	if r.Method != http.MethodPost {
		h.writeError(w, fmt.Errorf("%w: KMS expects POST", errUnknownOperation))
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	fn := operations[name]
	if !ok || fn == nil {
		h.writeError(w, fmt.Errorf("%w: %q", errUnknownOperation, r.Header.Get("X-Amz-Target")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: read body", errSerialization))
		return
	}
	if len(body) > maxRequestBody {
		h.writeError(w, fmt.Errorf("%w: request body larger than %d bytes", ErrValidation, maxRequestBody))
		return
	}
	out, err := fn(ctx, h.core, body)
	if err != nil {
		h.writeError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, fmt.Errorf("%w: encode response", ErrInternal))
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writeError is the one place errors become responses.
func (h *handler) writeError(w http.ResponseWriter, err error) {
	var typ string
	switch {
	case errors.Is(err, errUnknownOperation):
		typ = "UnknownOperationException"
	case errors.Is(err, errSerialization):
		typ = "SerializationException"
	default:
		typ = errorType(err)
	}
	msg := err.Error()
	if typ == internalType {
		// Internal detail stays in our log.
		h.log.Error("kms internal error", "err", err)
		msg = "internal error"
	}
	msg = strings.TrimPrefix(msg, "kms: ")
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, msg})
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(errorStatus(typ))
	w.Write(b)
}

// grantTokens is the GrantTokens parameter, embedded in the request of
// every operation that takes one.
type grantTokens struct{ GrantTokens []string }

func (g *grantTokens) tokens() []string { return g.GrantTokens }

type tokenRequest interface{ tokens() []string }

// decodeWithGrantTokens decodes a request that carries GrantTokens and
// checks them (InvalidGrantTokenException for one that names no grant).
func decodeWithGrantTokens(ctx context.Context, c *Core, body []byte, v tokenRequest) error {
	if err := decodeRequest(body, v); err != nil {
		return err
	}
	return c.CheckGrantTokens(ctx, v.tokens())
}

// decodeRequest decodes a JSON request body; unknown fields are ignored
// as AWS does, an empty body is an empty request.
func decodeRequest(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: invalid JSON body", errSerialization)
	}
	return nil
}

// epoch is a timestamp as AWS JSON protocols send it: seconds since the
// epoch as a JSON number.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return []byte(fmt.Sprintf("%.3f", float64(t.UnixMilli())/1000)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	*e = epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

// ts is nil for the zero time so the field is omitted.
func ts(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}
