package gateway

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// CreateMultipartUpload: the object's headers and tags are fixed here.
func (s *Server) createMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	m, err := objectMetaFrom(r)
	if err != nil {
		return err
	}
	enc, err := s.encryptionFor(r, ri.bucket)
	if err != nil {
		return err
	}
	id, em, err := s.objects.createMultipart(r.Context(), ri.bucket, ri.key, m, enc)
	if err != nil {
		return err
	}
	setSSEHeaders(w.Header(), em, true)
	writeXML(w, http.StatusOK, initiateMultipartUploadResult{Xmlns: s3XMLNS, Bucket: ri.bucket, Key: ri.key, UploadID: id})
	return nil
}

func partNumberParam(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > maxParts {
		return 0, errInvalidArgument.with("Part number must be an integer between 1 and 10000, inclusive")
	}
	return n, nil
}

// UploadPart
func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	n, err := partNumberParam(r)
	if err != nil {
		return err
	}
	if r.ContentLength < 0 {
		return errMissingContentLength
	}
	if r.ContentLength > maxObjectSize {
		return errEntityTooLarge
	}
	ck, err := s.customerKey(r, false)
	if err != nil {
		return err
	}
	body, err := newBodyReader(r, r.ContentLength)
	if err != nil {
		return err
	}
	p, em, err := s.objects.uploadPart(r.Context(), ri.bucket, ri.key, r.URL.Query().Get("uploadId"), n, body, ck)
	if err != nil {
		return err
	}
	setSSEHeaders(w.Header(), em, true)
	w.Header().Set("ETag", quoteETag(p.ETag))
	if body.algo() != "" {
		w.Header().Set("x-amz-checksum-"+body.algo(), body.Checksum())
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// UploadPartCopy: a part made from a range of an existing object.
func (s *Server) uploadPartCopy(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	n, err := partNumberParam(r)
	if err != nil {
		return err
	}
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	// Reading the source is s3:GetObject on it, besides s3:PutObject on
	// the target upload (checked before the handler).
	if err := s.allowObject(r, "s3:GetObject", srcBucket, srcKey); err != nil {
		return err
	}
	srcCK, err := s.customerKey(r, true)
	if err != nil {
		return err
	}
	dstCK, err := s.customerKey(r, false)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		src, err := s.objects.head(r.Context(), srcBucket, srcKey)
		if err != nil {
			return err
		}
		if err := checkCopySourceConditions(r, src); err != nil {
			return err
		}
		start, length := int64(0), src.Size
		if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
			if start, length, err = parseCopyRange(v, src.Size); err != nil {
				return err
			}
		}
		rc, err := s.objects.open(r.Context(), srcBucket, srcKey, src, srcCK, start, length)
		if err == errObjectChanged && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		p, em, err := s.objects.uploadPart(r.Context(), ri.bucket, ri.key, r.URL.Query().Get("uploadId"), n, plainBody(rc, length), dstCK)
		if err != nil {
			return err
		}
		setSSEHeaders(w.Header(), em, true)
		writeXML(w, http.StatusOK, copyPartResult{Xmlns: s3XMLNS, LastModified: s3Time(p.LastModified), ETag: quoteETag(p.ETag)})
		return nil
	}
}

// parseCopyRange parses x-amz-copy-source-range, which unlike Range must
// be "bytes=first-last" within the object.
func parseCopyRange(v string, size int64) (int64, int64, error) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if !ok || !ok2 || err1 != nil || err2 != nil || a < 0 || b < a {
		return 0, 0, errInvalidArgument.with("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if b >= size {
		return 0, 0, errInvalidRange
	}
	return a, b - a + 1, nil
}

// plainBody wraps a body the gateway produced itself (a copy source).
func plainBody(r io.Reader, size int64) *bodyReader {
	b, _ := newBodyReader(&http.Request{Header: http.Header{}, Body: io.NopCloser(r)}, size)
	return b
}

// CompleteMultipartUpload
func (s *Server) completeMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	var req completeMultipartUpload
	if err := readXML(r, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 {
		return errMalformedXML.with("You must specify at least one part")
	}
	if len(req.Parts) > maxParts {
		return errMalformedXML
	}
	parts := make([]completePart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = completePart{Number: p.PartNumber, ETag: strings.Trim(strings.TrimSpace(p.ETag), `"`)}
	}
	info, err := s.objects.complete(r.Context(), ri.bucket, ri.key, r.URL.Query().Get("uploadId"), parts)
	if err != nil {
		return err
	}
	setSSEHeaders(w.Header(), info.SSE, true)
	loc := "/" + ri.bucket + "/" + awsURIEncode(ri.key, false)
	writeXML(w, http.StatusOK, completeMultipartUploadResult{Xmlns: s3XMLNS, Location: loc, Bucket: ri.bucket, Key: ri.key, ETag: quoteETag(info.ETag)})
	return nil
}

// AbortMultipartUpload: 204.
func (s *Server) abortMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	if err := s.objects.abort(r.Context(), ri.bucket, ri.key, r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ListParts, paginated by part-number-marker and max-parts.
func (s *Server) listParts(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	q := r.URL.Query()
	maxParts, marker := 1000, 0
	if v := q.Get("max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument.with("Argument max-parts must be an integer between 0 and 2147483647")
		}
		maxParts = min(n, 1000)
	}
	if v := q.Get("part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument.with("Argument part-number-marker must be an integer between 0 and 2147483647")
		}
		marker = n
	}
	id := q.Get("uploadId")
	parts, err := s.objects.listParts(r.Context(), ri.bucket, ri.key, id)
	if err != nil {
		return err
	}
	own := ownerOf(r)
	res := listPartsResult{
		Xmlns: s3XMLNS, Bucket: ri.bucket, Key: ri.key, UploadID: id, Initiator: own, Owner: own,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts,
	}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, partXML{PartNumber: p.Number, LastModified: s3Time(p.LastModified), ETag: quoteETag(p.ETag), Size: p.Size})
		res.NextPartNumberMarker = p.Number
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// ListMultipartUploads, ordered by key then upload id, paginated by
// key-marker/upload-id-marker and grouped by delimiter.
func (s *Server) listMultipartUploads(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument.with("Argument max-uploads must be an integer between 0 and 2147483647")
		}
		maxUploads = min(n, 1000)
	}
	ups, err := s.objects.listUploads(r.Context(), ri.bucket, prefix)
	if err != nil {
		return err
	}
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].Key != ups[j].Key {
			return ups[i].Key < ups[j].Key
		}
		return ups[i].UploadID < ups[j].UploadID
	})
	own := ownerOf(r)
	res := listMultipartUploadsResult{
		Xmlns: s3XMLNS, Bucket: ri.bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker,
		Prefix: prefix, Delimiter: delim, MaxUploads: maxUploads,
	}
	seen := map[string]bool{}
	for _, u := range ups {
		if keyMarker != "" && (u.Key < keyMarker || (u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker))) {
			continue
		}
		if len(res.Uploads)+len(res.CommonPrefixes) >= maxUploads {
			res.IsTruncated = true
			break
		}
		if delim != "" {
			if i := strings.Index(u.Key[len(prefix):], delim); i >= 0 {
				cp := u.Key[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: cp})
				}
				res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
				continue
			}
		}
		res.Uploads = append(res.Uploads, uploadXML{
			Key: u.Key, UploadID: u.UploadID, Initiator: own, Owner: own,
			StorageClass: "STANDARD", Initiated: s3Time(u.Initiated),
		})
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.UploadID
	}
	writeXML(w, http.StatusOK, res)
	return nil
}
