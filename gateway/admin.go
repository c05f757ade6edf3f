package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ssegate/ssegate/kms"
)

// readyTimeout bounds each readiness probe so a hung backend or KMS makes
// /readyz answer 503 promptly instead of hanging the orchestrator's probe.
const readyTimeout = 3 * time.Second

// AdminHandler serves the operator endpoints: /metrics (Prometheus),
// /healthz, /readyz and /debug/pprof/. It is meant for a separate, opt-in
// listener (ssegate serve --admin-listen) bound to a trusted network: it has
// no authentication, and pprof exposes heap contents' shapes and the
// command line. The S3 listener never serves these paths.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	// Registered explicitly: the net/http/pprof import also registers on
	// http.DefaultServeMux, which nothing of ours serves.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// readiness is the /readyz body: each check is "ok" or a short reason that
// names no secret and no internal error text.
type readiness struct {
	Status   string `json:"status"`
	Backend  string `json:"backend"`
	Keystore string `json:"keystore"`
}

// readyz answers 200 when the backend lists buckets and the KMS answers a
// DescribeKey, and 503 naming what failed otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	res := readiness{Status: "ok", Backend: "ok", Keystore: "ok"}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.deps.Store.ListBuckets(ctx); err != nil {
		s.log.Warn("readiness: backend unreachable", "err", err)
		res.Status, res.Backend = "unavailable", "unreachable"
	}
	if err := s.kmsReachable(ctx); err != nil {
		s.log.Warn("readiness: KMS unreachable", "err", err)
		res.Status, res.Keystore = "unavailable", "unreachable"
	}
	status := http.StatusOK
	if res.Status != "ok" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, res)
}

// kmsReachable describes the SSE-S3 key. The embedded KMS creates that key
// on first use and hides it from DescribeKey, so an answer that the key is
// missing, disabled or pending deletion still proves the keystore answers;
// only other errors (database, network, auth) count as unreachable. The
// probe never creates a key.
func (s *Server) kmsReachable(ctx context.Context) error {
	_, err := s.deps.KMS.DescribeKey(ctx, s.objects.keys.sseS3Key)
	if err == nil || errors.Is(err, kms.ErrNotFound) || errors.Is(err, kms.ErrDisabled) || errors.Is(err, kms.ErrInvalidState) {
		return nil
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
