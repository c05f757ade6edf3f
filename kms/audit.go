package kms

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"sync"
	"time"
)

// auditEvent is one audit line. It holds identifiers and the encryption
// context only, never key material, plaintext or data keys.
type auditEvent struct {
	Time       time.Time         `json:"time"`
	Operation  string            `json:"operation"`
	AccessKey  string            `json:"accessKey,omitempty"`
	CallerARN  string            `json:"callerArn,omitempty"`
	ViaService string            `json:"viaService,omitempty"`
	SourceIP   string            `json:"sourceIp,omitempty"`
	RequestID  string            `json:"requestId,omitempty"`
	KeyID      string            `json:"keyId,omitempty"`
	KeyVersion uint32            `json:"keyVersion,omitempty"`
	Context    EncryptionContext `json:"encryptionContext,omitempty"`
	Outcome    string            `json:"outcome"`
	// Decision is the authorization effect (Allow, Deny, ImplicitDeny)
	// and DecidedBy what decided it: "policy:<sid>", "grant:<id>",
	// "operator", "aws-owned" or "account-root". ReEncrypt carries the
	// destination key's decision in DestinationDecision.
	Decision            string `json:"decision,omitempty"`
	DecidedBy           string `json:"decidedBy,omitempty"`
	DestinationDecision string `json:"destinationDecision,omitempty"`
	// CachedDataKey marks an Authorize call: the gateway asked for the
	// operation's authorization while serving it from its data-key cache.
	CachedDataKey bool `json:"cachedDataKey,omitempty"`
}

type auditor struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (a *auditor) write(ev *auditEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	a.w.Write(b) //nolint:errcheck // audit failures must not fail requests; the writer reports its own
}

// op tracks one operation for throttling and audit.
type op struct {
	c  *Core
	ev auditEvent
}

// begin starts an operation: it throttles the caller and prepares the
// audit event that end writes.
func (c *Core) begin(ctx context.Context, name string) (*op, error) {
	o := &op{c: c, ev: auditEvent{Time: c.now().UTC(), Operation: name}}
	caller, _ := CallerFrom(ctx)
	o.ev.AccessKey, o.ev.CallerARN, o.ev.ViaService = caller.AccessKey, caller.ARN, caller.ViaService
	o.ev.SourceIP, o.ev.RequestID = caller.SourceIP, caller.RequestID
	if !c.limiter.allow(caller.AccessKey) {
		o.end(ErrThrottled)
		return nil, ErrThrottled
	}
	return o, nil
}

func (o *op) key(id string, version uint32) { o.ev.KeyID, o.ev.KeyVersion = id, version }

func (o *op) context(ec EncryptionContext) {
	if len(ec) > 0 {
		o.ev.Context = ec
	}
}

// end writes the audit line with the outcome: "ok" or the AWS error type.
func (o *op) end(err error) {
	o.ev.Outcome = "ok"
	if err != nil {
		o.ev.Outcome = errorType(err)
	}
	o.c.audit.write(&o.ev)
}

// limiter is a per-caller token bucket. rate 0 disables it.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds memory when many distinct callers appear.
const maxBuckets = 10000

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if burst <= 0 {
		burst = int(math.Max(1, math.Ceil(rate)))
	}
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

func (l *limiter) allow(caller string) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[caller]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.buckets = map[string]*bucket{}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[caller] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
