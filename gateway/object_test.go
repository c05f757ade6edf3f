package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestPutGetRoundTripsBodyHeadersAndMetadataWithAWSSDK(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := newEnv(t, tls)
			e.mkbucket("bkt")
			c := e.s3()
			ctx := context.Background()
			data := randBytes(3<<20+17, 2)
			exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			out, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String("dir/file.bin"), Body: bytes.NewReader(data),
				ContentType: aws.String("application/x-test"), CacheControl: aws.String("max-age=60"),
				ContentDisposition: aws.String("attachment"), ContentLanguage: aws.String("de"),
				Expires: aws.Time(exp), Metadata: map[string]string{"color": "blue", "Mixed-Case": "ünï"},
				Tagging: aws.String("a=1&b=two"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := `"` + md5hex(data) + `"`; aws.ToString(out.ETag) != want {
				t.Fatalf("PUT ETag %s, want %s", aws.ToString(out.ETag), want)
			}
			got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/file.bin")})
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if !bytes.Equal(body, data) {
				t.Fatal("body differs")
			}
			checks := map[string][2]string{
				"ETag":                {aws.ToString(got.ETag), `"` + md5hex(data) + `"`},
				"Content-Type":        {aws.ToString(got.ContentType), "application/x-test"},
				"Cache-Control":       {aws.ToString(got.CacheControl), "max-age=60"},
				"Content-Disposition": {aws.ToString(got.ContentDisposition), "attachment"},
				"Content-Language":    {aws.ToString(got.ContentLanguage), "de"},
				"meta color":          {got.Metadata["color"], "blue"},
				"meta mixed-case":     {got.Metadata["mixed-case"], "ünï"},
				"Content-Encoding":    {aws.ToString(got.ContentEncoding), ""},
			}
			for name, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %q, want %q", name, c[0], c[1])
				}
			}
			if aws.ToInt64(got.ContentLength) != int64(len(data)) {
				t.Errorf("Content-Length %d", aws.ToInt64(got.ContentLength))
			}
			if aws.ToInt32(got.TagCount) != 2 {
				t.Errorf("tag count %d, want 2", aws.ToInt32(got.TagCount))
			}
			for k := range got.Metadata {
				if strings.HasPrefix(k, "g-") || strings.HasPrefix(k, "ssegate") {
					t.Errorf("internal metadata %q visible to client", k)
				}
			}
		})
	}
}

func TestGetRanges(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	data := randBytes(1000, 3)
	e.put("bkt", "obj", data)
	empty := "empty"
	e.put("bkt", empty, nil)
	cases := []struct {
		name, key, rng string
		status         int
		code           string
		want           []byte
		contentRange   string
	}{
		{"closed range", "obj", "bytes=10-19", 206, "", data[10:20], "bytes 10-19/1000"},
		{"open-ended", "obj", "bytes=990-", 206, "", data[990:], "bytes 990-999/1000"},
		{"suffix", "obj", "bytes=-5", 206, "", data[995:], "bytes 995-999/1000"},
		{"suffix longer than object", "obj", "bytes=-5000", 206, "", data, "bytes 0-999/1000"},
		{"end past size is clamped", "obj", "bytes=900-5000", 206, "", data[900:], "bytes 900-999/1000"},
		{"start past end is 416", "obj", "bytes=1000-", 416, "InvalidRange", nil, ""},
		{"suffix zero is 416", "obj", "bytes=-0", 416, "InvalidRange", nil, ""},
		{"multiple ranges return whole object", "obj", "bytes=0-1,5-6", 200, "", data, ""},
		{"malformed range is ignored", "obj", "bytes=x-y", 200, "", data, ""},
		{"inverted range is ignored", "obj", "bytes=9-3", 200, "", data, ""},
		{"range on empty object is 416", empty, "bytes=0-", 416, "InvalidRange", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do("GET", "/bkt/"+tc.key, nil, map[string]string{"Range": tc.rng})
			wantStatusCode(t, resp, tc.status, tc.code)
			if tc.status == 416 {
				if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes */%d", map[string]int{"obj": 1000, empty: 0}[tc.key]); got != want {
					t.Errorf("416 Content-Range %q, want %q", got, want)
				}
			}
			if tc.code != "" {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if !bytes.Equal(body, tc.want) {
				t.Fatalf("body: got %d bytes, want %d", len(body), len(tc.want))
			}
			if got := resp.Header.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
		})
	}
}

func TestResponseOverridesQueryParameters(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "obj", []byte("x"))
	resp := e.do("GET", "/bkt/obj?response-content-type=text%2Fplain&response-content-disposition=inline&response-cache-control=no-cache", nil, nil)
	wantStatusCode(t, resp, 200, "")
	for h, want := range map[string]string{"Content-Type": "text/plain", "Content-Disposition": "inline", "Cache-Control": "no-cache"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestConditionalGetAndHead(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	info := e.put("bkt", "obj", []byte("hello"))
	etag := `"` + info.ETag + `"`
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"If-Match matching", map[string]string{"If-Match": etag}, 200},
		{"If-Match star", map[string]string{"If-Match": "*"}, 200},
		{"If-Match other", map[string]string{"If-Match": `"abc"`}, 412},
		{"If-None-Match matching", map[string]string{"If-None-Match": etag}, 304},
		{"If-None-Match other", map[string]string{"If-None-Match": `"abc"`}, 200},
		{"If-Modified-Since future", map[string]string{"If-Modified-Since": future}, 304},
		{"If-Modified-Since past", map[string]string{"If-Modified-Since": past}, 200},
		{"If-Unmodified-Since past", map[string]string{"If-Unmodified-Since": past}, 412},
		{"If-Unmodified-Since future", map[string]string{"If-Unmodified-Since": future}, 200},
		{"true If-Match beats false If-Unmodified-Since", map[string]string{"If-Match": etag, "If-Unmodified-Since": past}, 200},
		{"false If-None-Match beats true If-Modified-Since", map[string]string{"If-None-Match": etag, "If-Modified-Since": past}, 304},
	}
	for _, tc := range cases {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				resp := e.do(method, "/bkt/obj", nil, tc.hdr)
				code := ""
				if tc.status == 412 && method == "GET" {
					code = "PreconditionFailed"
				}
				wantStatusCode(t, resp, tc.status, code)
				if tc.status == 304 && resp.Header.Get("ETag") != etag {
					t.Errorf("304 without ETag")
				}
			})
		}
	}
}

func TestHeadErrorsHaveNoBody(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	resp := e.do("HEAD", "/bkt/missing", nil, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if b, _ := io.ReadAll(resp.Body); len(b) != 0 {
		t.Fatalf("HEAD error has a body: %q", b)
	}
}

func TestConditionalPut(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	resp := e.do("PUT", "/bkt/obj", []byte("one"), map[string]string{"If-None-Match": "*"})
	wantStatusCode(t, resp, 200, "")
	resp = e.do("PUT", "/bkt/obj", []byte("two"), map[string]string{"If-None-Match": "*"})
	wantStatusCode(t, resp, 412, "PreconditionFailed")
	resp = e.do("PUT", "/bkt/obj", []byte("three"), map[string]string{"If-Match": `"` + md5hex([]byte("nope")) + `"`})
	wantStatusCode(t, resp, 412, "PreconditionFailed")
	resp = e.do("PUT", "/bkt/obj", []byte("four"), map[string]string{"If-Match": `"` + md5hex([]byte("one")) + `"`})
	wantStatusCode(t, resp, 200, "")
	resp = e.do("PUT", "/bkt/other", []byte("x"), map[string]string{"If-Match": `"abc"`})
	wantStatusCode(t, resp, 404, "NoSuchKey")
	got := e.do("GET", "/bkt/obj", nil, nil)
	if b, _ := io.ReadAll(got.Body); string(b) != "four" {
		t.Fatalf("object = %q, want four", b)
	}
}

// Content-MD5 is verified in every SSE mode, including SSE-KMS and SSE-C,
// whose ETags are not an MD5 (the gateway skips its own MD5 pass there).
func TestPutWithContentMD5(t *testing.T) {
	e := newEnv(t, true) // TLS: SSE-C needs it
	e.mkbucket("bkt")
	good := md5.Sum([]byte("payload"))
	bad := md5.Sum([]byte("other"))
	cases := []struct {
		name, md5 string
		status    int
		code      string
	}{
		{"matching", base64.StdEncoding.EncodeToString(good[:]), 200, ""},
		{"mismatching is BadDigest", base64.StdEncoding.EncodeToString(bad[:]), 400, "BadDigest"},
		{"not base64 is InvalidDigest", "%%%", 400, "InvalidDigest"},
		{"wrong length is InvalidDigest", base64.StdEncoding.EncodeToString([]byte("short")), 400, "InvalidDigest"},
	}
	ck := newCustomerKey(11)
	modes := []struct {
		name string
		hdr  map[string]string
	}{
		{"sse-s3", map[string]string{}},
		{"sse-kms", map[string]string{"x-amz-server-side-encryption": "aws:kms"}},
		{"sse-c", ck.headers()},
	}
	for _, m := range modes {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				key := m.name + "-obj-" + strings.ReplaceAll(tc.name, " ", "-")
				h := maps.Clone(m.hdr)
				h["Content-MD5"] = tc.md5
				resp := e.do("PUT", "/bkt/"+key, []byte("payload"), h)
				wantStatusCode(t, resp, tc.status, tc.code)
				var getHdr map[string]string
				if m.name == "sse-c" {
					getHdr = ck.headers()
				}
				head := e.do("HEAD", "/bkt/"+key, nil, getHdr)
				if exists := head.StatusCode == 200; exists != (tc.status == 200) {
					t.Fatalf("object exists = %v after status %d", exists, tc.status)
				}
			})
		}
	}
}

func TestPutWithChecksumHeaders(t *testing.T) {
	e := newEnv(t, true)
	e.mkbucket("bkt")
	c := e.s3()
	ctx := context.Background()
	for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme} {
		t.Run(string(algo), func(t *testing.T) {
			data := randBytes(70000, 4)
			key := "ck-" + string(algo)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: algo})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			got := aws.ToString(out.ChecksumCRC32) + aws.ToString(out.ChecksumCRC32C) + aws.ToString(out.ChecksumSHA1) + aws.ToString(out.ChecksumSHA256) + aws.ToString(out.ChecksumCRC64NVME)
			if got == "" {
				t.Fatal("no checksum returned with checksum mode enabled")
			}
		})
	}
	t.Run("wrong checksum header is refused and stores nothing", func(t *testing.T) {
		resp := e.do("PUT", "/bkt/badck", []byte("data"), map[string]string{"x-amz-checksum-crc32": "AAAAAA=="})
		wantStatusCode(t, resp, 400, "BadDigest")
		wantStatusCode(t, e.do("HEAD", "/bkt/badck", nil, nil), 404, "")
	})
}

func TestDeleteObjectIsIdempotent(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	e.put("bkt", "obj", []byte("x"))
	for i := 0; i < 2; i++ {
		wantStatusCode(t, e.do("DELETE", "/bkt/obj", nil, nil), 204, "")
	}
	wantStatusCode(t, e.do("GET", "/bkt/obj", nil, nil), 404, "NoSuchKey")
	wantStatusCode(t, e.do("DELETE", "/nobucket/obj", nil, nil), 404, "NoSuchBucket")
}

func TestDeleteObjects(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	for _, k := range []string{"a", "b", "c"} {
		e.put("bkt", k, []byte(k))
	}
	ctx := context.Background()
	out, err := e.s3().DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}, {Key: aws.String("missing")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("deleted %d, errors %d", len(out.Deleted), len(out.Errors))
	}
	// minio-go's RemoveObjects uses Quiet mode and Content-MD5.
	ch := make(chan minio.ObjectInfo, 1)
	ch <- minio.ObjectInfo{Key: "c"}
	close(ch)
	for rerr := range e.minio().RemoveObjects(ctx, "bkt", ch, minio.RemoveObjectsOptions{}) {
		t.Fatalf("remove: %v", rerr.Err)
	}
	lo, err := e.s3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil || len(lo.Contents) != 0 {
		t.Fatalf("after deletes: %v, %d objects left", err, len(lo.Contents))
	}

	body := []byte(`<Delete><Object><Key>x</Key></Object></Delete>`)
	sum := md5.Sum(body)
	md := base64.StdEncoding.EncodeToString(sum[:])
	t.Run("without Content-MD5 or checksum is refused", func(t *testing.T) {
		wantStatusCode(t, e.do("POST", "/bkt?delete", body, nil), 400, "InvalidRequest")
	})
	t.Run("malformed XML", func(t *testing.T) {
		bad := []byte("<Delete><Object>")
		s := md5.Sum(bad)
		wantStatusCode(t, e.do("POST", "/bkt?delete", bad, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(s[:])}), 400, "MalformedXML")
	})
	t.Run("wrong Content-MD5", func(t *testing.T) {
		s := md5.Sum([]byte("x"))
		wantStatusCode(t, e.do("POST", "/bkt?delete", body, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(s[:])}), 400, "BadDigest")
	})
	t.Run("more than 1000 keys", func(t *testing.T) {
		big := []byte("<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 1001) + "</Delete>")
		s := md5.Sum(big)
		wantStatusCode(t, e.do("POST", "/bkt?delete", big, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(s[:])}), 400, "MalformedXML")
	})
	t.Run("with Content-MD5", func(t *testing.T) {
		wantStatusCode(t, e.do("POST", "/bkt?delete", body, map[string]string{"Content-MD5": md}), 200, "")
	})
}

func TestObjectKeyValidation(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	long := strings.Repeat("k", 1025)
	wantStatusCode(t, e.do("PUT", "/bkt/"+long, []byte("x"), nil), 400, "KeyTooLongError")
	wantStatusCode(t, e.do("PUT", "/bkt/"+strings.Repeat("k", 1024), []byte("x"), nil), 200, "")
	wantStatusCode(t, e.do("PUT", "/bkt/bad%FFutf8", []byte("x"), nil), 400, "InvalidArgument")
}

func TestUserMetadataLimit(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	wantStatusCode(t, e.do("PUT", "/bkt/big", []byte("x"), map[string]string{"x-amz-meta-big": strings.Repeat("v", 2100)}), 400, "MetadataTooLarge")
	wantStatusCode(t, e.do("PUT", "/bkt/ok", []byte("x"), map[string]string{"x-amz-meta-ok": strings.Repeat("v", 1900)}), 200, "")
}

func TestClientCannotSetOrSeeInternalMetadata(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("bkt")
	// A header spelled like our internal entry is just user metadata.
	resp := e.do("PUT", "/bkt/obj", []byte("abc"), map[string]string{"x-amz-meta-g-size": "999", "x-amz-meta-g-etag": "forged"})
	wantStatusCode(t, resp, 200, "")
	head := e.do("HEAD", "/bkt/obj", nil, nil)
	if head.ContentLength != 3 || head.Header.Get("ETag") != `"`+md5hex([]byte("abc"))+`"` {
		t.Fatalf("client metadata overrode internal entries: len %d etag %s", head.ContentLength, head.Header.Get("ETag"))
	}
	for name := range head.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "g-") || strings.HasPrefix(l, "x-amz-meta-ssegate") {
			t.Errorf("internal header %s visible", name)
		}
	}
}

// A body larger than smallPutMax streams into the store while it is still
// being received and hashed (readAhead): a digest that fails at its end
// must still fail the PUT with BadDigest, store nothing, and leave the
// object it would have replaced as it was.
func TestStreamedPutWithBadDigestKeepsThePreviousObject(t *testing.T) {
	e := newEnv(t, true)
	e.mkbucket("bkt")
	body := randBytes(3<<20+5, 48)
	other := md5.Sum([]byte("other"))
	ck := newCustomerKey(12)
	for _, m := range []struct {
		name string
		hdr  map[string]string
	}{
		{"sse-s3", map[string]string{}},
		{"sse-kms", map[string]string{"x-amz-server-side-encryption": "aws:kms"}},
		{"sse-c", ck.headers()},
	} {
		t.Run(m.name, func(t *testing.T) {
			key := "/bkt/streamed-" + m.name
			wantStatusCode(t, e.do("PUT", key, []byte("previous"), m.hdr), 200, "")
			for name, h := range map[string]map[string]string{
				"Content-MD5":          {"Content-MD5": base64.StdEncoding.EncodeToString(other[:])},
				"x-amz-checksum-crc32": {"x-amz-checksum-crc32": "AAAAAA=="},
			} {
				hdr := maps.Clone(m.hdr)
				maps.Copy(hdr, h)
				wantStatusCode(t, e.do("PUT", key, body, hdr), 400, "BadDigest")
				var getHdr map[string]string
				if m.name == "sse-c" {
					getHdr = ck.headers()
				}
				got := e.do("GET", key, nil, getHdr)
				if b, _ := io.ReadAll(got.Body); got.StatusCode != 200 || string(b) != "previous" {
					t.Fatalf("%s: after the failed PUT: %d %q, want the previous object", name, got.StatusCode, b)
				}
			}
			wantStatusCode(t, e.do("PUT", key, body, m.hdr), 200, "")
		})
	}
}
