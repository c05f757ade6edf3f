package sse

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// DecodeObjectMeta parses the metadata entry written by Encode. Unknown
// versions and malformed input are ErrBadMetadata; it never panics. The
// result is not yet authenticated: call UnsealKey before trusting it.
func DecodeObjectMeta(md map[string]string) (*ObjectMeta, error) {
	v, ok := md[MetaKey]
	if !ok {
		return nil, fmt.Errorf("%w: no %s entry", ErrBadMetadata, MetaKey)
	}
	b, err := decodeValue(v)
	if err != nil || len(b) < 1+macSize {
		return nil, ErrBadMetadata
	}
	body, mac := b[:len(b)-macSize], b[len(b)-macSize:]
	m := &ObjectMeta{raw: bytes.Clone(body), mac: bytes.Clone(mac)}
	var seen [tagParts + 1]bool
	var etag []byte
	err = parseTLV(body, func(tag byte, v []byte) error {
		if int(tag) >= len(seen) || tag == 0 {
			return ErrBadMetadata
		}
		seen[tag] = true
		ok := true
		switch tag {
		case tagMode:
			ok = len(v) == 1
			if ok {
				m.Mode = Mode(v[0])
			}
		case tagSuite:
			ok = len(v) == 1
			if ok {
				m.Suite = Suite(v[0])
			}
		case tagSealedKey:
			ok = copy(m.SealedKey[:], v) == SealedKeySize && len(v) == SealedKeySize
		case tagKMSKeyARN:
			m.KMSKeyARN = string(v)
			ok = len(v) > 0
		case tagKMSBlob:
			m.KMSBlob = bytes.Clone(v)
			ok = len(v) > 0
		case tagContext:
			m.EncryptionContext = string(v)
			ok = len(v) > 0
		case tagBucketKey:
			m.BucketKeyEnabled, ok = flagValue(v)
		case tagSSECSalt:
			m.SSECSalt = bytes.Clone(v)
		case tagSSECHash:
			m.SSECKeyHash = bytes.Clone(v)
		case tagSSECKeyMD5:
			ok = len(v) == md5.Size
			m.SSECKeyMD5 = base64.StdEncoding.EncodeToString(v)
		case tagSize:
			var n uint64
			n, ok = uvarintValue(v)
			ok = ok && n <= uint64(maxObjectSize)
			m.Size = int64(n)
		case tagETag:
			etag = v
		case tagCksumAlgo:
			m.ChecksumAlgorithm = string(v)
			ok = len(v) > 0
		case tagCksum:
			m.Checksum = string(v)
			ok = len(v) > 0
		case tagCompressed:
			m.Compression, ok = decodeCompression(v)
		case tagParts:
			m.Parts, ok = decodeParts(v)
		}
		if !ok {
			return ErrBadMetadata
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !seen[tagMode] || !seen[tagSuite] || !seen[tagSealedKey] || !seen[tagSize] {
		return nil, fmt.Errorf("%w: missing required field", ErrBadMetadata)
	}
	if m.Mode != ModeSSEC && (seen[tagSSECSalt] || seen[tagSSECHash] || seen[tagSSECKeyMD5]) {
		return nil, fmt.Errorf("%w: SSE-C fields on a non SSE-C object", ErrBadMetadata)
	}
	if etag != nil {
		if m.ETag, ok = formatETag(etag); !ok {
			return nil, ErrBadMetadata
		}
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// encodeParts writes runs of consecutive part numbers with equal sizes:
// uvarint(first) uvarint(count) uvarint(size).
func encodeParts(parts []PartLayout) []byte {
	var b []byte
	for i := 0; i < len(parts); {
		j := i + 1
		for j < len(parts) && parts[j].PlainSize == parts[i].PlainSize && parts[j].Number == parts[j-1].Number+1 {
			j++
		}
		b = binary.AppendUvarint(b, uint64(parts[i].Number))
		b = binary.AppendUvarint(b, uint64(j-i))
		b = binary.AppendUvarint(b, uint64(parts[i].PlainSize))
		i = j
	}
	return b
}

func decodeParts(b []byte) ([]PartLayout, bool) {
	var parts []PartLayout
	for len(b) > 0 {
		var vals [3]uint64
		for i := range vals {
			x, k := binary.Uvarint(b)
			if k <= 0 {
				return nil, false
			}
			vals[i], b = x, b[k:]
		}
		first, count, size := vals[0], vals[1], vals[2]
		// Bounds first, so a hostile table cannot make us allocate much.
		if first < 1 || count < 1 || first > 10000 || count > 10000 || first+count-1 > 10000 ||
			size > uint64(maxPlainSize) || len(parts)+int(count) > 10000 {
			return nil, false
		}
		for i := uint64(0); i < count; i++ {
			parts = append(parts, PartLayout{Number: int(first + i), PlainSize: int64(size)})
		}
	}
	return parts, len(parts) > 0
}

// PartMeta is what the gateway keeps with each uploaded part of an open
// multipart upload (backend part metadata, key PartMetaKey).
type PartMeta struct {
	PlainSize         int64
	MD5               [16]byte // plaintext MD5: the part's ETag
	ChecksumAlgorithm string
	Checksum          string
}

const (
	tagPartSize  = 1
	tagPartMD5   = 2
	tagPartAlgo  = 3
	tagPartCksum = 4
)

// Encode returns the backend part metadata entries ({PartMetaKey: value}).
func (p *PartMeta) Encode() (map[string]string, error) {
	if p.PlainSize < 0 || p.PlainSize > maxPlainSize || !printable(p.ChecksumAlgorithm) || !printable(p.Checksum) {
		return nil, ErrBadMetadata
	}
	w := newTLVWriter()
	w.uvarint(tagPartSize, uint64(p.PlainSize))
	w.bytes(tagPartMD5, p.MD5[:])
	w.str(tagPartAlgo, p.ChecksumAlgorithm)
	w.str(tagPartCksum, p.Checksum)
	return map[string]string{PartMetaKey: encodeValue(w.b)}, nil
}

// DecodePartMeta parses what PartMeta.Encode wrote; ErrBadMetadata if
// malformed.
func DecodePartMeta(md map[string]string) (*PartMeta, error) {
	v, ok := md[PartMetaKey]
	if !ok {
		return nil, ErrBadMetadata
	}
	b, err := decodeValue(v)
	if err != nil {
		return nil, err
	}
	p := &PartMeta{}
	var seenSize, seenMD5 bool
	err = parseTLV(b, func(tag byte, v []byte) error {
		ok := true
		switch tag {
		case tagPartSize:
			var n uint64
			n, ok = uvarintValue(v)
			ok = ok && n <= uint64(maxPlainSize)
			p.PlainSize, seenSize = int64(n), true
		case tagPartMD5:
			ok = copy(p.MD5[:], v) == md5.Size && len(v) == md5.Size
			seenMD5 = true
		case tagPartAlgo:
			p.ChecksumAlgorithm, ok = string(v), len(v) > 0 && printable(string(v))
		case tagPartCksum:
			p.Checksum, ok = string(v), len(v) > 0 && printable(string(v))
		default:
			ok = false
		}
		if !ok {
			return ErrBadMetadata
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !seenSize || !seenMD5 {
		return nil, ErrBadMetadata
	}
	return p, nil
}

// decodeCompression reads tag 15: uvarint(stored size) uvarint(index size),
// both canonical; the bounds are checked by validate.
func decodeCompression(v []byte) (*Compression, bool) {
	a, k := binary.Uvarint(v)
	if k <= 0 || len(binary.AppendUvarint(nil, a)) != k || a > uint64(maxPlainSize) {
		return nil, false
	}
	b, ok := uvarintValue(v[k:])
	if !ok || b > uint64(maxPlainSize) {
		return nil, false
	}
	return &Compression{StoredSize: int64(a), IndexSize: int64(b)}, true
}
