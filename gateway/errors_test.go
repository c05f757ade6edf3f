package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// failingStore fails Head and Get with err, to check how store failures
// surface.
type failingStore struct {
	store.Store
	err error
}

func (f *failingStore) Head(context.Context, string, string) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, f.err
}

func (f *failingStore) Get(context.Context, string, string, int64, int64) (io.ReadCloser, store.ObjectInfo, error) {
	return nil, store.ObjectInfo{}, f.err
}

func TestStoreFailuresMapToS3ErrorsWithoutInternalDetail(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unknown error is a bare 500", errors.New("disk /var/secret-path exploded"), 500, "InternalError"},
		{"unavailable backend is 503", fmt.Errorf("dial backend-host:9000: %w", store.ErrUnavailable), 503, "ServiceUnavailable"},
		{"wrapped not found is NoSuchKey", fmt.Errorf("head x: %w", store.ErrNotFound), 404, "NoSuchKey"},
		{"wrapped no bucket is NoSuchBucket", fmt.Errorf("head x: %w", store.ErrNoSuchBucket), 404, "NoSuchBucket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			var logs bytes.Buffer
			e.srv.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			e.srv.objects.store = &failingStore{Store: e.srv.deps.Store, err: tc.err}
			resp := e.do("GET", "/bkt/key", nil, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "<Code>"+tc.code+"</Code>") {
				t.Fatalf("body %s lacks code %s", b, tc.code)
			}
			for _, leak := range []string{"secret-path", "backend-host", "store:"} {
				if strings.Contains(string(b), leak) {
					t.Fatalf("response leaks internal detail %q: %s", leak, b)
				}
			}
			if tc.status == 500 && !strings.Contains(logs.String(), "secret-path") {
				t.Errorf("internal error not logged: %s", logs.String())
			}
		})
	}
}

func TestSecretsNeverReachLogsOrResponses(t *testing.T) {
	e := newEnv(t, false)
	var logs bytes.Buffer
	e.srv.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.mkbucket("bkt")
	var bodies strings.Builder
	for _, at := range []time.Time{time.Now(), time.Now().Add(-time.Hour)} {
		r := e.newReq("GET", "/bkt/nokey")
		s := e.signer(at)
		s.SecretKey = testSecretKey + "x"
		s.Sign(r, nil, "")
		resp := e.send(r)
		b, _ := io.ReadAll(resp.Body)
		bodies.Write(b)
	}
	resp := e.do("GET", "/bkt/nokey", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	bodies.Write(b)
	for _, where := range []string{logs.String(), bodies.String()} {
		if strings.Contains(where, testSecretKey) {
			t.Fatalf("secret key leaked: %s", where)
		}
	}
}

func TestObjectsNotWrittenByTheGatewayAreRefused(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, false)
	e.srv.deps.Store, e.srv.objects.store = st, st
	e.mkbucket("bkt")
	if _, err := st.Put(context.Background(), "bkt", "foreign", strings.NewReader("raw"), 3, store.Metadata{}); err != nil {
		t.Fatal(err)
	}
	// Without our size and ETag the gateway cannot vouch for the object:
	// it must not serve backend facts as if they were the client's.
	wantStatusCode(t, e.do("GET", "/bkt/foreign", nil, nil), 500, "InternalError")
	// ...but it must not make the rest of the bucket unlistable.
	e.put("bkt", "ours", []byte("data"))
	resp := e.do("GET", "/bkt?list-type=2", nil, nil)
	wantStatusCode(t, resp, 200, "")
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "<Key>ours</Key>") || strings.Contains(string(b), "foreign") {
		t.Fatalf("listing with a foreign object: %s", b)
	}
}
