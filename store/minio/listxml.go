package minio

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/minio/minio-go/v7"
)

// Decoding MinIO's ListObjectsV2 answers.
//
// With metadata=true a page of 1000 keys is about 800 KB of XML (each
// entry carries the object's sealed ssegate metadata), and encoding/xml
// spent 64% of the gateway's CPU on a LIST decoding it: its tokenizer
// reads byte by byte through an interface, allocates every name and
// resolves namespaces, and minio-go's ObjectInfo is decoded by reflection
// into some forty fields. No maintained Go library decodes this one
// document faster with the exact semantics of encoding/xml, so
// decodeListing has a scanner of its own for the plain shape MinIO writes
// (elements without namespaces or attributes below the root, text with
// the predefined and numeric entities) and keeps encoding/xml for
// anything else: a comment, a CDATA section, a namespace prefix, an
// unknown entity, a control character. Where the scanner answers, the
// fields it fills are the ones encoding/xml gives
// (FuzzDecodeListingMatchesEncodingXML); elements the store does not use
// it only checks for well-formedness, where encoding/xml would decode
// them into ObjectInfo's other fields. Where it does not answer,
// encoding/xml decides, errors included.

// maxListingSize bounds one page's answer: 1000 entries of at most 2 KB of
// user metadata each, with room to spare.
const maxListingSize = 32 << 20

// errNotPlain is the scanner's "not the plain shape": encoding/xml decides.
var errNotPlain = errors.New("minio: listing is not plain XML")

// decodeListing decodes a ListObjectsV2 answer. It fills the fields the
// store uses (Contents' Key, Size, ETag, LastModified and UserMetadata,
// CommonPrefixes' Prefix, IsTruncated) exactly as xml.Unmarshal would.
func decodeListing(body []byte) (minio.ListBucketV2Result, error) {
	res, err := scanListing(body)
	if errors.Is(err, errNotPlain) {
		res = minio.ListBucketV2Result{}
		err = xml.Unmarshal(body, &res)
	}
	return res, err
}

// scanner walks a document of the plain shape.
type scanner struct {
	b   []byte
	pos int
}

func scanListing(body []byte) (minio.ListBucketV2Result, error) {
	var res minio.ListBucketV2Result
	s := &scanner{b: body}
	if err := s.prolog(); err != nil {
		return res, err
	}
	name, empty, err := s.startTag(true)
	if err != nil {
		return res, err
	}
	if name != "ListBucketResult" {
		return res, errNotPlain // encoding/xml would say which element it expected
	}
	if !empty {
		err = s.children(name, func(child string, empty bool) error {
			switch child {
			case "Contents":
				var o minio.ObjectInfo
				if err := s.object(&o, empty); err != nil {
					return err
				}
				res.Contents = append(res.Contents, o)
				return nil
			case "CommonPrefixes":
				var p minio.CommonPrefix
				err := s.fields(child, empty, func(f string, empty bool) error {
					if f == "Prefix" {
						var err error
						p.Prefix, err = s.text(f, empty)
						return err
					}
					return s.skip(f, empty)
				})
				res.CommonPrefixes = append(res.CommonPrefixes, p)
				return err
			case "IsTruncated":
				t, err := s.text(child, empty)
				if err != nil {
					return err
				}
				res.IsTruncated, err = parseXMLBool(t)
				return err
			}
			return s.skip(child, empty)
		})
		if err != nil {
			return res, err
		}
	}
	s.space()
	if s.pos != len(s.b) {
		return res, errNotPlain // trailing content: let encoding/xml judge it
	}
	return res, nil
}

// object fills the fields of one Contents element that the store uses.
func (s *scanner) object(o *minio.ObjectInfo, empty bool) error {
	return s.fields("Contents", empty, func(f string, empty bool) error {
		switch f {
		case "Key", "ETag", "Size", "LastModified":
			t, err := s.text(f, empty)
			if err != nil {
				return err
			}
			switch f {
			case "Key":
				o.Key = t
			case "ETag":
				o.ETag = t
			case "Size":
				o.Size, err = parseXMLInt(t)
			case "LastModified":
				if o.LastModified.UnmarshalText([]byte(t)) != nil {
					err = errNotPlain
				}
			}
			return err
		case "UserMetadata":
			// As minio.StringMap.UnmarshalXML: each child's local name
			// maps to its text, the last one winning.
			m := minio.StringMap{}
			o.UserMetadata = m
			return s.fields(f, empty, func(k string, empty bool) error {
				v, err := s.text(k, empty)
				m[k] = v
				return err
			})
		}
		return s.skip(f, empty)
	})
}

// parseXMLInt and parseXMLBool convert text as encoding/xml does for int64
// and bool fields: empty text is the zero value, other text is parsed
// without its surrounding space. Text it cannot parse goes to
// encoding/xml, whose error the caller then gets.
func parseXMLInt(t string) (int64, error) {
	if t == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil {
		return 0, errNotPlain
	}
	return n, nil
}

func parseXMLBool(t string) (bool, error) {
	if t == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(t))
	if err != nil {
		return false, errNotPlain
	}
	return b, nil
}

// prolog skips white space, an XML declaration and white space again.
func (s *scanner) prolog() error {
	s.space()
	if bytes.HasPrefix(s.b[s.pos:], []byte("<?xml")) {
		end := bytes.Index(s.b[s.pos:], []byte("?>"))
		if end < 0 {
			return errNotPlain
		}
		decl := s.b[s.pos : s.pos+end]
		// encoding/xml refuses other encodings without a CharsetReader.
		if bytes.Contains(decl, []byte("encoding")) && !bytes.Contains(decl, []byte(`encoding="UTF-8"`)) {
			return errNotPlain
		}
		s.pos += end + 2
	}
	s.space()
	return nil
}

func (s *scanner) space() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// startTag reads "<name>" or "<name/>"; only the root (root true) may have
// attributes, which are skipped.
func (s *scanner) startTag(root bool) (name string, empty bool, err error) {
	if s.pos >= len(s.b) || s.b[s.pos] != '<' {
		return "", false, errNotPlain
	}
	s.pos++
	name, err = s.name()
	if err != nil {
		return "", false, err
	}
	for {
		if s.pos >= len(s.b) {
			return "", false, errNotPlain
		}
		switch c := s.b[s.pos]; {
		case c == '>':
			s.pos++
			return name, false, nil
		case c == '/':
			if s.pos+1 < len(s.b) && s.b[s.pos+1] == '>' {
				s.pos += 2
				return name, true, nil
			}
			return "", false, errNotPlain
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.pos++
		case root:
			if err := s.attribute(); err != nil {
				return "", false, err
			}
		default:
			return "", false, errNotPlain
		}
	}
}

// attribute skips name="value" (or 'value'); a value with an entity or a
// namespace prefix other than xmlns goes to encoding/xml.
func (s *scanner) attribute() error {
	name, err := s.name()
	if err != nil {
		return err
	}
	if name != "xmlns" {
		return errNotPlain
	}
	if s.pos+1 >= len(s.b) || s.b[s.pos] != '=' {
		return errNotPlain
	}
	q := s.b[s.pos+1]
	if q != '"' && q != '\'' {
		return errNotPlain
	}
	end := bytes.IndexByte(s.b[s.pos+2:], q)
	if end < 0 {
		return errNotPlain
	}
	if v := s.b[s.pos+2 : s.pos+2+end]; bytes.ContainsAny(v, "&<") || !utf8.Valid(v) {
		return errNotPlain
	}
	s.pos += 2 + end + 1
	return nil
}

// name reads an element name of ASCII letters, digits, '-', '_' and '.'
// (starting with a letter or '_'); anything else, a namespace prefix
// included, goes to encoding/xml.
func (s *scanner) name() (string, error) {
	start := s.pos
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' ||
			s.pos > start && (c >= '0' && c <= '9' || c == '-' || c == '.') {
			s.pos++
			continue
		}
		break
	}
	if s.pos == start {
		return "", errNotPlain
	}
	return string(s.b[start:s.pos]), nil
}

// endTag reads "</name>".
func (s *scanner) endTag(name string) error {
	s.space()
	if !bytes.HasPrefix(s.b[s.pos:], []byte("</")) {
		return errNotPlain
	}
	s.pos += 2
	got, err := s.name()
	if err != nil {
		return err
	}
	s.space()
	if got != name || s.pos >= len(s.b) || s.b[s.pos] != '>' {
		return errNotPlain // mismatched: encoding/xml words the error
	}
	s.pos++
	return nil
}

// children calls each for every child element of the element name just
// opened, then reads its end tag. Only white space may stand between
// children (other text is ignored by encoding/xml's structs, but is not
// the plain shape).
func (s *scanner) children(name string, each func(child string, empty bool) error) error {
	for {
		s.space()
		if bytes.HasPrefix(s.b[s.pos:], []byte("</")) {
			return s.endTag(name)
		}
		child, empty, err := s.startTag(false)
		if err != nil {
			return err
		}
		if err := each(child, empty); err != nil {
			return err
		}
	}
}

// fields is children for an element that may be empty ("<name/>").
func (s *scanner) fields(name string, empty bool, each func(child string, empty bool) error) error {
	if empty {
		return nil
	}
	return s.children(name, each)
}

// maxSkipDepth bounds the nesting skip follows; deeper documents go to
// encoding/xml, which has its own limit (and MinIO nests three deep).
const maxSkipDepth = 64

// skip passes over the element name just opened, checking that it is
// well formed.
func (s *scanner) skip(name string, empty bool) error {
	return s.skipDepth(name, empty, 0)
}

func (s *scanner) skipDepth(name string, empty bool, depth int) error {
	if empty {
		return nil
	}
	if depth > maxSkipDepth {
		return errNotPlain
	}
	for {
		if _, err := s.chars(); err != nil {
			return err
		}
		if bytes.HasPrefix(s.b[s.pos:], []byte("</")) {
			return s.endTag(name)
		}
		child, empty, err := s.startTag(false)
		if err != nil {
			return err
		}
		if err := s.skipDepth(child, empty, depth+1); err != nil {
			return err
		}
	}
}

// text reads the character data of the element name just opened and its
// end tag; an element inside it is not the plain shape.
func (s *scanner) text(name string, empty bool) (string, error) {
	if empty {
		return "", nil
	}
	t, err := s.chars()
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(s.b[s.pos:], []byte("</")) {
		return "", errNotPlain
	}
	return t, s.endTag(name)
}

// chars reads character data up to the next '<', unescaping entities and
// normalising line ends as encoding/xml does.
func (s *scanner) chars() (string, error) {
	start := s.pos
	plain := true
	for s.pos < len(s.b) && s.b[s.pos] != '<' {
		c := s.b[s.pos]
		if c == '&' || c == '\r' {
			plain = false
		} else if c < 0x20 && c != '\t' && c != '\n' || c == '>' && s.pos >= start+2 && s.b[s.pos-1] == ']' && s.b[s.pos-2] == ']' {
			return "", errNotPlain // a character or "]]>" encoding/xml refuses
		}
		s.pos++
	}
	if s.pos >= len(s.b) || bytes.HasPrefix(s.b[s.pos:], []byte("<!")) || bytes.HasPrefix(s.b[s.pos:], []byte("<?")) {
		return "", errNotPlain // end of input, comment, CDATA or instruction
	}
	raw := s.b[start:s.pos]
	for i := 0; i < len(raw); {
		if raw[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return "", errNotPlain // encoding/xml refuses it
		}
		i += size
	}
	if plain {
		return string(raw), nil
	}
	return unescape(raw)
}

// unescape resolves the predefined and numeric entities and turns "\r\n"
// and a lone "\r" into "\n".
func unescape(raw []byte) (string, error) {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '\r':
			b.WriteByte('\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case '&':
			end := bytes.IndexByte(raw[i:], ';')
			if end < 0 {
				return "", errNotPlain
			}
			r, ok := entity(string(raw[i+1 : i+end]))
			if !ok {
				return "", errNotPlain
			}
			b.WriteRune(r)
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func entity(e string) (rune, bool) {
	switch e {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	num, ok := strings.CutPrefix(e, "#")
	if !ok || num == "" {
		return 0, false
	}
	base := 10
	if h, ok := strings.CutPrefix(num, "x"); ok {
		num, base = h, 16
	}
	if num == "" || num[0] == '+' || num[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || !isXMLChar(rune(n)) {
		return 0, false
	}
	return rune(n), true
}

// isXMLChar is XML 1.0's Char production, which encoding/xml enforces on
// character references.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
