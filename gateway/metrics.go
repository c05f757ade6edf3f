package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
)

// metrics are the gateway's Prometheus collectors, registered on a registry
// of their own (never the global default) that the admin handler serves.
//
// Label values come only from fixed sets (operation names from the route
// table, status codes, SSE modes, outcomes): never bucket names, object
// keys, key ids or anything else a client chooses, which would be user data
// in an unauthenticated endpoint and unbounded cardinality.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	bytesIn        prometheus.Counter
	bytesOut       prometheus.Counter
	objectsWritten *prometheus.CounterVec
	kmsRequests    *prometheus.CounterVec
	keyringCache   *prometheus.CounterVec
	backendErrors  *prometheus.CounterVec
	iamRequests    *prometheus.CounterVec
	iamDuration    *prometheus.HistogramVec
	kmsAPIRequests *prometheus.CounterVec
	kmsAPIDuration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_requests_total", Help: "S3 requests by operation and HTTP status.",
		}, []string{"op", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssegate_request_duration_seconds", Help: "S3 request latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms .. ~60 s
		}, []string{"op"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssegate_bytes_in_total", Help: "Request body bytes received on the S3 listener (as on the wire).",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ssegate_bytes_out_total", Help: "Response body bytes sent on the S3 listener.",
		}),
		objectsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_objects_written_total", Help: "Objects written (PutObject, CopyObject, CompleteMultipartUpload) by encryption mode.",
		}, []string{"sse"}),
		kmsRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_kms_requests_total", Help: "Calls from the gateway to the KMS by operation and outcome (ok or error).",
		}, []string{"op", "outcome"}),
		keyringCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_keyring_cache_total", Help: "Bucket-level data key cache lookups (SSE-S3 and S3 Bucket Keys).",
		}, []string{"result"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_backend_errors_total", Help: "Requests that failed with a backend or internal error: unavailable (backend unreachable) or other (any other internal error).",
		}, []string{"kind"}),
		// IAM calls get vectors of their own rather than S3's: their
		// outcome is an IAM error code, not just a status, and they never
		// move object bytes.
		iamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_iam_requests_total", Help: "IAM Query API requests by action (unknown: an action ssegate does not serve, or a request that failed authentication) and IAM error code (OK on success).",
		}, []string{"action", "code"}),
		iamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssegate_iam_request_duration_seconds", Help: "IAM Query API request latency by action.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms .. ~60 s, as for S3
		}, []string{"action"}),
		// Calls to the KMS JSON API the gateway serves (aws kms …), apart
		// from ssegate_kms_requests_total, which counts the gateway's own
		// data-key calls.
		kmsAPIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ssegate_kms_api_requests_total", Help: "KMS JSON API requests by operation (unknown: an X-Amz-Target ssegate does not serve) and KMS error type (OK on success).",
		}, []string{"operation", "code"}),
		kmsAPIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ssegate_kms_api_request_duration_seconds", Help: "KMS JSON API request latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12), // 1 ms .. ~60 s, as for S3
		}, []string{"operation"}),
	}
	m.reg.MustRegister(m.kmsAPIRequests, m.kmsAPIDuration)
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, m.objectsWritten,
		m.kmsRequests, m.keyringCache, m.backendErrors, m.iamRequests, m.iamDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// writeOps create or replace an object; their success counts as an object
// written in the response's encryption mode.
var writeOps = map[string]bool{"PutObject": true, "CopyObject": true, "CompleteMultipartUpload": true}

// observe records one finished S3 request.
func (m *metrics) observe(op string, status int, bytesIn, bytesOut int64, mode string, d time.Duration, err error) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
	m.bytesIn.Add(float64(bytesIn))
	m.bytesOut.Add(float64(bytesOut))
	if writeOps[op] && status/100 == 2 && mode != "" {
		m.objectsWritten.WithLabelValues(mode).Inc()
	}
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			m.backendErrors.WithLabelValues("unavailable").Inc()
		} else if _, internal := toAPIError(err); internal {
			m.backendErrors.WithLabelValues("other").Inc()
		}
	}
}

// observeIAM records one finished IAM request. action must already be
// bounded (iamActionLabel) and code an IAM error code or "OK".
func (m *metrics) observeIAM(action, code string, d time.Duration) {
	m.iamRequests.WithLabelValues(action, code).Inc()
	m.iamDuration.WithLabelValues(action).Observe(d.Seconds())
}

func (m *metrics) keyringLookup(hit bool) {
	if hit {
		m.keyringCache.WithLabelValues("hit").Inc()
	} else {
		m.keyringCache.WithLabelValues("miss").Inc()
	}
}

// responseSSEMode is the encryption mode the response announces, from a
// fixed set so it is safe as a label; "" when the response names none.
func responseSSEMode(h http.Header) string {
	switch v := h.Get(sse.HeaderSSE); v {
	case sse.AlgorithmAES256, sse.AlgorithmKMS, sse.AlgorithmKMSDSSE:
		return v
	}
	if h.Get(sse.HeaderSSECAlgorithm) != "" {
		return "SSE-C"
	}
	return ""
}

// instrumentedKMS counts the data-key calls the gateway makes; the other
// methods pass through uncounted.
type instrumentedKMS struct {
	kms.Service
	m *metrics
}

func (k instrumentedKMS) GenerateDataKey(ctx context.Context, in kms.GenerateDataKeyInput) (kms.DataKey, error) {
	dk, err := k.Service.GenerateDataKey(ctx, in)
	k.m.kmsRequests.WithLabelValues("GenerateDataKey", outcome(err)).Inc()
	return dk, err
}

func (k instrumentedKMS) Decrypt(ctx context.Context, in kms.DecryptInput) (kms.DecryptOutput, error) {
	out, err := k.Service.Decrypt(ctx, in)
	k.m.kmsRequests.WithLabelValues("Decrypt", outcome(err)).Inc()
	return out, err
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// observeKMSAPI records one finished KMS JSON API request. operation must
// already be bounded (kmsOperationLabel) and code bounded too
// (kmsCodeLabel).
func (m *metrics) observeKMSAPI(operation, code string, d time.Duration) {
	m.kmsAPIRequests.WithLabelValues(operation, code).Inc()
	m.kmsAPIDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// kmsOperations are the X-Amz-Target operations ("TrentService.<name>")
// the embedded KMS handler serves (the operations table in
// kms/handler.go). The gateway keeps its own copy because the table is
// the kms package's private surface; TestKMSOperationsListMatchesHandler
// keeps the two equal.
var kmsOperations = map[string]bool{
	"CreateKey": true, "DescribeKey": true, "ListKeys": true, "EnableKey": true, "DisableKey": true,
	"ScheduleKeyDeletion": true, "CancelKeyDeletion": true, "UpdateKeyDescription": true,
	"CreateAlias": true, "UpdateAlias": true, "DeleteAlias": true, "ListAliases": true,
	"EnableKeyRotation": true, "DisableKeyRotation": true, "GetKeyRotationStatus": true,
	"RotateKeyOnDemand": true, "ListKeyRotations": true,
	"Encrypt": true, "Decrypt": true, "ReEncrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyWithoutPlaintext": true, "GenerateRandom": true,
	"TagResource": true, "UntagResource": true, "ListResourceTags": true,
	"PutKeyPolicy": true, "GetKeyPolicy": true, "ListKeyPolicies": true,
	"CreateGrant": true, "ListGrants": true, "ListRetirableGrants": true, "RetireGrant": true, "RevokeGrant": true,
	"Sign": true, "Verify": true, "GetPublicKey": true, "GenerateDataKeyPair": true,
	"GenerateDataKeyPairWithoutPlaintext": true, "GenerateMac": true, "VerifyMac": true,
	"GetParametersForImport": true, "ImportKeyMaterial": true, "DeleteImportedKeyMaterial": true,
	"ReplicateKey": true, "UpdatePrimaryRegion": true,
	"CreateCustomKeyStore": true, "ConnectCustomKeyStore": true, "DisconnectCustomKeyStore": true,
	"DescribeCustomKeyStores": true, "UpdateCustomKeyStore": true, "DeleteCustomKeyStore": true,
	// Private to peers (account root only), still a fixed set.
	"SsegateCreateReplicaKey": true, "SsegateImportReplicaMaterial": true, "SsegateUpdatePrimaryRegion": true,
	"SsegatePrepareReplicaVersions": true, "SsegateAddReplicaVersions": true,
}

// kmsOperationLabel is the X-Amz-Target as a metrics label: a served
// operation's name or "unknown", so a client sending random targets (or
// another service's, e.g. DynamoDB_20120810.ListTables) cannot create new
// series. Authentication failures keep the operation the target names:
// the target is checked against the same fixed set.
func kmsOperationLabel(target string) string {
	if name, ok := strings.CutPrefix(target, "TrentService."); ok && kmsOperations[name] {
		return name
	}
	return "unknown"
}

// maxKMSErrorCapture bounds the error body kept to read its __type: the
// type is the body's first field ({"__type":"…","message":…}), and the
// longest type is well under 100 bytes.
const maxKMSErrorCapture = 256

// kmsCodeLabel is the code label of a KMS JSON API response: "OK" for a
// 2xx status, else the __type at the start of the captured error body if
// it looks like a KMS error type, else "other". The KMS handler writes
// types from a fixed table, but the label must stay bounded even if a
// handler ever put client input there.
func kmsCodeLabel(status int, body []byte) string {
	if status/100 == 2 {
		return "OK"
	}
	_, rest, ok := bytes.Cut(body, []byte(`"__type":"`))
	if !ok {
		return "other"
	}
	typ, _, ok := bytes.Cut(rest, []byte(`"`))
	if !ok || !isKMSErrorType(typ) {
		return "other"
	}
	return string(typ)
}

// isKMSErrorType accepts an ASCII-letter identifier of at most 64 bytes
// ending in "Exception", the shape of every AWS KMS error type.
func isKMSErrorType(typ []byte) bool {
	if len(typ) > 64 || !bytes.HasSuffix(typ, []byte("Exception")) {
		return false
	}
	for _, c := range typ {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// kmsResponseWriter records the status and, for non-2xx responses only,
// the first maxKMSErrorCapture body bytes, so the code label can be read
// without parsing (or holding) successful responses, which may carry
// plaintext (Decrypt, GenerateDataKey).
type kmsResponseWriter struct {
	http.ResponseWriter
	status  int
	started bool
	errBody []byte
}

func (w *kmsResponseWriter) WriteHeader(code int) {
	if !w.started {
		w.status = code
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *kmsResponseWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.status, w.started = http.StatusOK, true
	}
	if w.status/100 != 2 && len(w.errBody) < maxKMSErrorCapture {
		w.errBody = append(w.errBody, p[:min(len(p), maxKMSErrorCapture-len(w.errBody))]...)
	}
	return w.ResponseWriter.Write(p)
}

func (w *kmsResponseWriter) code() string {
	if !w.started {
		// Nothing written: net/http will send an empty 200.
		return "OK"
	}
	return kmsCodeLabel(w.status, w.errBody)
}

// Unwrap lets http.ResponseController reach the connection through us.
func (w *kmsResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
