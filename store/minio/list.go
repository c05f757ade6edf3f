package minio

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/ssegate/ssegate/store"
)

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// listPage is one ListObjectsV2 request. minio-go's Core.ListObjectsV2 has
// no context and no metadata flag, and its Client.ListObjects interleaves
// objects and prefixes out of order across pages, so we sign the request
// ourselves; "metadata=true" is MinIO's extension returning user metadata.
func (s *Store) listPage(ctx context.Context, bucket, prefix, delim, startAfter string, max int, withMeta bool) (minio.ListBucketV2Result, error) {
	q := url.Values{}
	q.Set("list-type", "2")
	q.Set("encoding-type", "url")
	q.Set("prefix", prefix)
	q.Set("delimiter", delim)
	q.Set("max-keys", strconv.Itoa(max))
	if startAfter != "" {
		q.Set("start-after", startAfter)
	}
	if withMeta {
		q.Set("metadata", "true")
	}
	u := *s.endpoint
	u.Path = "/" + bucket + "/"
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return minio.ListBucketV2Result{}, err
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	req = signer.SignV4(*req, s.cfg.AccessKey, s.cfg.SecretKey, "", s.cfg.Region)
	resp, err := s.http.Do(req)
	if err != nil {
		return minio.ListBucketV2Result{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var er minio.ErrorResponse
		xml.NewDecoder(resp.Body).Decode(&er)
		er.StatusCode = resp.StatusCode
		if er.Code == "" {
			er.Code = resp.Status
		}
		return minio.ListBucketV2Result{}, er
	}
	body, err := readLimited(resp.Body, maxListingSize)
	if err != nil {
		return minio.ListBucketV2Result{}, fmt.Errorf("read listing: %w", err)
	}
	res, err := decodeListing(body)
	if err != nil {
		return res, fmt.Errorf("decode listing: %w", err)
	}
	for i := range res.Contents {
		if res.Contents[i].Key, err = url.QueryUnescape(res.Contents[i].Key); err != nil {
			return res, fmt.Errorf("decode key: %w", err)
		}
	}
	for i := range res.CommonPrefixes {
		if res.CommonPrefixes[i].Prefix, err = url.QueryUnescape(res.CommonPrefixes[i].Prefix); err != nil {
			return res, fmt.Errorf("decode prefix: %w", err)
		}
	}
	return res, nil
}

type entry struct {
	key string
	obj *minio.ObjectInfo // nil for a common prefix
}

func (s *Store) List(ctx context.Context, bucket string, opts store.ListOptions) (store.ListResult, error) {
	if err := store.CheckBucketName(bucket); err != nil {
		return store.ListResult{}, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > 1000 {
		max = 1000
	}
	var out store.ListResult
	n := 0
	after := opts.StartAfter
	qprefix := opts.Prefix
	// MinIO refuses a prefix whose last segment is "." although keys such
	// as ".profile" match it. Ask for the prefix without the dot, starting
	// after every key below "<prefix>.", and stop at the first key past it.
	// A delimiter starting with "." would roll up differently; MinIO then
	// answers with its error.
	trimmed := (qprefix == "." || strings.HasSuffix(qprefix, "/.")) && !strings.HasPrefix(opts.Delimiter, ".")
	if trimmed {
		qprefix = qprefix[:len(qprefix)-1]
		if low := qprefix + "-\U0010FFFF"; after < low {
			after = low
		}
	}
	for {
		page, err := s.listPage(ctx, bucket, qprefix, opts.Delimiter, after, max-n, opts.WithMeta)
		if err != nil {
			return store.ListResult{}, mapErr(err, "minio: list %s", bucket)
		}
		ents := make([]entry, 0, len(page.Contents)+len(page.CommonPrefixes))
		for i := range page.Contents {
			ents = append(ents, entry{key: page.Contents[i].Key, obj: &page.Contents[i]})
		}
		for _, cp := range page.CommonPrefixes {
			ents = append(ents, entry{key: cp.Prefix})
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].key < ents[j].key })
		for _, e := range ents {
			after = e.key
			if trimmed && !strings.HasPrefix(e.key, opts.Prefix) {
				if e.key < opts.Prefix {
					continue
				}
				out.NextStartAfter = ""
				return out, nil
			}
			if e.obj == nil {
				hidden, err := s.hiddenPrefix(ctx, bucket, e.key)
				if err != nil {
					return store.ListResult{}, mapErr(err, "minio: list %s", bucket)
				}
				if hidden || e.key <= opts.StartAfter {
					continue
				}
				out.CommonPrefixes = append(out.CommonPrefixes, e.key)
			} else {
				if strings.HasPrefix(e.key, sysPrefix) {
					continue
				}
				info := store.ObjectInfo{Key: e.key, Size: e.obj.Size, ETag: strings.Trim(e.obj.ETag, `"`), LastModified: e.obj.LastModified}
				if opts.WithMeta {
					info.Meta, err = s.decodeMeta(ctx, bucket, spillDir, userMeta(e.obj.UserMetadata))
					if errors.Is(err, errSpillMissing) {
						// Replaced since the page was read: report the
						// current version (or nothing if it is gone).
						info, err = s.Head(ctx, bucket, e.key)
						if errors.Is(err, store.ErrNotFound) {
							continue
						}
					}
					if err != nil {
						return store.ListResult{}, mapErr(err, "minio: list %s", bucket)
					}
				}
				out.Objects = append(out.Objects, info)
			}
			out.NextStartAfter = e.key
			n++
		}
		if !page.IsTruncated || len(ents) == 0 {
			out.NextStartAfter = ""
			return out, nil
		}
		if n >= max {
			out.IsTruncated = true
			return out, nil
		}
	}
}

// userMeta keeps the x-amz-meta-* entries of a listing's raw metadata
// (which also holds system entries such as content-type).
func userMeta(raw minio.StringMap) map[string]string {
	out := map[string]string{}
	for k, v := range raw {
		if strings.HasPrefix(strings.ToLower(k), strings.ToLower(metaPrefix)) {
			out[k] = v
		}
	}
	return out
}

// hiddenPrefix reports whether a common prefix covers only our system
// objects. The usual case, ".ssegate.sys/" itself, needs no request; a
// prefix such as "." (delimiter ".") may cover user keys too, so we look
// for one before and one after the system range.
func (s *Store) hiddenPrefix(ctx context.Context, bucket, cp string) (bool, error) {
	if strings.HasPrefix(cp, sysPrefix) {
		return true, nil
	}
	if !strings.HasPrefix(sysPrefix, cp) {
		return false, nil
	}
	first, err := s.listPage(ctx, bucket, cp, "", "", 1, false)
	if err != nil {
		return false, err
	}
	if len(first.Contents) > 0 && !strings.HasPrefix(first.Contents[0].Key, sysPrefix) {
		return false, nil
	}
	last, err := s.listPage(ctx, bucket, cp, "", sysPrefix+"\U0010FFFF", 1, false)
	if err != nil {
		return false, err
	}
	return len(last.Contents) == 0, nil
}
