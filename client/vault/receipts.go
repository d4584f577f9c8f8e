package vault

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The receipts bucket keeps the newest receipts under increasing 8-byte
// numbers, so its oldest is its first key: dropping the oldest beyond the
// bounds costs what is dropped, once. The meta key receipt_bytes keeps the
// size of their values together.

// AddReceipts queues receipts, which must follow the rules of the format
// (ErrInvalid), to be written by the next Save, and drops the oldest queued
// beyond MaxReceipts: the vault is not an archive, and the nodes' logs keep
// every entry. The vault keeps copies of the receipts' slices.
func (h *Handle) AddReceipts(rs ...Receipt) error {
	add := make([]Receipt, 0, len(rs))
	for i := range rs {
		if err := checkReceipt(&rs[i]); err != nil {
			return fmt.Errorf("add receipt: %w: %w", ErrInvalid, err)
		}
		r := rs[i]
		r.Units, r.Checkpoint, r.Entry = slices.Clone(r.Units), slices.Clone(r.Checkpoint), slices.Clone(r.Entry)
		add = append(add, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = append(h.queue, add...)
	if drop := len(h.queue) - MaxReceipts; drop > 0 {
		// A new slice: a Save may be reading a copy of the old one's
		// elements' slices, never the old one itself.
		h.queue, h.queued = slices.Clone(h.queue[drop:]), h.queued+uint64(drop)
	}
	return nil
}

// Receipts returns the receipts the vault keeps, oldest first: those saved
// and those queued, as the next Save would leave them.
func (h *Handle) Receipts() ([]Receipt, error) {
	var out []Receipt
	err := h.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReceipts).ForEach(func(k, v []byte) error {
			if len(out) == MaxReceipts {
				return fmt.Errorf("%w: more than %d receipts", ErrCorrupt, MaxReceipts)
			}
			r, err := decodeReceipt(v)
			if err != nil {
				return fmt.Errorf("%w: receipt %x: %w", ErrCorrupt, k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	h.mu.Lock()
	for _, r := range h.queue {
		r.Units, r.Checkpoint, r.Entry = slices.Clone(r.Units), slices.Clone(r.Checkpoint), slices.Clone(r.Entry)
		out = append(out, r)
	}
	h.mu.Unlock()
	drop, total := max(len(out)-MaxReceipts, 0), 0
	for i := len(out) - 1; i >= drop; i-- {
		if total += len(encodeReceipt(&out[i])); total > maxReceiptBytes {
			drop = i + 1
			break
		}
	}
	return out[drop:], nil
}

// appendReceipts adds rs to the receipts bucket in tx and drops the oldest
// beyond MaxReceipts and maxReceiptBytes.
func appendReceipts(tx *bolt.Tx, rs []Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	b, meta := tx.Bucket(bucketReceipts), tx.Bucket(bucketMeta)
	total := (&reader{b: meta.Get([]byte(metaReceiptBytes))}).u64()
	for i := range rs {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		v := encodeReceipt(&rs[i])
		if err := b.Put(putU64(nil, seq), v); err != nil {
			return err
		}
		total += uint64(len(v))
	}
	c := b.Cursor()
	first, _ := c.First()
	last, _ := c.Last()
	if len(first) != 8 || len(last) != 8 {
		return fmt.Errorf("%w: a key of the receipts bucket is not an 8-byte number", ErrCorrupt)
	}
	count := (&reader{b: last}).u64() - (&reader{b: first}).u64() + 1
	for k, v := c.First(); k != nil && (count > MaxReceipts || total > maxReceiptBytes); k, v = c.First() {
		total -= min(total, uint64(len(v)))
		count--
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return meta.Put([]byte(metaReceiptBytes), putU64(nil, total))
}
