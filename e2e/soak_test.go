package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// TestSoak drives a -race build of the gateway with a mixed load (PUT,
// GET, HEAD, LIST, DELETE, multipart; SSE-S3, SSE-KMS and SSE-C; 1 KiB to
// 4 MiB) for SSEGATE_SOAK_DURATION (default 45s) and asserts: no request
// fails, every read returns what was written, the race detector reports
// nothing, goroutines return to their idle count once the load stops and
// RSS does not keep growing between the first third and the end.
//
// SSEGATE_SOAK_BIN runs a prebuilt (race) binary instead of building one.

const (
	soakWorkers     = 4
	soakKeysPerWkr  = 6
	soakMaxSize     = 4 << 20
	soakPartSize    = 5 << 20 // S3's minimum for all parts but the last
	soakGoroutineOK = 20      // tolerance over the idle goroutine count
)

var (
	raceOnce sync.Once
	raceBin  string
	raceErr  error
)

// raceBinary builds ./cmd/ssegate with -race once per test binary.
func raceBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SSEGATE_SOAK_BIN"); p != "" {
		return p
	}
	// In a FIPS run (test.sh's FIPS step, FIPS_E2E_RUN=.) the soak drives
	// the FIPS binary under test, not a race build: with fips140=on the
	// race detector's shadow memory for the FIPS module grows RSS from
	// ~0.4 to ~1 GiB in 45 s (the FIPS binary itself stays near 40 MiB),
	// which would fail the growth bound for a reason that is not ours.
	// Races are hunted by the ordinary run.
	if p := os.Getenv("SSEGATE_E2E_BIN"); p != "" && strings.Contains(os.Getenv("GODEBUG"), "fips140=on") {
		return p
	}
	raceOnce.Do(func() {
		raceBin = filepath.Join(workDir, "ssegate-race")
		cmd := exec.Command("go", "build", "-race", "-o", raceBin, "./cmd/ssegate")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			raceErr = fmt.Errorf("go build -race ./cmd/ssegate: %v\n%s", err, out)
		}
	})
	if raceErr != nil {
		t.Fatal(raceErr)
	}
	return raceBin
}

type soakFigures struct {
	ops, puts, gets, heads, lists, deletes, multiparts, bytesIn, bytesOut atomic.Int64
}

func (f *soakFigures) String() string {
	return fmt.Sprintf("ops=%d (put=%d multipart=%d get=%d head=%d list=%d delete=%d) written=%d MiB read+verified=%d MiB",
		f.ops.Load(), f.puts.Load(), f.multiparts.Load(), f.gets.Load(), f.heads.Load(), f.lists.Load(), f.deletes.Load(),
		f.bytesIn.Load()>>20, f.bytesOut.Load()>>20)
}

type soakRun struct {
	s3     *minio.Client
	core   minio.Core
	bucket string
	kmsKey string
	ssec   encrypt.ServerSide
	fig    soakFigures
}

func (r *soakRun) sse(m sseMode) encrypt.ServerSide {
	switch m {
	case modeKMS:
		s, err := encrypt.NewSSEKMS(r.kmsKey, nil)
		if err != nil {
			panic(err) // a valid key id from CreateKey
		}
		return s
	case modeC:
		return r.ssec
	}
	return encrypt.NewSSE()
}

// readSSE is what a GET or HEAD must send: only SSE-C repeats the key.
func (r *soakRun) readSSE(m sseMode) encrypt.ServerSide {
	if m == modeC {
		return r.ssec
	}
	return nil
}

type soakObject struct {
	mode sseMode
	sum  [32]byte
	size int
}

func TestSoak(t *testing.T) {
	dur := 45 * time.Second
	if v := os.Getenv("SSEGATE_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SSEGATE_SOAK_DURATION: %v", err)
		}
		dur = d
	}
	t.Setenv("SSEGATE_E2E_BIN", raceBinary(t))
	h := startHostileGateway(t)
	ctx := context.Background()

	kc := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.Endpoint),
		Credentials: awscreds.NewStaticCredentialsProvider(h.ak, h.sk, "")})
	out, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("soak")})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	copy(key, randomHex(16))
	noteSecret(key) // the cleanup's log scan looks for it
	ssec, err := encrypt.NewSSEC(key)
	if err != nil {
		t.Fatal(err)
	}
	// Retries off: every failure counts.
	c, err := minio.New(strings.TrimPrefix(h.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(h.ak, h.sk, ""), Region: "us-east-1", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := &soakRun{s3: c, core: minio.Core{Client: c}, bucket: h.mkbucket(t), kmsKey: *out.KeyMetadata.KeyId, ssec: ssec}

	h.roundTrip(t, r.bucket, "warm")
	idleGoroutines := metric(t, h.admin, "go_goroutines")

	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	errc := make(chan error, soakWorkers)
	var wg sync.WaitGroup
	for w := range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.worker(ctx, w); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	// Samples at the first third and at the end of the load.
	var rssThird, rssEnd int64
	var grThird, grEnd float64
	select {
	case <-time.After(dur / 3):
		rssThird, grThird = rssBytes(t, h.cmd.Process.Pid), metric(t, h.admin, "go_goroutines")
	case <-ctx.Done():
	}
	<-ctx.Done()
	rssEnd, grEnd = rssBytes(t, h.cmd.Process.Pid), metric(t, h.admin, "go_goroutines")
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	pollUntil(t, time.Minute, "goroutines back to the idle count", func() bool {
		return metric(t, h.admin, "go_goroutines") <= idleGoroutines+soakGoroutineOK
	})
	grAfter := metric(t, h.admin, "go_goroutines")
	t.Logf("soak %v with %d workers against a -race build: %s", dur, soakWorkers, &r.fig)
	t.Logf("goroutines idle=%.0f third=%.0f end=%.0f after=%.0f; RSS third=%d MiB end=%d MiB",
		idleGoroutines, grThird, grEnd, grAfter, rssThird>>20, rssEnd>>20)
	if r.fig.ops.Load() == 0 {
		t.Error("no operations ran")
	}
	if rssThird > 0 && float64(rssEnd) > 1.5*float64(rssThird) {
		t.Errorf("RSS grew from %d MiB at a third of the run to %d MiB at the end (> 50%%)", rssThird>>20, rssEnd>>20)
	}
	// After the whole mixed load, the metrics hold no secret either.
	resp, err := http.Get("http://" + h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{h.sk, string(key)} {
		for _, form := range secretForms(secret) {
			if strings.Contains(string(body), form) {
				t.Errorf("a secret (%d bytes) appears in /metrics", len(secret))
			}
		}
	}
	if strings.Contains(h.log.String(), "WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in the gateway:\n%s", h.log.String())
	}
}

// worker runs random operations on its own keys until ctx ends, verifying
// every read against what it wrote. Only operations that start before the
// deadline count; one cut short by it is not an error.
func (r *soakRun) worker(ctx context.Context, w int) error {
	rng := mrand.New(mrand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
	objs := map[string]soakObject{}
	buf := make([]byte, soakPartSize+soakMaxSize)
	for ctx.Err() == nil {
		name := fmt.Sprintf("w%d/k%d", w, rng.IntN(soakKeysPerWkr))
		obj, exists := objs[name]
		var err error
		switch p := rng.IntN(100); {
		case p < 30 || !exists && p < 70:
			obj, err = r.put(ctx, rng, name, buf)
			if err == nil {
				objs[name] = obj
			}
		case p < 35:
			obj, err = r.multipart(ctx, rng, name, buf)
			if err == nil {
				objs[name] = obj
			}
		case p < 70:
			err = r.get(ctx, rng, name, obj)
		case p < 80:
			err = r.head(ctx, name, obj)
		case p < 90:
			err = r.list(ctx, w, objs)
		default:
			err = r.s3.RemoveObject(ctx, r.bucket, name, minio.RemoveObjectOptions{})
			if err == nil {
				delete(objs, name)
				r.fig.deletes.Add(1)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // cut short by the end of the run
			}
			return fmt.Errorf("worker %d, %s: %w", w, name, err)
		}
		r.fig.ops.Add(1)
	}
	return nil
}

func (r *soakRun) put(ctx context.Context, rng *mrand.Rand, name string, buf []byte) (soakObject, error) {
	size := 1<<10 + rng.IntN(soakMaxSize-1<<10+1)
	data := buf[:size]
	fill(rng, data)
	m := sseMode(rng.IntN(int(numModes)))
	_, err := r.s3.PutObject(ctx, r.bucket, name, bytes.NewReader(data), int64(size),
		minio.PutObjectOptions{ServerSideEncryption: r.sse(m), DisableMultipart: true})
	if err != nil {
		return soakObject{}, fmt.Errorf("PUT %s %d bytes: %w", m, size, err)
	}
	r.fig.puts.Add(1)
	r.fig.bytesIn.Add(int64(size))
	return soakObject{mode: m, sum: sha256.Sum256(data), size: size}, nil
}

// multipart uploads a 5 MiB part and a small last part.
func (r *soakRun) multipart(ctx context.Context, rng *mrand.Rand, name string, buf []byte) (soakObject, error) {
	last := 1<<10 + rng.IntN(1<<20)
	data := buf[:soakPartSize+last]
	fill(rng, data)
	m := sseMode(rng.IntN(int(numModes)))
	id, err := r.core.NewMultipartUpload(ctx, r.bucket, name, minio.PutObjectOptions{ServerSideEncryption: r.sse(m)})
	if err != nil {
		return soakObject{}, fmt.Errorf("CreateMultipartUpload %s: %w", m, err)
	}
	var parts []minio.CompletePart
	for i, p := range [][]byte{data[:soakPartSize], data[soakPartSize:]} {
		var popts minio.PutObjectPartOptions
		if m == modeC {
			popts.SSE = r.ssec
		}
		op, err := r.core.PutObjectPart(ctx, r.bucket, name, id, i+1, bytes.NewReader(p), int64(len(p)), popts)
		if err != nil {
			return soakObject{}, fmt.Errorf("UploadPart %d %s: %w", i+1, m, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: i + 1, ETag: op.ETag})
	}
	if _, err := r.core.CompleteMultipartUpload(ctx, r.bucket, name, id, parts, minio.PutObjectOptions{}); err != nil {
		return soakObject{}, fmt.Errorf("CompleteMultipartUpload %s: %w", m, err)
	}
	r.fig.multiparts.Add(1)
	r.fig.bytesIn.Add(int64(len(data)))
	return soakObject{mode: m, sum: sha256.Sum256(data), size: len(data)}, nil
}

// get reads the whole object, or a random range of it, and compares; a key
// never written (or deleted) must be NoSuchKey.
func (r *soakRun) get(ctx context.Context, rng *mrand.Rand, name string, obj soakObject) error {
	opts := minio.GetObjectOptions{ServerSideEncryption: r.readSSE(obj.mode)}
	if obj.size == 0 {
		_, err := r.s3.StatObject(ctx, r.bucket, name, minio.StatObjectOptions{})
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			return fmt.Errorf("HEAD of an absent key: %v, want NoSuchKey", err)
		}
		r.fig.heads.Add(1)
		return nil
	}
	o, err := r.s3.GetObject(ctx, r.bucket, name, opts)
	if err != nil {
		return fmt.Errorf("GET %s: %w", obj.mode, err)
	}
	defer o.Close()
	h := sha256.New()
	n, err := io.Copy(h, o)
	if err != nil {
		return fmt.Errorf("GET %s: read after %d bytes: %w", obj.mode, n, err)
	}
	if int(n) != obj.size || !bytes.Equal(h.Sum(nil), obj.sum[:]) {
		return fmt.Errorf("GET %s: %d bytes that differ from the %d written", obj.mode, n, obj.size)
	}
	r.fig.gets.Add(1)
	r.fig.bytesOut.Add(n)
	_ = rng
	return nil
}

func (r *soakRun) head(ctx context.Context, name string, obj soakObject) error {
	info, err := r.s3.StatObject(ctx, r.bucket, name, minio.StatObjectOptions{ServerSideEncryption: r.readSSE(obj.mode)})
	if obj.size == 0 {
		if minio.ToErrorResponse(err).Code != "NoSuchKey" {
			return fmt.Errorf("HEAD of an absent key: %v, want NoSuchKey", err)
		}
	} else if err != nil || info.Size != int64(obj.size) {
		return fmt.Errorf("HEAD %s: size %d, %v; want %d", obj.mode, info.Size, err, obj.size)
	}
	r.fig.heads.Add(1)
	return nil
}

// list checks that the worker's prefix lists exactly its live keys with
// their plaintext sizes.
func (r *soakRun) list(ctx context.Context, w int, objs map[string]soakObject) error {
	got := map[string]int64{}
	for o := range r.s3.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Prefix: fmt.Sprintf("w%d/", w), Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("LIST: %w", o.Err)
		}
		got[o.Key] = o.Size
	}
	if len(got) != len(objs) {
		return fmt.Errorf("LIST: %d keys, want %d", len(got), len(objs))
	}
	for k, o := range objs {
		if got[k] != int64(o.size) {
			return fmt.Errorf("LIST: %s size %d, want %d", k, got[k], o.size)
		}
	}
	r.fig.lists.Add(1)
	return nil
}

func fill(rng *mrand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}
