package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The pass-through proxy must forward a signed S3 request unchanged: the
// Host header the client signed, the body, and the whole response; and it
// must reuse its backend connections, or it would measure connection set-up
// instead of one HTTP hop.
func TestPassthroughKeepsHostBodyAndConnections(t *testing.T) {
	var newConns atomic.Int64
	var gotHost atomic.Value
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Body-Len", strconv.Itoa(len(body)))
		w.Header().Set("Content-Length", strconv.Itoa(3<<20)) // as S3 answers
		w.Write(bytes.Repeat([]byte("r"), 3<<20))
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	backend.Start()
	defer backend.Close()

	rp, err := newPassthrough(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(rp)
	defer front.Close()

	for i := range 20 {
		req, _ := http.NewRequest(http.MethodPut, front.URL+"/bucket/key", bytes.NewReader(make([]byte, 100000+i)))
		resp, err := front.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != 3<<20 {
			t.Fatalf("response body: %d bytes, %v", n, err)
		}
		if got, want := resp.Header.Get("X-Body-Len"), strconv.Itoa(100000+i); got != want {
			t.Fatalf("backend got a body of %s bytes, want %s", got, want)
		}
		if got, want := gotHost.Load(), strings.TrimPrefix(front.URL, "http://"); got != want {
			t.Fatalf("backend saw Host %q, want the proxy's %q (the client signed it)", got, want)
		}
	}
	// One connection serves them all, but Go's transport hands a finished
	// connection back to its pool on another goroutine, so a request that
	// follows at once may still dial a second one now and then.
	if n := newConns.Load(); n > 3 {
		t.Errorf("20 sequential requests opened %d backend connections, want 1 (at most 3)", n)
	}

	// 8 workers at once: each backend connection goes back to the idle
	// pool (Go's default keeps 2 per host and closes the rest).
	newConns.Store(0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				resp, err := front.Client().Get(front.URL + "/bucket/key")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := newConns.Load(); n > 16 {
		t.Errorf("80 requests from 8 workers opened %d backend connections, want at most 16", n)
	}
}

func TestPassthroughRefusesNonLoopbackBackends(t *testing.T) {
	for _, b := range []string{"http://10.0.0.1:9000", "https://127.0.0.1:9000", "http://example.com:80", "::"} {
		if _, err := newPassthrough(b); err == nil {
			t.Errorf("newPassthrough(%q) accepted", b)
		}
	}
}
