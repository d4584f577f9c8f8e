package vault

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/threshold"
)

// A change is a new version of a unit being placed at the nodes: a
// replace, a rotation or a reshare (docs/vault.md, "Changes under way").
// It is recorded, in the changes bucket under the unit's ID, before the
// first share of the new version is sent, and dropped in the transaction
// that makes the new version the unit's (CommitChanges) or that gives it
// up (AbandonChanges). The unit itself stays at its old version until
// then: an interrupted change leaves it usable, and the next run gives the
// change up (its new version's shares become a pending delete) and makes
// it again.

// ChangeOp is what a change is.
type ChangeOp uint8

const (
	ChangeReplace ChangeOp = 1 // a new record (put --replace, edit)
	ChangeRotate  ChangeOp = 2 // a new server key, the same record
	ChangeReshare ChangeOp = 3 // the same record at another network's nodes
)

func (op ChangeOp) String() string {
	switch op {
	case ChangeReplace:
		return "replace"
	case ChangeRotate:
		return "rotate"
	case ChangeReshare:
		return "reshare"
	}
	return fmt.Sprintf("change(%d)", uint8(op))
}

// maxChangeContent caps a change's content: a record sealed, with room.
const maxChangeContent = maxSealed

// Change is a new version of a unit under way.
type Change struct {
	Op    ChangeOp
	Label string
	ID    threshold.UnitID
	// From is the unit's version the change started from: the unit's
	// current one while the change is recorded.
	From uint64
	// To is the new version whose shares are being placed.
	To uint64
	// Nodes are the names of the nodes the new version's shares are sent
	// to: those to delete them at when the change is given up.
	Nodes []string
	// Content is, for a replace, the new record sealed under a key that
	// only the old version's server key gives (the client's to choose and
	// open): so that the next run can make the change again, and a copy
	// of the vault alone cannot read it. Empty for the other changes,
	// whose record is the old version's.
	Content []byte
	Started time.Time
}

// Changes returns the changes under way, by unit ID.
func (h *Handle) Changes() ([]Change, error) {
	var out []Change
	err := h.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChanges)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			c, err := decodeUnitChange(k, v)
			if err != nil {
				return fmt.Errorf("%w: a change under way: %w", ErrCorrupt, err)
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

// StageChanges records cs, each of a unit the vault has at version From
// (else ErrInvalid, and nothing is written), replacing a change recorded
// before for the same unit; and, in the same transaction, gives up the
// versions of abandoned: each becomes a pending delete of its nodes (see
// AbandonChanges). All of it is on disk when StageChanges returns.
func (h *Handle) StageChanges(cs []Change, abandoned []PendingDelete) error {
	for i := range cs {
		cs[i].Started = cs[i].Started.UTC()
		if err := checkUnitChange(&cs[i]); err != nil {
			return fmt.Errorf("stage changes: %w: %w", ErrInvalid, err)
		}
	}
	err := h.update(func(tx *bolt.Tx) error {
		changes, err := tx.CreateBucketIfNotExists(bucketChanges)
		if err != nil {
			return err
		}
		if err := h.abandon(tx, abandoned); err != nil {
			return err
		}
		for i := range cs {
			c := &cs[i]
			u, err := h.readUnit(tx, c.Label, false)
			if err != nil {
				return err
			}
			if u == nil || u.ID != c.ID || u.Version != c.From {
				return fmt.Errorf("%w: unit %q is not at version %d", ErrInvalid, clip(c.Label), c.From)
			}
			if tx.Bucket(bucketPending).Get(pendingKey(c.ID, c.To)) != nil {
				return fmt.Errorf("%w: unit %s version %d is waiting to be deleted", ErrInvalid, c.ID, c.To)
			}
			if err := changes.Put(c.ID[:], encodeUnitChange(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stage changes: %w", err)
	}
	return nil
}

// AbandonChanges gives up changes: for each p, the change of unit p.ID to
// version p.Version is dropped, and the version becomes a pending delete
// of p.Nodes (those that may hold its shares), unless p.Nodes is empty.
// A p that names no change under way adds the pending delete alone; one
// that names a unit's current version is refused (ErrInvalid).
func (h *Handle) AbandonChanges(abandoned []PendingDelete) error {
	if len(abandoned) == 0 {
		return nil
	}
	err := h.update(func(tx *bolt.Tx) error { return h.abandon(tx, abandoned) })
	if err != nil {
		return fmt.Errorf("abandon changes: %w", err)
	}
	return nil
}

func (h *Handle) abandon(tx *bolt.Tx, abandoned []PendingDelete) error {
	changes := tx.Bucket(bucketChanges)
	for _, p := range abandoned {
		var v []byte
		if changes != nil {
			v = changes.Get(p.ID[:])
		}
		if v != nil {
			c, err := decodeUnitChange(p.ID[:], v)
			if err != nil {
				return fmt.Errorf("%w: a change under way: %w", ErrCorrupt, err)
			}
			if c.To == p.Version {
				if err := changes.Delete(p.ID[:]); err != nil {
					return err
				}
			}
		}
		if len(p.Nodes) == 0 {
			continue
		}
		if err := h.putPending(tx, &p); err != nil {
			return err
		}
	}
	return nil
}

// putPending records p in tx, checked: never of a unit's current version,
// which retrying would destroy.
func (h *Handle) putPending(tx *bolt.Tx, p *PendingDelete) error {
	if err := checkPending(p); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if current, err := h.currentVersion(tx, p.ID); err != nil {
		return err
	} else if current == p.Version {
		return fmt.Errorf("%w: unit %s version %d is the unit's current version", ErrInvalid, p.ID, p.Version)
	}
	return tx.Bucket(bucketPending).Put(pendingKey(p.ID, p.Version), encodePending(p))
}

// currentVersion is the version of the unit with this ID in tx, 0 if the
// vault has none.
func (h *Handle) currentVersion(tx *bolt.Tx, id threshold.UnitID) (uint64, error) {
	label := tx.Bucket(bucketIDs).Get(id[:])
	if label == nil {
		return 0, nil
	}
	u, err := h.readUnit(tx, string(label), false)
	if err != nil || u == nil {
		return 0, err
	}
	return u.Version, nil
}

// Commit is one change made: the unit at its new version, and the old
// version's pending delete (Old.Nodes: the nodes that held its shares; the
// caller deletes them there and then sets the pending delete with
// SetPendingDeletes).
type Commit struct {
	Unit Unit
	Old  PendingDelete
}

// CommitChanges makes each commit's unit the vault's unit of that label
// (sealed with its MAC, SealUnit), drops its change, and records its old
// version as a pending delete of Old.Nodes: all in one transaction. Each
// unit must have a change under way to its version, from the version the
// vault has (ErrInvalid, and nothing is written).
func (h *Handle) CommitChanges(cs []Commit) error {
	if len(cs) == 0 {
		return nil
	}
	cs = slices.Clone(cs)
	units := make([]*Unit, len(cs))
	for i := range cs {
		units[i] = &cs[i].Unit
	}
	return h.writeUnits("commit changes", units, func(tx *bolt.Tx, i int, added map[uint32]tableNode) error {
		return h.commit(tx, &cs[i], added)
	})
}

func (h *Handle) commit(tx *bolt.Tx, c *Commit, added map[uint32]tableNode) error {
	u := &c.Unit
	changes := tx.Bucket(bucketChanges)
	var v []byte
	if changes != nil {
		v = changes.Get(u.ID[:])
	}
	if v == nil {
		return fmt.Errorf("%w: unit %q has no change under way", ErrInvalid, clip(u.Label))
	}
	ch, err := decodeUnitChange(u.ID[:], v)
	if err != nil {
		return fmt.Errorf("%w: a change under way: %w", ErrCorrupt, err)
	}
	old, err := h.readUnit(tx, u.Label, false)
	if err != nil {
		return err
	}
	if old == nil || old.ID != u.ID || ch.To != u.Version || old.Version != ch.From || c.Old.Version != ch.From || c.Old.ID != u.ID {
		return fmt.Errorf("%w: unit %q is not being changed from version %d to %d", ErrInvalid, clip(u.Label), c.Old.Version, u.Version)
	}
	refs, add, err := h.refsOf(tx, u.Nodes, added)
	if err != nil {
		return err
	}
	for k, n := range add {
		added[k] = n
	}
	if err := putUnitValues(tx, u, refs); err != nil {
		return err
	}
	if err := changes.Delete(u.ID[:]); err != nil {
		return err
	}
	if len(c.Old.Nodes) == 0 {
		return nil
	}
	if err := checkPending(&c.Old); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return tx.Bucket(bucketPending).Put(pendingKey(u.ID, ch.From), encodePending(&c.Old))
}

// HasPendingDelete reports whether the vault waits for some node to
// confirm deleting this unit version.
func (h *Handle) HasPendingDelete(id threshold.UnitID, version uint64) (bool, error) {
	found := false
	err := h.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketPending).Get(pendingKey(id, version)) != nil
		return nil
	})
	return found, err
}

// SetPendingDeletes is SetPendingDelete of several, in one transaction.
func (h *Handle) SetPendingDeletes(ps []PendingDelete) error {
	if len(ps) == 0 {
		return nil
	}
	err := h.update(func(tx *bolt.Tx) error {
		for _, p := range ps {
			if len(p.Nodes) == 0 {
				if err := tx.Bucket(bucketPending).Delete(pendingKey(p.ID, p.Version)); err != nil {
					return err
				}
				continue
			}
			if err := h.putPending(tx, &p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set pending deletes: %w", err)
	}
	return nil
}

func encodeUnitChange(c *Change) []byte {
	b := []byte{byte(c.Op)}
	b = putBytes(b, []byte(c.Label))
	b = putU64(b, c.From)
	b = putU64(b, c.To)
	b = append(b, byte(len(c.Nodes)))
	for _, n := range c.Nodes {
		b = putBytes(b, []byte(n))
	}
	b = putBytes(b, c.Content)
	return putTime(b, c.Started)
}

// decodeUnitChange decodes the change stored under key, strictly.
func decodeUnitChange(key, b []byte) (Change, error) {
	var c Change
	if len(key) != len(c.ID) {
		return c, fmt.Errorf("a key of %d bytes is not a unit ID", len(key))
	}
	copy(c.ID[:], key)
	r := reader{b: b}
	c.Op = ChangeOp(r.u8())
	c.Label = r.str(MaxLabelLen)
	c.From, c.To = r.u64(), r.u64()
	count := int(r.u8())
	for i := 0; i < count && r.err == nil; i++ {
		c.Nodes = append(c.Nodes, r.str(maxNodeName))
	}
	c.Content = r.bytes(maxChangeContent)
	if len(c.Content) == 0 {
		c.Content = nil
	}
	c.Started = r.time()
	if err := r.end(); err != nil {
		return Change{}, err
	}
	if err := checkUnitChange(&c); err != nil {
		return Change{}, err
	}
	return c, nil
}

// checkUnitChange checks a change against the rules of the format.
func checkUnitChange(c *Change) error {
	at := fmt.Sprintf("change of unit %s", c.ID)
	switch {
	case c.Op < ChangeReplace || c.Op > ChangeReshare:
		return fmt.Errorf("%s: unknown operation %d", at, c.Op)
	case !ValidLabel(c.Label):
		return fmt.Errorf("%s: the label is not 1 to %d bytes of printable text", at, MaxLabelLen)
	case c.ID == threshold.UnitID{}:
		return errors.New("a change's unit ID is all zeros")
	case c.From == 0 || c.To <= c.From:
		return fmt.Errorf("%s: from version %d to %d; the new version must be after the old", at, c.From, c.To)
	case len(c.Nodes) == 0 || len(c.Nodes) > threshold.MaxShares:
		return fmt.Errorf("%s: %d nodes; it must be 1 to %d", at, len(c.Nodes), threshold.MaxShares)
	case (c.Op == ChangeReplace) != (len(c.Content) > 0):
		return fmt.Errorf("%s: a replace, and only a replace, holds the new record", at)
	case len(c.Content) > maxChangeContent:
		return fmt.Errorf("%s: the new record is %d bytes, more than %d", at, len(c.Content), maxChangeContent)
	}
	if err := checkTime(c.Started); err != nil {
		return fmt.Errorf("%s: started: %w", at, err)
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		if err := api.CheckNodeName(n); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if seen[n] {
			return fmt.Errorf("%s: node %s is listed twice", at, n)
		}
		seen[n] = true
	}
	return nil
}
