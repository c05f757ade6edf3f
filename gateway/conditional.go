package gateway

import (
	"net/http"
	"strings"
	"time"
)

// checkReadConditions applies If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since to a GET or HEAD with RFC 7232 precedence, which is
// what S3 does: a true If-Match overrides a false If-Unmodified-Since, and a
// false If-None-Match overrides a true If-Modified-Since (304 both ways).
func checkReadConditions(r *http.Request, info objectInfo) error {
	lm := info.LastModified.Truncate(time.Second)
	if v := r.Header.Get("If-Match"); v != "" {
		if !etagMatches(v, info.ETag) {
			return errPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(r.Header.Get("If-Unmodified-Since")); ok && lm.After(t) {
		return errPreconditionFailed
	}
	if v := r.Header.Get("If-None-Match"); v != "" {
		if etagMatches(v, info.ETag) {
			return errNotModified
		}
	} else if t, ok := parseHTTPTime(r.Header.Get("If-Modified-Since")); ok && !lm.After(t) {
		return errNotModified
	}
	return nil
}

// checkCopySourceConditions applies x-amz-copy-source-if-* to a copy
// source; every failure is 412 (a copy has no "not modified").
func checkCopySourceConditions(r *http.Request, info objectInfo) error {
	lm := info.LastModified.Truncate(time.Second)
	h := r.Header
	if v := h.Get("X-Amz-Copy-Source-If-Match"); v != "" {
		if !etagMatches(v, info.ETag) {
			return errPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(h.Get("X-Amz-Copy-Source-If-Unmodified-Since")); ok && lm.After(t) {
		return errPreconditionFailed
	}
	if v := h.Get("X-Amz-Copy-Source-If-None-Match"); v != "" {
		if etagMatches(v, info.ETag) {
			return errPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(h.Get("X-Amz-Copy-Source-If-Modified-Since")); ok && !lm.After(t) {
		return errPreconditionFailed
	}
	return nil
}

// etagMatches reports whether an If-Match/If-None-Match list names etag.
func etagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPTime(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		// S3 ignores a date it cannot parse.
		return time.Time{}, false
	}
	return t, true
}
