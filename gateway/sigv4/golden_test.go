package sigv4_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ssegate/ssegate/gateway/sigv4"
)

// The examples published in the Amazon S3 API reference ("Signature
// Calculations for the Authorization Header", "Query String
// Authentication", "Transferring Payload in Multiple Chunks"). Passing
// them shows the canonicalisation matches AWS, not merely our own signer.
var awsExampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func awsExampleOpts(now time.Time) sigv4.Options {
	return sigv4.Options{Region: "us-east-1", Services: []string{"s3"}, Now: func() time.Time { return now }}
}

func TestAWSPublishedHeaderExample(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"+
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	if _, err := sigv4.Verify(r, testCreds, awsExampleOpts(awsExampleTime)); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Range", "bytes=0-10")
	if _, err := sigv4.Verify(r, testCreds, awsExampleOpts(awsExampleTime)); !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) {
		t.Fatalf("tampered Range: %v", err)
	}
}

func TestAWSPublishedPresignExample(t *testing.T) {
	url := "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	for _, c := range []struct {
		after time.Duration
		want  error
	}{
		{0, nil},
		{86400 * time.Second, nil},
		{86401 * time.Second, sigv4.ErrAccessDenied},
	} {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		_, err := sigv4.Verify(r, testCreds, awsExampleOpts(awsExampleTime.Add(c.after)))
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Fatalf("after %v: got %v, want %v", c.after, err, c.want)
		}
	}
}

func awsStreamingExample(t *testing.T, corrupt bool) (*http.Request, []byte) {
	t.Helper()
	var body bytes.Buffer
	for _, c := range []struct {
		size int
		sig  string
	}{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	} {
		body.WriteString(strconv.FormatInt(int64(c.size), 16) + ";chunk-signature=" + c.sig + "\r\n")
		data := bytes.Repeat([]byte("a"), c.size)
		if corrupt && c.size == 1024 {
			data[10] = 'b'
		}
		body.Write(data)
		body.WriteString("\r\n")
	}
	r := httptest.NewRequest(http.MethodPut, "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body.Bytes()))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
		"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
		"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	if body.Len() != 66824 {
		t.Fatalf("example body is %d bytes", body.Len())
	}
	return r, bytes.Repeat([]byte("a"), 66560)
}

func TestAWSPublishedStreamingExample(t *testing.T) {
	r, want := awsStreamingExample(t, false)
	res, err := sigv4.Verify(r, testCreds, awsExampleOpts(awsExampleTime))
	if err != nil {
		t.Fatal(err)
	}
	pr, err := sigv4.NewPayloadReader(r, res)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(pr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, err %v", len(got), err)
	}

	r, _ = awsStreamingExample(t, true)
	res, err = sigv4.Verify(r, testCreds, awsExampleOpts(awsExampleTime))
	if err != nil {
		t.Fatal(err)
	}
	pr, _ = sigv4.NewPayloadReader(r, res)
	got, err = io.ReadAll(pr)
	if !errors.Is(err, sigv4.ErrSignatureDoesNotMatch) || len(got) != 65536 {
		t.Fatalf("corrupted second chunk: %d bytes released, err %v", len(got), err)
	}
}
