package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ssegate/ssegate/kms"
	"github.com/ssegate/ssegate/store"
	"github.com/ssegate/ssegate/store/fs"
)

// signalStore reports each finished Put/UploadPart so a test can wait for
// the server to finish with an interrupted upload without sleeping.
type signalStore struct {
	store.Store
	done chan error
}

func (s *signalStore) Put(ctx context.Context, b, k string, r io.Reader, size int64, m store.Metadata) (store.ObjectInfo, error) {
	info, err := s.Store.Put(ctx, b, k, r, size, m)
	s.done <- err
	return info, err
}

func (s *signalStore) UploadPart(ctx context.Context, b, k, id string, n int, r io.Reader, size int64, m store.Metadata) (store.PartInfo, error) {
	info, err := s.Store.UploadPart(ctx, b, k, id, n, r, size, m)
	s.done <- err
	return info, err
}

func TestClientDisconnectMidUploadLeavesNoObject(t *testing.T) {
	fsStore, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ss := &signalStore{Store: fsStore, done: make(chan error, 4)}
	e := newEnv(t, false)
	e.srv.deps.Store = ss
	e.srv.objects.store = ss
	e.mkbucket("bkt")

	r := e.newReq("PUT", "/bkt/partial")
	// Larger than smallPutMax, so that the body streams into the store.
	r.Header.Set("Content-Length", "3000000")
	e.signer(time.Now()).Sign(r, nil, "UNSIGNED-PAYLOAD")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /bkt/partial HTTP/1.1\r\nHost: %s\r\nContent-Length: 3000000\r\n", r.Host)
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		fmt.Fprintf(conn, "%s: %s\r\n", h, r.Header.Get(h))
	}
	io.WriteString(conn, "\r\n")
	conn.Write(randBytes(1400000, 60))
	conn.Close()
	if err := <-ss.done; err == nil {
		t.Fatal("store accepted a body cut short by a disconnect")
	}
	wantStatusCode(t, e.do("HEAD", "/bkt/partial", nil, nil), 404, "")
}

func TestVirtualHostStyleAddressing(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Region: testRegion, Domains: []string{"s3.test"}}, Deps{Store: st, KMS: newTestCore(t), Credentials: staticCreds{testAccessKey: {AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:root"}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &testEnv{t: t, srv: srv, ts: ts}
	e.mkbucket("vbkt")
	e.put("vbkt", "path/key", []byte("vhost"))
	send := func(method, host, path string) *http.Response {
		r := e.newReq(method, path)
		r.Host = host
		e.signer(time.Now()).Sign(r, nil, "")
		return e.send(r)
	}
	resp := send("GET", "vbkt.s3.test", "/path/key")
	wantStatusCode(t, resp, 200, "")
	if b, _ := io.ReadAll(resp.Body); string(b) != "vhost" {
		t.Fatalf("vhost GET body %q", b)
	}
	wantStatusCode(t, send("HEAD", "vbkt.s3.test:9000", "/"), 200, "")
	wantStatusCode(t, send("GET", "s3.test", "/vbkt/path/key"), 200, "")
	wantStatusCode(t, send("GET", "nobkt.s3.test", "/key"), 404, "NoSuchBucket")
}

type fakeKMSAPI struct{ caller kms.Caller }

func (f *fakeKMSAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := kms.CallerFrom(r.Context())
	if !ok {
		http.Error(w, "no caller", 500)
		return
	}
	f.caller = c
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	io.WriteString(w, `{"KeyId":"k"}`)
}

func TestKMSAPIIsMountedBehindSigV4(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeKMSAPI{}
	srv, err := New(Config{Region: testRegion}, Deps{Store: st, KMS: newTestCore(t), KMSAPI: api,
		Credentials: staticCreds{testAccessKey: {AccessKey: testAccessKey, SecretKey: testSecretKey, ARN: "arn:aws:iam::000000000000:user/u"}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e := &testEnv{t: t, srv: srv, ts: ts}
	kmsReq := func(sign bool, service string) *http.Response {
		r := e.newReq("POST", "/")
		r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		body := []byte(`{"KeyId":"k"}`)
		if sign {
			s := e.signer(time.Now())
			s.Service = service
			s.Sign(r, body, "")
		} else {
			setBody(r, body)
		}
		return e.send(r)
	}
	resp := kmsReq(true, "kms")
	if resp.StatusCode != 200 || api.caller.AccessKey != testAccessKey || api.caller.ARN != "arn:aws:iam::000000000000:user/u" || api.caller.RequestID == "" || api.caller.SourceIP != "127.0.0.1" {
		t.Fatalf("status %d caller %+v", resp.StatusCode, api.caller)
	}
	for name, resp := range map[string]*http.Response{"unsigned": kmsReq(false, ""), "signed for s3": kmsReq(true, "s3")} {
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), "__type") {
			t.Errorf("%s: status %d body %s", name, resp.StatusCode, b)
		}
	}
}

func TestNewRequiresStoreAndCredentials(t *testing.T) {
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
	st, _ := fs.New(t.TempDir())
	if _, err := New(Config{}, Deps{Store: st}); err == nil {
		t.Fatal("New without credentials succeeded")
	}
}
