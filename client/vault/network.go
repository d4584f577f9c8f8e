package vault

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// AdoptNetwork makes network the vault's network file, and renames the
// nodes whose peer IDs are in names (base58 text → new name) wherever the
// vault names them: the node table, so every unit (each sealed with its
// MAC again, after its old MAC is checked: ErrDamaged stops it), the
// pending deletes, the login dealing (sealed again) and the restores; the
// checkpoint kept of a renamed node is dropped. Receipts keep the names
// they were verified under.
//
// It is for a network file that lists the same nodes (peer IDs) as the
// vault's, with the same threshold: the caller checks that, and that no
// change or password change is under way. The units are renamed in one
// transaction and the header in a second (Save): a crash in between
// leaves units that name nodes by their new names, which a second call
// finishes; renaming is by peer ID, so it can be done again.
func (h *Handle) AdoptNetwork(network []byte, names map[string]string) error {
	if err := h.renameUnits(names); err != nil {
		return fmt.Errorf("adopt network: %w", err)
	}
	v := h.v
	old := v.Network
	v.Network = bytes.Clone(network)
	renamed := func(peerID, name string) string {
		if n, ok := names[peerID]; ok {
			return n
		}
		return name
	}
	byName := map[string]string{} // old name → new name, for what names nodes by name alone
	h.mu.Lock()
	for _, n := range h.nodes {
		byName[n.Name] = renamed(n.PeerID, n.Name)
	}
	h.mu.Unlock()
	if v.Login != nil {
		if err := v.CheckLogin(); err != nil {
			v.Network = old
			return fmt.Errorf("adopt network: %w", err)
		}
		for i := range v.Login.Nodes {
			n := &v.Login.Nodes[i]
			byName[n.Name] = renamed(n.PeerID, n.Name)
			n.Name = byName[n.Name]
		}
		if err := v.SealLogin(); err != nil {
			return fmt.Errorf("adopt network: %w", err)
		}
	}
	// A renamed node signs its log under its new name (its checkpoints'
	// origin): the checkpoint kept under the old one no longer verifies,
	// and the next one the node shows is kept afresh.
	v.Checkpoints = slices.DeleteFunc(v.Checkpoints, func(c NodeCheckpoint) bool {
		to, ok := byName[c.Node]
		return ok && to != c.Node
	})
	for i := range v.Restores {
		if to, ok := byName[v.Restores[i].Node]; ok {
			v.Restores[i].Node = to
		}
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("adopt network: %w", err)
	}
	return nil
}

// renameUnits renames, in one transaction, the node table entries whose
// peer IDs are in names, every unit that names them (checked and sealed
// again), and the pending deletes.
func (h *Handle) renameUnits(names map[string]string) error {
	renamed := map[uint32]tableNode{}
	byName := map[string]string{}
	h.mu.Lock()
	for ref, n := range h.nodes {
		if to, ok := names[n.PeerID]; ok && to != n.Name {
			renamed[ref] = tableNode{Name: to, PeerID: n.PeerID}
			byName[n.Name] = to
		}
	}
	h.mu.Unlock()
	if len(renamed) == 0 {
		return nil
	}
	err := h.update(func(tx *bolt.Tx) error {
		if err := h.resealRenamed(tx, names); err != nil {
			return err
		}
		for ref, n := range renamed {
			enc, err := encodeTableNode(n)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			if err := tx.Bucket(bucketNodes).Put(putU32(nil, ref), enc); err != nil {
				return err
			}
		}
		return renamePending(tx, byName)
	})
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ref, n := range renamed {
		delete(h.refs, h.nodes[ref])
		h.nodes[ref], h.refs[n] = n, ref
	}
	return nil
}

// resealRenamed renames the nodes of every unit in tx and seals each again.
func (h *Handle) resealRenamed(tx *bolt.Tx, names map[string]string) error {
	units := tx.Bucket(bucketUnits)
	// Written after the walk: a cursor does not survive writes to its
	// bucket.
	resealed := map[string][]byte{}
	c := units.Cursor()
	for k, desc := c.First(); k != nil; k, desc = c.Next() {
		label := string(k)
		u, err := h.readUnit(tx, label, true)
		if err != nil {
			return err
		}
		if err := h.v.CheckUnit(u); err != nil {
			return err
		}
		changed := false
		for i := range u.Nodes {
			if to, ok := names[u.Nodes[i].PeerID]; ok && to != u.Nodes[i].Name {
				u.Nodes[i].Name, changed = to, true
			}
		}
		if !changed {
			continue
		}
		if err := h.v.SealUnit(u); err != nil {
			return err
		}
		// The descriptor's node refs stay: the table entries they name are
		// renamed in the same transaction. Only the MAC changes.
		resealed[label] = replaceMAC(desc, u.MAC)
	}
	for label, desc := range resealed {
		if err := units.Put([]byte(label), desc); err != nil {
			return err
		}
	}
	return nil
}

// replaceMAC returns a unit descriptor with its MAC, the last MACSize
// bytes, replaced.
func replaceMAC(desc, mac []byte) []byte {
	out := bytes.Clone(desc)
	copy(out[len(out)-MACSize:], mac)
	return out
}

// renamePending renames the nodes of every pending delete in tx.
func renamePending(tx *bolt.Tx, byName map[string]string) error {
	b := tx.Bucket(bucketPending)
	type kv struct{ k, v []byte }
	var puts []kv
	err := b.ForEach(func(k, v []byte) error {
		p, err := decodePending(k, v)
		if err != nil {
			return fmt.Errorf("%w: a pending delete: %w", ErrCorrupt, err)
		}
		changed := false
		for i, n := range p.Nodes {
			if to, ok := byName[n]; ok {
				p.Nodes[i], changed = to, true
			}
		}
		if changed {
			puts = append(puts, kv{bytes.Clone(k), encodePending(&p)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range puts {
		if err := b.Put(p.k, p.v); err != nil {
			return err
		}
	}
	return nil
}
