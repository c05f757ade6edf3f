package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"sort"

	"github.com/ssegate/ssegate/store"
)

// ownerOf is the canonical owner shown in listings: a stable opaque id per
// principal, as S3's canonical user id.
func ownerOf(r *http.Request) owner {
	a := requestInfo(r).auth
	sum := sha256.Sum256([]byte(a.ARN + "\x00" + a.AccessKey))
	return owner{ID: hex.EncodeToString(sum[:]), DisplayName: a.AccessKey}
}

// ListBuckets
func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.deps.Store.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	bs = s.visibleBuckets(r, bs)
	sort.Slice(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
	res := listAllMyBucketsResult{Xmlns: s3XMLNS, Owner: ownerOf(r), Buckets: []bucketXML{}}
	for _, b := range bs {
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: s3Time(b.Created)})
	}
	writeXML(w, http.StatusOK, res)
	return nil
}

// CreateBucket. An optional CreateBucketConfiguration must name our region
// (us-east-1 may also be written as an empty constraint, as in AWS).
func (s *Server) createBucket(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxXMLBody))
	if err != nil {
		return readBodyError(err)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return errMalformedXML
		}
		lc := cfg.LocationConstraint
		if lc != s.cfg.Region && !(lc == "" && s.cfg.Region == "us-east-1") {
			return errInvalidLocation.with("The specified location-constraint is not valid")
		}
	}
	p := principalOf(requestInfo(r).auth.ARN)
	if err := s.deps.Store.CreateBucket(r.Context(), bucket); err != nil {
		if errors.Is(err, store.ErrBucketExists) {
			return s.bucketExistsError(r.Context(), bucket, p)
		}
		return err
	}
	// The creator owns the bucket. Until the record is written the bucket
	// belongs to the root, so a failure here fails closed; the bucket is
	// then removed so that its creator can try again.
	if err := s.recordOwner(r.Context(), bucket, p); err != nil {
		if derr := s.deps.Store.DeleteBucket(context.WithoutCancel(r.Context()), bucket); derr != nil {
			s.log.Error("create bucket: remove bucket without owner", "request_id", requestInfo(r).id, "bucket", bucket, "err", derr)
		}
		return err
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

// readBodyError maps a failure to read a request body: our own apiErrors
// (bad signature, bad chunk) pass through, oversize is a client error.
func readBodyError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errMaxMessageLengthExceed
	}
	return errIncompleteBody
}

// HeadBucket
func (s *Server) headBucket(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.deps.Store.HeadBucket(r.Context(), requestInfo(r).bucket); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", s.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

// DeleteBucket: 204; the store refuses a bucket that still has objects.
func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request) error {
	bucket := requestInfo(r).bucket
	if err := s.deps.Store.DeleteBucket(r.Context(), bucket); err != nil {
		return err
	}
	// A bucket created again under this name starts without the old
	// default encryption.
	s.encCache.invalidate(bucket)
	// Its owner and policy went with it (the store drops config blobs).
	s.authzCache.invalidate(bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GetBucketLocation: us-east-1 is the empty constraint, as in AWS.
func (s *Server) getBucketLocation(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.deps.Store.HeadBucket(r.Context(), requestInfo(r).bucket); err != nil {
		return err
	}
	lc := s.cfg.Region
	if lc == "us-east-1" {
		lc = ""
	}
	writeXML(w, http.StatusOK, locationConstraint{Xmlns: s3XMLNS, Value: lc})
	return nil
}

// GetBucketVersioning: buckets are never versioned, which S3 reports as an
// empty VersioningConfiguration.
func (s *Server) getBucketVersioning(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.deps.Store.HeadBucket(r.Context(), requestInfo(r).bucket); err != nil {
		return err
	}
	writeXML(w, http.StatusOK, versioningConfiguration{Xmlns: s3XMLNS})
	return nil
}
