package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/node/api"
	"github.com/custos-network/custos/node/limits"
	"github.com/custos-network/custos/node/store"
)

// Hello starts a login of user from device: it returns a fresh challenge,
// the same for a user who exists and one who does not. A new Hello replaces
// the device's pending challenge.
func (s *Service) Hello(device peer.ID, user string) ([]byte, error) {
	if !api.ValidUser(user) {
		return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "a user name is 1 to %d letters, digits and . _ @ + -", api.MaxUserLen)
	}
	if ok, wait := s.hello.Allow(string(device)); !ok {
		return nil, &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many logins from this device", RetryAfter: wait}
	}
	nonce := make([]byte, api.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("make challenge: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= maxPending {
		for p, c := range s.pending {
			if now.After(c.expires) {
				delete(s.pending, p)
			}
		}
		if len(s.pending) >= maxPending {
			return nil, &api.StatusError{Code: api.Code_UNAVAILABLE, Message: "too many logins in progress", RetryAfter: time.Second}
		}
	}
	s.pending[device] = challenge{user: user, nonce: nonce, expires: now.Add(s.cfg.ChallengeTTL)}
	return nonce, nil
}

// takeChallenge removes and returns the device's pending challenge: each
// one is answered at most once.
func (s *Service) takeChallenge(device peer.ID) (challenge, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.pending[device]
	delete(s.pending, device)
	return c, ok && s.now().Before(c.expires)
}

// Login checks the device's answer to its pending challenge and, when it is
// right, opens a session. The attempt is counted durably before the
// signature is checked; the outcome is logged durably before Login returns.
func (s *Service) Login(ctx context.Context, device peer.ID, signature []byte) (*Session, error) {
	c, ok := s.takeChallenge(device)
	if !ok {
		return nil, errNoChallenge
	}
	entry := &api.Entry{Kind: api.EntryKind_LOGIN, User: c.user, ClientPeerId: []byte(device)}
	var pub []byte
	// Count the attempt, or refuse it without counting.
	err := s.decide(ctx, func(tx *store.Tx) (error, error) {
		a, err := tx.Account(c.user)
		refuse := func(outcome error, reason string) (error, error) {
			entry.Outcome, entry.Reason = code(outcome), reason
			return outcome, s.record(tx, entry)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return s.refuseStranger(tx, entry, errBadLogin, "unknown user")
		case err != nil:
			return nil, err
		case !bytes.Equal(a.DevicePeerID, []byte(device)):
			return s.refuseStranger(tx, entry, errBadLogin, "another device")
		case a.Locked:
			return refuse(errLocked, "the account is locked")
		case s.now().Before(a.NextAttempt):
			wait := a.NextAttempt.Sub(s.now())
			return refuse(&api.StatusError{Code: api.Code_RATE_LIMITED, Message: "wait before the next login", RetryAfter: wait}, "backoff")
		}
		a.Failures++
		a.NextAttempt = s.now().Add(limits.Backoff(a.Failures, s.cfg.BackoffBase, s.cfg.BackoffMax))
		pub = a.AuthPublicKey
		return nil, tx.PutAccount(a)
	})
	if err != nil {
		return nil, err
	}
	good := ed25519.Verify(pub, api.LoginTranscript([]byte(s.node), []byte(device), c.user, c.nonce), signature)
	// Record the outcome: reset on success, lock after too many failures.
	err = s.decide(ctx, func(tx *store.Tx) (error, error) {
		a, err := tx.Account(c.user)
		if err != nil {
			return nil, err
		}
		if good && a.Locked {
			// Locked since the attempt was counted (by an operator, or by a
			// concurrent attempt's failure).
			entry.Outcome, entry.Reason = api.Code_LOCKED, "the account is locked"
			return errLocked, s.record(tx, entry)
		}
		if good {
			a.Failures, a.NextAttempt = 0, time.Time{}
			if err := tx.PutAccount(a); err != nil {
				return nil, err
			}
			return nil, s.record(tx, entry)
		}
		entry.Outcome, entry.Reason = api.Code_UNAUTHENTICATED, fmt.Sprintf("wrong signature (failure %d)", a.Failures)
		if err := s.record(tx, entry); err != nil {
			return nil, err
		}
		if a.Failures < s.cfg.MaxLoginFailures || a.Locked {
			return errBadLogin, nil
		}
		a.Locked, a.LockedAt = true, s.now()
		if err := tx.PutAccount(a); err != nil {
			return nil, err
		}
		return errLocked, s.record(tx, &api.Entry{Kind: api.EntryKind_LOCK, User: c.user, ClientPeerId: []byte(device),
			Reason: fmt.Sprintf("%d failed logins", a.Failures)})
	})
	if errors.Is(err, errLocked) {
		// A locked account keeps no session, as after an operator's lock.
		s.endSessions(c.user)
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &Session{User: c.user, Peer: device, Created: now, LastUsed: now}
	s.mu.Lock()
	s.sessions[device] = sess
	s.mu.Unlock()
	return sess, nil
}

// Session returns the device's live session and marks it used, or fails
// with UNAUTHENTICATED when there is none or it expired.
func (s *Service) Session(device peer.ID) (*Session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[device]
	if !ok {
		return nil, errNoSession
	}
	if now.Sub(sess.LastUsed) > s.cfg.SessionIdle || now.Sub(sess.Created) > s.cfg.SessionMax {
		delete(s.sessions, device)
		return nil, errExpired
	}
	sess.LastUsed = now
	cp := *sess
	return &cp, nil
}

// Lock locks the user's account and ends their sessions; Unlock unlocks it
// and clears its failures. Both are operator actions, logged as such.
func (s *Service) Lock(ctx context.Context, user string) error { return s.setLocked(ctx, user, true) }

// Unlock: see Lock.
func (s *Service) Unlock(ctx context.Context, user string) error {
	return s.setLocked(ctx, user, false)
}

func (s *Service) setLocked(ctx context.Context, user string, locked bool) error {
	kind, verb := api.EntryKind_UNLOCK, "unlock"
	if locked {
		kind, verb = api.EntryKind_LOCK, "lock"
	}
	err := s.decide(ctx, func(tx *store.Tx) (error, error) {
		a, err := tx.Account(user)
		if errors.Is(err, store.ErrNotFound) {
			return api.Errorf(api.Code_NOT_FOUND, "no user %s at this node", user), nil
		}
		if err != nil {
			return nil, err
		}
		a.Locked = locked
		if locked {
			a.LockedAt = s.now()
		} else {
			a.Failures, a.NextAttempt, a.LockedAt = 0, time.Time{}, time.Time{}
		}
		if err := tx.PutAccount(a); err != nil {
			return nil, err
		}
		return nil, s.record(tx, &api.Entry{Kind: kind, User: user, Admin: verb})
	})
	if err == nil && locked {
		s.endSessions(user)
	}
	return err
}

// endSessions ends every session of user.
func (s *Service) endSessions(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, sess := range s.sessions {
		if sess.User == user {
			delete(s.sessions, p)
		}
	}
}
