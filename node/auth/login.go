package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/limits"
	"github.com/custos-network/custos/node/store"
)

// A Challenge is one login in progress: the nonce that Hello gave an
// enrolled device for one user. The login stream's handler holds it, so it
// lives no longer than its stream: there is no node-wide table of pending
// challenges for anyone to fill, and nothing to clean up when a connection
// closes. It is answered at most once.
type Challenge struct {
	user     string
	device   peer.ID
	nonce    []byte
	expires  time.Time
	answered bool
}

// Nonce is the challenge's nonce, for the device to sign.
func (c *Challenge) Nonce() []byte { return c.nonce }

// Hello starts a login of user from device and returns its challenge.
//
// Only the device enrolled for user gets one. Any other is refused with
// NOT_FOUND after one store read and no write (beyond its log entry, within
// auth.stranger_log), and leaves nothing behind, not even a rate limiter's
// bucket: fresh device keys are free, and whatever they could fill would
// make enrolled devices' logins fail or wait.
func (s *Service) Hello(ctx context.Context, device peer.ID, user string) (*Challenge, error) {
	if !api.ValidUser(user) {
		return nil, api.Errorf(api.Code_INVALID_ARGUMENT, "a user name is 1 to %d letters, digits and . _ @ + -", api.MaxUserLen)
	}
	var why string
	err := s.store.View(func(tx *store.Tx) (err error) {
		_, why, err = enrolledAccount(tx, device, user)
		return err
	})
	if why != "" {
		return nil, s.refuseHello(ctx, device, user, err, why)
	}
	if err != nil {
		return nil, err
	}
	if ok, wait := s.hello.Allow(string(device)); !ok {
		return nil, &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many logins from this device", RetryAfter: wait}
	}
	nonce := make([]byte, api.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("make challenge: %w", err)
	}
	return &Challenge{user: user, device: device, nonce: nonce, expires: s.now().Add(s.cfg.ChallengeTTL)}, nil
}

// enrolledAccount returns user's account when device is the one enrolled
// for it. Otherwise it returns the refusal (notEnrolled) and why, for the
// log: "unknown user" or "another device". Any other error is the store's.
func enrolledAccount(tx *store.Tx, device peer.ID, user string) (a *store.Account, why string, err error) {
	a, err = tx.Account(user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "unknown user", notEnrolled(user)
	case err != nil:
		return nil, "", err
	case !bytes.Equal(a.DevicePeerID, []byte(device)):
		return nil, "another device", notEnrolled(user)
	}
	return a, "", nil
}

// refuseHello answers a hello from a device not enrolled for user with
// outcome, and logs the refusal while auth.stranger_log allows. Past it
// nothing at all is written.
func (s *Service) refuseHello(ctx context.Context, device peer.ID, user string, outcome error, why string) error {
	reason, logged := s.strangerReason(why)
	if !logged {
		return outcome
	}
	entry := &api.Entry{Kind: api.EntryKind_LOGIN, User: user, ClientPeerId: []byte(device), Outcome: code(outcome), Reason: reason}
	if err := s.store.Update(ctx, func(tx *store.Tx) error { return s.record(tx, entry) }); err != nil {
		return err
	}
	return outcome
}

// Login checks the answer to challenge c, which Hello returned on the same
// stream, and, when it is right, opens a session.
//
// The attempt is counted durably before the signature is checked, so a
// crash at any instruction after that refunds no guess; the outcome is
// logged durably before Login returns. Counted attempts whose outcome was
// never recorded (the node crashed, or its store failed, in between) count
// as failures: once there are max_login_failures of them the next attempt
// locks the account.
func (s *Service) Login(ctx context.Context, c *Challenge, signature []byte) (*Session, error) {
	if c == nil || c.answered || !s.now().Before(c.expires) {
		return nil, errNoChallenge
	}
	c.answered = true
	device := c.device
	entry := &api.Entry{Kind: api.EntryKind_LOGIN, User: c.user, ClientPeerId: []byte(device)}
	var pub []byte
	// Count the attempt, or refuse it without counting.
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		a, why, err := enrolledAccount(tx, device, c.user)
		// A refusal that counts no attempt costs the device nothing, so
		// it is logged within the account's auth.refusal_log.
		refuse := func(outcome error, reason string) (error, error) {
			reason, logged := s.accountReason(c.user, reason)
			if !logged {
				return outcome, nil
			}
			entry.Outcome, entry.Reason = code(outcome), reason
			return outcome, s.record(tx, entry)
		}
		switch {
		case why != "":
			// Enrolled at the hello, no more: the account changed since.
			return s.refuseStranger(tx, entry, err, why)
		case err != nil:
			return nil, err
		case a.Locked:
			return refuse(errLocked, "the account is locked")
		case a.Failures >= s.cfg.MaxLoginFailures:
			return s.lockUnfinished(tx, a, entry)
		case s.now().Before(a.NextAttempt):
			wait := a.NextAttempt.Sub(s.now())
			return refuse(&api.StatusError{Code: api.Code_RATE_LIMITED, Message: "wait before the next login", RetryAfter: wait}, "backoff")
		}
		a.Failures++
		a.NextAttempt = s.now().Add(limits.Backoff(a.Failures, s.cfg.BackoffBase, s.cfg.BackoffMax))
		pub = a.AuthPublicKey
		return nil, tx.PutAccount(a)
	})
	if errors.Is(err, errLocked) {
		s.endSessions(c.user)
	}
	if err != nil {
		return nil, err
	}
	good := s.verify(pub, api.LoginTranscript([]byte(s.node), []byte(device), c.user, c.nonce), signature)
	// Record the outcome: reset on success, lock after too many failures.
	err = s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
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
		return s.lock(tx, a, device, fmt.Sprintf("%d failed logins", a.Failures))
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

// lockUnfinished locks an account that has max_login_failures counted
// attempts with no success since, some of which never finished: the node
// crashed, or its store failed, after counting them and before recording
// their outcome. Any of them may have been a wrong guess, so they count as
// failures, and the attempt that finds them is refused.
func (s *Service) lockUnfinished(tx *store.Tx, a *store.Account, entry *api.Entry) (error, error) {
	reason := fmt.Sprintf("%d failed logins, counting those that never finished", a.Failures)
	entry.Outcome, entry.Reason = api.Code_LOCKED, reason
	if err := s.record(tx, entry); err != nil {
		return nil, err
	}
	return s.lock(tx, a, peer.ID(entry.ClientPeerId), reason)
}

// lock locks a's account within tx and logs the lock, and returns LOCKED.
func (s *Service) lock(tx *store.Tx, a *store.Account, device peer.ID, reason string) (error, error) {
	a.Locked, a.LockedAt = true, s.now()
	if err := tx.PutAccount(a); err != nil {
		return nil, err
	}
	return errLocked, s.record(tx, &api.Entry{Kind: api.EntryKind_LOCK, User: a.User, ClientPeerId: []byte(device), Reason: reason})
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

// LoggedIn reports whether device has a live session, without marking it
// used: for limits that treat logged-in devices apart.
func (s *Service) LoggedIn(device peer.ID) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[device]
	return ok && now.Sub(sess.LastUsed) <= s.cfg.SessionIdle && now.Sub(sess.Created) <= s.cfg.SessionMax
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
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
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
