package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheckTreatsAnyNon5xxAnswerAsHealthy(t *testing.T) {
	tests := []struct {
		status  int
		healthy bool
	}{
		{http.StatusForbidden, true}, // anonymous S3 request: AccessDenied
		{http.StatusOK, true},
		{http.StatusServiceUnavailable, false},
		{http.StatusInternalServerError, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			listen := strings.TrimPrefix(srv.URL, "http://")
			err := healthcheck([]string{"--listen", listen}, env(), &bytes.Buffer{})
			if (err == nil) != tt.healthy {
				t.Errorf("status %d: err = %v, want healthy=%v", tt.status, err, tt.healthy)
			}
		})
	}
}

func TestHealthcheckReachesWildcardListenViaLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	if err := healthcheck(nil, env("SSEGATE_LISTEN", "0.0.0.0:"+port), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}
