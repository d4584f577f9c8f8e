package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Tx is the part of a store transaction the log reads and writes through;
// node/store's *Tx implements it. Entries are numbered from 0, and hashes by
// tlog's storage index (tlog.StoredHashIndex).
//
// Reading an entry or a hash that was never written returns an error (Replay
// takes any error reading past the end of the log to mean "absent"). A slice
// returned by LogEntry must stay valid and unchanged after the transaction
// ends (Badger: Item.ValueCopy).
type Tx interface {
	// LogSize returns the number of entries, 0 for a new store.
	LogSize() (int64, error)
	SetLogSize(n int64) error
	PutLogEntry(index int64, entry []byte) error
	LogEntry(index int64) ([]byte, error)
	PutLogHash(storageIndex int64, h [32]byte) error
	LogHash(storageIndex int64) ([32]byte, error)
	// Committed reports whether the transaction reads committed state
	// only and writes nothing (node/store: a View). The tree hashes read
	// through such a transaction are kept in memory (hashCache).
	Committed() bool
}

// txHashReader reads stored tree hashes through a Tx, and through the
// log's cache of those already read from committed state.
type txHashReader struct {
	tx    Tx
	cache *hashCache
}

func (r txHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	found := make([]bool, len(indexes))
	r.cache.get(indexes, out, found)
	for i, idx := range indexes {
		if found[i] {
			continue
		}
		h, err := r.tx.LogHash(idx)
		if err != nil {
			return nil, fmt.Errorf("read log hash %d: %w", idx, err)
		}
		out[i] = h
	}
	if r.tx.Committed() {
		r.cache.put(indexes, out, found)
	}
	return out, nil
}
