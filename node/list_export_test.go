package node

import (
	"context"

	"github.com/custos-network/custos/node/store"
)

// PutSharesForTest stores share for user under every unit version of
// units, straight into the store and without log entries, in updates of a
// few thousand: a quick way to give a user more units than the protocol
// could put in a test's time.
func (n *Node) PutSharesForTest(user string, units []store.UnitVersion, share []byte) error {
	const perUpdate = 5000
	for start := 0; start < len(units); start += perUpdate {
		batch := units[start:min(start+perUpdate, len(units))]
		err := n.store.Update(context.Background(), func(tx *store.Tx) error {
			for _, u := range batch {
				if err := tx.PutShare(user, u.Unit, u.Version, share); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
