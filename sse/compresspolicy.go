package sse

import (
	"mime"
	"strings"
)

// CompressionConfig is a bucket's compression setting. The zero value is
// off: compression before encryption leaks information through stored
// sizes (docs/format.md, 8), so it is only for data the owner knows holds
// no attacker-influenced secrets.
type CompressionConfig struct {
	Enabled bool
	// ContentTypes to compress: exact media types ("application/json") or
	// "type/*" patterns. Nil means DefaultCompressibleTypes. Types in
	// incompressibleTypes are never compressed, whatever the list says.
	ContentTypes []string
}

// DefaultCompressibleTypes are media types that are usually text.
var DefaultCompressibleTypes = []string{
	"text/*",
	"application/json", "application/x-ndjson",
	"application/xml",
	"application/javascript", "application/x-javascript", "application/ecmascript",
	"application/csv", "application/x-csv",
	"application/x-yaml", "application/yaml", "application/toml",
	"application/sql", "application/x-sh",
	"image/svg+xml",
}

// incompressibleTypes are already compressed (or encrypted): compressing
// them again costs CPU and gains nothing.
var incompressibleTypes = []string{
	"image/*", "video/*", "audio/*", "font/woff", "font/woff2",
	"application/zip", "application/gzip", "application/x-gzip",
	"application/x-bzip2", "application/x-xz", "application/x-7z-compressed",
	"application/x-rar-compressed", "application/vnd.rar", "application/zstd",
	"application/x-zstd", "application/x-lz4", "application/x-compress",
	"application/x-tar+gzip", "application/pdf", "application/java-archive",
	"application/vnd.openxmlformats-officedocument.*", "application/epub+zip",
	"application/pgp-encrypted", "application/octet-stream+encrypted",
}

// ShouldCompress reports whether an object with this Content-Type is to be
// stored compressed under cfg. Unknown, missing or malformed types are not
// compressed. Structured-syntax suffixes +json, +xml and +yaml count as
// their base type, except under image/, video/ and audio/.
func ShouldCompress(contentType string, cfg CompressionConfig) bool {
	if !cfg.Enabled {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	mt = strings.ToLower(mt)
	if matchType(mt, incompressibleTypes) && mt != "image/svg+xml" {
		return false
	}
	list := cfg.ContentTypes
	if list == nil {
		list = DefaultCompressibleTypes
		for _, suffix := range []string{"+json", "+xml", "+yaml"} {
			if strings.HasSuffix(mt, suffix) {
				return true
			}
		}
	}
	return matchType(mt, list)
}

// matchType matches exact types, "type/*" and "prefix.*" patterns.
func matchType(mt string, patterns []string) bool {
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(mt, prefix) {
				return true
			}
		} else if mt == p {
			return true
		}
	}
	return false
}
