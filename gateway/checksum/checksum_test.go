package checksum_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ssegate/ssegate/gateway/checksum"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func be32(v uint32) string { return b64(binary.BigEndian.AppendUint32(nil, v)) }

func be64(v uint64) string { return b64(binary.BigEndian.AppendUint64(nil, v)) }

func unhex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// Check values from the CRC catalogue ("123456789") and FIPS 180 ("abc").
var vectors = []struct {
	algo  checksum.Algorithm
	input string
	want  string
}{
	{checksum.CRC32, "123456789", be32(0xCBF43926)},
	{checksum.CRC32C, "123456789", be32(0xE3069283)},
	{checksum.CRC64NVME, "123456789", be64(0xAE8B14860A799888)},
	{checksum.SHA1, "abc", b64(unhex("a9993e364706816aba3e25717850c26c9cd0d89d"))},
	{checksum.SHA256, "abc", b64(unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))},
}

func read(t *testing.T, v *checksum.Verifier) error {
	t.Helper()
	_, err := io.ReadAll(v)
	return err
}

func TestChecksumHeaderMatchesKnownVectors(t *testing.T) {
	for _, vec := range vectors {
		t.Run(string(vec.algo), func(t *testing.T) {
			h := http.Header{}
			h.Set(vec.algo.Header(), vec.want)
			exp, err := checksum.FromRequest(h)
			if err != nil {
				t.Fatal(err)
			}
			// One byte at a time exercises incremental hashing.
			v := checksum.NewVerifier(iotest.OneByteReader(strings.NewReader(vec.input)), exp, nil)
			if err := read(t, v); err != nil {
				t.Fatal(err)
			}
			if a, got := v.Checksum(); a != vec.algo || got != vec.want {
				t.Fatalf("Checksum() = %s %s, want %s", a, got, vec.want)
			}
			sum := md5.Sum([]byte(vec.input))
			if !bytes.Equal(v.MD5(), sum[:]) {
				t.Fatal("MD5 differs")
			}
		})
	}
}

func TestChecksumMismatchIsBadDigestBeforeEOF(t *testing.T) {
	for _, vec := range vectors {
		t.Run(string(vec.algo), func(t *testing.T) {
			h := http.Header{}
			h.Set(vec.algo.Header(), vec.want)
			exp, _ := checksum.FromRequest(h)
			v := checksum.NewVerifier(strings.NewReader(vec.input+"x"), exp, nil)
			err := read(t, v)
			if !errors.Is(err, checksum.ErrBadDigest) {
				t.Fatalf("got %v", err)
			}
			if want := "The " + string(vec.algo) + " you specified did not match the calculated checksum."; checksum.Message(err) != want {
				t.Fatalf("message %q", checksum.Message(err))
			}
			if v.MD5() != nil {
				t.Fatal("MD5 exposed after failure")
			}
			if a, _ := v.Checksum(); a != "" {
				t.Fatal("checksum exposed after failure")
			}
		})
	}
}

func TestTrailerChecksum(t *testing.T) {
	h := http.Header{"X-Amz-Trailer": {"x-amz-checksum-crc32c"}}
	exp, err := checksum.FromRequest(h)
	if err != nil || !exp.FromTrailer || exp.Algorithm != checksum.CRC32C {
		t.Fatalf("%+v %v", exp, err)
	}
	cases := []struct {
		name    string
		trailer http.Header
		want    error
	}{
		{"match", http.Header{"X-Amz-Checksum-Crc32c": {be32(0xE3069283)}}, nil},
		{"mismatch", http.Header{"X-Amz-Checksum-Crc32c": {be32(0xE3069284)}}, checksum.ErrBadDigest},
		{"missing", http.Header{}, checksum.ErrInvalidChecksum},
		{"malformed", http.Header{"X-Amz-Checksum-Crc32c": {"not base64!"}}, checksum.ErrInvalidChecksum},
		{"wrong length", http.Header{"X-Amz-Checksum-Crc32c": {be64(1)}}, checksum.ErrInvalidChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := checksum.NewVerifier(strings.NewReader("123456789"), exp, func() http.Header { return c.trailer })
			if err := read(t, v); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestContentMD5(t *testing.T) {
	body := "restic pack data"
	sum := md5.Sum([]byte(body))
	cases := []struct {
		name, header string
		parseErr     error
		readErr      error
	}{
		{"match", b64(sum[:]), nil, nil},
		{"mismatch", b64(make([]byte, 16)), nil, checksum.ErrBadDigest},
		{"not base64", "zz!!", checksum.ErrInvalidDigest, nil},
		{"wrong length", b64(sum[:15]), checksum.ErrInvalidDigest, nil},
		{"hex instead of base64", hex.EncodeToString(sum[:]), checksum.ErrInvalidDigest, nil},
		{"empty", "", checksum.ErrInvalidDigest, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp, err := checksum.FromRequest(http.Header{"Content-Md5": {c.header}})
			if !errors.Is(err, c.parseErr) && !(c.parseErr == nil && err == nil) {
				t.Fatalf("FromRequest: %v, want %v", err, c.parseErr)
			}
			if err != nil {
				return
			}
			err = read(t, checksum.NewVerifier(strings.NewReader(body), exp, nil))
			if !errors.Is(err, c.readErr) && !(c.readErr == nil && err == nil) {
				t.Fatalf("Read: %v, want %v", err, c.readErr)
			}
		})
	}
}

func TestFromRequestRejects(t *testing.T) {
	cases := []struct {
		name string
		h    http.Header
	}{
		{"two algorithms", http.Header{"X-Amz-Checksum-Crc32": {be32(1)}, "X-Amz-Checksum-Sha1": {b64(make([]byte, 20))}}},
		{"header and trailer", http.Header{"X-Amz-Checksum-Crc32": {be32(1)}, "X-Amz-Trailer": {"x-amz-checksum-crc32c"}}},
		{"malformed crc32", http.Header{"X-Amz-Checksum-Crc32": {"AAAA"}}},
		{"malformed sha256", http.Header{"X-Amz-Checksum-Sha256": {b64(make([]byte, 31))}}},
		{"unknown sdk algorithm", http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"MD4"}}},
		{"repeated header", http.Header{"X-Amz-Checksum-Crc32": {be32(1), be32(2)}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := checksum.FromRequest(c.h); !errors.Is(err, checksum.ErrInvalidChecksum) || checksum.Message(err) == "" {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestSDKAlgorithmAloneComputesChecksum(t *testing.T) {
	exp, err := checksum.FromRequest(http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"crc64nvme"}})
	if err != nil {
		t.Fatal(err)
	}
	v := checksum.NewVerifier(strings.NewReader("123456789"), exp, nil)
	if err := read(t, v); err != nil {
		t.Fatal(err)
	}
	if a, got := v.Checksum(); a != checksum.CRC64NVME || got != be64(0xAE8B14860A799888) {
		t.Fatalf("%s %s", a, got)
	}
}

func TestSDKAlgorithmIgnoredWhenValueHeaderPresent(t *testing.T) {
	exp, err := checksum.FromRequest(http.Header{"X-Amz-Sdk-Checksum-Algorithm": {"SHA256"}, "X-Amz-Checksum-Crc32": {be32(0xCBF43926)}})
	if err != nil || exp.Algorithm != checksum.CRC32 {
		t.Fatalf("%+v %v", exp, err)
	}
}

func TestReadErrorsPassThrough(t *testing.T) {
	boom := errors.New("boom")
	v := checksum.NewVerifier(iotest.ErrReader(boom), checksum.Expected{}, nil)
	if err := read(t, v); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if v.MD5() != nil {
		t.Fatal("MD5 after read error")
	}
}

func BenchmarkVerifierMD5AndCRC32C(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	exp := checksum.Expected{Algorithm: checksum.CRC32C}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v := checksum.NewVerifier(bytes.NewReader(data), exp, nil)
		if _, err := io.CopyBuffer(io.Discard, v, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// SkipMD5 drops only the ETag MD5: a Content-MD5 is still verified, and so
// is an additional checksum.
func TestSkipMD5KeepsEveryRequestedCheck(t *testing.T) {
	body := "sse-kms object body"
	sum := md5.Sum([]byte(body))

	exp, _ := checksum.FromRequest(http.Header{})
	v := checksum.NewVerifier(strings.NewReader(body), exp, nil)
	v.SkipMD5()
	if err := read(t, v); err != nil {
		t.Fatal(err)
	}
	if v.MD5() != nil {
		t.Fatalf("MD5 computed after SkipMD5: %x", v.MD5())
	}

	exp, _ = checksum.FromRequest(http.Header{"Content-Md5": {b64(make([]byte, 16))}})
	v = checksum.NewVerifier(strings.NewReader(body), exp, nil)
	v.SkipMD5()
	if err := read(t, v); !errors.Is(err, checksum.ErrBadDigest) {
		t.Fatalf("wrong Content-MD5 after SkipMD5: %v, want BadDigest", err)
	}
	exp, _ = checksum.FromRequest(http.Header{"Content-Md5": {b64(sum[:])}})
	v = checksum.NewVerifier(strings.NewReader(body), exp, nil)
	v.SkipMD5()
	if err := read(t, v); err != nil || !bytes.Equal(v.MD5(), sum[:]) {
		t.Fatalf("right Content-MD5 after SkipMD5: %v, MD5 %x", err, v.MD5())
	}

	h := http.Header{}
	h.Set(checksum.CRC32C.Header(), be32(0xE3069284))
	exp, _ = checksum.FromRequest(h)
	v = checksum.NewVerifier(strings.NewReader("123456789"), exp, nil)
	v.SkipMD5()
	if err := read(t, v); !errors.Is(err, checksum.ErrBadDigest) {
		t.Fatalf("wrong CRC32C after SkipMD5: %v, want BadDigest", err)
	}
}
