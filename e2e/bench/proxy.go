package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// countingProxy is a loopback TCP relay between the gateway and MinIO that
// counts the bytes MinIO sends back, i.e. what the gateway reads from its
// backend (HTTP headers included). A TCP relay rather than an HTTP reverse
// proxy keeps the Host header, and so the gateway's SigV4 signature,
// untouched, and splicing keeps its CPU cost small.
type countingProxy struct {
	ln          net.Listener
	backend     string
	fromBackend atomic.Int64
	toBackend   atomic.Int64
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       map[net.Conn]chan struct{} // live client conn -> closed when its relay ends
}

func startProxy(backendAddr string) (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ln: ln, backend: backendAddr, conns: map[net.Conn]chan struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is host:port of the proxy.
func (p *countingProxy) Addr() string { return p.ln.Addr().String() }

// FromBackend is the number of bytes relayed from MinIO so far by relays
// that have ended or passed a chunk boundary; call Settle first for an
// exact figure.
func (p *countingProxy) FromBackend() int64 { return p.fromBackend.Load() }

func (p *countingProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.relay(c)
	}
}

func (p *countingProxy) track(c net.Conn) (untrack func()) {
	ended := make(chan struct{})
	p.mu.Lock()
	p.conns[c] = ended
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		close(ended)
	}
}

// Settle closes every live relay and waits until each has added its last
// bytes to the counters, so the counters are exact. A splicing relay only
// counts at chunk boundaries (see relayChunk), so without Settle up to one
// chunk per kept-alive connection would be missing. Call it only between
// load phases: the gateway's idle backend connections are closed under it
// and it dials new ones.
func (p *countingProxy) Settle() {
	p.mu.Lock()
	var ended []chan struct{}
	for c, e := range p.conns {
		c.Close()
		ended = append(ended, e)
	}
	p.mu.Unlock()
	for _, e := range ended {
		<-e
	}
}

func (p *countingProxy) relay(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	backend, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer backend.Close()
	defer p.track(client)()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		// io.CopyN between two TCP connections splices (the bytes never
		// pass through user space), so the relay costs the gateway rows
		// little CPU beside the extra hop; counting after each chunk keeps
		// the counter within one chunk per connection of the truth.
		for {
			k, err := io.CopyN(dst, src, relayChunk)
			n.Add(k)
			if err != nil {
				break
			}
		}
		// Either side closing ends the pair: HTTP/1.1 has no half-close use.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(backend, client, &p.toBackend)
	pipe(client, backend, &p.fromBackend)
	<-done
}

// relayChunk is how many bytes the relay splices between two updates of
// its counters.
const relayChunk = 64 << 10

// Close stops accepting, closes live connections and waits for relays.
func (p *countingProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
