package minio

import (
	"strings"
	"testing"

	"github.com/ssegate/ssegate/store"
)

func TestValueEncodingRoundTripsAndLeavesPlainValuesAlone(t *testing.T) {
	cases := []struct {
		in      string
		encoded bool
	}{
		{"plain value", false},
		{"AAECAw==", false},
		{"", true},
		{" lead", true},
		{"trail ", true},
		{"=?UTF-8?B?aGk=?=", true},
		{valueMarker + "x", true},
		{"tab\tinside", true},
		{"ünicode", true},
		{strings.Repeat("x", 1000), false},
	}
	for _, c := range cases {
		enc := encodeValue(c.in)
		if (enc != c.in) != c.encoded {
			t.Errorf("encodeValue(%q) = %q; encoded=%v, want %v", c.in, enc, enc != c.in, c.encoded)
		}
		if strings.HasPrefix(enc, "=?") || strings.TrimSpace(enc) != enc || enc == "" {
			t.Errorf("encodeValue(%q) = %q would not survive HTTP", c.in, enc)
		}
		dec, err := decodeValue(enc)
		if err != nil || dec != c.in {
			t.Errorf("decodeValue(encodeValue(%q)) = %q, %v", c.in, dec, err)
		}
	}
	if _, err := decodeValue(valueMarker + "!!!"); err == nil {
		t.Error("corrupt encoded value accepted")
	}
}

func TestMetadataKeysComeBackLowerCase(t *testing.T) {
	in := store.Metadata{"content-type": "x", "ssegate-iv": "y", "0abc": "z"}
	wire := toUserMetadata(in)
	// What minio-go hands back: canonical header keys, prefix stripped.
	back := map[string]string{}
	for k, v := range wire {
		back[strings.TrimPrefix(k, metaPrefix)] = v
	}
	got, err := fromUserMetadata(back)
	if err != nil || len(got) != len(in) {
		t.Fatalf("fromUserMetadata = %v, %v", got, err)
	}
	for k, v := range in {
		if got[k] != v {
			t.Fatalf("key %q: got %q want %q", k, got[k], v)
		}
	}
}

func TestConfigStringHidesSecretKey(t *testing.T) {
	c := Config{Endpoint: "http://127.0.0.1:9000", AccessKey: "AK", SecretKey: "very-secret-key"}
	for _, s := range []string{c.String(), strings.ReplaceAll(fmtV(c), " ", "")} {
		if strings.Contains(s, "very-secret-key") {
			t.Fatalf("secret in %q", s)
		}
	}
}
