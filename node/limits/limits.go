// Package limits holds a custodian node's in-memory rate limits: token
// buckets keyed by a string (a user, or a user and a unit), with memory
// bounded however many keys callers make up, and the exponential backoff of
// failed logins.
//
// Nothing here is durable: a restart refills every bucket. Guesses at a
// password are limited durably elsewhere (the login failure count and the
// lock live in the store); these limits only stop floods.
package limits

import (
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/custos-network/custos/node/config"
)

// A Limiter is a set of token buckets of one size, one per key, created on
// first use. A bucket holds at most Burst tokens and gains one every Every;
// a new key's bucket starts full. It is safe for concurrent use.
//
// At most maxKeys buckets exist at a time. A bucket that has filled up again
// is the same as no bucket, so when the table is full the Limiter drops
// those; if none has, a new key is refused (Allow returns false with a
// retry-after) rather than admitted by evicting a bucket that is partly
// used. Evicting it would refill it: an attacker who can make up keys (new
// users, new unit IDs) could then reset an honest user's limit, or their
// own, at will. Refusing new keys under such a flood costs availability for
// new keys only, for at most about one bucket's refill time.
type Limiter struct {
	every  int64 // nanoseconds per token
	burst  int64
	window int64 // burst*every, saturated: how far a bucket's full time may run ahead of now
	now    func() time.Time
	epoch  time.Time
	seed   maphash.Seed
	shards []shard
}

// A shard is one lock's worth of buckets. A bucket is stored as the time,
// in nanoseconds since the Limiter's epoch, at which it will be full again
// ("theoretical arrival time"): an empty bucket's time is now+window, a full
// one's is now or earlier. Taking n tokens adds n*every.
type shard struct {
	mu   sync.Mutex
	full map[string]int64
	max  int
	// No bucket is full before minFull: it is a lower bound, kept up to
	// date on insert and made exact by a sweep, so a shard whose table is
	// full and whose buckets are all in use refuses a new key without
	// scanning the table.
	minFull int64
	// nextSweep keeps a flood of new keys from buying a scan of the table
	// per request when buckets refill one by one.
	nextSweep int64
}

// sweepGap is the least time between two sweeps of a shard for buckets that
// have filled up again.
const sweepGap = int64(time.Second)

// New returns a Limiter of buckets of size b holding at most maxKeys
// buckets. now is the clock (nil means time.Now); it should not go
// backwards. New panics if b.Burst < 1, b.Every <= 0 or maxKeys < 1, which
// config.Validate rules out.
func New(b config.Bucket, maxKeys int, now func() time.Time) *Limiter {
	if b.Burst < 1 || b.Every <= 0 || maxKeys < 1 {
		panic("limits: New needs a burst of at least 1, a positive period and room for at least 1 key")
	}
	if now == nil {
		now = time.Now
	}
	// Shards cut lock contention; each holds enough keys that hashing
	// evens them out.
	n := min(16, max(1, maxKeys/1024))
	l := &Limiter{
		every:  int64(b.Every),
		burst:  int64(b.Burst),
		window: mulSat(int64(b.Burst), int64(b.Every)),
		now:    now,
		epoch:  now(),
		seed:   maphash.MakeSeed(),
		shards: make([]shard, n),
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.max = maxKeys / n
		if i < maxKeys%n {
			s.max++
		}
		s.full = make(map[string]int64)
		s.minFull = math.MaxInt64
	}
	return l
}

// Allow takes one token from key's bucket. When none is left it returns
// false and how long until one is.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	return l.AllowN(key, 1)
}

// AllowN takes n tokens from key's bucket, or none: when fewer than n are
// left it returns false and how long until n are. AllowN(key, 0) is true.
// An n above the burst can never be allowed; AllowN returns false and a
// retryAfter of 0 for it, and the caller should split the request (see
// Burst). AllowN panics if n is negative.
//
// When the table of buckets is full and key has none, AllowN returns false
// and a retryAfter after which room may have been made.
func (l *Limiter) AllowN(key string, n int) (ok bool, retryAfter time.Duration) {
	switch {
	case n < 0:
		panic("limits: AllowN with a negative n")
	case n == 0:
		return true, 0
	case int64(n) > l.burst:
		return false, 0
	}
	cost := mulSat(int64(n), l.every)
	s := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]

	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.clock()
	full, exists := s.full[key]
	if !exists && len(s.full) >= s.max && !s.sweep(now) {
		return false, time.Duration(max(s.minFull, s.nextSweep) - now)
	}
	if !exists || full < now {
		full = now
	}
	next := addSat(full, cost)
	if limit := addSat(now, l.window); next > limit {
		// Only an existing bucket gets here: a new one is full.
		return false, time.Duration(next - limit)
	}
	s.full[key] = next
	if !exists {
		s.minFull = min(s.minFull, next)
	}
	return true, 0
}

// Burst returns the most tokens a bucket holds: the largest n AllowN can
// allow.
func (l *Limiter) Burst() int { return int(l.burst) }

// Len returns the number of buckets held, for metrics and tests.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.full)
		s.mu.Unlock()
	}
	return n
}

// clock returns the time in nanoseconds since the epoch.
func (l *Limiter) clock() int64 {
	return int64(l.now().Sub(l.epoch))
}

// sweep drops the buckets that are full again, if it is time to look, and
// reports whether the shard has room. s.mu must be held.
func (s *shard) sweep(now int64) bool {
	if now < s.minFull || now < s.nextSweep {
		return false
	}
	least := int64(math.MaxInt64)
	for k, full := range s.full {
		if full <= now {
			delete(s.full, k)
		} else {
			least = min(least, full)
		}
	}
	s.minFull = least
	s.nextSweep = addSat(now, sweepGap)
	return len(s.full) < s.max
}

// Backoff returns how long to make a client wait after its failures-th
// failure in a row: 0 for none, then base, 2·base, 4·base and so on, never
// more than ceiling. Any number of failures is safe: the doubling stops at
// the ceiling, so it cannot overflow. A base or ceiling of 0 or less gives 0.
func Backoff(failures int, base, ceiling time.Duration) time.Duration {
	if failures <= 0 || base <= 0 || ceiling <= 0 {
		return 0
	}
	d := min(base, ceiling)
	for i := 1; i < failures && d < ceiling; i++ {
		if d > ceiling/2 {
			return ceiling
		}
		d *= 2
	}
	return d
}

// mulSat returns a*b for a, b >= 0, or math.MaxInt64 if that overflows.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// addSat returns a+b for b >= 0, or math.MaxInt64 if that overflows.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
