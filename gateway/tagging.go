package gateway

import (
	"net/http"
)

// PutObjectTagging replaces the object's tag set.
func (s *Server) putObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	var req tagging
	if err := readXML(r, &req); err != nil {
		return err
	}
	tags := make([]tag, 0, len(req.TagSet))
	for _, t := range req.TagSet {
		tags = append(tags, tag{t.Key, t.Value})
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	return s.updateTags(w, r, ri.bucket, ri.key, encodeTags(tags), http.StatusOK)
}

// DeleteObjectTagging removes the tag set: 204.
func (s *Server) deleteObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	return s.updateTags(w, r, ri.bucket, ri.key, "", http.StatusNoContent)
}

func (s *Server) updateTags(w http.ResponseWriter, r *http.Request, bucket, key, tags string, status int) error {
	info, err := s.objects.head(r.Context(), bucket, key)
	if err != nil {
		return err
	}
	err = s.objects.setTags(r.Context(), bucket, key, info, tags)
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	return nil
}

// GetObjectTagging
func (s *Server) getObjectTagging(w http.ResponseWriter, r *http.Request) error {
	ri := requestInfo(r)
	info, err := s.objects.head(r.Context(), ri.bucket, ri.key)
	if err != nil {
		return err
	}
	res := tagging{Xmlns: s3XMLNS, TagSet: []tagXML{}}
	for _, t := range tagsOf(info) {
		res.TagSet = append(res.TagSet, tagXML{Key: t.Key, Value: t.Value})
	}
	writeXML(w, http.StatusOK, res)
	return nil
}
