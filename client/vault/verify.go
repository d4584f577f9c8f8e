package vault

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/threshold"
)

// Verify reads the whole vault and checks every rule of the format: every
// page of the database is read (bbolt's own check is not used: it panics
// on damaged pages in a goroutine of its own), every unit's three values
// and its MAC, every pending delete and receipt, the receipts'
// size, and that the ids and sealed buckets hold only the units'. Open
// does not do this (it reads no record), so Verify costs a read of the
// whole file. It returns the first problem found: ErrCorrupt, or
// ErrDamaged for a unit whose fields do not match its MAC.
func (h *Handle) Verify() error {
	err := h.view(func(tx *bolt.Tx) error {
		if err := h.verifyUnits(tx); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			if _, err := decodePending(k, v); err != nil {
				return fmt.Errorf("%w: a pending delete: %w", ErrCorrupt, err)
			}
			return nil
		}); err != nil {
			return err
		}
		return verifyReceipts(tx)
	})
	if err != nil {
		return fmt.Errorf("verify vault: %w", err)
	}
	return nil
}

// verifyUnits checks every unit, and that the ids and sealed buckets hold
// as many entries as there are units (each unit's own are checked by
// readUnit).
func (h *Handle) verifyUnits(tx *bolt.Tx) error {
	units := 0
	var damaged error
	err := tx.Bucket(bucketUnits).ForEach(func(k, _ []byte) error {
		units++
		u, err := h.readUnit(tx, string(k), true)
		if err != nil {
			return err
		}
		if err := h.v.CheckUnit(u); err != nil && damaged == nil {
			damaged = err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range [][]byte{bucketIDs, bucketSealed} {
		n := 0
		err := tx.Bucket(b).ForEach(func(k, _ []byte) error {
			if len(k) != len(threshold.UnitID{}) {
				return fmt.Errorf("%w: a key of the %s bucket is not a unit ID", ErrCorrupt, b)
			}
			n++
			return nil
		})
		if err != nil {
			return err
		}
		if n != units {
			return fmt.Errorf("%w: the %s bucket has %d entries for %d units", ErrCorrupt, b, n, units)
		}
	}
	return damaged
}

func verifyReceipts(tx *bolt.Tx) error {
	total, count := uint64(0), 0
	err := tx.Bucket(bucketReceipts).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return errors.New("a key is not an 8-byte number")
		}
		if _, err := decodeReceipt(v); err != nil {
			return err
		}
		total += uint64(len(v))
		count++
		return nil
	})
	if err == nil && count > MaxReceipts {
		err = fmt.Errorf("%d receipts; a vault keeps at most %d", count, MaxReceipts)
	}
	if want := (&reader{b: tx.Bucket(bucketMeta).Get([]byte(metaReceiptBytes))}).u64(); err == nil && want != total {
		err = fmt.Errorf("receipt_bytes is %d, but the receipts take %d", want, total)
	}
	if err != nil {
		return fmt.Errorf("%w: receipts: %w", ErrCorrupt, err)
	}
	return nil
}
