package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// parseCopySource decodes x-amz-copy-source ("/bucket/key" or
// "bucket/key", URL-encoded, optionally "?versionId=null").
func parseCopySource(v string) (bucket, key string, err error) {
	path, query, _ := strings.Cut(v, "?")
	if query != "" {
		q, perr := url.ParseQuery(query)
		if perr != nil || (q.Get("versionId") != "" && q.Get("versionId") != "null") {
			return "", "", errInvalidArgument.with("Invalid version id specified")
		}
	}
	path, err = url.PathUnescape(path)
	if err != nil {
		return "", "", errInvalidArgument.with("Invalid copy source encoding")
	}
	path = strings.TrimPrefix(path, "/")
	bucket, key, ok := strings.Cut(path, "/")
	if !ok || checkBucketName(bucket) != nil {
		return "", "", errInvalidArgument.with("Invalid copy source bucket name")
	}
	if err := checkObjectKey(key); err != nil {
		return "", "", errInvalidArgument.with("Invalid copy source object key")
	}
	return bucket, key, nil
}

// CopyObject. With the COPY directive the destination keeps the source's
// headers and tags; REPLACE takes them from this request. A copy onto
// itself that changes nothing is refused, as S3 does.
func (s *Server) copyObject(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	// Reading the source is s3:GetObject on it, besides s3:PutObject on
	// the target (checked before the handler).
	if err := s.allowObject(r, "s3:GetObject", srcBucket, srcKey); err != nil {
		return err
	}
	directive := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument.with("Unknown metadata directive.")
	}
	tagDirective := strings.ToUpper(r.Header.Get("X-Amz-Tagging-Directive"))
	if tagDirective != "" && tagDirective != "COPY" && tagDirective != "REPLACE" {
		return errInvalidArgument.with("Unknown tagging directive.")
	}
	reqMeta, err := objectMetaFrom(r)
	if err != nil {
		return err
	}
	srcCK, err := s.customerKey(r, true)
	if err != nil {
		return err
	}
	enc, err := s.encryptionFor(r, ri.bucket)
	if err != nil {
		return err
	}
	src, err := s.objects.head(r.Context(), srcBucket, srcKey)
	if err != nil {
		return err
	}
	if err := checkCustomerKey(src.SSE, srcCK); err != nil {
		return err
	}
	if err := checkCopySourceConditions(r, src); err != nil {
		return err
	}
	if src.Size > maxObjectSize {
		return errInvalidRequest.with("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	// A self-copy must change something: metadata (REPLACE) or the
	// encryption (new SSE headers: how users rotate an object's key).
	if srcBucket == ri.bucket && srcKey == ri.key && directive != "REPLACE" && !hasSSEHeaders(r) {
		return errInvalidRequest.with("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	m := objectMeta{Headers: src.Headers, Tags: src.Tags}
	if directive == "REPLACE" {
		m.Headers = reqMeta.Headers
	}
	if tagDirective == "REPLACE" {
		m.Tags = reqMeta.Tags
	}
	info, err := s.objects.copy(r.Context(), srcBucket, srcKey, src, srcCK, ri.bucket, ri.key, m, enc)
	if err != nil {
		return err
	}
	setSSEHeaders(w.Header(), info.SSE, true)
	writeXML(w, http.StatusOK, copyObjectResult{Xmlns: s3XMLNS, LastModified: s3Time(info.LastModified), ETag: quoteETag(info.ETag)})
	return nil
}

// hasSSEHeaders reports whether r asks for an encryption of its own.
func hasSSEHeaders(r *http.Request) bool {
	return r.Header.Get("X-Amz-Server-Side-Encryption") != "" || r.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != ""
}
