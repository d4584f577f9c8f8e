package node

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/custos-network/custos/node/store"
)

// Test-only accessors for the external tests of this package. The names end
// in ForTest so they cannot be mistaken for, or collide with, real API.

// LogForTest returns every audit log entry as stored, oldest first, after
// replaying the log to check that its Merkle tree is whole.
func (n *Node) LogForTest() ([][]byte, error) {
	var out [][]byte
	err := n.store.View(func(tx *store.Tx) error {
		size, _, err := n.audit.Replay(tx)
		if err != nil {
			return err
		}
		for i := range size {
			e, err := tx.LogEntry(i)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// HostForTest returns the node's libp2p host.
func (n *Node) HostForTest() host.Host { return n.host }

// ClosingForTest reports whether Close has started.
func (n *Node) ClosingForTest() bool { return n.closing.Load() }

// StoreStatsForTest returns the store's counts, among them the commits
// (fsyncs) and the updates they carried.
func (n *Node) StoreStatsForTest() (store.Stats, error) { return n.store.Stats() }

// OpsAddrForTest is the address the operations HTTP server listens on.
func (n *Node) OpsAddrForTest() string { return n.opsListener.Addr().String() }

// HoldsUserForTest reports whether the store holds user's account, and
// how many of user's OPRF key shares of epochs 1 to maxEpoch it holds.
func (n *Node) HoldsUserForTest(user string, maxEpoch uint32) (account bool, keyShares int, err error) {
	err = n.store.View(func(tx *store.Tx) error {
		_, err := tx.Account(user)
		switch {
		case err == nil:
			account = true
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		for epoch := uint32(1); epoch <= maxEpoch; epoch++ {
			share, err := tx.OprfKeyShare(user, epoch)
			switch {
			case err == nil:
				clear(share)
				keyShares++
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		return nil
	})
	return account, keyShares, err
}

// DropAccountForTest deletes user's account from the store as a closing
// does, but ends no session: what a request that checked its session
// just before a closing committed meets.
func (n *Node) DropAccountForTest(user string) error {
	return n.store.Update(context.Background(), func(tx *store.Tx) error { return tx.DeleteAccount(user) })
}

// UnitsForTest lists the shares user holds in the store.
func (n *Node) UnitsForTest(user string) (units []store.UnitVersion, err error) {
	err = n.store.View(func(tx *store.Tx) error {
		units, err = tx.Units(user)
		return err
	})
	return units, err
}
