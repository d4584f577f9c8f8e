package vault

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/threshold"
)

// A unit is three values (docs/vault.md, "Units"): its descriptor under
// its label in the units bucket, its sealed record under its ID in the
// sealed bucket, and its label under its ID in the ids bucket. Each
// operation reads or writes one unit's values and the node table, never
// the others: its cost does not grow with the number of units (beyond the
// depth of the database's tree).

// UnitInfo is what a listing shows of a unit: nothing secret, and not its
// sealed record.
type UnitInfo struct {
	Label     string
	ID        threshold.UnitID
	Version   uint64
	Threshold int
	Nodes     int
	Degraded  bool
	Created   time.Time
	Updated   time.Time
}

// Units calls fn with each unit whose label starts with prefix ("" for
// all), in label order (byte-wise), reading their descriptors only: no
// sealed record is read. fn's error stops the listing and is returned. fn
// runs inside a read transaction and must not call the handle's methods
// that write. A damaged descriptor is ErrCorrupt.
func (h *Handle) Units(prefix string, fn func(UnitInfo) error) error {
	err := h.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketUnits).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			info, err := unitSummary(string(k), v)
			if err != nil {
				return unitDamage(string(k), err)
			}
			if err := fn(info); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list units: %w", err)
	}
	return nil
}

// Unit returns the unit labelled label with its sealed record, decoded and
// checked against the rules of the format (ErrCorrupt if it breaks one),
// and reports whether there is one. It does not check the unit's MAC: see
// CheckUnit.
func (h *Handle) Unit(label string) (*Unit, bool, error) { return h.unit(label, true) }

// Describe is Unit without the sealed record: for what needs the unit's
// nodes but not the record itself. Its MAC cannot be checked.
func (h *Handle) Describe(label string) (*Unit, bool, error) { return h.unit(label, false) }

func (h *Handle) unit(label string, sealed bool) (u *Unit, ok bool, err error) {
	err = h.view(func(tx *bolt.Tx) error {
		u, err = h.readUnit(tx, label, sealed)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("read unit: %w", err)
	}
	return u, u != nil, nil
}

// readUnit reads the unit labelled label in tx (nil if none), with its
// sealed record if sealed is set, and checks that its three values agree.
func (h *Handle) readUnit(tx *bolt.Tx, label string, sealed bool) (*Unit, error) {
	desc := tx.Bucket(bucketUnits).Get([]byte(label))
	if desc == nil {
		return nil, nil
	}
	u, sealedLen, err := decodeUnit(label, desc, h.lookup(tx))
	if err != nil {
		return nil, unitDamage(label, err)
	}
	if got := tx.Bucket(bucketIDs).Get(u.ID[:]); string(got) != label {
		return nil, unitDamage(label, errors.New("the ids bucket does not name it under its ID"))
	}
	s := tx.Bucket(bucketSealed).Get(u.ID[:])
	if len(s) != sealedLen {
		return nil, unitDamage(label, fmt.Errorf("its sealed record is %d bytes, not the %d its descriptor names", len(s), sealedLen))
	}
	if sealed {
		u.Sealed = bytes.Clone(s)
	}
	return &u, nil
}

func unitDamage(label string, err error) error {
	return fmt.Errorf("%w: unit %q: %w", ErrCorrupt, clip(label), err)
}

// lookup resolves node table entries for decodeUnit: from the table in
// memory, else from tx (an entry committed by another writer since the
// table was read). Entries read in a read transaction are committed, and
// kept in memory.
func (h *Handle) lookup(tx *bolt.Tx) func(uint32) (tableNode, error) {
	return func(ref uint32) (tableNode, error) {
		h.mu.Lock()
		n, ok := h.nodes[ref]
		h.mu.Unlock()
		if ok {
			return n, nil
		}
		v := tx.Bucket(bucketNodes).Get(putU32(nil, ref))
		if v == nil {
			return tableNode{}, fmt.Errorf("it names entry %d of the node table, which has none", ref)
		}
		n, err := decodeTableNode(v)
		if err != nil {
			return tableNode{}, fmt.Errorf("entry %d of the node table: %w", ref, err)
		}
		if !tx.Writable() {
			h.remember(map[uint32]tableNode{ref: n})
		}
		return n, nil
	}
}

// remember adds committed entries to the node table in memory.
func (h *Handle) remember(added map[uint32]tableNode) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ref, n := range added {
		h.nodes[ref], h.refs[n] = n, ref
	}
}

// refsOf returns the node table entries of nodes, adding to the table in tx
// those it lacks; added are the new ones, for remember once tx commits.
// Writers are serialized, so a pair missing from memory is looked for in
// tx, which holds every committed entry, before it is added.
func (h *Handle) refsOf(tx *bolt.Tx, nodes []UnitNode, inTx map[uint32]tableNode) (refs []uint32, added map[uint32]tableNode, err error) {
	b := tx.Bucket(bucketNodes)
	refs = make([]uint32, len(nodes))
	for i, un := range nodes {
		n := tableNode{Name: un.Name, PeerID: un.PeerID}
		h.mu.Lock()
		ref, ok := h.refs[n]
		h.mu.Unlock()
		for r, m := range inTx {
			if !ok && m == n {
				ref, ok = r, true
			}
		}
		if !ok {
			if ref, ok, err = findTableNode(b, n); err != nil {
				return nil, nil, err
			}
		}
		if !ok {
			enc, err := encodeTableNode(n)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			seq, err := b.NextSequence()
			if err != nil {
				return nil, nil, err
			}
			if seq > math.MaxUint32 {
				return nil, nil, errors.New("the node table is full")
			}
			ref = uint32(seq)
			if err := b.Put(putU32(nil, ref), enc); err != nil {
				return nil, nil, err
			}
			if added == nil {
				added = map[uint32]tableNode{}
			}
			added[ref] = n
		}
		refs[i] = ref
	}
	return refs, added, nil
}

// findTableNode looks for n in the node table b.
func findTableNode(b *bolt.Bucket, n tableNode) (uint32, bool, error) {
	want, err := encodeTableNode(n)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if bytes.Equal(v, want) && len(k) == 4 {
			return (&reader{b: k}).u32(), true, nil
		}
	}
	return 0, false, nil
}

// PutUnit adds a unit and sets its MAC (SealUnit): the caller vouches for
// every field. It checks the unit against the rules of the format
// (ErrInvalid) and refuses one whose label or ID another unit has
// (ErrExists). The unit is on disk when PutUnit returns.
func (h *Handle) PutUnit(u Unit) error { return h.PutUnits(u) }

// PutUnits is PutUnit of several units in one transaction: all of them
// are added, or none.
func (h *Handle) PutUnits(us ...Unit) error {
	us = slices.Clone(us)
	for i := range us {
		u := &us[i]
		u.Created, u.Updated = u.Created.UTC(), u.Updated.UTC()
		if err := h.v.SealUnit(u); err != nil {
			return fmt.Errorf("put unit: %w", err)
		}
		if err := checkUnit(u); err != nil {
			return fmt.Errorf("put unit: %w: %w", ErrInvalid, err)
		}
	}
	added := map[uint32]tableNode{}
	err := h.update(func(tx *bolt.Tx) error {
		for i := range us {
			if err := h.putUnit(tx, &us[i], added); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put unit: %w", err)
	}
	h.remember(added)
	return nil
}

// putUnit adds u, checked and sealed, in tx, and the node table entries it
// adds to added.
func (h *Handle) putUnit(tx *bolt.Tx, u *Unit, added map[uint32]tableNode) error {
	if tx.Bucket(bucketUnits).Get([]byte(u.Label)) != nil {
		return fmt.Errorf("a unit labelled %q %w", u.Label, ErrExists)
	}
	if other := tx.Bucket(bucketIDs).Get(u.ID[:]); other != nil || tx.Bucket(bucketSealed).Get(u.ID[:]) != nil {
		return fmt.Errorf("a unit with ID %s (labelled %q) %w", u.ID, clip(string(other)), ErrExists)
	}
	if tx.Bucket(bucketPending).Get(pendingKey(u.ID, u.Version)) != nil {
		return fmt.Errorf("%w: unit %s version %d is waiting to be deleted", ErrInvalid, u.ID, u.Version)
	}
	refs, add, err := h.refsOf(tx, u.Nodes, added)
	if err != nil {
		return err
	}
	maps.Copy(added, add)
	return putUnitValues(tx, u, refs)
}

func putUnitValues(tx *bolt.Tx, u *Unit, refs []uint32) error {
	if err := tx.Bucket(bucketUnits).Put([]byte(u.Label), encodeUnit(u, refs)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSealed).Put(u.ID[:], u.Sealed); err != nil {
		return err
	}
	return tx.Bucket(bucketIDs).Put(u.ID[:], []byte(u.Label))
}

// RemoveUnit removes the unit labelled label if it is still the unit with
// this ID, and in the same transaction records the version removed as a
// pending delete of the nodes in unconfirmed (those that did not confirm
// deleting their share), if any. It reports whether it removed a unit.
func (h *Handle) RemoveUnit(label string, id threshold.UnitID, unconfirmed []string) (bool, error) {
	removed := false
	err := h.update(func(tx *bolt.Tx) error {
		u, err := h.readUnit(tx, label, false)
		if err != nil {
			return err
		}
		if u == nil || u.ID != id {
			return errUnchanged
		}
		if err := tx.Bucket(bucketUnits).Delete([]byte(label)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSealed).Delete(id[:]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketIDs).Delete(id[:]); err != nil {
			return err
		}
		removed = true
		if len(unconfirmed) == 0 {
			return nil
		}
		p := PendingDelete{ID: id, Version: u.Version, Nodes: unconfirmed}
		if err := checkPending(&p); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return tx.Bucket(bucketPending).Put(pendingKey(id, u.Version), encodePending(&p))
	})
	if err != nil {
		return false, fmt.Errorf("remove unit: %w", err)
	}
	return removed, nil
}

// MarkNotStored records that node no longer stores its share of the
// current version of the unit with this ID: the node is not Stored, and
// the unit is Degraded. It checks the unit's MAC first (ErrDamaged, and
// nothing changes) and seals it again after. It reports whether the unit
// changed; a unit the vault no longer has at that version, or a node not
// among its nodes or already not storing, changes nothing.
func (h *Handle) MarkNotStored(id threshold.UnitID, version uint64, node string) (bool, error) {
	changed := false
	err := h.update(func(tx *bolt.Tx) error {
		label := tx.Bucket(bucketIDs).Get(id[:])
		if label == nil {
			return errUnchanged
		}
		u, err := h.readUnit(tx, string(label), true)
		if err != nil {
			return err
		}
		if u == nil || u.Version != version {
			return errUnchanged
		}
		for j := range u.Nodes {
			if u.Nodes[j].Name != node || !u.Nodes[j].Stored {
				continue
			}
			if err := h.v.CheckUnit(u); err != nil {
				return err
			}
			u.Nodes[j].Stored, u.Degraded = false, true
			if err := h.v.SealUnit(u); err != nil {
				return err
			}
			refs, _, err := h.refsOf(tx, u.Nodes, nil)
			if err != nil {
				return err
			}
			changed = true
			return tx.Bucket(bucketUnits).Put([]byte(u.Label), encodeUnit(u, refs))
		}
		return errUnchanged
	})
	if err != nil {
		return false, fmt.Errorf("mark a share not stored: %w", err)
	}
	return changed, nil
}

// LabelOf returns the label of the unit with this ID, if the vault has one.
func (h *Handle) LabelOf(id threshold.UnitID) (string, bool, error) {
	var label string
	err := h.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIDs).Get(id[:])
		if b == nil {
			return nil
		}
		if !ValidLabel(string(b)) {
			return fmt.Errorf("%w: the ids bucket names unit %s with an invalid label", ErrCorrupt, id)
		}
		label = string(b)
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("find a unit's label: %w", err)
	}
	return label, label != "", nil
}

// PendingDeletes returns the unit versions whose deletion some nodes have
// not confirmed, by unit ID and version.
func (h *Handle) PendingDeletes() ([]PendingDelete, error) {
	var out []PendingDelete
	err := h.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			p, err := decodePending(k, v)
			if err != nil {
				return fmt.Errorf("%w: a pending delete: %w", ErrCorrupt, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read pending deletes: %w", err)
	}
	return out, nil
}

// SetPendingDelete sets the nodes still to confirm deleting p's unit
// version to p.Nodes, and drops the entry when there are none. The version
// must not be the current one of a unit in the vault (ErrInvalid):
// retrying it would destroy a live record.
func (h *Handle) SetPendingDelete(p PendingDelete) error {
	err := h.update(func(tx *bolt.Tx) error {
		key := pendingKey(p.ID, p.Version)
		if len(p.Nodes) == 0 {
			if tx.Bucket(bucketPending).Get(key) == nil {
				return errUnchanged
			}
			return tx.Bucket(bucketPending).Delete(key)
		}
		if err := checkPending(&p); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if label := tx.Bucket(bucketIDs).Get(p.ID[:]); label != nil {
			u, err := h.readUnit(tx, string(label), false)
			if err != nil {
				return err
			}
			if u != nil && u.Version == p.Version {
				return fmt.Errorf("%w: unit %s version %d is the unit's current version", ErrInvalid, p.ID, p.Version)
			}
		}
		return tx.Bucket(bucketPending).Put(key, encodePending(&p))
	})
	if err != nil {
		return fmt.Errorf("set a pending delete: %w", err)
	}
	return nil
}
