package limits

import (
	"sync"
	"time"

	"github.com/custos-network/custos/node/config"
)

// A LogBudget bounds the log entries that one kind of refusal adds per key
// (a user, say), for refusals a caller can repeat at no cost, such as
// requests past a rate limit: were each logged, the log would grow as fast
// as the caller can send. A refusal of a key is logged while the key's token
// bucket allows; past it, it is refused all the same but not logged, and
// counted, so that the next logged refusal of the key can say how many went
// unlogged before it. It is safe for concurrent use.
//
// The counts are kept for at most maxKeys keys at a time; a key's count is
// dropped once reported. When that table is full, the refusals of a key that
// has no count there go uncounted (the caller's metrics still see them).
type LogBudget struct {
	bucket   *Limiter
	maxKeys  int
	mu       sync.Mutex
	unlogged map[string]int64 // refusals not logged since the key's last logged one
}

// NewLogBudget returns a LogBudget that logs the refusals of each key within
// bucket b, for at most maxKeys keys. now is the clock (nil: time.Now). It
// panics on what New panics on.
func NewLogBudget(b config.Bucket, maxKeys int, now func() time.Time) *LogBudget {
	return &LogBudget{bucket: New(b, maxKeys, now), maxKeys: maxKeys, unlogged: map[string]int64{}}
}

// Log reports whether a refusal of key is to be logged and, when it is, how
// many refusals of key went unlogged since its last logged one.
func (l *LogBudget) Log(key string) (ok bool, unloggedBefore int64) {
	ok, _ = l.bucket.Allow(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ok {
		if _, held := l.unlogged[key]; held || len(l.unlogged) < l.maxKeys {
			l.unlogged[key]++
		}
		return false, 0
	}
	unloggedBefore = l.unlogged[key]
	delete(l.unlogged, key)
	return true, unloggedBefore
}
