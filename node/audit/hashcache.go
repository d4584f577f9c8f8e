package audit

import (
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// hashCacheSlots is how many stored tree hashes a Log keeps in memory
// (about 40 bytes each: 1.3 MiB).
const hashCacheSlots = 1 << 15

// hashCache keeps stored tree hashes that were read through a transaction
// of committed state (Tx.Committed), so that the proofs and checkpoints
// that every release receipt needs read memory, not the store: a receipt
// reads a few dozen hashes, the same top ones for every receipt of a size.
//
// A stored hash never changes once it is committed: the log only appends,
// Append writes each storage index once, and a restore replaces the data
// directory of a stopped node (the next process has a new Log). So a hash
// from the cache is the one any transaction would read, committed or not;
// only what a transaction that may still fail read is never put in.
//
// It is direct-mapped by storage index: the hashes of the newest entries
// (most of what a receipt reads) replace each other in turn, and an old
// one that a newer one pushed out is read again once.
type hashCache struct {
	mu    sync.Mutex
	slots []cachedHash
}

type cachedHash struct {
	index int64 // the storage index + 1; 0 for an empty slot
	hash  tlog.Hash
}

func newHashCache() *hashCache {
	return &hashCache{slots: make([]cachedHash, hashCacheSlots)}
}

// get fills out[i] for each of indexes it holds and reports which it did.
func (c *hashCache) get(indexes []int64, out []tlog.Hash, found []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, idx := range indexes {
		if s := &c.slots[idx%hashCacheSlots]; s.index == idx+1 {
			out[i], found[i] = s.hash, true
		}
	}
}

// put keeps hashes[i], read from committed state, as the hash at
// indexes[i] where found[i] is not set.
func (c *hashCache) put(indexes []int64, hashes []tlog.Hash, found []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, idx := range indexes {
		if !found[i] {
			c.slots[idx%hashCacheSlots] = cachedHash{index: idx + 1, hash: hashes[i]}
		}
	}
}
