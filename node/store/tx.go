package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// Tx is the view of the store that an Update or View function gets. It is
// valid only until that function returns and must not be used from more
// than one goroutine.
//
// In an Update, writes go to a staging overlay that belongs to this
// function alone; reads see the overlay first and then the batch
// transaction, which holds what earlier functions of the same batch wrote.
// The overlay reaches Badger only if the function returns nil.
type Tx struct {
	s       *Store
	txn     *badger.Txn
	overlay map[string]staged // nil in a View
	done    bool
}

// staged is one pending write of an Update: a value, or a delete.
type staged struct {
	value   []byte
	deleted bool
}

var (
	errTxDone   = errors.New("store: transaction used after its function returned")
	errReadOnly = errors.New("store: write in a View; use Update")
)

func (tx *Tx) check() error {
	if tx.done {
		return errTxDone
	}
	return nil
}

// get returns a copy of key's value, or ErrNotFound.
func (tx *Tx) get(key []byte) ([]byte, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	if e, ok := tx.overlay[string(key)]; ok {
		if e.deleted {
			return nil, ErrNotFound
		}
		return bytes.Clone(e.value), nil
	}
	item, err := tx.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read value: %w", err)
	}
	return v, nil
}

func (tx *Tx) exists(key []byte) (bool, error) {
	if err := tx.check(); err != nil {
		return false, err
	}
	if e, ok := tx.overlay[string(key)]; ok {
		return !e.deleted, nil
	}
	_, err := tx.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read key: %w", err)
	}
	return true, nil
}

// set stages value under key. The overlay keeps value itself, so the
// caller passes a slice nobody else holds.
func (tx *Tx) set(key, value []byte) error {
	if err := tx.check(); err != nil {
		return err
	}
	if tx.overlay == nil {
		return errReadOnly
	}
	tx.overlay[string(key)] = staged{value: value}
	return nil
}

func (tx *Tx) del(key []byte) error {
	if err := tx.check(); err != nil {
		return err
	}
	if tx.overlay == nil {
		return errReadOnly
	}
	tx.overlay[string(key)] = staged{deleted: true}
	return nil
}

// scan calls fn, in key order, for each live key that has prefix and is not
// before start, merging the overlay (which wins, and whose deletes hide
// keys) with Badger. With keysOnly, fn gets no values. After limit keys
// (if limit > 0) it stops and returns the key to start the next page at;
// it returns nil when it has seen everything. fn gets copies it may keep.
func (tx *Tx) scan(prefix, start []byte, keysOnly bool, limit int, fn func(key, value []byte) error) ([]byte, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	if start == nil {
		start = prefix
	}
	var pending []string
	for k := range tx.overlay {
		if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
			pending = append(pending, k)
		}
	}
	slices.Sort(pending)

	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := tx.txn.NewIterator(opts)
	defer it.Close()
	it.Seek(start)

	for n := 0; ; {
		var key, value []byte
		fromBadger := it.Valid()
		switch {
		case len(pending) > 0 && (!fromBadger || pending[0] <= string(it.Item().Key())):
			k := pending[0]
			pending = pending[1:]
			if fromBadger && k == string(it.Item().Key()) {
				it.Next() // shadowed by the overlay
			}
			e := tx.overlay[k]
			if e.deleted {
				continue
			}
			key = []byte(k)
			if !keysOnly {
				value = bytes.Clone(e.value)
			}
		case fromBadger:
			item := it.Item()
			key = item.KeyCopy(nil)
			if !keysOnly {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return nil, fmt.Errorf("read value: %w", err)
				}
				value = v
			}
			it.Next()
		default:
			return nil, nil
		}
		if limit > 0 && n == limit {
			return key, nil
		}
		n++
		if err := fn(key, value); err != nil {
			return nil, err
		}
	}
}
