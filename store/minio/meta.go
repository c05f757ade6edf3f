package minio

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"github.com/ssegate/ssegate/store"
)

// Metadata travels as HTTP headers, which are not a byte-exact channel:
// header names are canonicalised ("X-Amz-Meta-Foo-Bar"), leading and
// trailing white space is trimmed, empty values may vanish, and minio-go
// MIME-decodes values that begin with "=?". store.Metadata keys are
// lower-case, so lower-casing the canonical name restores them. Values that
// would not survive are stored as valueMarker + base64url(value); a value
// that itself begins with the marker is encoded too, so decoding is exact.
//
// MinIO refuses more than 2048 bytes of encoded user metadata per object;
// encodeMeta (spill.go) moves larger metadata to an overflow object.
const (
	valueMarker = "~b"
	metaPrefix  = "X-Amz-Meta-"
)

func needsEncoding(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' || strings.HasPrefix(v, "=?") || strings.HasPrefix(v, valueMarker) {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return true
		}
	}
	return false
}

func encodeValue(v string) string {
	if needsEncoding(v) {
		return valueMarker + base64.RawURLEncoding.EncodeToString([]byte(v))
	}
	return v
}

func decodeValue(v string) (string, error) {
	rest, ok := strings.CutPrefix(v, valueMarker)
	if !ok {
		return v, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("minio: corrupt encoded metadata value")
	}
	return string(b), nil
}

// toUserMetadata prefixes every key with X-Amz-Meta- so that minio-go never
// mistakes a key such as "content-type" for a standard header.
func toUserMetadata(m store.Metadata) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[metaPrefix+k] = encodeValue(v)
	}
	return out
}

// fromUserMetadata accepts keys with or without the X-Amz-Meta- prefix, in
// any case, and returns exactly what toUserMetadata was given.
func fromUserMetadata(m map[string]string) (store.Metadata, error) {
	out := make(store.Metadata, len(m))
	for k, v := range m {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		ck = strings.TrimPrefix(ck, metaPrefix)
		dv, err := decodeValue(v)
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(ck)] = dv
	}
	return out, nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("minio: blob larger than %d bytes", limit)
	}
	return data, nil
}
