// Package readylog follows the JSON log of a running ssegate: it keeps
// every line and reports the endpoint of the first "ready" record, which
// is how the e2e tests and the benchmark learn the address of a gateway
// started with --listen 127.0.0.1:0.
package readylog

import (
	"bufio"
	"encoding/json"
	"io"
)

// Copy copies the log r (JSON lines) into log until r ends, and sends the
// endpoint of the first "ready" record on ready, once.
func Copy(r io.Reader, log io.Writer, ready chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Bytes()
		log.Write(append(line, '\n'))
		if sent {
			continue
		}
		var rec struct {
			Msg      string `json:"msg"`
			Endpoint string `json:"endpoint"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "ready" && rec.Endpoint != "" {
			ready <- rec.Endpoint
			sent = true
		}
	}
	io.Copy(log, r) // a line longer than the scanner's buffer: keep the rest
}
