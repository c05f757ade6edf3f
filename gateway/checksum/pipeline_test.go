package checksum_test

import (
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ssegate/ssegate/gateway/checksum"
	"github.com/ssegate/ssegate/gateway/sigv4"
	"github.com/ssegate/ssegate/gateway/sigv4/sigv4test"
)

// TestTrailerChecksumThroughChunkedBody runs the gateway's upload pipeline:
// SigV4 verification, aws-chunked decoding, then checksum verification of
// the trailer value against the decoded bytes.
func TestTrailerChecksumThroughChunkedBody(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	s := sigv4test.Signer{AccessKey: "AK", SecretKey: "SK", Region: "us-east-1", Service: "s3", Time: now}
	creds := sigv4.CredentialsFunc(func(ak string) (string, bool) { return "SK", ak == "AK" })
	data := make([]byte, 300000)
	for i := range data {
		data[i] = byte(i)
	}
	good := be32(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	bad := be32(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) + 1)
	cases := []struct {
		name   string
		signed bool
		value  string
		want   error
	}{
		{"signed trailer ok", true, good, nil},
		{"signed trailer mismatch", true, bad, checksum.ErrBadDigest},
		{"unsigned trailer ok", false, good, nil},
		{"unsigned trailer mismatch", false, bad, checksum.ErrBadDigest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPut, "http://gw/b/k", nil)
			tr := http.Header{"X-Amz-Checksum-Crc32c": {c.value}}
			if c.signed {
				s.SignChunked(r, data, 65536, tr)
			} else {
				s.SignUnsignedTrailer(r, data, 65536, tr)
			}
			res, err := sigv4.Verify(r, creds, sigv4.Options{Region: "us-east-1", Services: []string{"s3"}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			body, err := sigv4.NewPayloadReader(r, res)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := checksum.FromRequest(r.Header)
			if err != nil {
				t.Fatal(err)
			}
			v := checksum.NewVerifier(body, exp, body.Trailer)
			_, err = io.Copy(io.Discard, v)
			if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.want == nil {
				if a, got := v.Checksum(); a != checksum.CRC32C || got != good {
					t.Fatalf("checksum %s %s", a, got)
				}
			}
		})
	}
}
