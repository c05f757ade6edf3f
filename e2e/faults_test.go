package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// clientTimeout bounds every client request in the fault tests: a gateway
// that hangs on a dead backend fails the test instead of stalling it.
const clientTimeout = 90 * time.Second

// faultEnv is a gateway on MinIO through a fault proxy, and a client.
type faultEnv struct {
	proxy  *faultProxy
	gw     *gatewayProc
	s3     *minio.Client
	bucket string
}

func startFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	m := miniotest.Shared(t)
	p := startFaultProxy(t, m.Endpoint)
	ak, sk := "FAULT"+randomUpper(15), randomHex(20)
	g := startGateway(t, gatewayOptions{
		Backend: "minio:" + p.URL,
		Env: []string{"SSEGATE_ACCESS_KEY=" + ak, "SSEGATE_SECRET_KEY=" + sk,
			"SSEGATE_BACKEND_ACCESS_KEY=" + m.AccessKey, "SSEGATE_BACKEND_SECRET_KEY=" + m.SecretKey},
	})
	// One attempt per request, so each status is the gateway's own answer.
	c, err := minio.New(strings.TrimPrefix(g.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := &faultEnv{proxy: p, gw: g, s3: c, bucket: bucketName("faults")}
	if err := c.MakeBucket(context.Background(), e.bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *faultEnv) put(ctx context.Context, key string, data []byte, sse encrypt.ServerSide) error {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	_, err := e.s3.PutObject(ctx, e.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ServerSideEncryption: sse, DisableMultipart: true})
	return err
}

func (e *faultEnv) get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	obj, err := e.s3.GetObject(ctx, e.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func (e *faultEnv) head(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	_, err := e.s3.StatObject(ctx, e.bucket, key, minio.StatObjectOptions{})
	return err
}

func (e *faultEnv) list(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	var keys []string
	for o := range e.s3.ListObjects(ctx, e.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return keys, o.Err
		}
		keys = append(keys, o.Key)
	}
	return keys, nil
}

// wantBackendError asserts that err is the gateway's S3 answer to a backend
// it cannot use: 503 ServiceUnavailable/SlowDown or 500 InternalError, in
// time (not the client's deadline), and logs what it was.
func wantBackendError(t *testing.T, op string, err error, took time.Duration) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded although the backend failed", op)
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s hung for the whole client timeout: %v", op, err)
		return
	}
	r := minio.ToErrorResponse(err)
	switch {
	case r.StatusCode == http.StatusServiceUnavailable && (r.Code == "ServiceUnavailable" || r.Code == "SlowDown"):
	case r.StatusCode == http.StatusInternalServerError && r.Code == "InternalError":
	case op == "HEAD" && (r.StatusCode == 503 || r.StatusCode == 500):
		// A HEAD answer has no body, so no code.
	default:
		t.Errorf("%s: got HTTP %d %q (%v), want 503 ServiceUnavailable/SlowDown or 500 InternalError", op, r.StatusCode, r.Code, err)
		return
	}
	t.Logf("%s: HTTP %d %s after %v", op, r.StatusCode, r.Code, took.Round(time.Millisecond))
}

func wantNoSuchKey(t *testing.T, what string, err error) {
	t.Helper()
	if r := minio.ToErrorResponse(err); r.StatusCode != http.StatusNotFound {
		t.Errorf("%s: got %v (HTTP %d), want 404: no object may be visible", what, err, r.StatusCode)
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// allOps runs PUT (a new key), GET, HEAD and LIST while the backend fails
// and asserts each answers with a backend error.
func (e *faultEnv) allOps(t *testing.T, newKey, existing string) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	wantBackendError(t, "PUT", e.put(ctx, newKey, randBytes(100<<10), nil), time.Since(start))
	start = time.Now()
	_, err := e.get(ctx, existing)
	wantBackendError(t, "GET", err, time.Since(start))
	start = time.Now()
	wantBackendError(t, "HEAD", e.head(ctx, existing), time.Since(start))
	start = time.Now()
	_, err = e.list(ctx)
	wantBackendError(t, "LIST", err, time.Since(start))
}

// waitBackend polls until the gateway reads key again.
func (e *faultEnv) waitBackend(t *testing.T, key string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a recovery deadline, not an assertion on speed
	for {
		got, err := e.get(context.Background(), key)
		if err == nil {
			if !bytes.Equal(got, want) {
				t.Fatalf("GET %s after recovery: %d bytes differ from the %d written", key, len(got), len(want))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not recover within a minute of the backend: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// TestBackendFaults runs the gateway on MinIO through a fault-injecting
// proxy: whatever the backend does, clients get S3 errors (never a 200 with
// wrong or short data), nothing half-written becomes visible, and the
// gateway recovers when the backend does.
func TestBackendFaults(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	e := startFaultEnv(t)
	ctx := context.Background()
	seed := randBytes(300 << 10)
	big := randBytes(4<<20 + 123)
	for key, data := range map[string][]byte{"seed": seed, "big": big} {
		if err := e.put(ctx, key, data, nil); err != nil {
			t.Fatalf("PUT %s on a healthy backend: %v", key, err)
		}
	}

	t.Run("backend down refuses connections", func(t *testing.T) {
		e.proxy.Refuse()
		e.allOps(t, "down-put", "seed")
		e.proxy.Resume(t)
		e.waitBackend(t, "seed", seed)
		wantNoSuchKey(t, "HEAD of the PUT refused while down", e.head(ctx, "down-put"))
	})

	for _, f := range []struct{ status int }{{http.StatusServiceUnavailable}, {http.StatusInternalServerError}} {
		code := map[int]string{503: "SlowDown", 500: "InternalError"}[f.status]
		t.Run("backend answers "+code, func(t *testing.T) {
			e.proxy.Set(&fault{match: matchBucketData(e.bucket), status: f.status, code: code})
			e.allOps(t, "err-put", "seed")
			if e.proxy.Hits() == 0 {
				t.Fatal("the proxy never injected the fault")
			}
			e.proxy.Set(nil)
			e.waitBackend(t, "seed", seed)
			wantNoSuchKey(t, "HEAD of the PUT that failed", e.head(ctx, "err-put"))
		})
	}

	t.Run("slow backend still serves", func(t *testing.T) {
		e.proxy.Set(&fault{match: matchBucketData(e.bucket), latency: 300 * time.Millisecond})
		defer e.proxy.Set(nil)
		data := randBytes(2<<20 + 5)
		if err := e.put(ctx, "slow", data, nil); err != nil {
			t.Fatalf("PUT through a slow backend: %v", err)
		}
		got, err := e.get(ctx, "slow")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET through a slow backend: %v (%d bytes)", err, len(got))
		}
		if e.proxy.Hits() == 0 {
			t.Fatal("the proxy never delayed a request")
		}
	})

	for _, cut := range []int64{100, 1 << 20} {
		t.Run("GET whose backend stream breaks after "+byteCount(cut), func(t *testing.T) {
			e.proxy.Set(&fault{match: matchObject(e.bucket, "big", http.MethodGet), cutResponseAfter: cut})
			defer e.proxy.Set(nil)
			e.wantBrokenGet(t, "big", len(big))
			if e.proxy.Hits() == 0 {
				t.Fatal("the proxy never cut a response")
			}
		})
	}

	t.Run("PUT whose backend upload breaks midway", func(t *testing.T) {
		e.proxy.Set(&fault{match: matchObject(e.bucket, "cut-new", http.MethodPut), cutRequestAfter: 512 << 10})
		start := time.Now()
		wantBackendError(t, "PUT new", e.put(ctx, "cut-new", randBytes(3<<20), nil), time.Since(start))
		// An overwrite that breaks leaves the previous object whole. This
		// one (SSE-S3, no Content-MD5, > 1 MiB) learns its metadata at the
		// end, so on MinIO its body goes to a hidden temporary object
		// first (store/minio/tmp.go): cut whichever upload carries it.
		e.proxy.Set(&fault{match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" &&
				(r.URL.Path == "/"+e.bucket+"/seed" || strings.HasPrefix(r.URL.Path, "/"+e.bucket+"/.ssegate.sys/tmp/"))
		}, cutRequestAfter: 512 << 10})
		start = time.Now()
		wantBackendError(t, "PUT overwrite", e.put(ctx, "seed", randBytes(3<<20), nil), time.Since(start))
		if e.proxy.Hits() == 0 {
			t.Fatal("the proxy never cut an upload")
		}
		e.proxy.Set(nil)
		wantNoSuchKey(t, "HEAD of the broken PUT", e.head(ctx, "cut-new"))
		keys, err := e.list(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k == "cut-new" {
				t.Error("LIST shows the object whose upload broke")
			}
		}
		if got, err := e.get(ctx, "seed"); err != nil || !bytes.Equal(got, seed) {
			t.Errorf("the object a broken overwrite targeted: %v (%d bytes), want its previous content", err, len(got))
		}
	})
}

func byteCount(n int64) string {
	if n >= 1<<20 {
		return "1MiB"
	}
	return "100B"
}

// wantBrokenGet asserts that a GET of key (size bytes) whose backend stream
// breaks never looks complete: either an error status, or a 200 whose body
// ends in a transport error before Content-Length bytes. It checks a plain
// HTTP client (presigned URL, so status, headers and byte counts are
// visible) and minio-go.
func (e *faultEnv) wantBrokenGet(t *testing.T, key string, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	u, err := e.s3.PresignedGetObject(ctx, e.bucket, key, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	switch {
	case err != nil:
		t.Logf("raw GET: no response: %v", err)
	case resp.StatusCode == http.StatusOK:
		n, rerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ContentLength != int64(size) {
			t.Errorf("raw GET: 200 with Content-Length %d, want %d (a client cannot detect truncation without it)", resp.ContentLength, size)
		}
		if rerr == nil || n >= int64(size) {
			t.Errorf("raw GET: 200 and %d of %d bytes read without error (%v): a truncated body looked complete", n, size, rerr)
		}
		t.Logf("raw GET: 200, Content-Length %d, connection broke after %d bytes: %v", resp.ContentLength, n, rerr)
	default:
		resp.Body.Close()
		if resp.StatusCode != 500 && resp.StatusCode != 503 {
			t.Errorf("raw GET: HTTP %d, want 200 with a broken body or 500/503", resp.StatusCode)
		}
		t.Logf("raw GET: HTTP %d", resp.StatusCode)
	}
	got, err := e.get(context.Background(), key)
	if err == nil {
		t.Errorf("minio-go GET: %d bytes and no error from a broken backend stream", len(got))
	} else {
		t.Logf("minio-go GET: %d bytes, then %v", len(got), err)
	}
}

// TestFailedOverwriteKeepsPreviousObjectOnMinIO: S3 replaces objects
// atomically, so a PUT that fails must leave the previous object readable.
// On MinIO a single-part SSE-S3 PUT above 1 MiB without Content-MD5 learns
// its final metadata only at the end of the body, and S3 fixes metadata
// when the body is sent: the body streams into a backend multipart upload
// to the key, completed only once its final metadata is written
// (store/minio/overwrite.go; bodies of unknown size use a temporary object
// and a server-side copy, store/minio/tmp.go). The proxy fails exactly that
// Complete (or copy) here; before the fix (issue 9) the key then held a
// pending object and read as NoSuchKey.
func TestFailedOverwriteKeepsPreviousObjectOnMinIO(t *testing.T) {
	t.Parallel() // each test runs its own gateways; see e2e/doc.go
	e := startFaultEnv(t)
	ctx := context.Background()
	old := randBytes(100 << 10)
	if err := e.put(ctx, "victim", old, nil); err != nil {
		t.Fatal(err)
	}
	// The step that would put the new object in the previous one's place
	// is refused: the multipart Complete of a late-metadata overwrite (or,
	// for bodies of unknown size, the copy from the temporary object).
	e.proxy.Set(&fault{
		match: func(r *http.Request) bool {
			onKey := r.URL.Path == "/"+e.bucket+"/victim"
			copying := r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
			completing := r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
			return onKey && (copying || completing)
		},
		status: http.StatusInternalServerError, code: "InternalError",
	})
	err := e.put(ctx, "victim", randBytes(2<<20), nil)
	hits := e.proxy.Hits()
	e.proxy.Set(nil)
	if hits == 0 {
		t.Fatalf("the overwrite sent no Complete or copy onto the key (err=%v): the two-step path was not taken", err)
	}
	if err == nil {
		t.Fatal("the overwrite was acknowledged although its final metadata was refused")
	}
	got, gerr := e.get(ctx, "victim")
	if gerr != nil || !bytes.Equal(got, old) {
		t.Errorf("after a failed overwrite GET victim = %v (%d bytes), want the previous %d bytes", gerr, len(got), len(old))
	}
}
