package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// shutdownTimeout bounds how long in-flight requests (a large upload, say)
// may run after SIGTERM before the listener is torn down.
const shutdownTimeout = 30 * time.Second

// adminShutdownTimeout is the admin listener's share of it.
const adminShutdownTimeout = 2 * time.Second

// app is what wire builds: the root handler and how to release what it
// opened (KMS database, audit log, backend connections).
type app struct {
	handler http.Handler
	admin   http.Handler // served only with --admin-listen
	close   func() error
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the gateway until ctx is cancelled (SIGINT/SIGTERM), then
// shuts down gracefully.
//
// With --print-config it prints the effective configuration to standard
// output instead and returns without opening anything.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	if cfg.PrintConfig {
		// run passes serve no stdout; the binary's is the right place
		// (ssegate serve --print-config > ssegate.conf).
		return printConfig(os.Stdout, cfg)
	}
	logger := newLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	creds := rootCredentials{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey}
	created := false
	if creds.AccessKey == "" {
		var err error
		if creds, created, err = loadOrCreateCredentials(cfg.DataDir); err != nil {
			return err
		}
	}

	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	a, err := wire(ctx, cfg, creds, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := a.close(); err != nil {
			logger.Error("close", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           bodyWriteDeadline(bodyReadDeadline(a.handler, cfg.BodyReadTimeout), cfg.BodyWriteTimeout),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// No ReadTimeout or WriteTimeout: uploads and downloads of any
		// size must be able to take hours. A stalled body is cut off by
		// bodyReadDeadline instead, a client that stops reading its
		// response by bodyWriteDeadline; headers are bounded by
		// MaxHeaderBytes (net/http answers 431 above it).
		MaxHeaderBytes: maxHeaderBytes,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()

	var admin *http.Server
	if cfg.AdminListen != "" {
		aln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		admin = &http.Server{
			Handler:           a.admin,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		// Close covers every return path; the graceful path below
		// calls Shutdown first.
		defer admin.Close()
		go func() {
			if err := admin.Serve(aln); !errors.Is(err, http.ErrServerClosed) {
				logger.Error("admin listener", "err", err)
			}
		}()
		// Plain HTTP on purpose: it carries no user data and no credentials.
		logger.Info("admin ready", "addr", aln.Addr().String())
	}

	endpoint := endpointURL(ln.Addr(), tlsConfig != nil)
	if created {
		fmt.Fprint(stderr, credentialsBanner(creds, cfg.Region, endpoint, filepath.Join(cfg.DataDir, credentialsFile)))
	}
	// Tests and scripts wait for this line; with --listen :0 it is the only
	// way to learn the port.
	logger.Info("ready", "addr", ln.Addr().String(), "endpoint", endpoint,
		"access_key", creds.AccessKey, "config", cfg.String())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", shutdownTimeout)
	shCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if admin != nil {
		// A long pprof profile or trace may still be running: give the
		// admin listener a short grace period, then the deferred Close.
		adCtx, adCancel := context.WithTimeout(shCtx, adminShutdownTimeout)
		_ = admin.Shutdown(adCtx)
		adCancel()
	}
	if err := srv.Shutdown(shCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// maxHeaderBytes bounds a request's header block. S3 allows 8 KiB of user
// metadata and a presigned URL or SigV4 header is a few KiB; 1 MiB leaves
// room for every client while capping what a hostile one can make us hold.
const maxHeaderBytes = 1 << 20

// bodyReadDeadline gives every read of a request body a fresh read
// deadline of idle, so a client that stops sending mid-body is cut off
// (its upload fails and nothing is stored) instead of holding a goroutine,
// a connection and a backend upload forever. Unlike http.Server's
// ReadTimeout it does not bound the whole transfer, only each wait.
func bodyReadDeadline(h http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	ended bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.ended {
		return b.ReadCloser.Read(p)
	}
	// Errors (a connection type without deadlines) leave the body
	// without one, as before.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		// Clear the deadline once the body is done: net/http's background
		// read (which watches for the client going away while the handler
		// still works, e.g. completing a multipart upload) would otherwise
		// time out and cancel the request's context.
		b.ended = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// bodyWriteDeadline bounds each wait to hand response bytes to the client.
// A client that stops reading a download (the response fills the socket
// buffers and Write blocks) would otherwise hold its goroutine, its pooled
// buffer and a backend connection forever; with the deadline the write
// fails after idle, the handler returns and the connection is closed. A
// slow but steady reader is unaffected: the deadline moves with every
// write. The deadline is cleared when a request starts (a kept-alive
// connection must not inherit the previous response's) and set once more
// when the handler returns, so the final flush is bounded too.
func bodyWriteDeadline(h http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// Errors (a connection type without deadlines) leave the response
		// without one, as before.
		_ = rc.SetWriteDeadline(time.Time{})
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, idle: idle}, r)
		_ = rc.SetWriteDeadline(time.Now().Add(idle))
	})
}

type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.idle))
	return d.ResponseWriter.Write(p)
}

// Flush keeps the gateway's own writers (which flush through
// http.Flusher) working through the wrapper.
func (d *deadlineWriter) Flush() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.idle))
	_ = d.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

func endpointURL(addr net.Addr, useTLS bool) string {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
