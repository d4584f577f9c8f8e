package audit

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// memTx is the test stand-in for a store transaction: an in-memory log with
// no durability. Tests play an attacker with the node's disk by changing its
// fields directly. Like Badger, PutLogEntry keeps the caller's slice rather
// than a copy; LogEntry returns a copy.
type memTx struct {
	size    int64
	entries map[int64][]byte
	hashes  []tlog.Hash // by storage index
	has     []bool      // whether hashes[i] was written

	// failOn makes the named method fail with errMemInjected.
	failOn string
	// committed plays a read-only view of committed state (Tx.Committed).
	committed bool
}

var (
	errMemNotFound = errors.New("memtx: not found")
	errMemInjected = errors.New("memtx: injected failure")
)

func newMemTx() *memTx { return &memTx{entries: make(map[int64][]byte)} }

func (m *memTx) fail(op string) error {
	if m.failOn == op {
		return errMemInjected
	}
	return nil
}

func (m *memTx) LogSize() (int64, error) {
	if err := m.fail("LogSize"); err != nil {
		return 0, err
	}
	return m.size, nil
}

func (m *memTx) SetLogSize(n int64) error {
	if err := m.fail("SetLogSize"); err != nil {
		return err
	}
	m.size = n
	return nil
}

func (m *memTx) PutLogEntry(index int64, entry []byte) error {
	if err := m.fail("PutLogEntry"); err != nil {
		return err
	}
	m.entries[index] = entry
	return nil
}

func (m *memTx) LogEntry(index int64) ([]byte, error) {
	if err := m.fail("LogEntry"); err != nil {
		return nil, err
	}
	e, ok := m.entries[index]
	if !ok {
		return nil, fmt.Errorf("log entry %d: %w", index, errMemNotFound)
	}
	return slices.Clone(e), nil
}

func (m *memTx) PutLogHash(storageIndex int64, h [32]byte) error {
	if err := m.fail("PutLogHash"); err != nil {
		return err
	}
	if storageIndex < 0 {
		return fmt.Errorf("memtx: negative storage index %d", storageIndex)
	}
	if storageIndex == int64(len(m.hashes)) {
		m.hashes = append(m.hashes, h)
		m.has = append(m.has, true)
		return nil
	}
	if storageIndex > int64(len(m.hashes)) {
		grow := int(storageIndex) + 1 - len(m.hashes)
		m.hashes = append(m.hashes, make([]tlog.Hash, grow)...)
		m.has = append(m.has, make([]bool, grow)...)
	}
	m.hashes[storageIndex] = h
	m.has[storageIndex] = true
	return nil
}

func (m *memTx) LogHash(storageIndex int64) ([32]byte, error) {
	if err := m.fail("LogHash"); err != nil {
		return [32]byte{}, err
	}
	if storageIndex < 0 || storageIndex >= int64(len(m.hashes)) || !m.has[storageIndex] {
		return [32]byte{}, fmt.Errorf("log hash %d: %w", storageIndex, errMemNotFound)
	}
	return m.hashes[storageIndex], nil
}

func (m *memTx) Committed() bool { return m.committed }

// clone returns an independent copy, to play a transaction that is later
// thrown away.
func (m *memTx) clone() *memTx {
	c := &memTx{size: m.size, entries: maps.Clone(m.entries), hashes: slices.Clone(m.hashes), has: slices.Clone(m.has)}
	for k, v := range c.entries {
		c.entries[k] = slices.Clone(v)
	}
	return c
}

// deleteHash forgets the stored hash at storageIndex.
func (m *memTx) deleteHash(storageIndex int64) { m.has[storageIndex] = false }

var _ Tx = (*memTx)(nil)
