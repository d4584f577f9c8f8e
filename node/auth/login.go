package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/limits"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold/toprf"
)

// A Challenge is one login in progress: what Hello gave an enrolled device
// for one user, after counting the attempt: the nonce to sign, the node's
// OPRF evaluation and its proof, and the attempts left. The login stream's
// handler holds it, so it lives no longer than its stream: there is no
// node-wide table of pending challenges for anyone to fill, and nothing to
// clean up when a connection closes. It is answered at most once.
type Challenge struct {
	user      string
	device    peer.ID
	epoch     uint32
	pub       ed25519.PublicKey // the login public key of the epoch, at the hello
	nonce     []byte
	evaluated []byte
	proof     []byte
	left      int
	expires   time.Time
	answered  bool
	// token is the hash of the hello's new-device token, nil without one;
	// added is set when the login added the device with it.
	token *[32]byte
	added bool
}

// Nonce is the challenge's nonce, for the device to sign.
func (c *Challenge) Nonce() []byte { return c.nonce }

// Evaluated is Z_i = r_i·B for the hello's blinded element B, and Proof
// the DLEQ proof that Z_i and the public share R_i have the same r_i; both
// are nil when the hello asked for a challenge alone.
func (c *Challenge) Evaluated() []byte { return c.evaluated }

// Proof: see Evaluated.
func (c *Challenge) Proof() []byte { return c.proof }

// AttemptsLeft is how many counted login attempts the account has left
// before it locks: after the hello's count, and after Login, its outcome.
func (c *Challenge) AttemptsLeft() int { return c.left }

// Hello starts a login of hello.User from device under the dealing of
// hello.Epoch: it counts the attempt, then evaluates the OPRF on
// hello.Blinded with the dealing's key share, and returns the challenge.
//
// Only the device enrolled for the user gets one. Any other is refused with
// NOT_FOUND after one store read and no write (beyond its log entry, within
// auth.stranger_log), and leaves nothing behind, not even a rate limiter's
// bucket: fresh device keys are free, and whatever they could fill would
// make enrolled devices' logins fail or wait. A malformed hello is refused
// before that. None of these, nor an epoch the account does not hold, a
// lock, a backoff or auth.logins, counts an attempt.
//
// The attempt is counted durably, in the same update as its EVALUATION log
// entry, before the evaluation is computed: each evaluation answers one
// password guess, so a crash or a store failure after the count refunds
// nothing, and none before it gives anything away. Counted attempts whose
// outcome was never recorded count as failures: once there are
// max_login_failures of them the next hello locks the account.
func (s *Service) Hello(ctx context.Context, device peer.ID, hello *api.LoginHello) (*Challenge, error) {
	if err := hello.Validate(); err != nil {
		return nil, err
	}
	c := &Challenge{user: hello.User, device: device, epoch: hello.Epoch, nonce: make([]byte, api.NonceSize)}
	if hello.DeviceToken != "" {
		h := sha256.Sum256([]byte(hello.DeviceToken))
		c.token = &h
	}
	if err := s.admitHello(ctx, device, hello.User, c.token); err != nil {
		return nil, err
	}
	if _, err := rand.Read(c.nonce); err != nil {
		return nil, fmt.Errorf("make challenge: %w", err)
	}
	evaluate := len(hello.Blinded) > 0
	var share dealtShare
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		return s.count(tx, c, evaluate, &share)
	})
	defer share.wipe()
	if errors.Is(err, errLocked) {
		s.endSessions(c.user)
	}
	if err != nil {
		return nil, err
	}
	c.expires = s.now().Add(s.cfg.ChallengeTTL)
	if evaluate {
		if c.evaluated, c.proof, err = s.evaluate(share.index, share.key, hello.Blinded); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// admitHello refuses a hello of user from a device that may not log in to
// the account (loginAccount), with one read of the store, and one of an
// admitted device past its auth.logins.
func (s *Service) admitHello(ctx context.Context, device peer.ID, user string, token *[32]byte) error {
	var why string
	err := s.store.View(func(tx *store.Tx) (err error) {
		_, why, err = s.loginAccount(tx, device, user, token)
		return err
	})
	switch {
	case why != "":
		return s.refuseHello(ctx, device, user, err, why)
	case err != nil:
		return err
	}
	if ok, wait := s.hello.Allow(string(device)); !ok {
		return &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "too many logins from this device", RetryAfter: wait}
	}
	return nil
}

// dealtShare is the OPRF key share that counting an attempt read for its
// evaluation; the caller wipes it.
type dealtShare struct {
	index int
	key   []byte
}

func (d *dealtShare) wipe() { clear(d.key) }

// count counts a login attempt of c's device for its user within tx, or
// refuses it without counting (the outcome). It logs the attempt as an
// EVALUATION entry, and reads the key share of c's epoch into share when
// the hello is to be evaluated.
func (s *Service) count(tx *store.Tx, c *Challenge, evaluate bool, share *dealtShare) (error, error) {
	entry := &api.Entry{Kind: api.EntryKind_LOGIN, User: c.user, ClientPeerId: []byte(c.device)}
	a, why, err := s.loginAccount(tx, c.device, c.user, c.token)
	switch {
	case why != "":
		// Admitted at the View just before, no more: the account changed.
		return s.refuseLogin(tx, entry, err, why)
	case err != nil:
		return nil, err
	}
	entry.Epoch = c.epoch
	d := a.Dealing(c.epoch)
	switch {
	case d == nil:
		outcome, reason := outdated(a, c), fmt.Sprintf("no dealing of epoch %d", c.epoch)
		if errors.As(outcome, new(*OutdatedEpochError)) {
			reason += fmt.Sprintf(", handed the dealing note of epoch %d", a.Current.Epoch)
		}
		return s.refuseAccount(tx, entry, outcome, reason)
	case a.Locked:
		return s.refuseAccount(tx, entry, errLocked, "the account is locked")
	case a.Failures >= s.cfg.MaxLoginFailures:
		return s.lockUnfinished(tx, a, entry)
	case s.now().Before(a.NextAttempt):
		wait := a.NextAttempt.Sub(s.now())
		return s.refuseAccount(tx, entry, &api.StatusError{Code: api.Code_RATE_LIMITED, Message: "wait before the next login", RetryAfter: wait}, "backoff")
	}
	a.Failures++
	a.NextAttempt = s.now().Add(limits.Backoff(a.Failures, s.cfg.BackoffBase, s.cfg.BackoffMax))
	if err := tx.PutAccount(a); err != nil {
		return nil, err
	}
	if evaluate {
		key, err := tx.OprfKeyShare(c.user, c.epoch)
		if err != nil {
			return nil, fmt.Errorf("read the OPRF key share of epoch %d: %w", c.epoch, err)
		}
		*share = dealtShare{index: d.Index, key: key}
	}
	c.pub, c.left = d.LoginPublicKey, s.cfg.MaxLoginFailures-a.Failures
	entry.Kind, entry.Reason = api.EntryKind_EVALUATION, fmt.Sprintf("attempt %d of %d", a.Failures, s.cfg.MaxLoginFailures)
	if !evaluate {
		entry.Reason += ", a challenge alone"
	}
	if a.Device([]byte(c.device)) == nil {
		entry.Reason += ", with a new-device invite"
	}
	return nil, s.record(tx, entry)
}

// OutdatedEpochError is Hello's refusal (NOT_FOUND, as noDealing) of a
// login under an epoch older than the account's current one, to a device
// of the account: Note is the current dealing's note (an encoded
// api.DealingNote), which lets the device follow the password change that
// another device of the user made (docs/login.md, "Devices").
type OutdatedEpochError struct {
	Note []byte
	err  error
}

func (e *OutdatedEpochError) Error() string { return e.err.Error() }
func (e *OutdatedEpochError) Unwrap() error { return e.err }

// outdated is the refusal of c, whose epoch a does not hold: with the
// current dealing's note when c's epoch is older and c's device is one of
// the account's (not one only a new-device invite admitted), and the
// dealing has a note. Only the current dealing's: a staged one may still
// be aborted.
func outdated(a *store.Account, c *Challenge) error {
	err := noDealing(c.epoch)
	if c.epoch >= a.Current.Epoch || len(a.Current.Note) == 0 || a.Device([]byte(c.device)) == nil {
		return err
	}
	return &OutdatedEpochError{Note: bytes.Clone(a.Current.Note), err: err}
}

// noDealing refuses a login under an epoch the account does not hold.
func noDealing(epoch uint32) error {
	return api.Errorf(api.Code_NOT_FOUND, "no dealing of epoch %d", epoch)
}

// refuseAccount refuses a login of an enrolled account without counting it
// and logs the refusal within tx, as entry, while the account's
// auth.refusal_log allows: a refusal that costs the device nothing could
// otherwise grow the log as fast as it asks.
func (s *Service) refuseAccount(tx *store.Tx, entry *api.Entry, outcome error, reason string) (error, error) {
	reason, logged := s.accountReason(entry.User, reason)
	if !logged {
		return outcome, nil
	}
	entry.Outcome, entry.Reason = code(outcome), reason
	return outcome, s.record(tx, entry)
}

// evaluateShare answers a blinded element with the OPRF key share of index
// (toprf.KeyShare.Evaluate): Z_i and its proof.
func evaluateShare(index int, key, blinded []byte) (evaluated, proof []byte, err error) {
	ks, err := toprf.KeyShareFromBytes(index, key)
	if err != nil {
		return nil, nil, fmt.Errorf("read the OPRF key share: %w", err)
	}
	defer ks.Wipe()
	z, p, err := ks.Evaluate(blinded)
	if err != nil {
		// Hello validated the element, so this is the node's failure.
		return nil, nil, fmt.Errorf("evaluate the OPRF: %w", err)
	}
	return z[:], p[:], nil
}

// loginAccount returns user's account when device may log in to it: an
// active device of the account, or, with a new-device token (token, its
// hash, not nil), a device not in the account for which the token is good
// (newDeviceInvite). Otherwise it returns the refusal and why, for the
// log: "unknown user" and "another device" (both notEnrolled, alike, so
// that a stranger learns nothing of other people's accounts), "revoked
// device", or the token's refusal, which is the same for a user who does
// not exist, so that a made-up token tells a stranger no more than none.
// Any other error is the store's.
func (s *Service) loginAccount(tx *store.Tx, device peer.ID, user string, token *[32]byte) (a *store.Account, why string, err error) {
	a, err = tx.Account(user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a = nil
	case err != nil:
		return nil, "", err
	}
	var d *store.Device
	if a != nil {
		d = a.Device([]byte(device))
	}
	switch {
	case d != nil && d.Active():
		return a, "", nil
	case d != nil:
		return nil, whyRevoked, revoked(user)
	case token == nil && a == nil:
		return nil, "unknown user", notEnrolled(user)
	case token == nil:
		return nil, "another device", notEnrolled(user)
	}
	outcome, err := s.newDeviceInvite(tx, user, a, *token)
	switch {
	case err != nil:
		return nil, "", err
	case outcome != nil:
		return nil, "new-device invite refused: " + outcome.Error(), outcome
	}
	return a, "", nil
}

// refuseHello answers a hello from a device not enrolled for user with
// outcome, and logs the refusal while auth.stranger_log allows. Past it
// nothing at all is written.
func (s *Service) refuseHello(ctx context.Context, device peer.ID, user string, outcome error, why string) error {
	reason, logged := s.refusalReason(user, why)
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
// stream, with the login public key of the hello's epoch, and, when it is
// right, opens a session.
//
// Hello counted the attempt already. A right signature resets the count; a
// wrong one stays counted, and locks the account when it is the
// max_login_failures-th. The outcome is logged durably, as a LOGIN entry,
// before Login returns; c.AttemptsLeft says what is left after it.
func (s *Service) Login(ctx context.Context, c *Challenge, signature []byte) (*Session, error) {
	if c == nil || c.answered || !s.now().Before(c.expires) {
		return nil, errNoChallenge
	}
	c.answered = true
	device := c.device
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	good := s.verify(c.pub, api.LoginTranscript([]byte(s.node), []byte(device), c.user, c.nonce), signature)
	entry := &api.Entry{Kind: api.EntryKind_LOGIN, User: c.user, ClientPeerId: []byte(device)}
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		return s.settle(tx, c, good, entry)
	})
	if s.settled != nil {
		s.settled()
	}
	if errors.Is(err, errLocked) {
		// A locked account keeps no session, as after an operator's lock.
		s.endSessions(c.user)
	}
	if err != nil {
		return nil, err
	}
	return s.openSession(c, ended)
}

// openSession opens the session of c's device, whose login succeeded in
// an update that began when s.ended was ended, and gives an added device
// its connection room. When sessions were ended since (a revocation, a
// closing or a lock may have committed after the login and ended the
// sessions before this one existed), it first reads the account again,
// and opens none for a device that may no longer log in.
func (s *Service) openSession(c *Challenge, ended uint64) (*Session, error) {
	for {
		s.mu.Lock()
		if s.ended == ended {
			now := s.now()
			sess := &Session{User: c.user, Peer: c.device, Created: now, LastUsed: now}
			s.sessions[c.device] = sess
			if c.added {
				s.devices[c.device] = struct{}{}
			}
			s.mu.Unlock()
			return sess, nil
		}
		ended = s.ended
		s.mu.Unlock()
		if err := s.mayStillLogIn(c.device, c.user); err != nil {
			return nil, err
		}
	}
}

// mayStillLogIn refuses device a session of user when it is not an active
// device of the account any more, or the account is locked.
func (s *Service) mayStillLogIn(device peer.ID, user string) error {
	return s.store.View(func(tx *store.Tx) error {
		a, why, err := s.loginAccount(tx, device, user, nil)
		switch {
		case why != "" || err != nil:
			return err
		case a.Locked:
			return errLocked
		}
		return nil
	})
}

// settle records the outcome of c's signature check within tx: reset on
// success, lock after too many failures.
func (s *Service) settle(tx *store.Tx, c *Challenge, good bool, entry *api.Entry) (error, error) {
	a, why, err := s.loginAccount(tx, c.device, c.user, c.token)
	switch {
	case why != "":
		return s.refuseLogin(tx, entry, err, why)
	case err != nil:
		return nil, err
	}
	c.left, entry.Epoch = 0, c.epoch
	d := a.Dealing(c.epoch)
	if d == nil {
		// Committed away since the hello: the attempt stays counted.
		entry.Outcome, entry.Reason = api.Code_NOT_FOUND, fmt.Sprintf("no dealing of epoch %d any more", c.epoch)
		return noDealing(c.epoch), s.record(tx, entry)
	}
	// A signature checked with a key that a new stage of the epoch has
	// replaced since the hello is no answer to the dealing there now.
	good = good && bytes.Equal(d.LoginPublicKey, c.pub)
	switch {
	case good && a.Locked:
		// Locked since the attempt was counted (by an operator, or by a
		// concurrent attempt's failure).
		entry.Outcome, entry.Reason = api.Code_LOCKED, "the account is locked"
		return errLocked, s.record(tx, entry)
	case good:
		a.Failures, a.NextAttempt = 0, time.Time{}
		if err := s.addDevice(tx, a, c); err != nil {
			return nil, err
		}
		if err := tx.PutAccount(a); err != nil {
			return nil, err
		}
		c.left = s.cfg.MaxLoginFailures
		return nil, s.record(tx, entry)
	}
	entry.Outcome, entry.Reason = api.Code_UNAUTHENTICATED, fmt.Sprintf("wrong signature (failure %d)", a.Failures)
	if err := s.record(tx, entry); err != nil {
		return nil, err
	}
	if a.Locked {
		return errBadLogin, nil
	}
	if a.Failures < s.cfg.MaxLoginFailures {
		c.left = s.cfg.MaxLoginFailures - a.Failures
		return errBadLogin, nil
	}
	return s.lock(tx, a, c.device, fmt.Sprintf("%d failed logins", a.Failures))
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
	s.ended++
	for p, sess := range s.sessions {
		if sess.User == user {
			delete(s.sessions, p)
		}
	}
}
