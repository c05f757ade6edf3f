package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxKeyLen is the longest object key S3 accepts, in bytes.
const MaxKeyLen = 1024

// CheckBucketName reports whether name follows the S3 bucket naming rules
// (3-63 characters of lower-case letters, digits, '.' and '-', beginning and
// ending with a letter or digit, no "..", not an IPv4 address). Backends
// call it so that a name can never address anything but a bucket.
func CheckBucketName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("%w: %q: length must be 3-63", ErrInvalidBucket, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("%w: %q: invalid character", ErrInvalidBucket, name)
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return fmt.Errorf("%w: %q: must begin and end with a letter or digit", ErrInvalidBucket, name)
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return fmt.Errorf("%w: %q: invalid dot placement", ErrInvalidBucket, name)
	}
	if looksLikeIPv4(name) {
		return fmt.Errorf("%w: %q: looks like an IP address", ErrInvalidBucket, name)
	}
	return nil
}

// CheckKey refuses object keys that no backend should accept: empty, longer
// than MaxKeyLen, not valid UTF-8, containing NUL, starting with '/', or
// having a ".." segment. S3 itself allows some of these, but they are how
// path traversal starts, and no client we serve needs them. Empty segments
// ("a//b"), "." segments and a trailing '/' are allowed; backends must store
// them safely.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: contains NUL", ErrInvalidKey)
	case key[0] == '/':
		return fmt.Errorf("%w: begins with '/'", ErrInvalidKey)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." {
			return fmt.Errorf("%w: contains a '..' segment", ErrInvalidKey)
		}
	}
	return nil
}

// CheckConfigName validates a bucket configuration blob name: [a-z0-9-]{1,64}.
func CheckConfigName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("store: invalid config name %q", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("store: invalid config name %q", name)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func looksLikeIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// MaxMetadataSize is the most user metadata every backend must accept,
// measured as S3 and MinIO do: the sum over entries of
// len("x-amz-meta-") + len(key) + len(value) (AWS S3 allows 2 KB of user
// metadata by a similar count). Both backends accept more: store/fs has no
// limit, and store/minio, whose server refuses more than this, spills
// larger metadata to a hidden overflow object; the conformance suite
// checks 8 KiB on every backend.
const MaxMetadataSize = 2048

// MetadataSize returns the size of m as counted against MaxMetadataSize.
func MetadataSize(m Metadata) int {
	n := 0
	for k, v := range m {
		n += len("x-amz-meta-") + len(k) + len(v)
	}
	return n
}
