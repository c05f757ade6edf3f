package gateway

import (
	"sync"
	"time"
)

// bucketCacheMax bounds a bucketCache; past it, the cache is dropped whole
// rather than grown (an entry only saves a small backend read).
const bucketCacheMax = 10000

// bucketCache caches one value per bucket (its encryption configuration,
// its owner and policy) for a bounded time; its zero value is ready. The
// generation counter keeps a lookup that read the store before an
// invalidation from caching what it read.
type bucketCache[T any] struct {
	mu      sync.Mutex
	gen     uint64
	entries map[string]bucketCacheEntry[T]
}

type bucketCacheEntry[T any] struct {
	v   T
	exp time.Time
}

func (c *bucketCache[T]) get(bucket string, now time.Time) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[bucket]
	if !ok || !now.Before(e.exp) {
		var zero T
		return zero, false
	}
	return e.v, true
}

func (c *bucketCache[T]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores v unless an invalidation happened since gen was read.
func (c *bucketCache[T]) put(bucket string, v T, exp time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= bucketCacheMax {
		c.entries = make(map[string]bucketCacheEntry[T])
	}
	c.entries[bucket] = bucketCacheEntry[T]{v: v, exp: exp}
}

func (c *bucketCache[T]) invalidate(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, bucket)
}
