package gateway

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Hostile input: request bodies far larger than anything legitimate,
// pathologically nested documents and declared sizes beyond S3's limits
// must each get an S3 (or KMS JSON) error, quickly and with memory bounded
// by the gateway's own limits rather than by what the client sends.

// hostileBodySize is what a hostile client sends: far above every parsed
// body limit (2 MiB XML, 20 KiB policy, 64 KiB KMS JSON).
const hostileBodySize = 64 << 20

// allocSlack bounds what the gateway may allocate while refusing a
// hostileBodySize body: its limits plus buffers, far below the body.
const allocSlack = 16 << 20

// patternReader yields n bytes of a repeating pattern without holding
// them, so the test itself does not allocate the hostile body.
type patternReader struct {
	pattern []byte
	n, off  int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rem := p.n - p.off; int64(len(b)) > rem {
		b = b[:rem]
	}
	for i := range b {
		b[i] = p.pattern[(p.off+int64(i))%int64(len(p.pattern))]
	}
	p.off += int64(len(b))
	return len(b), nil
}

// rawSend writes a SigV4-signed request on its own connection (the body
// from a goroutine, errors ignored: the gateway may refuse and close
// before reading it) and returns the response. size < 0 sends the body
// chunked (no Content-Length). service "kms" signs the payload hash
// payloadHash; "s3" signs UNSIGNED-PAYLOAD.
func rawSend(t *testing.T, baseURL, service, method, path string, hdr map[string]string, size int64, body io.Reader, payloadHash string) *http.Response {
	t.Helper()
	u, err := url.Parse(baseURL + path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, u.String(), io.NopCloser(body))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	if size < 0 {
		req.TransferEncoding = []string{"chunked"}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if service == "s3" {
		payloadHash = "UNSIGNED-PAYLOAD"
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey},
		req, payloadHash, service, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() { _ = req.Write(conn) }()
	// A deadline so a hung gateway fails the test instead of hanging it.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: no response: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// allocatedDuring returns the bytes the process allocated while fn ran.
func allocatedDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestOversizedXMLAndPolicyBodiesAreS3ErrorsWithBoundedMemory(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("hostile")
	up, err := e.s3().CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String("hostile"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	complete := "/hostile/mp?uploadId=" + url.QueryEscape(aws.ToString(up.UploadId))
	// A plausible-looking document that never ends: a parser that buffered
	// or decoded without a limit would keep going.
	parts := []byte("<Part><PartNumber>1</PartNumber><ETag>\"0123456789abcdef0123456789abcdef\"</ETag></Part>")
	withMD5 := map[string]string{"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}

	for _, tc := range []struct {
		name    string
		method  string
		path    string
		hdr     map[string]string
		chunked bool // no Content-Length: the limit must hold while reading
		status  int
		code    string
	}{
		{"CompleteMultipartUpload with Content-Length", "POST", complete, nil, false, 400, "MaxMessageLengthExceeded"},
		{"CompleteMultipartUpload chunked", "POST", complete, nil, true, 400, "MaxMessageLengthExceeded"},
		{"DeleteObjects", "POST", "/hostile?delete", withMD5, false, 400, "MaxMessageLengthExceeded"},
		{"DeleteObjects chunked", "POST", "/hostile?delete", withMD5, true, 411, "MissingContentLength"},
		{"PutBucketEncryption", "PUT", "/hostile?encryption", withMD5, false, 400, "MaxMessageLengthExceeded"},
		{"PutBucketPolicy", "PUT", "/hostile?policy", nil, false, 400, "MalformedPolicy"},
		{"PutBucketPolicy chunked", "PUT", "/hostile?policy", nil, true, 411, "MissingContentLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := int64(hostileBodySize)
			if tc.chunked {
				size = -1
			}
			var resp *http.Response
			alloc := allocatedDuring(func() {
				resp = rawSend(t, e.ts.URL, "s3", tc.method, tc.path, tc.hdr, size,
					&patternReader{pattern: parts, n: hostileBodySize}, "")
				wantStatusCode(t, resp, tc.status, tc.code)
			})
			if alloc > allocSlack {
				t.Errorf("refusing a %d MiB body allocated %d MiB; want < %d MiB", hostileBodySize>>20, alloc>>20, allocSlack>>20)
			}
		})
	}
}

// nested returns depth open tags of name, then depth close tags.
func nested(name string, depth int) string {
	return strings.Repeat("<"+name+">", depth) + strings.Repeat("</"+name+">", depth)
}

func TestDeeplyNestedXMLIsMalformedXML(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("deep")
	up, err := e.s3().CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String("deep"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	e.put("deep", "obj", []byte("x"))
	// 10^5 levels: within the 2 MiB body limit, far beyond any schema.
	const depth = 100_000
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"CompleteMultipartUpload", "POST", "/deep/mp?uploadId=" + url.QueryEscape(aws.ToString(up.UploadId)),
			"<CompleteMultipartUpload>" + nested("Part", depth) + "</CompleteMultipartUpload>"},
		{"DeleteObjects", "POST", "/deep?delete", "<Delete>" + nested("Object", depth) + "</Delete>"},
		{"PutBucketEncryption", "PUT", "/deep?encryption",
			"<ServerSideEncryptionConfiguration>" + nested("Rule", depth) + "</ServerSideEncryptionConfiguration>"},
		{"PutObjectTagging", "PUT", "/deep/obj?tagging", "<Tagging>" + nested("TagSet", depth) + "</Tagging>"},
		// Deep but under the limit, and unbalanced: still MalformedXML.
		{"CompleteMultipartUpload unclosed", "POST", "/deep/mp?uploadId=" + url.QueryEscape(aws.ToString(up.UploadId)),
			"<CompleteMultipartUpload>" + strings.Repeat("<Part>", depth)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(tc.method, tc.path, []byte(tc.body), map[string]string{"Content-MD5": md5b64([]byte(tc.body))})
			wantStatusCode(t, resp, http.StatusBadRequest, "MalformedXML")
		})
	}
}

func TestPutDeclaringMoreThan5GiBIsEntityTooLargeBeforeReadingTheBody(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("huge")
	// The body never comes: only an answer given before reading it can
	// arrive. The pipe is closed at the end so the writer goroutine ends.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	for _, tc := range []struct{ name, path string }{
		{"PutObject", "/huge/big"},
		{"UploadPart", "/huge/big?partNumber=1&uploadId=whatever"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawSend(t, e.ts.URL, "s3", "PUT", tc.path, nil, 5<<30+1, pr, "")
			wantStatusCode(t, resp, http.StatusBadRequest, "EntityTooLarge")
		})
	}
	resp := e.do("HEAD", "/huge/big", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD after refused PUT = %d, want 404", resp.StatusCode)
	}
}

func TestHostileKMSJSONBodiesAreKMSErrors(t *testing.T) {
	ts := newKMSGateway(t)
	deep := `{"KeyId":` + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + `}` // < 64 KiB, 30,000 levels
	deepHash := sha256.Sum256([]byte(deep))
	// The huge body is signed with its real hash: only the size is wrong.
	pattern := []byte(`{"KeyId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	h := sha256.New()
	io.Copy(h, &patternReader{pattern: pattern, n: hostileBodySize})
	hugeHash := hex.EncodeToString(h.Sum(nil))

	for _, tc := range []struct {
		name  string
		size  int64
		body  func() io.Reader
		hash  string
		types []string // acceptable __type values
	}{
		{"64 MiB body", hostileBodySize, func() io.Reader { return &patternReader{pattern: pattern, n: hostileBodySize} }, hugeHash,
			[]string{"ValidationException"}},
		{"30,000 levels of nesting", int64(len(deep)), func() io.Reader { return strings.NewReader(deep) }, hex.EncodeToString(deepHash[:]),
			[]string{"SerializationException", "ValidationException"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"X-Amz-Target": "TrentService.DescribeKey", "Content-Type": "application/x-amz-json-1.1"}
			var resp *http.Response
			alloc := allocatedDuring(func() {
				resp = rawSend(t, ts.URL, "kms", "POST", "/", hdr, tc.size, tc.body(), tc.hash)
			})
			if resp.StatusCode/100 != 4 {
				t.Fatalf("status %d, want 4xx", resp.StatusCode)
			}
			var out struct {
				Type string `json:"__type"`
			}
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("not a KMS JSON error: %q", b)
			}
			if !contains(tc.types, out.Type) {
				t.Errorf("__type = %q, want one of %v (body %s)", out.Type, tc.types, b)
			}
			if alloc > allocSlack {
				t.Errorf("refusing the body allocated %d MiB; want < %d MiB", alloc>>20, allocSlack>>20)
			}
		})
	}
}

// TestHostileRequestsLeaveTheGatewayServing checks that after each kind of
// hostile request an ordinary one still works (no handler wedged, no
// global state broken).
func TestHostileRequestsLeaveTheGatewayServing(t *testing.T) {
	e := newEnv(t, false)
	e.mkbucket("after")
	for i := range 3 {
		pr, pw := io.Pipe()
		resp := rawSend(t, e.ts.URL, "s3", "PUT", fmt.Sprintf("/after/x%d", i), nil, 5<<30+1, pr, "")
		wantStatusCode(t, resp, http.StatusBadRequest, "EntityTooLarge")
		pw.Close()
	}
	data := randBytes(1<<20, 9)
	e.put("after", "ok", data)
	resp := e.do("GET", "/after/ok", nil, nil)
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != string(data) {
		t.Fatalf("GET after hostile requests: status %d, %d bytes", resp.StatusCode, len(got))
	}
}
