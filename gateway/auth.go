package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/kms"
)

// authResult is what authentication established about a request.
type authResult struct {
	AccessKey string
	ARN       string
}

// authenticate verifies r's SigV4 signature for service and replaces r.Body
// with the decoded payload, which verifies the signed payload hash or the
// aws-chunked signatures and fails before EOF. There is no anonymous access.
func (s *Server) authenticate(r *http.Request, service string) error {
	store := s.credentials()
	creds := sigv4.CredentialsFunc(func(ak string) (string, bool) {
		c, ok := store.Lookup(ak)
		return c.SecretKey, ok
	})
	region := s.cfg.Region
	if service == "iam" && scopeRegion(r) == iamSigningRegion {
		// IAM is global: clients sign it for us-east-1 whatever the
		// gateway's region (the configured region is accepted too).
		region = iamSigningRegion
	}
	res, err := sigv4.Verify(r, creds, sigv4.Options{Region: region, Services: []string{service}, Now: s.now})
	if err != nil {
		return err
	}
	cred, ok := store.Lookup(res.AccessKey)
	if !ok {
		return fmt.Errorf("%w: credential vanished during the request", sigv4.ErrInvalidAccessKeyID)
	}
	requestInfo(r).auth = authResult{AccessKey: res.AccessKey, ARN: cred.ARN}
	if r.Body == nil || r.Body == http.NoBody {
		if !res.Streaming() {
			return nil
		}
	}
	pr, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		return err
	}
	r.Body = payloadBody{pr, r.Body}
	if res.Streaming() {
		r.ContentLength = pr.Size()
		r.Header.Del("X-Amz-Decoded-Content-Length")
	}
	return nil
}

// payloadBody is the verified request body; it exposes the aws-chunked
// trailer to the checksum verifier.
type payloadBody struct {
	*sigv4.PayloadReader
	orig interface{ Close() error }
}

func (p payloadBody) Close() error {
	if p.orig == nil {
		return nil
	}
	return p.orig.Close()
}

// trailerSource is implemented by bodies that may carry trailing checksums.
type trailerSource interface {
	Trailer() http.Header
}

// serveKMS authenticates a KMS JSON API call with SigV4 (service "kms") and
// hands it to the KMS handler with the caller in the context. Errors use the
// KMS JSON error shape, not S3 XML.
func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := requestInfo(r)
	// Every answer, authentication failures included, is counted by the
	// target's operation and the __type the response carries; the label
	// helpers keep both to fixed sets (never key ids, aliases or ARNs).
	kw := &kmsResponseWriter{ResponseWriter: w}
	defer func() {
		s.metrics.observeKMSAPI(kmsOperationLabel(r.Header.Get("X-Amz-Target")), kw.code(), time.Since(start))
	}()
	w = kw
	if err := s.authenticate(r, "kms"); err != nil {
		typ, status := "UnrecognizedClientException", http.StatusBadRequest
		switch {
		case errors.Is(err, sigv4.ErrSignatureDoesNotMatch):
			typ = "InvalidSignatureException"
		case errors.Is(err, sigv4.ErrRequestTimeTooSkewed):
			typ = "InvalidSignatureException"
		case errors.Is(err, sigv4.ErrMissingAuth):
			typ = "MissingAuthenticationTokenException"
		case errors.Is(err, sigv4.ErrPayloadTooLarge):
			typ, status = "ValidationException", http.StatusRequestEntityTooLarge
		}
		msg := sigv4.Message(err)
		if msg == "" {
			msg = "The security token included in the request is invalid."
		}
		s.log.Debug("kms auth failed", "request_id", ri.id, "err", err)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
		return
	}
	caller := kms.Caller{AccessKey: ri.auth.AccessKey, ARN: ri.auth.ARN, RequestID: ri.id, SourceIP: sourceIP(r)}
	// Another ssegate using this KMS (--kms-endpoint) is S3 to it and says
	// so. Only the account root may claim it: the root can read anything
	// through S3 anyway, so the claim gives it nothing new, while a user
	// claiming it could use alias/aws/s3 outside S3.
	if via := r.Header.Get(kms.ViaServiceHeader); via != "" {
		if !strings.HasSuffix(ri.auth.ARN, ":root") || via != "s3."+s.cfg.Region+".amazonaws.com" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"AccessDeniedException","message":%q}`, "Only the account root may call the KMS via S3 ("+kms.ViaServiceHeader+").")
			return
		}
		caller.ViaService = via
	}
	ctx := kms.WithCaller(r.Context(), caller)
	s.deps.KMSAPI.ServeHTTP(w, r.WithContext(ctx))
}
