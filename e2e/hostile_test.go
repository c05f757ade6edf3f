package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Hostile clients against the real binary: what http.Server settings in
// cmd/ssegate (header size and timeouts, the per-read body deadline) must
// stop. Parsing limits for bodies are tested in process (gateway/hostile_test.go).

// hostileGateway is an fs gateway with the admin listener on and the given
// extra flags, plus an S3 client for ordinary requests next to the attack.
type hostileGateway struct {
	*gatewayProc
	ak, sk string
	admin  string // host:port of --admin-listen
	s3     *minio.Client
}

func startHostileGateway(t *testing.T, args ...string) *hostileGateway {
	t.Helper()
	ak, sk := "HOSTILE"+randomUpper(13), randomHex(20)
	g := startGateway(t, gatewayOptions{
		Args: append([]string{"--admin-listen", "127.0.0.1:0", "--allow-insecure-ssec"}, args...),
		Env:  []string{"SSEGATE_ACCESS_KEY=" + ak, "SSEGATE_SECRET_KEY=" + sk},
	})
	h := &hostileGateway{gatewayProc: g, ak: ak, sk: sk, admin: adminAddr(t, g)}
	var err error
	h.s3, err = minio.New(strings.TrimPrefix(g.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var adminReadyRe = regexp.MustCompile(`"msg":"admin ready","addr":"([^"]+)"`)

// adminAddr reads the admin listener's address from the log: it is logged
// before "ready", for which startGateway already waited.
func adminAddr(t testing.TB, g *gatewayProc) string {
	t.Helper()
	m := adminReadyRe.FindStringSubmatch(g.log.String())
	if m == nil {
		t.Fatalf("no admin ready line in the log:\n%s", g.log.String())
	}
	return m[1]
}

// metric returns one unlabelled gauge from the admin listener's /metrics.
func metric(t testing.TB, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return 0
}

// rssBytes is VmRSS of pid from /proc.
func rssBytes(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// roundTrip PUTs and GETs one small object: the gateway is serving.
func (h *hostileGateway) roundTrip(t testing.TB, bucket, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := []byte("still serving " + randomHex(8))
	if _, err := h.s3.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("PUT during attack: %v", err)
	}
	obj, err := h.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("GET during attack: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GET during attack: %v, %q", err, got)
	}
}

func (h *hostileGateway) mkbucket(t testing.TB) string {
	t.Helper()
	b := bucketName("hostile")
	if err := h.s3.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return b
}

// signedHead returns the request line and headers of a SigV4-signed
// request (UNSIGNED-PAYLOAD) ready to write on a raw connection.
func (h *hostileGateway) signedHead(t testing.TB, method, path string, contentLength int64) []byte {
	t.Helper()
	req, err := http.NewRequest(method, h.Endpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	req.Header.Set("Content-Length", strconv.FormatInt(contentLength, 10))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: h.ak, SecretAccessKey: h.sk},
		req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req.URL.RequestURI(), req.URL.Host)
	req.Header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

func dialGateway(t testing.TB, g *gatewayProc) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.Endpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads until the server closes c (EOF or reset), returning what
// it sent first; deadline bounds the wait and failing it fails the test.
func waitClosed(t testing.TB, c net.Conn, deadline time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(deadline))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server did not close the connection within %v (got %q)", deadline, got)
	}
	return string(got)
}

func TestOversizedRequestHeadersAre431AndTheGatewayKeepsServing(t *testing.T) {
	h := startHostileGateway(t)
	bucket := h.mkbucket(t)
	for _, tc := range []struct {
		name    string
		headers string
	}{
		{"one 2 MiB header", "X-Amz-Meta-Big: " + strings.Repeat("a", 2<<20) + "\r\n"},
		{"20,000 headers of 100 bytes", strings.Repeat("X-Amz-Meta-H: "+strings.Repeat("b", 84)+"\r\n", 20_000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialGateway(t, h.gatewayProc)
			go func() {
				io.WriteString(c, "GET /"+bucket+"/x HTTP/1.1\r\nHost: h\r\n"+tc.headers+"\r\n")
			}()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status %d, want 431", resp.StatusCode)
			}
			h.roundTrip(t, bucket, "after-"+randomHex(4))
		})
	}
}

func TestSlowlorisHeadersAreCutOffByReadHeaderTimeout(t *testing.T) {
	h := startHostileGateway(t, "--read-header-timeout", "2s")
	bucket := h.mkbucket(t)
	c := dialGateway(t, h.gatewayProc)
	// One byte every 250 ms of a header block that never ends.
	stop := make(chan struct{})
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		line := "GET /" + bucket + "/x HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("s", 1000)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for ; n < len(line); n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{line[n]}); err != nil {
				return
			}
		}
	}()
	// The gateway still serves others meanwhile.
	h.roundTrip(t, bucket, "during")
	got := waitClosed(t, c, 60*time.Second)
	if strings.Contains(got, "200 OK") {
		t.Errorf("slow request was served: %q", got)
	}
	close(stop)
	if n := <-sent; n >= 1000 {
		t.Errorf("the whole slow header (%d bytes) was accepted", n)
	}
}

func TestStalledUploadIsCutOffAndStoresNothing(t *testing.T) {
	h := startHostileGateway(t, "--body-read-timeout", "2s")
	bucket := h.mkbucket(t)

	c := dialGateway(t, h.gatewayProc)
	if _, err := c.Write(h.signedHead(t, "PUT", "/"+bucket+"/stalled", 1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(bytes.Repeat([]byte("x"), 1000)); err != nil {
		t.Fatal(err)
	}
	// ...and nothing more: the gateway must give up on its own.
	got := waitClosed(t, c, 60*time.Second)
	if strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("stalled upload answered 200: %q", got)
	}
	_, err := h.s3.StatObject(context.Background(), bucket, "stalled", minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("HEAD of the stalled upload: %v, want NoSuchKey", err)
	}
	h.roundTrip(t, bucket, "after")
}

func TestSlowButSteadyUploadOutlivesTheBodyReadTimeout(t *testing.T) {
	// The deadline is per read, not per request: a body trickling in for
	// longer than --body-read-timeout in total, but never pausing that
	// long, is stored.
	h := startHostileGateway(t, "--body-read-timeout", "2s")
	bucket := h.mkbucket(t)
	const n = 10
	c := dialGateway(t, h.gatewayProc)
	if _, err := c.Write(h.signedHead(t, "PUT", "/"+bucket+"/steady", n)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		time.Sleep(500 * time.Millisecond) // the pacing under test, 5 s in all
		if _, err := c.Write([]byte{'0' + byte(i)}); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	obj, err := h.s3.GetObject(context.Background(), bucket, "steady", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if got, err := io.ReadAll(obj); err != nil || string(got) != "0123456789" {
		t.Errorf("GET = %q, %v", got, err)
	}
}

// idleFloodConns is the figure; SSEGATE_FLOOD_CONNS overrides it.
const idleFloodConns = 10_000

func TestTenThousandIdleConnectionsNeitherStopNorExhaustTheGateway(t *testing.T) {
	conns := idleFloodConns
	if v := os.Getenv("SSEGATE_FLOOD_CONNS"); v != "" {
		conns, _ = strconv.Atoi(v)
	}
	// Both processes need a descriptor per connection; the gateway
	// inherits the raised limit.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < uint64(conns)+1000 {
		msg := fmt.Sprintf("RLIMIT_NOFILE %d is below the %d connections of this test", lim.Cur, conns)
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Idle connections are what the header timeout closes; keep them
	// open for the whole measurement.
	h := startHostileGateway(t, "--read-header-timeout", "5m")
	bucket := h.mkbucket(t)
	h.roundTrip(t, bucket, "warm")
	baseline := metric(t, h.admin, "go_goroutines")
	rssBefore := rssBytes(t, h.cmd.Process.Pid)

	open := make([]net.Conn, conns)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	addr := strings.TrimPrefix(h.Endpoint, "http://")
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < conns; i += 8 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- fmt.Errorf("dial %d: %w", i, err)
					return
				}
				open[i] = c
			}
		}()
	}
	wg.Wait()
	closeAll := func() {
		for _, c := range open {
			if c != nil {
				c.Close()
			}
		}
	}
	defer closeAll()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}

	// The server has a goroutine per accepted connection: wait until it
	// has accepted (almost) all of them, which also proves the flood
	// reached it.
	pollUntil(t, time.Minute, "the gateway accepting the flood", func() bool {
		return metric(t, h.admin, "go_goroutines") >= baseline+float64(conns)*0.95
	})
	h.roundTrip(t, bucket, "during-flood")
	during := metric(t, h.admin, "go_goroutines")
	rss := rssBytes(t, h.cmd.Process.Pid)
	t.Logf("%d idle connections: goroutines %.0f (idle %.0f), RSS %d MiB (before %d MiB)", conns, during, baseline, rss>>20, rssBefore>>20)
	if rss > 512<<20 {
		t.Errorf("RSS %d MiB with %d idle connections, want < 512 MiB", rss>>20, conns)
	}

	closeAll()
	pollUntil(t, time.Minute, "goroutines back to the idle baseline", func() bool {
		return metric(t, h.admin, "go_goroutines") <= baseline+20
	})
	h.roundTrip(t, bucket, "after-flood")
	t.Logf("after closing: goroutines %.0f, RSS %d MiB", metric(t, h.admin, "go_goroutines"), rssBytes(t, h.cmd.Process.Pid)>>20)
}

// pollUntil polls cond every 100 ms until it holds; the deadline only
// bounds a hang and failing it fails the test.
func pollUntil(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s after %v", what, deadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A client that stops reading a download must not hold the request (its
// goroutine, buffer and backend connection) forever: the per-write
// deadline fails the blocked write and the request ends.
func TestStalledDownloadIsCutOff(t *testing.T) {
	h := startHostileGateway(t, "--body-write-timeout", "2s")
	bucket := h.mkbucket(t)
	// Larger than every socket buffer on the way, so the gateway's writes
	// block once the client stops reading.
	const size = 64 << 20
	if _, err := h.s3.PutObject(context.Background(), bucket, "big", io.LimitReader(zeroReader{}, size), size, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	c := dialGateway(t, h.gatewayProc)
	if _, err := c.Write(h.signedHead(t, "GET", "/"+bucket+"/big", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4096)); err != nil {
		t.Fatalf("no start of the response: %v", err)
	}
	// ...and nothing more. The request's access line is written only when
	// its handler returns, i.e. when the gateway gave up on the write.
	want := `"op":"GetObject","bucket":"` + bucket + `","key":"big"`
	deadline := time.Now().Add(60 * time.Second)
	for {
		line := accessLine(h.log.String(), want)
		if line != "" {
			if !strings.Contains(line, `"aborted":true`) {
				t.Fatalf("the stalled download ended without being aborted: %s", line)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled download was still running after 60 s (body write timeout 2 s)")
		}
		time.Sleep(50 * time.Millisecond) // polling the log
	}
	h.roundTrip(t, bucket, "after")
}

// accessLine is the first access log line of log containing want, or "".
func accessLine(log, want string) string {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"msg":"access"`) && strings.Contains(line, want) {
			return line
		}
	}
	return ""
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
