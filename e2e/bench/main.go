package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/ssegate/ssegate/store/storetest/miniotest"
)

type config struct {
	full        bool
	sizes       []int64
	conc        []int // nil: per size (4 KiB: 8, larger: 4)
	duration    time.Duration
	warmup      time.Duration
	maxOps      int64
	slices      int
	ops         []string
	targets     []string
	fsModes     []string
	minioModes  []string
	rangeObject int64
	rangeConc   []int
	cryptoDur   time.Duration
	matrix      bool
	proxy       bool
	md5         bool
	pin         bool

	memory        bool
	memSize       int64
	memN          int
	memEach       int64
	memBackends   []string
	memMode       string
	ssegateBinary string
	workDir       string
	keep          bool

	endpoints []string // -endpoints: drive running gateways instead
	extModes  []string
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var sizes, conc, ops, targets, fsModes, minioModes, rangeObj, rangeConc, memSize, memEach, memBackends, endpoints, extModes string
	fs.BoolVar(&c.full, "full", false, "complete matrix: sizes 4KiB,1MiB,16MiB,256MiB; c=1,4,8; every mode on both gateways; 1 GiB range object; 5 s phases")
	fs.StringVar(&sizes, "sizes", "", "object sizes (default quick 4KiB,1MiB,16MiB; full adds 256MiB)")
	fs.StringVar(&conc, "c", "", "concurrencies, e.g. 1,4,8 (default quick: 8 for 4KiB, 4 otherwise; full 1,4,8)")
	fs.DurationVar(&c.duration, "duration", 0, "duration of each phase (default quick 2s, full 5s)")
	fs.DurationVar(&c.warmup, "warmup", -1, "unmeasured load before each phase, same operation and concurrency (default quick 500ms, full 1s; 0: none)")
	fs.Int64Var(&c.maxOps, "max-ops", 0, "cap on operations per phase (0: none)")
	fs.IntVar(&c.slices, "slices", 3, "measure each phase in this many slices, the rows taking turns slice by slice, so a drift of the machine (a filling disk, a noisy neighbour) falls on every row alike; 1: each row's phase in one piece")
	fs.StringVar(&ops, "ops", "put,get,head,list,range", "operations")
	fs.StringVar(&targets, "targets", "minio,passthrough,gw-fs,gw-minio", "targets (MinIO direct is always measured as the anchor; passthrough is a plain reverse proxy in front of MinIO, the bound for any gateway)")
	fs.StringVar(&fsModes, "fs-modes", "", "SSE modes on the fs gateway (default quick default,sse-s3,sse-kms,sse-kms-bk,sse-c; full the same)")
	fs.StringVar(&minioModes, "minio-modes", "", "SSE modes on the MinIO gateway (default quick sse-s3,sse-c; full all)")
	fs.StringVar(&rangeObj, "range-object", "", "size of the object read by 1 MiB ranged GETs (default quick 256MiB, full 1GiB)")
	fs.StringVar(&rangeConc, "range-c", "1", "concurrencies of ranged GETs")
	fs.DurationVar(&c.cryptoDur, "crypto-duration", 2*time.Second, "duration of each in-process crypto reference measurement (five interleaved rounds, best of each)")
	fs.BoolVar(&c.matrix, "matrix", true, "run the throughput matrix (-matrix=false with -memory runs only the memory scenario)")
	fs.BoolVar(&c.proxy, "proxy", false, "put a byte-counting relay between gw-minio and MinIO: exact backend byte counts, but one more hop on the gw-minio rows (default: direct; backend bytes from the gateway's rchar)")
	fs.BoolVar(&c.pin, "pin", false, "model separate hosts: MinIO on CPU 0, both gateways on CPU 1, the load generator on all (needs 2 or more CPUs)")
	fs.BoolVar(&c.md5, "content-md5", false, "send Content-MD5 on PUT (restic does; aws-cli v2 and minio-go by default do not)")
	fs.BoolVar(&c.memory, "memory", false, "run the memory scenario: one large PUT+GET and N concurrent uploads")
	fs.StringVar(&memSize, "memory-size", "1GiB", "size of the single large object (target: 10GiB)")
	fs.IntVar(&c.memN, "memory-n", 16, "concurrent uploads in the memory scenario (target: 64)")
	fs.StringVar(&memEach, "memory-each", "256MiB", "size of each concurrent upload")
	fs.StringVar(&memBackends, "memory-backends", "fs", "gateways for the memory scenario: fs, minio or fs,minio")
	fs.StringVar(&c.memMode, "memory-mode", "default", "SSE mode of the memory scenario (default: no headers, the gateway's default SSE-S3)")
	fs.StringVar(&c.ssegateBinary, "ssegate", "", "ssegate binary (default: go build ./cmd/ssegate)")
	fs.StringVar(&c.workDir, "workdir", "", "directory for data (default: a new temporary directory)")
	fs.BoolVar(&c.keep, "keep", false, "keep the work directory")
	fs.StringVar(&endpoints, "endpoints", "", "comma-separated http://127.0.0.1:PORT of running gateways to drive instead of starting any (credentials from BENCH_ACCESS_KEY/BENCH_SECRET_KEY); operations alternate between them")
	fs.StringVar(&extModes, "modes", "sse-s3,sse-kms", "SSE modes for -endpoints")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.endpoints, c.extModes = splitList(endpoints), splitList(extModes)
	def := func(s *string, quick, full string) {
		if *s == "" {
			*s = quick
			if c.full {
				*s = full
			}
		}
	}
	allModes := "default,sse-s3,sse-kms,sse-kms-bk,sse-c"
	def(&sizes, "4KiB,1MiB,16MiB", "4KiB,1MiB,16MiB,256MiB")
	def(&conc, "", "1,4,8")
	def(&fsModes, allModes, allModes)
	def(&minioModes, "sse-s3,sse-c", allModes)
	def(&rangeObj, "256MiB", "1GiB")
	if c.duration == 0 {
		c.duration = 2 * time.Second
		if c.full {
			c.duration = 5 * time.Second
		}
	}
	if c.warmup < 0 {
		c.warmup = 500 * time.Millisecond
		if c.full {
			c.warmup = time.Second
		}
	}
	var err error
	if c.sizes, err = parseSizes(sizes); err != nil {
		return c, err
	}
	if conc != "" {
		if c.conc, err = parseInts(conc); err != nil {
			return c, err
		}
	}
	if c.rangeConc, err = parseInts(rangeConc); err != nil {
		return c, err
	}
	for _, p := range []struct {
		s   string
		dst *int64
	}{{rangeObj, &c.rangeObject}, {memSize, &c.memSize}, {memEach, &c.memEach}} {
		if *p.dst, err = parseSize(p.s); err != nil {
			return c, err
		}
	}
	if c.pin && runtime.NumCPU() < 2 {
		return c, errors.New("-pin needs at least 2 CPUs")
	}
	if c.rangeObject < 1<<20 {
		return c, errors.New("-range-object must be at least 1MiB")
	}
	c.ops, c.targets = splitList(ops), splitList(targets)
	c.fsModes, c.minioModes, c.memBackends = splitList(fsModes), splitList(minioModes), splitList(memBackends)
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range splitList(s) {
		n, err := parseSize(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// parseSize reads 4KiB, 16MiB, 1GiB or a plain byte count.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func (c config) concFor(size int64) []int {
	if c.conc != nil {
		return c.conc
	}
	if size <= 64<<10 {
		return []int{8}
	}
	return []int{4}
}

func (c config) has(op string) bool { return slices.Contains(c.ops, op) }

func main() {
	if len(os.Args) == 3 && os.Args[1] == passthroughFlag {
		// The bench started itself as the pass-through proxy (startPassthrough).
		if err := runPassthrough(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := runBench
	if len(cfg.endpoints) > 0 {
		run = runExternal
	}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func printMachine(pinned bool) {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	mem, _ := procMemTotal()
	commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	fmt.Printf("# ssegate side-by-side benchmark, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("- machine: nproc=%d, CPU %q, %s RAM, Linux %s\n", runtime.NumCPU(), model, fmtBytes(mem), strings.TrimSpace(string(kernel)))
	fmt.Printf("- Go %s %s/%s; ssegate commit %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(commit)))
	if pinned {
		fmt.Println("- -pin: MinIO runs on CPU 0, both gateways and the pass-through proxy on CPU 1 (a model of separate hosts), the load generator on all; all traffic is on 127.0.0.1")
	} else {
		fmt.Println("- load generator, MinIO and the gateways share the machine's cores; all traffic is on 127.0.0.1")
	}
}

func procMemTotal() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return -1, errors.New("no MemTotal")
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// env is what runBench starts: MinIO, the counting proxy and the gateways.
type env struct {
	dir     string
	minio   *miniotest.Server
	proxy   *countingProxy
	gws     map[string]*gatewayProc
	gwAK    string
	gwSK    string
	ssecKey []byte
	proxied bool // gw-minio reaches MinIO through proxy
	md5     bool
}

func (e *env) close() {
	for _, g := range e.gws {
		g.Stop()
	}
	if e.proxy != nil {
		e.proxy.Close()
	}
	if e.minio != nil {
		e.minio.Stop()
	}
}

func setup(ctx context.Context, cfg config) (*env, error) {
	e := &env{gws: map[string]*gatewayProc{}, gwAK: "bench" + randHex(6), gwSK: randHex(20), ssecKey: make([]byte, 32)}
	rand.Read(e.ssecKey)
	e.md5 = cfg.md5
	dir := cfg.workDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ssegate-bench-"); err != nil {
			return nil, err
		}
	}
	e.dir = dir
	bin := cfg.ssegateBinary
	if bin == "" {
		var err error
		if bin, err = buildGateway(ctx, dir); err != nil {
			return e, err
		}
	}
	srv, err := miniotest.Start(ctx, filepath.Join(dir, "minio"))
	if err != nil {
		return e, err
	}
	e.minio = srv
	if e.proxy, err = startProxy(srv.Addr); err != nil {
		return e, err
	}
	gwEnv := cleanEnv("SSEGATE_ACCESS_KEY="+e.gwAK, "SSEGATE_SECRET_KEY="+e.gwSK)
	e.gws["gw-fs"], err = startGateway(ctx, bin, filepath.Join(dir, "gw-fs"), "fs:"+filepath.Join(dir, "gw-fs", "objects"), gwEnv)
	if err != nil {
		return e, err
	}
	backendAddr := srv.Addr
	if e.proxied = cfg.proxy; e.proxied {
		backendAddr = e.proxy.Addr()
	}
	e.gws["gw-minio"], err = startGateway(ctx, bin, filepath.Join(dir, "gw-minio"), "minio:http://"+backendAddr,
		append(gwEnv, "SSEGATE_BACKEND_ACCESS_KEY="+srv.AccessKey, "SSEGATE_BACKEND_SECRET_KEY="+srv.SecretKey))
	if err != nil {
		return e, err
	}
	if slices.Contains(cfg.targets, "passthrough") {
		if e.gws["passthrough"], err = startPassthrough(ctx, srv.Endpoint); err != nil {
			return e, err
		}
	}
	if cfg.pin {
		if err := pinProcess(srv.Pid(), 0); err != nil {
			return e, err
		}
		for _, g := range e.gws {
			if err := pinProcess(g.Pid(), 1); err != nil {
				return e, err
			}
		}
	}
	return e, nil
}

// newRow makes a client and a bucket for target/mode.
func (e *env) newRow(ctx context.Context, target, mode string, maxConns int) (*row, error) {
	r := &row{target: target, mode: mode, written: map[int64]int64{}, md5: e.md5, minioPid: e.minio.Pid()}
	var err error
	if r.putSSE, r.getSSE, err = sseFor(mode, e.ssecKey); err != nil {
		return nil, err
	}
	// Distinct names: the MinIO gateway stores its buckets by the same
	// name on the same MinIO as the anchors.
	r.bucket = "bench-" + strings.ReplaceAll(target, "/", "-") + "-" + mode + "-" + randHex(3)
	switch target {
	case "minio":
		r.client, err = newClient(e.minio.Endpoint, e.minio.AccessKey, e.minio.SecretKey, maxConns)
	case "passthrough":
		// MinIO's own credentials: the proxy forwards the signed requests.
		r.gw = e.gws[target]
		r.client, err = newClient(r.gw.Endpoint, e.minio.AccessKey, e.minio.SecretKey, maxConns)
	default:
		g := e.gws[target]
		if g == nil {
			return nil, fmt.Errorf("unknown target %q", target)
		}
		r.gw = g
		if target == "gw-minio" && e.proxied {
			r.proxy = e.proxy
		}
		r.client, err = newClient(g.Endpoint, e.gwAK, e.gwSK, maxConns)
	}
	if err != nil {
		return nil, err
	}
	if err := r.client.MakeBucket(ctx, r.bucket, minio.MakeBucketOptions{}); err != nil {
		return nil, fmt.Errorf("%s: make bucket: %w", r.label(), err)
	}
	return r, nil
}

func runBench(ctx context.Context, cfg config) error {
	printMachine(cfg.pin)
	fmt.Printf("- PUT bodies: minio-go streaming SigV4 over HTTP, Content-MD5 %t\n", cfg.md5)
	ref := measureCrypto(cfg.cryptoDur)
	printCrypto(ref)

	e, err := setup(ctx, cfg)
	defer func() {
		if e == nil {
			return
		}
		e.close()
		if !cfg.keep && cfg.workDir == "" {
			os.RemoveAll(e.dir)
		} else {
			fmt.Println("# work directory kept:", e.dir)
		}
	}()
	if err != nil {
		return err
	}
	how := "directly"
	if e.proxied {
		how = "through a counting relay"
	}
	fmt.Printf("- MinIO %s; gw-fs %s (fs backend); gw-minio %s (MinIO backend, reached %s)\n",
		e.minio.Endpoint, e.gws["gw-fs"].Endpoint, e.gws["gw-minio"].Endpoint, how)
	if p := e.gws["passthrough"]; p != nil {
		fmt.Printf("- passthrough %s: a plain Go reverse proxy in front of MinIO (no auth, no encryption): what one more HTTP hop costs, the bound for any gateway\n", p.Endpoint)
	}

	rs := &results{}
	if cfg.matrix {
		rows, err := e.rows(ctx, cfg)
		if err != nil {
			return err
		}
		if err := runMatrix(ctx, cfg, rows, rs); err != nil {
			return err
		}
	}
	var mem []memResult
	if cfg.memory {
		if mem, err = runMemory(ctx, cfg, e); err != nil {
			return err
		}
	}
	printChecks(os.Stdout, targetChecks(cfg, rs, ref, mem))
	return nil
}

func (e *env) rows(ctx context.Context, cfg config) ([]*row, error) {
	maxConns := slices.Max(append(slices.Clone(cfg.rangeConc), slices.Max(append([]int{8}, cfg.conc...))))
	type tm struct{ t, m string }
	list := []tm{{"minio", "none"}, {"minio", "sse-s3"}}
	for _, t := range cfg.targets {
		switch t {
		case "passthrough":
			list = append(list, tm{t, "none"})
		case "gw-fs":
			for _, m := range cfg.fsModes {
				list = append(list, tm{t, m})
			}
		case "gw-minio":
			for _, m := range cfg.minioModes {
				list = append(list, tm{t, m})
			}
		}
	}
	var rows []*row
	for _, x := range list {
		r, err := e.newRow(ctx, x.t, x.m, maxConns)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}
