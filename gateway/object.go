package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ssegate/ssegate/store"
)

const maxObjectSize = 5 << 30 // single PUT limit, as S3

// PutObject
func (s *Server) putObject(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	size := r.ContentLength
	if size < 0 {
		return errMissingContentLength
	}
	if size > maxObjectSize {
		return errEntityTooLarge
	}
	m, err := objectMetaFrom(r)
	if err != nil {
		return err
	}
	if err := s.checkWriteConditions(r, ri.bucket, ri.key); err != nil {
		return err
	}
	enc, err := s.encryptionFor(r, ri.bucket)
	if err != nil {
		return err
	}
	body, err := newBodyReader(r, size)
	if err != nil {
		return err
	}
	info, err := s.objects.put(r.Context(), ri.bucket, ri.key, body, m, enc)
	if err != nil {
		return err
	}
	setSSEHeaders(w.Header(), info.SSE, true)
	w.Header().Set("ETag", quoteETag(info.ETag))
	if body.algo() != "" {
		w.Header().Set("x-amz-checksum-"+body.algo(), body.Checksum())
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// checkWriteConditions implements conditional PutObject: If-None-Match: *
// refuses to overwrite, If-Match requires the current ETag. The check is
// not atomic with the write (the store has no compare-and-swap).
func (s *Server) checkWriteConditions(r *http.Request, bucket, key string) error {
	inm, im := r.Header.Get("If-None-Match"), r.Header.Get("If-Match")
	if inm == "" && im == "" {
		return nil
	}
	if inm != "" && strings.TrimSpace(inm) != "*" {
		return errNotImplemented.with("If-None-Match on PUT supports only \"*\"")
	}
	info, err := s.objects.head(r.Context(), bucket, key)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if inm != "" && exists {
		return errPreconditionFailed
	}
	if im != "" {
		if !exists {
			return errNoSuchKey
		}
		if !etagMatches(im, info.ETag) {
			return errPreconditionFailed
		}
	}
	return nil
}

// GetObject
func (s *Server) getObject(w http.ResponseWriter, r *http.Request) error {
	return s.readObject(w, r, true)
}

// HeadObject: GetObject without a body; errors have no body either.
func (s *Server) headObject(w http.ResponseWriter, r *http.Request) error {
	return s.readObject(w, r, false)
}

func (s *Server) readObject(w http.ResponseWriter, r *http.Request, withBody bool) error {
	ri := requestInfo(r)
	q := r.URL.Query()
	if v := q.Get("versionId"); v != "" && v != "null" {
		return errInvalidArgument.with("Invalid version id specified")
	}
	partNumber := 0
	if v := q.Get("partNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxParts {
			return errInvalidArgument.with("Part number must be an integer between 1 and 10000, inclusive")
		}
		if r.Header.Get("Range") != "" {
			return errInvalidRequest.with("Cannot specify both Range header and partNumber query parameter")
		}
		partNumber = n
	}
	ck, err := s.readKey(r)
	if err != nil {
		return err
	}
	// Cancelled when the body copy stops early, to unblock a backend read
	// (pipeCopy), and in any case on return.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The object may be replaced between head and open; start over so the
	// bytes always match the headers.
	// A whole-object GET reads metadata and body in one backend request,
	// and so does a range with a first byte: it asks for the ciphertext
	// window that range has in a single-part object (cipherWindow), which
	// openWith uses only if the real layout asks for exactly that.
	whole := withBody && partNumber == 0 && r.Header.Get("Range") == ""
	ra, rb, ranged := explicitRange(r.Header.Get("Range"))
	speculate := withBody && partNumber == 0 && ranged
	for attempt := 0; ; attempt++ {
		var (
			info objectInfo
			pre  *prefetched
			err  error
		)
		switch {
		case whole:
			info, pre, err = s.objects.get(ctx, ri.bucket, ri.key)
		case speculate:
			off, n := cipherWindow(ra, rb)
			info, pre, err = s.objects.getRange(ctx, ri.bucket, ri.key, off, n)
			if errors.Is(err, store.ErrInvalidRange) {
				// Starts past the stored end: the range is unsatisfiable
				// (or the object empty); head gives the 416 its headers.
				info, err = s.objects.head(ctx, ri.bucket, ri.key)
			}
		default:
			info, err = s.objects.head(ctx, ri.bucket, ri.key)
		}
		if err != nil {
			return err
		}
		if pre != nil {
			defer pre.Close()
		}
		// S3 checks the SSE-C key before conditions: 400 without it, 403
		// with another one, before any decryption is tried.
		if err := checkCustomerKey(info.SSE, ck); err != nil {
			return err
		}
		if err := checkReadConditions(r, info); err != nil {
			if errors.Is(err, errNotModified) {
				w.Header().Set("ETag", quoteETag(info.ETag))
				w.Header().Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
			}
			return err
		}
		rng, err := resolveRange(r.Header.Get("Range"), partNumber, info)
		if err != nil {
			if err == errInvalidRange {
				// As S3 and RFC 9110: say what would have been satisfiable.
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
			}
			return err
		}
		if !withBody {
			writeObjectHeaders(w, r, info, rng)
			return nil
		}
		body, err := s.objects.openWith(ctx, ri.bucket, ri.key, info, ck, rng.start, rng.length, pre)
		if errors.Is(err, errObjectChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		defer body.Close()
		// Decrypt the first bytes before any header is sent: a replaced
		// object is retried and a damaged one answers a clean 500, instead
		// of a response that starts and then breaks.
		buf := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(buf)
		first, err := io.ReadFull(body, (*buf)[:min(int64(len(*buf)), rng.length)])
		if errors.Is(err, errObjectChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		writeObjectHeaders(w, r, info, rng)
		if _, err := w.Write((*buf)[:first]); err != nil {
			return fmt.Errorf("stream object: %w", err)
		}
		if first < len(*buf) {
			// The whole range is in: copyFull only proves its end.
			err = copyFull(w, body, *buf)
		} else {
			buf2 := copyBuffers.Get().(*[]byte)
			defer copyBuffers.Put(buf2)
			err = pipeCopy(w, body, *buf, *buf2, cancel)
		}
		if err != nil {
			return fmt.Errorf("stream object: %w", err)
		}
		return nil
	}
}

func writeObjectHeaders(w http.ResponseWriter, r *http.Request, info objectInfo, rng byteRange) {
	setObjectHeaders(w, info)
	setSSEHeaders(w.Header(), info.SSE, false)
	applyResponseOverrides(w, r.URL.Query())
	h := w.Header()
	h.Set("Content-Length", strconv.FormatInt(rng.length, 10))
	if rng.parts > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(rng.parts))
	}
	// Checksums describe the whole object: only on full reads, on request.
	if !rng.partial && info.Checksum != "" && strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		h.Set("x-amz-checksum-"+info.ChecksumAlgo, info.Checksum)
	}
	if rng.partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.start, rng.start+rng.length-1, info.Size))
		w.WriteHeader(http.StatusPartialContent)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// byteRange is the part of an object a GET returns.
type byteRange struct {
	start, length int64
	partial       bool // 206 with Content-Range
	parts         int  // x-amz-mp-parts-count, for partNumber reads
}

// resolveRange applies a Range header or partNumber to info, as S3: a
// single range (a-b, a-, -n) is served, multiple ranges or an unparsable
// header are ignored (whole object), an unsatisfiable one is 416.
func resolveRange(header string, partNumber int, info objectInfo) (byteRange, error) {
	whole := byteRange{start: 0, length: info.Size}
	if partNumber > 0 {
		if len(info.Parts) == 0 {
			if partNumber != 1 {
				return byteRange{}, errInvalidPartNumber
			}
			return whole, nil
		}
		if partNumber > len(info.Parts) {
			return byteRange{}, errInvalidPartNumber
		}
		var off int64
		for _, sz := range info.Parts[:partNumber-1] {
			off += sz
		}
		return byteRange{start: off, length: info.Parts[partNumber-1], partial: true, parts: len(info.Parts)}, nil
	}
	spec, ok := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return whole, nil
	}
	size := info.Size
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return whole, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, errInvalidRange
		}
		if n > size {
			n = size
		}
		return byteRange{start: size - n, length: n, partial: true}, nil
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return whole, nil
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return whole, nil
		}
		if b > size-1 {
			b = size - 1
		}
	}
	if a >= size {
		return byteRange{}, errInvalidRange
	}
	return byteRange{start: a, length: b - a + 1, partial: true}, nil
}

// explicitRange returns the first and last byte of a Range header of the
// form bytes=a-b or bytes=a- (b = -1), the ranges whose ciphertext window
// can be computed before the object's size is known; anything else
// (suffix ranges, several ranges, unparsable) is ok=false. It only picks
// what to prefetch: resolveRange alone decides what is served.
func explicitRange(header string) (a, b int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found || first == "" {
		return 0, 0, false
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, 0, false
	}
	if last == "" {
		return a, -1, true
	}
	b, err = strconv.ParseInt(last, 10, 64)
	if err != nil || b < a {
		return 0, 0, false
	}
	return a, b, true
}

var errInvalidPartNumber = &apiError{"InvalidPartNumber", 416, "The requested partnumber is not satisfiable"}

// DeleteObject: 204 whether or not the key existed.
func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	if err := s.objects.delete(r.Context(), ri.bucket, ri.key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
