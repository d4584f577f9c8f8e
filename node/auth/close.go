package auth

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// sharesLeft refuses to close an account that still holds shares: they
// would outlive it with no one able to release or delete them.
func sharesLeft(user string) error {
	return api.Errorf(api.Code_INVALID_ARGUMENT, "the user %s still holds shares at this node; delete them before closing the account", user)
}

// Close closes the session's user's account at this node, for a node that
// leaves the user's network: refused while the user holds a share here
// (the client deletes them first). It removes, in one update, the account
// record (devices, dealings with their login public keys and dealing
// notes, lockout state) and every OPRF key share r_i of the user's, and
// logs an ACCOUNT_CLOSE entry; the log itself is kept, as the evidence of
// everything the account did. Every session and the connection room of the
// user's devices end with it. Afterwards the user is unknown here, as one
// never enrolled.
func (s *Service) Close(ctx context.Context, sess *Session) error {
	var devices []store.Device
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		a, why, err := s.loginAccount(tx, sess.Peer, sess.User, nil)
		if why != "" || err != nil {
			return err, nil
		}
		units, _, err := tx.UnitsPage(sess.User, nil, 1)
		switch {
		case err != nil:
			return nil, err
		case len(units) > 0:
			return sharesLeft(sess.User), nil
		}
		if err := tx.DeleteAccount(sess.User); err != nil {
			return nil, err
		}
		devices = a.Devices
		return nil, s.record(tx, &api.Entry{
			Kind: api.EntryKind_ACCOUNT_CLOSE, User: sess.User, ClientPeerId: []byte(sess.Peer),
			Reason: "closed by a device of the user, with no share of the user's left",
		})
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended++
	for _, d := range devices {
		delete(s.devices, peer.ID(d.PeerID))
	}
	for p, t := range s.sessions {
		if t.User == sess.User {
			delete(s.sessions, p)
		}
	}
	return nil
}

// StillAdmits refuses, within tx, a request of sess that checked its
// session before a closing of the account, or a revocation of its device,
// committed: what the request would write must not outlive the account
// (a share no one could release or delete) nor come from a revoked device.
// err is the store's failure.
func (s *Service) StillAdmits(tx *store.Tx, sess *Session) (outcome, err error) {
	_, why, err := s.loginAccount(tx, sess.Peer, sess.User, nil)
	if why != "" {
		return err, nil
	}
	return nil, err
}
