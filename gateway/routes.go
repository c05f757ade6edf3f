package gateway

import (
	"github.com/ssegate/ssegate/store"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// route is one S3 operation: the method, the query parameters (sub-
// resources) and headers that must be present, and its handler. A route
// never matches a request carrying a sub-resource it does not name, so
// "GET /bucket?acl" cannot fall through to ListObjects.
type route struct {
	op      string
	method  string
	queries []string
	headers []string
	h       handlerFunc
}

// The whole S3 API surface, one table per addressing scope. Order matters:
// the first matching route wins, so the more specific come first.
func (s *Server) serviceRoutes() []route {
	return []route{
		{op: "ListBuckets", method: http.MethodGet, h: s.listBuckets},
	}
}

func (s *Server) bucketRoutes() []route {
	return []route{
		{op: "GetBucketLocation", method: http.MethodGet, queries: []string{"location"}, h: s.getBucketLocation},
		{op: "GetBucketVersioning", method: http.MethodGet, queries: []string{"versioning"}, h: s.getBucketVersioning},
		{op: "ListMultipartUploads", method: http.MethodGet, queries: []string{"uploads"}, h: s.listMultipartUploads},
		{op: "ListObjectsV2", method: http.MethodGet, queries: []string{"list-type"}, h: s.listObjectsV2},
		{op: "ListObjects", method: http.MethodGet, h: s.listObjectsV1},
		{op: "DeleteObjects", method: http.MethodPost, queries: []string{"delete"}, h: s.deleteObjects},
		{op: "PutBucketEncryption", method: http.MethodPut, queries: []string{"encryption"}, h: s.putBucketEncryption},
		{op: "GetBucketEncryption", method: http.MethodGet, queries: []string{"encryption"}, h: s.getBucketEncryption},
		{op: "DeleteBucketEncryption", method: http.MethodDelete, queries: []string{"encryption"}, h: s.deleteBucketEncryption},
		{op: "PutBucketPolicy", method: http.MethodPut, queries: []string{"policy"}, h: s.putBucketPolicy},
		{op: "GetBucketPolicy", method: http.MethodGet, queries: []string{"policy"}, h: s.getBucketPolicy},
		{op: "DeleteBucketPolicy", method: http.MethodDelete, queries: []string{"policy"}, h: s.deleteBucketPolicy},
		{op: "CreateBucket", method: http.MethodPut, h: s.createBucket},
		{op: "HeadBucket", method: http.MethodHead, h: s.headBucket},
		{op: "DeleteBucket", method: http.MethodDelete, h: s.deleteBucket},
	}
}

func (s *Server) objectRoutes() []route {
	return []route{
		{op: "UploadPartCopy", method: http.MethodPut, queries: []string{"partNumber", "uploadId"}, headers: []string{"X-Amz-Copy-Source"}, h: s.uploadPartCopy},
		{op: "UploadPart", method: http.MethodPut, queries: []string{"partNumber", "uploadId"}, h: s.uploadPart},
		{op: "PutObjectTagging", method: http.MethodPut, queries: []string{"tagging"}, h: s.putObjectTagging},
		{op: "CopyObject", method: http.MethodPut, headers: []string{"X-Amz-Copy-Source"}, h: s.copyObject},
		{op: "PutObject", method: http.MethodPut, h: s.putObject},
		{op: "ListParts", method: http.MethodGet, queries: []string{"uploadId"}, h: s.listParts},
		{op: "GetObjectTagging", method: http.MethodGet, queries: []string{"tagging"}, h: s.getObjectTagging},
		{op: "GetObject", method: http.MethodGet, h: s.getObject},
		{op: "HeadObject", method: http.MethodHead, h: s.headObject},
		{op: "CreateMultipartUpload", method: http.MethodPost, queries: []string{"uploads"}, h: s.createMultipartUpload},
		{op: "CompleteMultipartUpload", method: http.MethodPost, queries: []string{"uploadId"}, h: s.completeMultipartUpload},
		{op: "AbortMultipartUpload", method: http.MethodDelete, queries: []string{"uploadId"}, h: s.abortMultipartUpload},
		{op: "DeleteObjectTagging", method: http.MethodDelete, queries: []string{"tagging"}, h: s.deleteObjectTagging},
		{op: "DeleteObject", method: http.MethodDelete, h: s.deleteObject},
	}
}

// subresources are the query parameters that select an S3 operation other
// than the plain one on a resource. Any of them not named by a route makes
// the request NotImplemented rather than a silently different operation.
var subresources = map[string]bool{
	"accelerate": true, "acl": true, "analytics": true, "attributes": true,
	"cors": true, "delete": true, "encryption": true, "intelligent-tiering": true,
	"inventory": true, "legal-hold": true, "lifecycle": true, "list-type": true,
	"location": true, "logging": true, "metrics": true, "notification": true,
	"object-lock": true, "ownershipControls": true, "partNumber": false,
	"policy": true, "policyStatus": true, "publicAccessBlock": true,
	"replication": true, "requestPayment": true, "restore": true,
	"retention": true, "select": true, "tagging": true, "torrent": true,
	"uploadId": true, "uploads": true, "versioning": true, "versions": true,
	"website": true, "session": true, "metadataConfiguration": true,
}

func (rt route) matcher() mux.MatcherFunc {
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		if r.Method != rt.method {
			return false
		}
		q := r.URL.Query()
		for _, name := range rt.queries {
			if _, ok := q[name]; !ok {
				return false
			}
		}
		for _, name := range rt.headers {
			if r.Header.Get(name) == "" {
				return false
			}
		}
		for name := range q {
			if subresources[name] && !contains(rt.queries, name) {
				return false
			}
		}
		return true
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// routes builds the router: the KMS JSON API, then virtual-host-style
// addressing for each configured domain, then path style.
func (s *Server) routes() *mux.Router {
	m := mux.NewRouter()
	// Keys may contain "//", "..", "%2F": never clean or redirect paths, and
	// match on the escaped path so that an encoded "/" stays in the key.
	m.SkipClean(true)
	m.UseEncodedPath()

	// The IAM Query API: S3 never signs for service "iam", so the
	// credential scope routes it (also when Users is nil, to say why).
	m.MatcherFunc(isIAMRequest).Handler(http.HandlerFunc(s.serveIAM))

	if s.deps.KMSAPI != nil {
		// Any X-Amz-Target is a JSON-protocol request (S3 never sends
		// one): the KMS API answers unknown targets with a JSON
		// UnknownOperationException a KMS client can parse, where S3 XML
		// would be unreadable to it.
		m.Methods(http.MethodPost).Path("/").
			HeadersRegexp("X-Amz-Target", `.`).
			Handler(http.HandlerFunc(s.serveKMS))
	}

	for _, d := range s.cfg.Domains {
		vh := m.Host("{bucket:.+}." + d).Subrouter()
		s.mount(vh.Path("/").Subrouter(), s.bucketRoutes(), scopeBucket)
		s.mount(vh.Path("/{key:.+}").Subrouter(), s.objectRoutes(), scopeObject)
	}
	s.mount(m.Path("/").Subrouter(), s.serviceRoutes(), scopeService)
	s.mount(m.Path("/{bucket:[^/]+}").Subrouter(), s.bucketRoutes(), scopeBucket)
	s.mount(m.Path("/{bucket:[^/]+}/").Subrouter(), s.bucketRoutes(), scopeBucket)
	s.mount(m.Path("/{bucket:[^/]+}/{key:.+}").Subrouter(), s.objectRoutes(), scopeObject)
	m.NotFoundHandler = s.s3("Unknown", notImplemented)
	m.MethodNotAllowedHandler = s.s3("Unknown", notImplemented)
	return m
}

type scope int

const (
	scopeService scope = iota
	scopeBucket
	scopeObject
)

func (s *Server) mount(sub *mux.Router, routes []route, sc scope) {
	for _, rt := range routes {
		// Authorization runs after authentication (s3) and after the
		// target is decoded (withTarget), before any handler.
		sub.MatcherFunc(rt.matcher()).Handler(s.s3(rt.op, withTarget(sc, s.authorized(rt.op, rt.h))))
	}
	sub.NewRoute().Handler(s.s3("Unknown", notImplemented))
}

func notImplemented(http.ResponseWriter, *http.Request) error { return errNotImplemented }

// withTarget decodes and validates the bucket and key from the route
// variables before the handler runs, so handlers can trust them.
func withTarget(sc scope, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if sc == scopeService {
			return h(w, r)
		}
		vars := mux.Vars(r)
		bucket, err := url.PathUnescape(vars["bucket"])
		if err != nil || checkBucketName(bucket) != nil {
			return errInvalidBucketName
		}
		ri := requestInfo(r)
		ri.bucket = bucket
		if sc == scopeObject {
			key, err := url.PathUnescape(vars["key"])
			if err != nil {
				return errInvalidObjectName
			}
			if err := checkObjectKey(key); err != nil {
				return err
			}
			ri.key = key
		}
		return h(w, r)
	}
}

// checkObjectKey applies S3's key rules: 1..1024 bytes of valid UTF-8.
func checkObjectKey(key string) error {
	if len(key) > 1024 {
		return errKeyTooLong
	}
	if key == "" || !utf8.ValidString(key) {
		return errInvalidObjectName
	}
	return nil
}

// checkBucketName applies the S3 general-purpose bucket naming rules: the
// store's (length, characters, dots, no IP address) plus the prefixes and
// suffixes AWS reserves.
func checkBucketName(b string) error {
	if store.CheckBucketName(b) != nil {
		return errInvalidBucketName
	}
	if strings.HasPrefix(b, "xn--") || strings.HasPrefix(b, "sthree-") ||
		strings.HasSuffix(b, "-s3alias") || strings.HasSuffix(b, "--ol-s3") {
		return errInvalidBucketName
	}
	return nil
}
