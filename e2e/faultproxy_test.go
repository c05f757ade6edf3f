package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a reverse proxy between the gateway and MinIO that injects
// backend faults on demand: refused connections (as if MinIO were down),
// error answers, latency, and bodies cut midway in either direction. It is
// test-only; it listens on one fixed loopback address for its whole life
// so that the gateway, configured once, sees the same "backend" go down and
// come back.
type faultProxy struct {
	Addr string // 127.0.0.1:<port>
	URL  string // http://Addr

	rp     *httputil.ReverseProxy
	target atomic.Pointer[url.URL]
	fault  atomic.Pointer[fault]
	hits   atomic.Int64 // requests a fault applied to

	mu    sync.Mutex
	ln    net.Listener // nil while refusing
	srv   *http.Server
	conns map[net.Conn]bool
}

// fault is what the proxy does to the requests match selects (all when
// match is nil); the zero fault forwards untouched.
type fault struct {
	match func(*http.Request) bool
	// status, when set, answers with this S3 error instead of forwarding.
	status int
	code   string
	// latency delays the request before it is forwarded.
	latency time.Duration
	// cutResponseAfter > 0 forwards the response headers and this many
	// body bytes, then drops the connection.
	cutResponseAfter int64
	// cutRequestAfter > 0 forwards this many request body bytes to the
	// backend, then drops both connections.
	cutRequestAfter int64
}

// errCutRequest marks a request body the proxy cut on purpose.
var errCutRequest = fmt.Errorf("faultproxy: request body cut")

func startFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{conns: map[net.Conn]bool{}}
	p.target.Store(u)
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host // SigV4 signed the proxy's host; MinIO checks it
		},
		FlushInterval: -1, // pass bytes on as they come, so a cut lands mid-body
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// A cut request ends the gateway's connection, not with a 502:
			// that is what a backend dying mid-upload looks like.
			panic(http.ErrAbortHandler)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	p.URL = "http://" + p.Addr
	p.srv = &http.Server{Handler: p, ConnState: p.track}
	p.serve(ln)
	t.Cleanup(func() {
		p.Refuse()
		p.srv.Close()
	})
	return p
}

func (p *faultProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.srv.Serve(ln)
}

func (p *faultProxy) track(c net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// Set installs f (nil: forward untouched) and resets the hit counter.
func (p *faultProxy) Set(f *fault) {
	p.hits.Store(0)
	p.fault.Store(f)
}

// Hits is how many requests the current fault applied to.
func (p *faultProxy) Hits() int64 { return p.hits.Load() }

// SetTarget points the proxy at another backend (a restarted MinIO).
func (p *faultProxy) SetTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	p.target.Store(u)
	return nil
}

// Refuse closes the listener and every open connection: new connections
// are refused and pooled ones break, as when the backend process is gone.
func (p *faultProxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Resume listens again on the same address.
func (p *faultProxy) Resume(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		t.Fatalf("faultproxy: listen again on %s: %v", p.Addr, err)
	}
	p.serve(ln)
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := p.fault.Load()
	if f == nil || (f.match != nil && !f.match(r)) {
		p.rp.ServeHTTP(w, r)
		return
	}
	p.hits.Add(1)
	if f.latency > 0 {
		select {
		case <-time.After(f.latency):
		case <-r.Context().Done():
			return
		}
	}
	if f.status != 0 {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by faultproxy</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>`, f.code, r.URL.Path)
		}
		return
	}
	if f.cutRequestAfter > 0 && r.Body != nil {
		r.Body = &cutReader{r: r.Body, left: f.cutRequestAfter}
	}
	if f.cutResponseAfter > 0 {
		w = &cutWriter{ResponseWriter: w, left: f.cutResponseAfter}
	}
	p.rp.ServeHTTP(w, r)
}

// cutReader yields left bytes, then errCutRequest.
type cutReader struct {
	r    io.ReadCloser
	left int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCutRequest
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// cutWriter passes left body bytes on, flushes them, then aborts the
// connection the way net/http does for a handler that cannot finish.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) >= c.left {
		c.ResponseWriter.Write(b[:c.left])
		http.NewResponseController(c.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

func (c *cutWriter) Flush() { http.NewResponseController(c.ResponseWriter).Flush() }

// matchObject selects requests for one object key (path-style
// /bucket/key) with one of methods (all when none).
func matchObject(bucket, key string, methods ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.URL.Path != "/"+bucket+"/"+key {
			return false
		}
		if len(methods) == 0 {
			return true
		}
		for _, m := range methods {
			if r.Method == m {
				return true
			}
		}
		return false
	}
}

// matchBucketData selects every request in bucket except those on the
// gateway's hidden records, which lets a test fail object I/O only.
func matchBucketData(bucket string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/"+bucket+"/") && !strings.HasPrefix(r.URL.Path, "/"+bucket+"/.ssegate.sys/")
	}
}
