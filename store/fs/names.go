package fs

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLen bounds the file names we create, well under the 255 bytes most
// filesystems allow, leaving room for prefixes.
const maxNameLen = 200

// escape makes a key segment usable as part of a file name. '/' and NUL
// cannot occur (keys are split on '/' and NUL is refused) but are escaped
// anyway, as are '%' (the escape character), control bytes and '\\', so
// names stay printable and no input can ever form a path. Valid UTF-8
// above ASCII is kept as is.
func escape(seg string) string {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < 0x20 || c == 0x7f || c == '%' || c == '\\' || c == '/' {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescape(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b.WriteByte(v[0])
		i += 2
	}
	return b.String(), true
}

func hashName(seg string) string {
	h := sha256.Sum256([]byte(seg))
	return hex.EncodeToString(h[:])
}

// dirName is the directory entry for a non-final key segment.
func dirName(seg string) string {
	e := escape(seg)
	if len(e) > maxNameLen {
		return "hd." + hashName(seg)
	}
	return "d." + e
}

// sidecarName is the commit record entry for a final key segment.
func sidecarName(seg string) string {
	e := escape(seg)
	if len(e) > maxNameLen {
		return "hm." + hashName(seg)
	}
	return "m." + e
}

// entryKind classifies a directory entry in the key space.
type entryKind int

const (
	kindOther entryKind = iota
	kindDir
	kindHashedDir
	kindSidecar
	kindHashedSidecar
)

func classify(name string) (entryKind, string) {
	switch {
	case strings.HasPrefix(name, "d."):
		return kindDir, name[2:]
	case strings.HasPrefix(name, "m."):
		return kindSidecar, name[2:]
	case strings.HasPrefix(name, "hd."):
		return kindHashedDir, name[3:]
	case strings.HasPrefix(name, "hm."):
		return kindHashedSidecar, name[3:]
	}
	return kindOther, ""
}
