package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ssegate/ssegate/kms"
)

// Server is the S3 (and mounted KMS) HTTP API. It is an http.Handler.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	router  *mux.Router
	objects *objectLayer
	now     func() time.Time
	// encCache caches bucketEncryption per bucket; its zero value is ready.
	encCache bucketCache[bucketSSE]
	// authzCache caches each bucket's owner and policy; zero value ready.
	authzCache bucketCache[bucketAuthzState]
	metrics    *metrics
}

// New checks cfg and deps and builds the route table.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil {
		return nil, errors.New("gateway: Deps.Store is required")
	}
	if deps.Credentials == nil {
		return nil, errors.New("gateway: Deps.Credentials is required")
	}
	if deps.KMS == nil {
		return nil, errors.New("gateway: Deps.KMS is required (every object is encrypted)")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	for i, d := range cfg.Domains {
		cfg.Domains[i] = strings.ToLower(strings.TrimSuffix(d, "."))
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := newMetrics()
	authz, _ := deps.KMS.(kms.Authorizer)
	keys := newKeyring(instrumentedKMS{deps.KMS, m}, nil).withSSES3Key(cfg.SSES3KeyID).withRegion(cfg.Region).withAuthorizer(authz)
	keys.onCache = m.keyringLookup
	s := &Server{
		cfg:     cfg,
		deps:    deps,
		log:     log,
		objects: &objectLayer{store: deps.Store, keys: keys, log: log, compression: cfg.Compression},
		now:     time.Now,
		metrics: m,
	}
	s.router = s.routes()
	return s, nil
}

// Close releases nothing today; it exists so callers can defer it.
func (s *Server) Close() error { return nil }

// ServeHTTP gives every request an id (x-amz-request-id, x-amz-id-2) before
// routing, so that every response, including routing errors, carries them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	w.Header().Set("x-amz-request-id", id)
	w.Header().Set("x-amz-id-2", base64.StdEncoding.EncodeToString([]byte(id+id)))
	w.Header().Set("Server", "ssegate")
	ctx := context.WithValue(r.Context(), reqInfoKey{}, &reqInfo{id: id})
	s.router.ServeHTTP(w, r.WithContext(ctx))
}

// handlerFunc is the shape of every S3 handler: it writes a success response
// or returns an error, which writeError turns into S3 XML.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type reqInfoKey struct{}

// reqInfo is what the gateway knows about a request beyond *http.Request.
type reqInfo struct {
	id     string
	auth   authResult
	bucket string // validated, set for bucket and object routes
	key    string // validated, set for object routes
}

func requestInfo(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// s3 wraps a handler with SigV4 authentication (service "s3"), the one
// error adapter, metrics and the access log.
func (s *Server) s3(op string, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		tw := &trackingWriter{ResponseWriter: w, status: http.StatusOK}
		// Count the body as received on the wire (aws-chunked framing
		// included), before authenticate replaces it with the payload.
		var in *countingReader
		if r.Body != nil && r.Body != http.NoBody {
			in = &countingReader{ReadCloser: r.Body}
			r.Body = in
		}
		err := s.authenticate(r, "s3")
		if err == nil {
			err = h(tw, r)
		}
		abort := false
		if err != nil {
			abort = s.writeError(tw, r, op, err)
		}
		var bytesIn int64
		if in != nil {
			bytesIn = in.n
		}
		d := time.Since(start)
		mode := responseSSEMode(tw.Header())
		s.metrics.observe(op, tw.status, bytesIn, tw.n, mode, d, err)
		ri := requestInfo(r)
		// One line per request. It names the operation, target and
		// outcome, never headers or query values, which may carry SSE-C
		// keys or presigned signatures.
		s.log.Info("access", "request_id", ri.id, "op", op, "bucket", ri.bucket, "key", ri.key,
			"status", tw.status, "bytes_in", bytesIn, "bytes_out", tw.n, "duration", d,
			"sse", mode, "access_key", ri.auth.AccessKey, "aborted", abort)
		if abort {
			// After the access line and the metrics, so that an aborted
			// download is counted and logged like any other request.
			panic(http.ErrAbortHandler)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// writeError sends err as an S3 XML error. If the response has already
// started (a GET whose backend read failed midway, or whose client stopped
// reading), the only honest thing left is to abort the connection so the
// client sees a truncated body: writeError then writes nothing and returns
// true, and the caller aborts once it has logged the request.
func (s *Server) writeError(w *trackingWriter, r *http.Request, op string, err error) (abort bool) {
	api, internal := toAPIError(err)
	ri := requestInfo(r)
	if internal {
		s.log.Error("internal error", "op", op, "request_id", ri.id, "err", err)
	} else {
		s.log.Debug("request failed", "op", op, "request_id", ri.id, "code", api.Code, "err", err)
	}
	if w.started {
		return true
	}
	if api.Status == http.StatusNotModified {
		w.WriteHeader(http.StatusNotModified)
		return false
	}
	resource := r.URL.Path
	body := errorResponse{Code: api.Code, Message: api.Message, Resource: resource, RequestID: ri.id}
	// A request whose body we did not read may still be streaming in; closing
	// keeps a client from blocking on a full socket after an early error.
	if r.Body != nil && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(api.Status)
		return false
	}
	writeXML(w, api.Status, body)
	return false
}

// trackingWriter records whether the status line has been sent, the
// status and the body bytes written.
type trackingWriter struct {
	http.ResponseWriter
	started bool
	status  int
	n       int64
}

func (w *trackingWriter) WriteHeader(code int) {
	if !w.started {
		w.status = code
	}
	w.started = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.started = true
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *trackingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
