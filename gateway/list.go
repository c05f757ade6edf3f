package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ssegate/ssegate/gateway/checksum"
	"github.com/ssegate/ssegate/store"
)

// listParams are the parameters common to ListObjects v1 and v2.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func parseListParams(q url.Values) (listParams, error) {
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: 1000}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errInvalidArgument.with("Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, 1000)
	}
	switch q.Get("encoding-type") {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, errInvalidArgument.with("Invalid Encoding Method specified in Request")
	}
	return p, nil
}

func (p listParams) enc(s string) string {
	if p.urlEncode {
		return awsURIEncode(s, false)
	}
	return s
}

// list runs one page of a listing; max-keys 0 answers an empty page.
func (s *Server) list(r *http.Request, p listParams, startAfter string) (listPage, error) {
	bucket := requestInfo(r).bucket
	if p.maxKeys == 0 {
		_, err := s.deps.Store.HeadBucket(r.Context(), bucket)
		return listPage{}, err
	}
	return s.objects.list(r.Context(), bucket, store.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, StartAfter: startAfter, MaxKeys: p.maxKeys,
	})
}

func (p listParams) fill(res *listBucketResult, page listPage, own *owner) {
	res.Xmlns = s3XMLNS
	res.Prefix = p.enc(p.prefix)
	res.Delimiter = p.enc(p.delimiter)
	res.MaxKeys = p.maxKeys
	res.IsTruncated = page.IsTruncated
	if p.urlEncode {
		res.EncodingType = "url"
	}
	for _, o := range page.Objects {
		res.Contents = append(res.Contents, objectXML{
			Key: p.enc(o.Key), LastModified: s3Time(o.LastModified), ETag: quoteETag(o.ETag),
			Size: o.Size, Owner: own, StorageClass: "STANDARD",
		})
	}
	for _, cp := range page.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
	}
}

// ListObjects (v1). NextMarker is only sent with a delimiter, as S3; without
// one clients continue from the last key.
func (s *Server) listObjectsV1(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	page, err := s.list(r, p, marker)
	if err != nil {
		return err
	}
	own := ownerOf(r)
	m := p.enc(marker)
	res := listBucketResult{Name: requestInfo(r).bucket, Marker: &m}
	p.fill(&res, page, &own)
	if page.IsTruncated && p.delimiter != "" {
		res.NextMarker = p.enc(page.NextStartAfter)
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// ListObjectsV2. The continuation token is opaque to clients: base64url of
// the key to continue after.
func (s *Server) listObjectsV2(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("list-type") != "2" {
		return errInvalidArgument.with("Invalid list-type")
	}
	p, err := parseListParams(q)
	if err != nil {
		return err
	}
	startAfter := q.Get("start-after")
	token := q.Get("continuation-token")
	if _, given := q["continuation-token"]; given {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) == 0 {
			return errInvalidArgument.with("The continuation token provided is incorrect")
		}
		startAfter = string(raw)
	}
	page, err := s.list(r, p, startAfter)
	if err != nil {
		return err
	}
	var own *owner
	if q.Get("fetch-owner") == "true" {
		o := ownerOf(r)
		own = &o
	}
	kc := len(page.Objects) + len(page.CommonPrefixes)
	res := listBucketResult{
		Name: requestInfo(r).bucket, StartAfter: p.enc(q.Get("start-after")),
		ContToken: token, KeyCount: &kc,
	}
	p.fill(&res, page, own)
	if page.IsTruncated {
		res.NextContToken = base64.RawURLEncoding.EncodeToString([]byte(page.NextStartAfter))
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// DeleteObjects (POST ?delete). AWS requires an integrity check on this
// body: Content-MD5 or a flexible checksum.
func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	var req deleteRequest
	if err := readDigestedXML(r, &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 {
		return errMalformedXML
	}
	if len(req.Objects) > 1000 {
		return errTooManyKeys
	}
	res := deleteResult{Xmlns: s3XMLNS}
	for _, o := range req.Objects {
		err := checkObjectKey(o.Key)
		if err == nil {
			// Each key is authorized on its own; a denied key is an
			// AccessDenied entry in the result, as in S3.
			err = s.allowObject(r, "s3:DeleteObject", bucket, o.Key)
		}
		if err == nil {
			err = s.objects.delete(r.Context(), bucket, o.Key)
		}
		if err != nil {
			if errors.Is(err, store.ErrNoSuchBucket) {
				return err
			}
			api, internal := toAPIError(err)
			if internal {
				s.log.Error("delete object", "request_id", requestInfo(r).id, "err", err)
			}
			res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: api.Code, Message: api.Message})
			continue
		}
		if !req.Quiet {
			res.Deleted = append(res.Deleted, deletedXML{Key: o.Key})
		}
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

func hasChecksumHeader(h http.Header) bool {
	for _, a := range checksum.Algorithms {
		if h.Get(a.Header()) != "" {
			return true
		}
	}
	return false
}
