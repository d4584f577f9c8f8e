package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/store"
)

// whyRevoked is the logged reason of a refused request of a revoked device.
const whyRevoked = "revoked device"

// revoked refuses a device that was revoked for user. The device knows it
// was enrolled, so saying so tells it nothing new.
func revoked(user string) error {
	return api.Errorf(api.Code_UNAUTHENTICATED, "this device was revoked for the user %s at this node; use another of the user's devices", user)
}

func tooManyDevices(user string) error {
	return api.Errorf(api.Code_INVALID_ARGUMENT, "the user %s has %d active devices at this node, the most it may have; revoke one first", user, store.MaxActiveDevices)
}

// errLastDevice refuses to revoke the only active device of an account:
// no one could log in to it again.
var errLastDevice = api.Errorf(api.Code_INVALID_ARGUMENT, "the last active device of an account cannot be revoked")

// refusalReason takes one logged refusal from the budget that fits why:
// the account's (auth.refusal_log) for a revoked device, which only the
// holder of that device key can ask for, the strangers' (auth.stranger_log)
// otherwise. See accountReason and strangerReason.
func (s *Service) refusalReason(user, why string) (string, bool) {
	if why == whyRevoked {
		return s.accountReason(user, why)
	}
	return s.strangerReason(why)
}

// refuseLogin refuses a login step of a device that may not log in to the
// account (loginAccount's why), and logs the refusal within tx while the
// budget that fits why allows.
func (s *Service) refuseLogin(tx *store.Tx, entry *api.Entry, outcome error, why string) (error, error) {
	if why != whyRevoked {
		return s.refuseStranger(tx, entry, outcome, why)
	}
	return s.refuseAccount(tx, entry, outcome, why)
}

// newDeviceInvite decides whether a device not in account a of user may
// log in to be added to it with the new-device invite whose token hashes
// to hash: the invite is a new-device one, for user, not expired, made
// for a (not for an account of the same name closed before a was
// enrolled), and a has room for another active device. Without a good invite the refusal
// is errBadInvite also when user has no account (a nil): the token is
// looked at first, so that only the holder of a good one learns whether
// the account exists. The invite is used up only when the login succeeds
// (addDevice): a wrong password leaves it good.
func (s *Service) newDeviceInvite(tx *store.Tx, user string, a *store.Account, hash [32]byte) (outcome, err error) {
	inv, err := tx.Invite(hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errBadInvite, nil
	case err != nil:
		return nil, err
	case !inv.NewDevice || !s.inviteFor(inv, user):
		return errBadInvite, nil
	case a == nil || inv.Created.Before(a.Created):
		// Closed since the invite was made; or closed, and the name
		// enrolled again since: the invite was for another account.
		return errBadInvite, nil
	case a.ActiveDevices() >= store.MaxActiveDevices:
		return tooManyDevices(user), nil
	}
	return nil, nil
}

// addDevice adds c's device to a (not yet written) when c logs in with a
// new-device invite that loginAccount admitted within tx, uses the invite
// up and logs the addition. It does nothing for a device of a.
func (s *Service) addDevice(tx *store.Tx, a *store.Account, c *Challenge) error {
	if a.Device([]byte(c.device)) != nil {
		return nil
	}
	if c.token == nil {
		// loginAccount admits no other device.
		return errors.New("auth: internal error: a device not in the account logged in without an invite")
	}
	if err := tx.DeleteInvite(*c.token); err != nil {
		return fmt.Errorf("use the new-device invite: %w", err)
	}
	a.AddDevice([]byte(c.device), s.now())
	c.added = true
	return s.record(tx, &api.Entry{
		Kind: api.EntryKind_DEVICE_ADD, User: a.User, ClientPeerId: []byte(c.device), Device: []byte(c.device),
		Reason: "added with a new-device invite, at a login with the user's password",
	})
}

// Devices returns the devices of the session's user, oldest first.
func (s *Service) Devices(ctx context.Context, sess *Session) ([]store.Device, error) {
	var out []store.Device
	err := s.store.View(func(tx *store.Tx) error {
		a, why, err := s.loginAccount(tx, sess.Peer, sess.User, nil)
		if why != "" || err != nil {
			return err
		}
		out = slices.Clone(a.Devices)
		return nil
	})
	return out, err
}

// Revoke revokes the device target of the session's user, and returns the
// user's devices after it. A device revoked already stays so and nothing
// is written; a device not of the user is NOT_FOUND; the last active
// device is not revoked (errLastDevice). The revocation is logged as a
// DEVICE_REVOKE entry naming the device that asked and the one revoked;
// the revoked device's session ends and its connection room goes with it.
// A device may revoke itself when another is active.
func (s *Service) Revoke(ctx context.Context, sess *Session, target peer.ID) ([]store.Device, error) {
	var out []store.Device
	changed := false
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		a, why, err := s.loginAccount(tx, sess.Peer, sess.User, nil)
		if why != "" || err != nil {
			return err, nil
		}
		d := a.Device([]byte(target))
		switch {
		case d == nil:
			return api.Errorf(api.Code_NOT_FOUND, "the user %s has no device %s at this node", sess.User, target), nil
		case !d.Active():
			out = slices.Clone(a.Devices)
			return nil, nil
		case a.ActiveDevices() == 1:
			return errLastDevice, nil
		}
		a.Revoke([]byte(target), s.now())
		if err := tx.PutAccount(a); err != nil {
			return nil, err
		}
		out, changed = slices.Clone(a.Devices), true
		return nil, s.record(tx, &api.Entry{
			Kind: api.EntryKind_DEVICE_REVOKE, User: sess.User, ClientPeerId: []byte(sess.Peer), Device: []byte(target),
			Reason: "revoked by a device of the user",
		})
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.mu.Lock()
		s.ended++
		delete(s.devices, target)
		if t, ok := s.sessions[target]; ok && t.User == sess.User {
			delete(s.sessions, target)
		}
		s.mu.Unlock()
	}
	return out, nil
}
