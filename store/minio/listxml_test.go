package minio

import (
	"encoding/xml"
	"errors"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Answers of the pinned MinIO to ListObjectsV2 with metadata=true and
// encoding-type=url: three objects with ssegate metadata, and keys, user
// metadata and a content type full of characters XML escapes.
var listingSamples = []string{"testdata/listing-metadata.xml", "testdata/listing-special.xml"}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// referenceListing is what the store decoded before it had a scanner.
func referenceListing(body []byte) (minio.ListBucketV2Result, error) {
	var res minio.ListBucketV2Result
	err := xml.Unmarshal(body, &res)
	return res, err
}

// sameListing compares the fields the store uses.
func sameListing(a, b minio.ListBucketV2Result) string {
	if a.IsTruncated != b.IsTruncated {
		return "IsTruncated"
	}
	if len(a.Contents) != len(b.Contents) {
		return "number of Contents"
	}
	for i := range a.Contents {
		x, y := a.Contents[i], b.Contents[i]
		switch {
		case x.Key != y.Key:
			return "Key of entry " + x.Key
		case x.Size != y.Size:
			return "Size of " + x.Key
		case x.ETag != y.ETag:
			return "ETag of " + x.Key
		case !x.LastModified.Equal(y.LastModified) || x.LastModified.Location().String() != y.LastModified.Location().String():
			return "LastModified of " + x.Key
		case (x.UserMetadata == nil) != (y.UserMetadata == nil) || !maps.Equal(x.UserMetadata, y.UserMetadata):
			return "UserMetadata of " + x.Key
		}
	}
	if len(a.CommonPrefixes) != len(b.CommonPrefixes) {
		return "number of CommonPrefixes"
	}
	for i := range a.CommonPrefixes {
		if a.CommonPrefixes[i].Prefix != b.CommonPrefixes[i].Prefix {
			return "CommonPrefix " + a.CommonPrefixes[i].Prefix
		}
	}
	return ""
}

// The scanner reads MinIO's answers itself (no fallback) and gets what
// encoding/xml gets, including variations MinIO may write: empty and
// self-closing elements, white space, line ends, numeric references.
func TestScanListingReadsMinIOAnswersAsEncodingXML(t *testing.T) {
	docs := map[string]string{}
	for _, name := range listingSamples {
		docs[name] = string(readSample(t, name))
	}
	base := docs[listingSamples[1]]
	for name, edit := range map[string]func(string) string{
		"indented": func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "><", ">\n  <"), "\n  </Key>", "</Key>")
		},
		"self-closing and empty": func(s string) string {
			s = strings.Replace(s, "<Prefix></Prefix>", "<Prefix/>", 1)
			return strings.Replace(s, "<Contents>", "<Contents/><Contents><UserMetadata/></Contents><Contents>", 1)
		},
		"crlf and references": func(s string) string {
			return strings.Replace(s, "<X-Amz-Meta-Plain>v</X-Amz-Meta-Plain>", "<X-Amz-Meta-Plain>a\r\nb\rc&#x41;&#66;&#x1F600;&apos;&quot;&gt;</X-Amz-Meta-Plain>", 1)
		},
		"space in tags": func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "<Size>", "<Size >"), "</Size>", "</Size >")
		},
		"truncated and padded size": func(s string) string {
			s = strings.Replace(s, "<IsTruncated>false</IsTruncated>", "<IsTruncated> true </IsTruncated>", 1)
			return strings.Replace(s, "<Size>1</Size>", "<Size> 42\n</Size>", 1)
		},
		"unknown elements": func(s string) string {
			return strings.Replace(s, "<Internal>", "<Owner><ID>x</ID><DisplayName>y &amp; z</DisplayName></Owner><Internal>", 1)
		},
		"no declaration": func(s string) string { return s[strings.Index(s, "<ListBucketResult"):] },
	} {
		docs[name] = edit(base)
	}
	for name, doc := range docs {
		want, err := referenceListing([]byte(doc))
		if err != nil {
			t.Fatalf("%s: encoding/xml: %v", name, err)
		}
		got, err := scanListing([]byte(doc))
		if err != nil {
			t.Fatalf("%s: the scanner did not read it: %v", name, err)
		}
		if diff := sameListing(got, want); diff != "" {
			t.Errorf("%s: %s differs from encoding/xml", name, diff)
		}
		if len(got.Contents) == 0 {
			t.Errorf("%s: no entries", name)
		}
	}
}

// What is not the plain shape goes to encoding/xml, which then decides,
// its errors included.
func TestDecodeListingLeavesOtherXMLToEncodingXML(t *testing.T) {
	base := string(readSample(t, listingSamples[1]))
	for name, doc := range map[string]string{
		"comment":           strings.Replace(base, "<Size>", "<!-- c --><Size>", 1),
		"comment in text":   strings.Replace(base, "<Size>1", "<Size>1<!-- c -->", 1),
		"CDATA":             strings.Replace(base, "<X-Amz-Meta-Plain>v", "<X-Amz-Meta-Plain><![CDATA[<v>]]>", 1),
		"namespace prefix":  strings.Replace(base, "<Size>1</Size>", "<s:Size xmlns:s=\"urn:x\">1</s:Size>", 1),
		"attribute":         strings.Replace(base, "<Size>", "<Size a=\"1\">", 1),
		"unknown entity":    strings.Replace(base, "&amp;", "&nbsp;", 1),
		"bad reference":     strings.Replace(base, "&#34;", "&#0;", 1),
		"control character": strings.Replace(base, "say", "s\x01y", 1),
		"not a character":   strings.Replace(base, "say", "s\uFFFEy", 1),
		"invalid UTF-8":     strings.Replace(base, "say", "s\xffy", 1),
		"bad size":          strings.Replace(base, "<Size>1<", "<Size>one<", 1),
		"blank size":        strings.Replace(base, "<Size>1<", "<Size> <", 1),
		"bad time":          strings.Replace(base, "<LastModified>2026", "<LastModified>yesterday", 1),
		"mismatched tags":   strings.Replace(base, "</Size>", "</Sise>", 1),
		"cut short":         base[:len(base)/2],
		"other root":        strings.ReplaceAll(base, "ListBucketResult", "ListVersionsResult"),
		"latin-1":           strings.Replace(base, "UTF-8", "ISO-8859-1", 1),
		"mixed content":     strings.Replace(base, "<Key>", "<Key>x<b>y</b>", 1),
		"text between":      strings.Replace(base, "<Contents>", "junk<Contents>", 1),
		"trailing content":  base + "<extra/>",
		"doctype":           strings.Replace(base, "<ListBucketResult", "<!DOCTYPE x><ListBucketResult", 1),
		"deep nesting":      strings.Replace(base, "<Internal>", "<Internal>"+strings.Repeat("<a>", 20000)+strings.Repeat("</a>", 20000), 1),
	} {
		if _, err := scanListing([]byte(doc)); !errors.Is(err, errNotPlain) {
			t.Errorf("%s: the scanner answered (%v) instead of leaving it to encoding/xml", name, err)
		}
		want, werr := referenceListing([]byte(doc))
		got, gerr := decodeListing([]byte(doc))
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Errorf("%s: error %v, encoding/xml says %v", name, gerr, werr)
		}
		if werr == nil {
			if diff := sameListing(got, want); diff != "" {
				t.Errorf("%s: %s differs from encoding/xml", name, diff)
			}
		}
	}
}

// Whatever the input, decodeListing fails only where encoding/xml fails,
// and where encoding/xml succeeds it gives the same fields. (It may
// succeed where encoding/xml fails on an element the store does not use,
// such as a malformed <Internal><K>, which the scanner only checks for
// well-formedness.)
func FuzzDecodeListingMatchesEncodingXML(f *testing.F) {
	for _, name := range listingSamples {
		f.Add(readSample(f, name))
	}
	f.Add([]byte(`<ListBucketResult><Contents><Key>a&amp;b</Key><Size>1</Size><UserMetadata><A>x&#10;y</A></UserMetadata></Contents><IsTruncated>true</IsTruncated></ListBucketResult>`))
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="x"><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		want, werr := referenceListing(doc)
		got, gerr := decodeListing(doc)
		if gerr != nil && werr == nil {
			t.Fatalf("decodeListing failed (%v) where encoding/xml succeeds", gerr)
		}
		if werr == nil {
			if diff := sameListing(got, want); diff != "" {
				t.Fatalf("%s differs from encoding/xml", diff)
			}
		}
	})
}

// A page of 1000 entries as MinIO writes it with metadata=true, decoded by
// the scanner and by encoding/xml, side by side.
func BenchmarkDecodeListing1000(b *testing.B) {
	one := string(readSample(b, listingSamples[0]))
	start, end := strings.Index(one, "<Contents>"), strings.LastIndex(one, "</Contents>")+len("</Contents>")
	entries := one[start:end]
	page := []byte(one[:start] + strings.Repeat(entries, 334) + one[end:])
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := scanListing(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-xml", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if _, err := referenceListing(page); err != nil {
				b.Fatal(err)
			}
		}
	})
}
