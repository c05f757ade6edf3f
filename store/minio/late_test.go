package minio_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/minio"
	"github.com/ssegate/ssegate/store/storetest"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

// lateBody is a body whose caller completes the metadata at its first
// EOF, as the gateway does (final replaces meta's entries). afterBody runs
// at the second EOF: Put's own check that the body has ended, after the
// body was sent (net/http saw the first).
type lateBody struct {
	r         io.Reader
	meta      store.Metadata
	final     store.Metadata
	afterBody func()
	eofs      int
}

func (l *lateBody) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err == io.EOF {
		l.eofs++
		switch {
		case l.eofs == 1:
			clear(l.meta)
			for k, v := range l.final {
				l.meta[k] = v
			}
		case l.eofs == 2 && l.afterBody != nil:
			l.afterBody()
		}
	}
	return n, err
}

func randData(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// refusingProxy forwards to MinIO but answers 500 InternalError to every
// request refuse matches, counting them: a backend failing at one step.
func refusingProxy(t *testing.T, srv *miniotest.Server, refuse func(*http.Request) bool) (*minio.Store, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var hits atomic.Int64
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse(r) {
			hits.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>injected</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	s, err := minio.New(context.Background(), minio.Config{Endpoint: p.URL, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s, &hits
}

// copyRefusingProxy refuses every server-side copy onto dstKey.
func copyRefusingProxy(t *testing.T, srv *miniotest.Server, bucket, dstKey string) (*minio.Store, *atomic.Int64) {
	t.Helper()
	return refusingProxy(t, srv, func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Path == "/"+bucket+"/"+dstKey && r.Header.Get("X-Amz-Copy-Source") != ""
	})
}

func checkObject(t *testing.T, s store.Store, b, key string, data []byte, meta store.Metadata) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), b, key, 0, -1)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get %s: %d bytes (%v), want %d bytes of the expected version", key, len(got), err, len(data))
	}
	if len(info.Meta) != len(meta) {
		t.Fatalf("Get %s: meta has %d entries, want %d", key, len(info.Meta), len(meta))
	}
	for k, v := range meta {
		if info.Meta[k] != v {
			t.Fatalf("Get %s: meta[%q] = %.20q, want %.20q", key, k, info.Meta[k], v)
		}
	}
}

var metaCases = []struct {
	name                 string
	old, pending, final  store.Metadata
	oldSpills, newSpills int
}{
	{"Small", store.Metadata{"v": "old"}, store.Metadata{"v": "pending"}, store.Metadata{"v": "new"}, 0, 0},
	{"Spilled", bigMeta("old"), bigMeta("pending"), bigMeta("new"), 1, 1},
	{"SmallToSpilled", store.Metadata{"v": "old"}, store.Metadata{"v": "pending"}, bigMeta("new"), 0, 1},
	{"SpilledToSmall", bigMeta("old"), bigMeta("pending"), store.Metadata{"v": "new"}, 1, 0},
}

// moveRefusingProxy refuses every step that would put a new object onto
// dstKey: a server-side copy (the temporary-object path, unknown sizes) and
// a multipart Complete (the upload path, known sizes).
func moveRefusingProxy(t *testing.T, srv *miniotest.Server, bucket, dstKey string) (*minio.Store, *atomic.Int64) {
	t.Helper()
	return refusingProxy(t, srv, func(r *http.Request) bool {
		onKey := r.URL.Path == "/"+bucket+"/"+dstKey
		copying := r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
		completing := r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
		return onKey && (copying || completing)
	})
}

func TestLateOverwriteWhoseFinalStepIsRefusedKeepsPreviousObject(t *testing.T) {
	srv := miniotest.Shared(t)
	direct := newStore(t)
	b := storetest.NewBucket(t, direct)
	s, hits := moveRefusingProxy(t, srv, b, "victim")
	ctx := context.Background()
	for _, c := range metaCases {
		for _, size := range []int64{2 << 20, -1} {
			t.Run(c.name, func(t *testing.T) {
				old := randData(t, 100<<10)
				if _, err := direct.Put(ctx, b, "victim", bytes.NewReader(old), int64(len(old)), c.old); err != nil {
					t.Fatal(err)
				}
				before := hits.Load()
				m := c.pending.Clone()
				body := &lateBody{r: bytes.NewReader(randData(t, 2<<20)), meta: m, final: c.final}
				_, err := s.Put(store.WithLateMetadata(ctx), b, "victim", body, size, m)
				if hits.Load() == before {
					t.Fatalf("no copy or Complete onto the key was sent (err=%v)", err)
				}
				if err == nil {
					t.Fatal("Put succeeded although moving the body into place was refused")
				}
				checkObject(t, direct, b, "victim", old, c.old)
				if left := hiddenKeys(t, srv, b, minio.TmpDir); len(left) != 0 {
					t.Fatalf("temporary objects left after a failed Put: %q", left)
				}
				if n := len(hiddenKeys(t, srv, b, ".ssegate.sys/meta/")); n != c.oldSpills {
					t.Fatalf("%d overflow objects after the failed Put, want %d (the previous object's)", n, c.oldSpills)
				}
				for u := range rawClient(t, srv).ListIncompleteUploads(ctx, b, "victim", true) {
					t.Fatalf("backend upload left after a failed Put: %+v", u)
				}
			})
		}
	}
}

func TestLateOverwriteCancelledAfterBodyKeepsOldOrNewNeverPending(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	b := storetest.NewBucket(t, s)
	for _, c := range metaCases {
		t.Run(c.name, func(t *testing.T) {
			old := randData(t, 100<<10)
			if _, err := s.Put(context.Background(), b, "k", bytes.NewReader(old), int64(len(old)), c.old); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(store.WithLateMetadata(context.Background()))
			defer cancel()
			data := randData(t, 2<<20)
			m := c.pending.Clone()
			body := &lateBody{r: bytes.NewReader(data), meta: m, final: c.final, afterBody: cancel}
			_, err := s.Put(ctx, b, "k", body, int64(len(data)), m)
			if err == nil {
				// The copy went through before the cancellation: new version.
				checkObject(t, s, b, "k", data, c.final)
			} else {
				checkObject(t, s, b, "k", old, c.old)
			}
			if left := hiddenKeys(t, srv, b, minio.TmpDir); len(left) != 0 {
				t.Fatalf("temporary objects left after a cancelled Put: %q", left)
			}
		})
	}
}

func TestLateOverwriteStoresFinalMetadataAndLeavesNoTempObject(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	b := storetest.NewBucket(t, s)
	ctx := context.Background()
	for _, c := range metaCases {
		for _, size := range []int64{300 << 10, -1} {
			t.Run(c.name, func(t *testing.T) {
				key := "ok-" + c.name
				old := randData(t, 10<<10)
				if _, err := s.Put(ctx, b, key, bytes.NewReader(old), int64(len(old)), c.old); err != nil {
					t.Fatal(err)
				}
				data := randData(t, 300<<10)
				m := c.pending.Clone()
				body := &lateBody{r: bytes.NewReader(data), meta: m, final: c.final}
				info, err := s.Put(store.WithLateMetadata(ctx), b, key, body, size, m)
				if err != nil {
					t.Fatal(err)
				}
				checkObject(t, s, b, key, data, c.final)
				h, err := s.Head(ctx, b, key)
				if err != nil || h.ETag != info.ETag || h.Size != int64(len(data)) || info.Size != int64(len(data)) {
					t.Fatalf("Head = %+v, %v; Put returned ETag %q size %d", h, err, info.ETag, info.Size)
				}
				if left := hiddenKeys(t, srv, b, minio.TmpDir); len(left) != 0 {
					t.Fatalf("temporary objects left after a successful Put: %q", left)
				}
				if err := s.Delete(ctx, b, key); err != nil {
					t.Fatal(err)
				}
				if left := hiddenKeys(t, srv, b, ".ssegate.sys/meta/"); len(left) != 0 {
					t.Fatalf("overflow objects outlive the replaced and deleted objects: %q", left)
				}
			})
		}
	}
}

func TestSweepRemovesOnlyOldTempObjects(t *testing.T) {
	srv := miniotest.Shared(t)
	s := newStore(t)
	b := storetest.NewBucket(t, s)
	ctx := context.Background()
	raw := rawClient(t, srv)
	for _, name := range []string{"a", "b"} {
		if _, err := raw.PutObject(ctx, b, minio.TmpDir+name, strings.NewReader("orphan"), 6, miniogo.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := s.List(ctx, b, store.ListOptions{}); err != nil || len(res.Objects) != 0 || len(res.CommonPrefixes) != 0 {
		t.Fatalf("List shows temporary objects: %+v, %v", res, err)
	}
	// A day-old cutoff spares objects just written (a Put may be using them).
	if n, err := s.SweepTemp(ctx, b, time.Now().Add(-24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep with a day-old cutoff removed %d (%v), want 0", n, err)
	}
	if left := hiddenKeys(t, srv, b, minio.TmpDir); len(left) != 2 {
		t.Fatalf("temporary objects after a sweep that should spare them: %q", left)
	}
	if n, err := s.SweepTemp(ctx, b, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("sweep with a future cutoff removed %d (%v), want 2", n, err)
	}
	if left := hiddenKeys(t, srv, b, minio.TmpDir); len(left) != 0 {
		t.Fatalf("temporary objects left after the sweep: %q", left)
	}
}
