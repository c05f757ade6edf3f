package main

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

func TestPatternObjectIsDeterministicAcrossWrap(t *testing.T) {
	p := newPattern()
	size := int64(len(p))*2 + 12345
	a, err := io.ReadAll(p.object(size))
	if err != nil || int64(len(a)) != size {
		t.Fatalf("read %d of %d: %v", len(a), size, err)
	}
	// ReadAt at an offset that straddles the wrap point must agree with
	// the sequential stream: minio-go mixes both.
	off := int64(len(p)) - 100
	b := make([]byte, 300)
	if _, err := p.object(size).ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, a[off:off+300]) {
		t.Error("ReadAt across the wrap differs from the stream")
	}
	if !bytes.Equal(a[:100], a[len(p):len(p)+100]) {
		t.Error("the pattern does not repeat with its own period")
	}
}

func TestParseSizeAcceptsUnitsAndRejectsGarbage(t *testing.T) {
	for in, want := range map[string]int64{"4KiB": 4 << 10, "16MiB": 16 << 20, "1GiB": 1 << 30, "123": 123, "7B": 7} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1TB", "MiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestPercentilesOfSortedLatencies(t *testing.T) {
	r := &result{}
	for i := 1; i <= 100; i++ {
		r.lat = append(r.lat, time.Duration(i)*time.Millisecond)
	}
	if got := r.pct(0.5); got != 50*time.Millisecond {
		t.Errorf("p50 = %v", got)
	}
	if got := r.pct(0.99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v", got)
	}
	if got := (&result{}).pct(0.5); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestProxyCountsBytesFromBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	reply := bytes.Repeat([]byte("z"), 100_000)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, 5))
		c.Write(reply)
	}()
	p, err := startProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, reply) {
		t.Fatalf("relayed %d bytes: %v", len(got), err)
	}
	p.Settle()
	if n := p.FromBackend(); n != int64(len(reply)) {
		t.Errorf("counted %d bytes from the backend, want %d", n, len(reply))
	}
	if n := p.toBackend.Load(); n != 5 {
		t.Errorf("counted %d bytes to the backend, want 5", n)
	}
}

func TestMergeAddsSlicesOfOnePhase(t *testing.T) {
	a := &result{ops: 2, bytes: 20, elapsed: time.Second, lat: []time.Duration{1, 5}, peakRSS: 10, backend: 100, cpu: [3]time.Duration{1, 2, -1}}
	b := &result{ops: 1, bytes: 10, elapsed: 2 * time.Second, lat: []time.Duration{3}, errs: 1, firstErr: io.EOF, peakRSS: 30, backend: -1, cpu: [3]time.Duration{4, 5, 6}}
	var none *result
	m := none.merge(a).merge(b)
	if m.ops != 3 || m.bytes != 30 || m.elapsed != 3*time.Second || m.errs != 1 || m.firstErr != io.EOF {
		t.Fatalf("counts: %+v", m)
	}
	if !slices.Equal(m.lat, []time.Duration{1, 3, 5}) || m.pct(0.5) != 3 {
		t.Fatalf("latencies %v, p50 %v", m.lat, m.pct(0.5))
	}
	if m.peakRSS != 30 || m.backend != -1 || m.cpu != [3]time.Duration{5, 7, -1} {
		t.Fatalf("peak %d, backend %d, cpu %v: want 30, -1 (unknown in one slice), [5 7 -1]", m.peakRSS, m.backend, m.cpu)
	}
	if got := m.opsps(); got != 1 {
		t.Fatalf("ops/s %v, want 1", got)
	}
}
