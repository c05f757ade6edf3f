package sse

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// The metadata value encoding shared by ObjectMeta and PartMeta:
// "1." + base64url-nopad(0x01 || TLV*), TLV = tag(1) || uvarint(len) || value.
// Tags must be strictly ascending; decoders reject anything else.

const (
	valuePrefix    = "1."
	maxValueLength = 8 << 10 // far above any valid entry; bounds decoding work
)

type tlvWriter struct{ b []byte }

func newTLVWriter() *tlvWriter { return &tlvWriter{b: []byte{FormatVersion}} }

func (w *tlvWriter) bytes(tag byte, v []byte) {
	w.b = append(w.b, tag)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
}

func (w *tlvWriter) str(tag byte, v string) {
	if v != "" {
		w.bytes(tag, []byte(v))
	}
}

func (w *tlvWriter) uvarint(tag byte, v uint64) { w.bytes(tag, binary.AppendUvarint(nil, v)) }

func (w *tlvWriter) flag(tag byte, v bool) {
	if v {
		w.bytes(tag, []byte{1})
	}
}

// decodeValue undoes the text layer and checks the version byte.
func decodeValue(v string) ([]byte, error) {
	if len(v) > maxValueLength {
		return nil, ErrBadMetadata
	}
	rest, ok := strings.CutPrefix(v, valuePrefix)
	if !ok {
		return nil, ErrBadMetadata
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) < 1 || b[0] != FormatVersion {
		return nil, ErrBadMetadata
	}
	return b, nil
}

func encodeValue(b []byte) string { return valuePrefix + base64.RawURLEncoding.EncodeToString(b) }

// parseTLV calls fn for each field of body (after the version byte), in
// order, rejecting duplicate, out-of-order and truncated fields.
func parseTLV(body []byte, fn func(tag byte, v []byte) error) error {
	rest := body[1:]
	last := -1
	for len(rest) > 0 {
		tag := rest[0]
		if int(tag) <= last {
			return ErrBadMetadata
		}
		last = int(tag)
		n, k := binary.Uvarint(rest[1:])
		if k <= 0 || n > uint64(len(rest)-1-k) {
			return ErrBadMetadata
		}
		v := rest[1+k : 1+k+int(n)]
		rest = rest[1+k+int(n):]
		if err := fn(tag, v); err != nil {
			return err
		}
	}
	return nil
}

// uvarintValue decodes a field holding exactly one canonical uvarint.
func uvarintValue(v []byte) (uint64, bool) {
	x, k := binary.Uvarint(v)
	if k <= 0 || k != len(v) || len(binary.AppendUvarint(nil, x)) != k {
		return 0, false
	}
	return x, true
}

func flagValue(v []byte) (bool, bool) {
	if len(v) != 1 || v[0] != 1 {
		return false, false
	}
	return true, true
}
