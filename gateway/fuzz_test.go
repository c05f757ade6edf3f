package gateway

import (
	"testing"
)

// FuzzResolveRange: any Range header either fails with an S3 error or
// yields a range inside the object.
func FuzzResolveRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=x", "bytes=-0", "bytes=9223372036854775807-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		rng, err := resolveRange(h, 0, objectInfo{Size: size})
		if err != nil {
			if _, internal := toAPIError(err); internal {
				t.Fatalf("internal error for %q: %v", h, err)
			}
			return
		}
		if rng.start < 0 || rng.length < 0 || rng.start+rng.length > size {
			t.Fatalf("range %+v outside object of %d for %q", rng, size, h)
		}
	})
}

func FuzzParseCopySource(f *testing.F) {
	for _, s := range []string{"/bkt/key", "bkt/a%20b", "bkt/k?versionId=null", "/bkt", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, k, err := parseCopySource(s)
		if err != nil {
			return
		}
		if checkBucketName(b) != nil || checkObjectKey(k) != nil {
			t.Fatalf("%q accepted as %q/%q", s, b, k)
		}
	})
}
