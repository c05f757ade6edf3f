package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// The pass-through row ("passthrough/none") measures what one more HTTP
// hop in front of MinIO costs on this machine, with nothing else: a plain
// Go reverse proxy, no authentication, no encryption, no hashing, every
// request and response forwarded unchanged (MinIO checks the clients'
// signatures itself). Any gateway in front of MinIO does at least this
// work, so the pass-through's ratio to MinIO direct is an upper bound on
// what an encrypting gateway can reach in the same run: a target above it
// is out of reach on this machine, however good the gateway.
//
// It runs as a process of its own (the bench binary started with
// -passthrough URL), so that its CPU time and memory are measured like a
// gateway's and -pin puts it on the gateways' core.

// passthroughFlag is the hidden flag that turns the bench into the proxy.
const passthroughFlag = "-passthrough"

// newPassthrough returns the reverse proxy to backend (a loopback
// http://host:port). The Host header is kept as the client sent it,
// because the client's SigV4 signature covers it and MinIO verifies it.
func newPassthrough(backend string) (*httputil.ReverseProxy, error) {
	u, err := url.Parse(backend)
	if err != nil {
		return nil, err
	}
	if h, _, _ := net.SplitHostPort(u.Host); u.Scheme != "http" || h != "127.0.0.1" {
		return nil, fmt.Errorf("passthrough: refusing backend %q (only http://127.0.0.1:PORT)", backend)
	}
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		// As many idle connections as the load has workers and more: with
		// Go's default of 2 per host every request past the second would
		// open a new connection to MinIO.
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = u.Scheme, u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport:  tr,
		BufferPool: bufferPool{},
		ErrorLog:   log.New(os.Stderr, "passthrough: ", 0),
	}, nil
}

var proxyBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// bufferPool lends the proxy 64 KiB copy buffers (its default is a new
// 32 KiB buffer per response).
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *proxyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { proxyBuffers.Put(&b) }

// runPassthrough serves the proxy to backend on a free loopback port,
// announces it with a JSON "ready" record on stderr (as ssegate does, so
// startGateway's reader finds it) and serves until SIGTERM or SIGINT.
func runPassthrough(backend string) error {
	rp, err := newPassthrough(backend)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	ready, _ := json.Marshal(map[string]string{"msg": "ready", "endpoint": "http://" + ln.Addr().String()})
	fmt.Fprintf(os.Stderr, "%s\n", ready)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// startPassthrough runs this bench binary as the pass-through proxy to
// backend and returns it once ready.
func startPassthrough(ctx context.Context, backend string) (*gatewayProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startProc(ctx, "passthrough proxy", exec.Command(self, passthroughFlag, backend))
}
