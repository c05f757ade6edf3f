package fs

import (
	"strings"
	"testing"
)

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a%b", "%41", "tab\t", "ü", "\x7f", `back\slash`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		e := escape(seg)
		if strings.ContainsAny(e, "/\x00\\") {
			t.Fatalf("escape(%q) = %q contains a path separator or NUL", seg, e)
		}
		got, ok := unescape(e)
		if !ok || got != seg {
			t.Fatalf("unescape(escape(%q)) = %q, %v", seg, got, ok)
		}
		for _, name := range []string{dirName(seg), sidecarName(seg)} {
			if name == "." || name == ".." || len(name) > maxNameLen+3 || strings.Contains(name, "/") {
				t.Fatalf("unsafe file name %q for segment %q", name, seg)
			}
		}
	})
}
