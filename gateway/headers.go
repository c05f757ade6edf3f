package gateway

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"
)

// storedHeaders are the standard object headers S3 keeps and returns.
var storedHeaders = []string{
	"Cache-Control", "Content-Disposition", "Content-Encoding",
	"Content-Language", "Content-Type", "Expires", "X-Amz-Website-Redirect-Location",
}

const (
	maxUserMetadata = 2048
	maxTags         = 10
	maxTagKey       = 128
	maxTagValue     = 256
)

// objectMetaFrom reads what a client sets on an object from PutObject,
// CopyObject (REPLACE) or CreateMultipartUpload headers.
func objectMetaFrom(r *http.Request) (objectMeta, error) {
	m := objectMeta{Headers: map[string]string{}}
	for _, h := range storedHeaders {
		v := r.Header.Get(h)
		if h == "Content-Encoding" {
			v = stripAWSChunked(v)
		}
		if v != "" {
			m.Headers[strings.ToLower(h)] = v
		}
	}
	userSize := 0
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		suffix, ok := strings.CutPrefix(lower, "x-amz-meta-")
		if !ok {
			continue
		}
		v := strings.Join(vals, ",")
		userSize += len(suffix) + len(v)
		m.Headers[lower] = v
	}
	if userSize > maxUserMetadata {
		return m, errMetadataTooLarge
	}
	if sc := r.Header.Get("X-Amz-Storage-Class"); sc != "" && sc != "STANDARD" {
		return m, errInvalidStorageClass
	}
	if t := r.Header.Get("X-Amz-Tagging"); t != "" {
		tags, err := parseTagQuery(t)
		if err != nil {
			return m, err
		}
		m.Tags = encodeTags(tags)
	}
	return m, nil
}

// stripAWSChunked removes the transfer framing S3 SDKs list in
// Content-Encoding; it describes the request, not the object.
func stripAWSChunked(v string) string {
	var keep []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// setObjectHeaders writes an object's stored headers on a GET/HEAD response.
func setObjectHeaders(w http.ResponseWriter, info objectInfo) {
	h := w.Header()
	h.Set("Content-Type", "binary/octet-stream")
	for name, v := range info.Headers {
		if strings.HasPrefix(name, "x-amz-meta-") {
			h[name] = []string{v} // S3 answers user metadata names in lower case
			continue
		}
		h.Set(name, v)
	}
	h.Set("ETag", quoteETag(info.ETag))
	h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if n := len(tagsOf(info)); n > 0 {
		h.Set("x-amz-tagging-count", itoa(n))
	}
}

// responseOverrides are the GetObject query parameters that override
// response headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func applyResponseOverrides(w http.ResponseWriter, q url.Values) {
	for p, h := range responseOverrides {
		if v := q.Get(p); v != "" {
			w.Header().Set(h, v)
		}
	}
}

type tag struct{ Key, Value string }

// parseTagQuery parses x-amz-tagging ("k1=v1&k2=v2") and validates it.
func parseTagQuery(s string) ([]tag, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, errInvalidTag.with("The tag string is not valid URL query encoding")
	}
	var tags []tag
	for k, vs := range vals {
		if len(vs) != 1 {
			return nil, errInvalidTag.with("Cannot provide multiple Tags with the same key")
		}
		tags = append(tags, tag{k, vs[0]})
	}
	return tags, checkTags(tags)
}

func checkTags(tags []tag) error {
	if len(tags) > maxTags {
		return errBadRequestTags
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > maxTagKey || !utf8.ValidString(t.Key) {
			return errInvalidTag.with("The TagKey you have provided is invalid")
		}
		if utf8.RuneCountInString(t.Value) > maxTagValue || !utf8.ValidString(t.Value) {
			return errInvalidTag.with("The TagValue you have provided is invalid")
		}
		if seen[t.Key] {
			return errInvalidTag.with("Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

var errBadRequestTags = &apiError{"BadRequest", 400, "Object tags cannot be greater than 10"}

// encodeTags is the canonical (sorted) URL query encoding of a tag set.
func encodeTags(tags []tag) string {
	vals := url.Values{}
	for _, t := range tags {
		vals.Set(t.Key, t.Value)
	}
	return vals.Encode()
}

func tagsOf(info objectInfo) []tag {
	if info.Tags == "" {
		return nil
	}
	vals, err := url.ParseQuery(info.Tags)
	if err != nil {
		return nil
	}
	tags := make([]tag, 0, len(vals))
	for k, vs := range vals {
		tags = append(tags, tag{k, vs[0]})
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}
