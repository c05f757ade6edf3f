package kms

import (
	"sync"
	"time"
)

// maxCachedKeys bounds the unsealed material kept in memory.
const maxCachedKeys = 4096

type cachedKey struct {
	rec      keyRecord
	versions map[uint32][]byte // unsealed material by version
	latest   uint32
	loaded   time.Time
	// authz is what authorization needs (policy, tags, aliases, grants),
	// cached with the key so the data path reads no SQLite on a hit.
	authz *authzState
}

// keyCache holds unsealed key versions and alias targets so the data path
// needs neither SQLite writes nor unsealing per request. Every mutation
// through the Core clears it; the TTL bounds how long material lives.
type keyCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	keys    map[string]*cachedKey
	aliases map[string]string
	// gen counts clears. A reader that loaded state before a clear must
	// not put it back afterwards (it could be a state just changed).
	gen uint64
}

func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func newKeyCache(ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{ttl: ttl, now: now, keys: map[string]*cachedKey{}, aliases: map[string]string{}}
}

func (c *keyCache) get(id string) (*cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ck, ok := c.keys[id]
	if !ok {
		return nil, false
	}
	if c.now().Sub(ck.loaded) > c.ttl {
		delete(c.keys, id)
		return nil, false
	}
	return ck, true
}

func (c *keyCache) put(id string, ck *cachedKey, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.keys) >= maxCachedKeys {
		// Crude but bounded; a full cache is rare (one entry per key).
		c.keys = map[string]*cachedKey{}
	}
	ck.loaded = c.now()
	c.keys[id] = ck
}

func (c *keyCache) alias(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.aliases[name]
	return id, ok
}

func (c *keyCache) putAlias(name, id string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.aliases) >= maxCachedKeys {
		c.aliases = map[string]string{}
	}
	c.aliases[name] = id
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Material is not zeroed here: a concurrent request may still hold
	// the entry; it becomes garbage when that request ends.
	c.keys = map[string]*cachedKey{}
	c.aliases = map[string]string{}
	c.gen++
}
