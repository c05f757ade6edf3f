package minio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
)

// TestBackendServerErrorsAreUnavailableOnEveryMethod: a backend that
// answers 500 or 503 is unavailable whether or not its answer has a body.
// A HEAD answer never has one, so minio-go reports only the status there
// ("503 Service Unavailable" as the code); that must map the same way as
// the GET's "SlowDown" body, not to an unknown (internal) error.
func TestBackendServerErrorsAreUnavailableOnEveryMethod(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Path == "/" { // ListBuckets, New's probe
					io.WriteString(w, `<ListAllMyBucketsResult><Owner><ID>x</ID></Owner><Buckets></Buckets></ListAllMyBucketsResult>`)
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				if r.Method != http.MethodHead {
					io.WriteString(w, `<Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
				}
			}))
			defer srv.Close()
			ctx := context.Background()
			s, err := minio.New(ctx, minio.Config{Endpoint: srv.URL, AccessKey: "ak", SecretKey: "sk", MaxRetries: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Head(ctx, "bucket", "key"); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Head: %v, want store.ErrUnavailable", err)
			}
			if _, _, err := s.Get(ctx, "bucket", "key", 0, -1); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Get: %v, want store.ErrUnavailable", err)
			}
		})
	}
}
