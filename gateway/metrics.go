package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
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
	}
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
