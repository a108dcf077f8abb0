package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

// keyCache authenticates keys against the key store, keeping each record
// found for ttl so that a busy key costs one hash, not one store read, per
// request. Only existing records are cached (the cache is bounded by the
// number of keys); a revocation through this server takes effect at once
// (forget), any other within ttl.
type keyCache struct {
	store state.KeyStore
	ttl   time.Duration
	now   func() time.Time

	mu sync.RWMutex
	m  map[string]cachedKey
	// gen counts forgets: a record read from the store before a forget
	// (a lookup racing a revocation) is not cached after it, where it
	// would let the revoked key in until ttl passed.
	gen uint64
}

type cachedKey struct {
	rec     state.APIKey
	sum     [sha256.Size]byte // the record's hash, decoded
	fetched time.Time
}

func newKeyCache(st state.KeyStore, ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{store: st, ttl: ttl, now: now, m: map[string]cachedKey{}}
}

var errBadKey = &Error{Code: CodeUnauthorized, Message: "invalid API key"}

// lookup returns the record of a valid, unrevoked key.
func (c *keyCache) lookup(ctx context.Context, key string) (state.APIKey, error) {
	id, ok := state.APIKeyID(key)
	if !ok {
		return state.APIKey{}, errBadKey
	}
	now := c.now()
	c.mu.RLock()
	ck, hit := c.m[id]
	c.mu.RUnlock()
	if !hit || now.Sub(ck.fetched) > c.ttl {
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		rec, err := c.store.Get(ctx, id)
		if errors.Is(err, rt.ErrNotFound) {
			c.mu.Lock()
			delete(c.m, id)
			c.mu.Unlock()
			return state.APIKey{}, errBadKey
		}
		if err != nil {
			return state.APIKey{}, err
		}
		ck = cachedKey{rec: rec, fetched: now}
		if b, err := hex.DecodeString(rec.Hash); err == nil && len(b) == sha256.Size {
			copy(ck.sum[:], b)
		} else {
			return state.APIKey{}, fmt.Errorf("key %s: stored hash is not a hex SHA-256", id)
		}
		c.mu.Lock()
		if c.gen == gen {
			c.m[id] = ck
		}
		c.mu.Unlock()
	}
	sum := sha256.Sum256([]byte(key))
	if subtle.ConstantTimeCompare(sum[:], ck.sum[:]) != 1 {
		return state.APIKey{}, errBadKey
	}
	if ck.rec.Revoked != nil {
		return state.APIKey{}, &Error{Code: CodeUnauthorized, Message: "API key " + id + " was revoked"}
	}
	return ck.rec, nil
}

// forget drops a cached record (after a revocation through this server).
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}

// limiter is a token bucket per principal: rate tokens per second up to
// burst. A zero rate disables it.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*bucket
}

type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, b: map[string]*bucket{}}
}

// take takes one token for id; when none is left it returns how long until
// one is.
func (l *limiter) take(id string) (time.Duration, bool) {
	if l.rate <= 0 {
		return 0, true
	}
	l.mu.Lock()
	b := l.b[id]
	if b == nil {
		b = &bucket{tokens: l.burst, last: l.now()}
		l.b[id] = b
	}
	l.mu.Unlock()
	now := l.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}
