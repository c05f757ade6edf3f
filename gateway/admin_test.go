package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ssegate/ssegate/sse"
	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// adminGet sends an unauthenticated GET to the server's admin handler.
func adminGet(t testing.TB, s *Server, path string) (int, string) {
	t.Helper()
	ts := httptest.NewServer(s.AdminHandler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestMetricsCountRequestsBytesSSEModesKMSCallsAndCacheHits(t *testing.T) {
	e := newSSEEnv(t, Config{}, nil, true)
	e.mkbucket("bkt")
	data := []byte("metrics payload")
	ck := newCustomerKey(7)
	puts := []map[string]string{
		{sse.HeaderSSE: "AES256"},
		{sse.HeaderSSE: "AES256"},
		{sse.HeaderSSE: "aws:kms"},
		ck.headers(),
	}
	for i, h := range puts {
		wantStatusCode(t, e.do("PUT", "/bkt/obj"+string(rune('a'+i)), data, h), 200, "")
	}
	for i, h := range []map[string]string{nil, nil, nil, ck.headers()} {
		resp := e.do("GET", "/bkt/obj"+string(rune('a'+i)), nil, h)
		wantStatusCode(t, resp, 200, "")
		if b, _ := io.ReadAll(resp.Body); !bytes.Equal(b, data) {
			t.Fatalf("GET obj%c = %q", 'a'+i, b)
		}
	}
	wantStatusCode(t, e.do("GET", "/bkt/missing", nil, nil), 404, "NoSuchKey")

	status, body := adminGet(t, e.srv, "/metrics")
	if status != 200 {
		t.Fatalf("/metrics status %d", status)
	}
	for _, want := range []string{
		`ssegate_requests_total{op="PutObject",status="200"} 4`,
		`ssegate_requests_total{op="GetObject",status="200"} 4`,
		`ssegate_requests_total{op="GetObject",status="404"} 1`,
		`ssegate_request_duration_seconds_count{op="PutObject"} 4`,
		`ssegate_objects_written_total{sse="AES256"} 2`,
		`ssegate_objects_written_total{sse="aws:kms"} 1`,
		`ssegate_objects_written_total{sse="SSE-C"} 1`,
		// SSE-KMS calls the KMS per object; the two SSE-S3 PUTs share one
		// bucket-level key (one miss, then a hit) and their GETs hit.
		`ssegate_kms_requests_total{op="GenerateDataKey",outcome="ok"} 2`,
		`ssegate_kms_requests_total{op="Decrypt",outcome="ok"} 1`,
		`ssegate_keyring_cache_total{result="hit"} 3`,
		`ssegate_keyring_cache_total{result="miss"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, name := range []string{"ssegate_bytes_in_total", "ssegate_bytes_out_total"} {
		if v := metricValue(t, body, name); v < float64(4*len(data)) {
			t.Errorf("%s = %v, want >= %d", name, v, 4*len(data))
		}
	}
	// Labels are user-data free: no bucket or key name anywhere.
	if strings.Contains(body, "bkt") || strings.Contains(body, "obja") {
		t.Errorf("/metrics exposes bucket or object names")
	}
}

func metricValue(t testing.TB, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics", name)
	}
	var v float64
	if err := json.Unmarshal([]byte(m[1]), &v); err != nil {
		t.Fatalf("%s value %q: %v", name, m[1], err)
	}
	return v
}

// unavailableStore is a backend whose ListBuckets cannot reach it.
type unavailableStore struct{ store.Store }

func (unavailableStore) ListBuckets(context.Context) ([]store.BucketInfo, error) {
	return nil, store.ErrUnavailable
}

func TestReadyzIsOKWhenBackendAndKMSAnswerAnd503NamingTheBackendWhenNot(t *testing.T) {
	e := newEnv(t, false)
	status, body := adminGet(t, e.srv, "/readyz")
	if status != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/readyz = %d %s, want 200 ok", status, body)
	}
	if status, _ := adminGet(t, e.srv, "/healthz"); status != 200 {
		t.Fatalf("/healthz = %d", status)
	}

	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bad := newEnvOn(t, unavailableStore{st}, false)
	status, body = adminGet(t, bad.srv, "/readyz")
	var r readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	if status != 503 || r.Backend != "unreachable" || r.Keystore != "ok" {
		t.Fatalf("/readyz with a failing backend = %d %+v, want 503 backend unreachable", status, r)
	}
	// The process is still up.
	if status, _ := adminGet(t, bad.srv, "/healthz"); status != 200 {
		t.Fatalf("/healthz = %d", status)
	}
}

func TestBackendUnavailableIsCounted(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, unavailableStore{st}, false)
	wantStatusCode(t, e.do("GET", "/", nil, nil), 503, "ServiceUnavailable")
	_, body := adminGet(t, e.srv, "/metrics")
	if !strings.Contains(body, `ssegate_backend_errors_total{kind="unavailable"} 1`) {
		t.Fatalf("backend error not counted:\n%s", grepLines(body, "ssegate_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestS3ListenerDoesNotServeAdminPaths(t *testing.T) {
	e := newEnv(t, false)
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/cmdline"} {
		t.Run(p, func(t *testing.T) {
			resp, err := e.ts.Client().Get(e.ts.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			er := s3Err(t, resp)
			if resp.StatusCode == 200 || er.Code == "" {
				t.Fatalf("S3 listener answered %s with %d %+v, want an S3 error", p, resp.StatusCode, er)
			}
		})
	}
}

func TestAdminHandlerServesPprof(t *testing.T) {
	e := newEnv(t, false)
	status, body := adminGet(t, e.srv, "/debug/pprof/")
	if status != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ = %d", status)
	}
}

// String reads what the server logged; syncBuffer lives in sse_backend_test.go.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogHasOneLinePerRequestWithTheResponseRequestIDAndNoSecrets(t *testing.T) {
	var logs syncBuffer
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Region: testRegion}, Deps{
		Store: st, KMS: newTestCore(t),
		Credentials: staticCreds{testAccessKey: {AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root"}},
		Logger:      slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{t: t, srv: srv, ts: ts}
	e.mkbucket("bkt")
	ck := newCustomerKey(9)
	data := []byte("secret-ish payload")

	var ids []string
	track := func(resp *http.Response) *http.Response {
		ids = append(ids, resp.Header.Get("x-amz-request-id"))
		return resp
	}
	wantStatusCode(t, track(e.do("PUT", "/bkt/ssec", data, ck.headers())), 200, "")
	wantStatusCode(t, track(e.do("GET", "/bkt/ssec", nil, ck.headers())), 200, "")
	wrong := newCustomerKey(10)
	wantStatusCode(t, track(e.do("GET", "/bkt/ssec", nil, wrong.headers())), 403, "AccessDenied")
	wantStatusCode(t, track(e.do("PUT", "/bkt/plain", data, nil)), 200, "")

	// A presigned GET: its signature travels in the query string.
	r := e.newReq("GET", "/bkt/plain")
	e.signer(time.Now()).Presign(r, 600)
	signature := r.URL.Query().Get("X-Amz-Signature")
	if signature == "" {
		t.Fatal("presigned URL has no signature")
	}
	wantStatusCode(t, track(e.send(r)), 200, "")

	// An error: its body carries the same request id as the header.
	resp := track(e.do("GET", "/bkt/none", nil, nil))
	if resp.StatusCode != 404 {
		t.Fatalf("GET missing = %d", resp.StatusCode)
	}
	if er := s3Err(t, resp); er.RequestID != ids[len(ids)-1] {
		t.Fatalf("error body request id %q, header %q", er.RequestID, ids[len(ids)-1])
	}

	out := logs.String()
	for what, secret := range map[string]string{
		"SSE-C key": ck.b64, "wrong SSE-C key": wrong.b64, "secret access key": testSecretKey,
		"presigned signature": signature, "presigned signature (escaped)": url.QueryEscape(signature),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains the %s", what)
		}
	}

	byID := map[string]map[string]any{}
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if m["msg"] != "access" {
			continue
		}
		id, _ := m["request_id"].(string)
		if byID[id] != nil {
			t.Errorf("two access lines for request %s", id)
		}
		byID[id] = m
		for _, k := range []string{"op", "bucket", "key", "status", "bytes_in", "bytes_out", "duration", "sse", "access_key"} {
			if _, ok := m[k]; !ok {
				t.Errorf("access line lacks %s: %s", k, raw)
			}
		}
	}
	want := []struct {
		op, key, sse string
		status       float64
	}{
		{"PutObject", "ssec", "SSE-C", 200},
		{"GetObject", "ssec", "SSE-C", 200},
		{"GetObject", "ssec", "", 403},
		{"PutObject", "plain", "AES256", 200},
		{"GetObject", "plain", "AES256", 200},
		{"GetObject", "none", "", 404},
	}
	for i, w := range want {
		m := byID[ids[i]]
		if m == nil {
			t.Fatalf("no access line for request %d (%s %s)", i, w.op, w.key)
		}
		if m["op"] != w.op || m["bucket"] != "bkt" || m["key"] != w.key || m["sse"] != w.sse ||
			m["status"] != w.status || m["access_key"] != testAccessKey {
			t.Errorf("request %d: access line %v, want %+v", i, m, w)
		}
	}
	if m := byID[ids[0]]; m["bytes_in"].(float64) < float64(len(data)) {
		t.Errorf("PUT bytes_in = %v", m["bytes_in"])
	}
	if m := byID[ids[1]]; m["bytes_out"].(float64) != float64(len(data)) {
		t.Errorf("GET bytes_out = %v, want %d", m["bytes_out"], len(data))
	}
}
