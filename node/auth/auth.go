package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/limits"
	"github.com/custos-network/custos/node/store"
)

// Outcome errors that callers match besides the api ones.
var (
	errNoChallenge = api.Errorf(api.Code_UNAUTHENTICATED, "no login challenge is pending on this stream, or it expired")
	errBadLogin    = api.Errorf(api.Code_UNAUTHENTICATED, "wrong user or password")
	errNoSession   = api.Errorf(api.Code_UNAUTHENTICATED, "not logged in")
	errExpired     = api.Errorf(api.Code_UNAUTHENTICATED, "the session expired; log in again")
	errLocked      = api.Errorf(api.Code_LOCKED, "the account is locked after too many failed logins; ask the node's operator to unlock it")
	errBadInvite   = api.Errorf(api.Code_UNAUTHENTICATED, "the invite token is not valid for this user, was used, or expired")
	errEnrolled    = api.Errorf(api.Code_ALREADY_EXISTS, "this device is enrolled already")
)

// notEnrolled refuses a device that is not the one enrolled for user here.
// It is the same whether the user does not exist or exists with another
// device, so it tells a peer nothing about other people's accounts; and a
// device knows its own enrollment.
func notEnrolled(user string) error {
	return api.Errorf(api.Code_NOT_FOUND, "this device is not enrolled for the user %s at this node", user)
}

// maxLoginBuckets bounds the devices whose login challenges are rate
// limited at once (auth.logins). Only enrolled devices, and devices that
// present a valid new-device invite, get a bucket, so only enrollments and
// invites, not fresh keys, could fill it; a full table refuses new devices
// with RATE_LIMITED for at most one bucket's refill time.
const maxLoginBuckets = 1 << 16

// Session is one logged-in device.
type Session struct {
	User     string
	Peer     peer.ID
	Created  time.Time
	LastUsed time.Time
}

// Service enrolls and logs in the users of one node.
type Service struct {
	store *store.Store
	log   *audit.Log
	node  peer.ID
	cfg   config.Auth
	open  bool // enrollment: open
	now   func() time.Time
	hello *limits.Limiter // login challenges per enrolled device
	// strangers bounds the logged refusals of devices that are not
	// enrolled (auth.stranger_log); unlogged counts those refused unlogged
	// since the last logged one.
	strangers *limits.Limiter
	unlogged  atomic.Int64
	// unloggedTotal counts every refusal left unlogged, for the metrics.
	unloggedTotal atomic.Int64
	// accountLog bounds, per account, the logged refusals of logins while
	// it is locked or backing off (auth.refusal_log); accountUnlogged
	// counts those left unlogged, for the metrics.
	accountLog      *limits.LogBudget
	accountUnlogged atomic.Int64

	// verify checks a login signature: ed25519.Verify; evaluate answers a
	// counted attempt's blinded element: evaluateShare. They are fields so
	// that tests of this package can stop the node at these instructions,
	// between the count of an attempt and its answer or its check.
	verify   func(pub ed25519.PublicKey, msg, sig []byte) bool
	evaluate func(index int, key, blinded []byte) (evaluated, proof []byte, err error)
	// settled, when not nil, runs after a login's outcome is recorded and
	// before its session opens: a test's revocation in that gap.
	settled func()

	mu       sync.Mutex
	sessions map[peer.ID]*Session
	// ended counts the times sessions were ended for a change in the
	// store (a revocation, a closing, a lock), so that a login whose
	// outcome was recorded before such a change opens no session after
	// it (openSession).
	ended uint64
	// devices holds the peer ID of every active device: the node keeps
	// connection room for them that strangers cannot take (Enrolled). It
	// grows with enrollments and added devices, and shrinks with
	// revocations.
	devices map[peer.ID]struct{}
}

// New returns the service of the node with this peer ID, reading the
// enrolled devices from the store. now may be nil for the wall clock.
func New(s *store.Store, l *audit.Log, node peer.ID, enrollment string, cfg config.Auth, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	devices := map[peer.ID]struct{}{}
	err := s.View(func(tx *store.Tx) error {
		return tx.Accounts(func(a *store.Account) error {
			for _, d := range a.Devices {
				if d.Active() {
					devices[peer.ID(d.PeerID)] = struct{}{}
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the enrolled devices: %w", err)
	}
	return &Service{
		store: s, log: l, node: node, cfg: cfg, open: enrollment == "open", now: now,
		hello:      limits.New(cfg.Logins, maxLoginBuckets, now),
		strangers:  limits.New(cfg.StrangerLog, 1, now),
		accountLog: limits.NewLogBudget(cfg.RefusalLog, maxLoginBuckets, now),
		sessions:   map[peer.ID]*Session{},
		verify:     ed25519.Verify,
		evaluate:   evaluateShare,
		devices:    devices,
	}, nil
}

// Enrolled reports whether device is enrolled here, for any user.
func (s *Service) Enrolled(device peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.devices[device]
	return ok
}

// record appends an audit entry within tx.
func (s *Service) record(tx *store.Tx, e *api.Entry) error {
	_, err := s.log.AppendEntry(tx, e, s.now())
	return err
}

// UnloggedRefusals is how many refusals of devices not enrolled went
// unlogged since the service started (auth.stranger_log).
func (s *Service) UnloggedRefusals() int64 { return s.unloggedTotal.Load() }

// UnloggedAccountRefusals is how many logins of enrolled accounts, refused
// as locked or in backoff, went unlogged since the service started
// (auth.refusal_log).
func (s *Service) UnloggedAccountRefusals() int64 { return s.accountUnlogged.Load() }

// accountReason takes one logged refusal of user's logins from
// auth.refusal_log and returns the reason to log, which counts the
// refusals left unlogged before it; when the budget is spent it counts
// this refusal and returns false.
func (s *Service) accountReason(user, reason string) (string, bool) {
	ok, before := s.accountLog.Log(user)
	if !ok {
		s.accountUnlogged.Add(1)
		return "", false
	}
	if before > 0 {
		reason = fmt.Sprintf("%s (after %d refusals like it not logged: auth.refusal_log)", reason, before)
	}
	return reason, true
}

// refuseStranger refuses a login or enrollment of a device that is not
// enrolled, with outcome, and logs the refusal within tx while
// auth.stranger_log allows. Past it the refusal is the same but unlogged:
// it counts no guess against any account, and the next logged one says how
// many went unlogged before it.
func (s *Service) refuseStranger(tx *store.Tx, entry *api.Entry, outcome error, reason string) (error, error) {
	reason, ok := s.strangerReason(reason)
	if !ok {
		return outcome, nil
	}
	entry.Outcome, entry.Reason = code(outcome), reason
	return outcome, s.record(tx, entry)
}

// strangerReason takes one logged refusal of a device not enrolled from
// auth.stranger_log and returns the reason to log, which counts the
// refusals left unlogged before it; when the budget is spent it counts
// this refusal as unlogged and returns false. It decides before any store
// access, so that an unlogged refusal costs no write at all.
func (s *Service) strangerReason(reason string) (string, bool) {
	if ok, _ := s.strangers.Allow(""); !ok {
		s.unlogged.Add(1)
		s.unloggedTotal.Add(1)
		return "", false
	}
	if n := s.unlogged.Swap(0); n > 0 {
		reason = fmt.Sprintf("%s (after %d refusals like it not logged: auth.stranger_log)", reason, n)
	}
	return reason, true
}

func code(err error) api.Code {
	var se *api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return api.Code_OK
}

// Enroll registers the user with the device of this connection, the first
// dealing of their OPRF key (its key share sealed at rest) and the login
// public key of the request. Its outcomes let a client report truthfully,
// node by node, what is the case (see admit). The caller wipes the key
// share in req.
func (s *Service) Enroll(ctx context.Context, device peer.ID, req *api.EnrollRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	err := s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		entry := &api.Entry{Kind: api.EntryKind_ENROLL, User: req.User, ClientPeerId: []byte(device)}
		outcome, err := s.admit(tx, device, req)
		if err != nil {
			return nil, err
		}
		if outcome != nil {
			return s.refuseStranger(tx, entry, outcome, outcome.Error())
		}
		err = tx.PutAccount(&store.Account{
			User:    req.User,
			Devices: []store.Device{{PeerID: []byte(device), Added: s.now()}},
			Current: dealing(req.Oprf, req.AuthPublicKey), Created: s.now(),
		})
		if err != nil {
			return nil, err
		}
		if err := tx.PutOprfKeyShare(req.User, req.Oprf.Epoch, req.Oprf.KeyShare); err != nil {
			return nil, err
		}
		entry.Epoch = req.Oprf.Epoch
		return nil, s.record(tx, entry)
	})
	if err == nil {
		s.mu.Lock()
		s.devices[device] = struct{}{}
		s.mu.Unlock()
	}
	return err
}

// dealing is what an account keeps of a validated OPRF share and its login
// public key, besides the key share.
func dealing(o *api.OprfShare, loginKey []byte) store.Dealing {
	return store.Dealing{
		Epoch: o.Epoch, Index: int(o.Index),
		PublicShare: bytes.Clone(o.PublicShare), LoginPublicKey: bytes.Clone(loginKey),
	}
}

// admit decides whether device may enroll as req.User, and uses up the
// invite when it may. The checks run in this order, so that each refusal
// says what is true and no token is used up for nothing:
//
//   - this device is enrolled for the user already: ALREADY_EXISTS, before
//     the token is looked at (the device knows its own enrollment); one
//     revoked for the user: UNAUTHENTICATED (errRevoked);
//   - under invite enrollment, a token that is not valid for this user, was
//     used or expired, or is a new-device token: UNAUTHENTICATED, so that
//     a peer without a valid one learns nothing, not even whether the user
//     is enrolled;
//   - the user is enrolled with another device: INVALID_ARGUMENT, and the
//     token stays good;
//   - otherwise the device may enroll: outcome nil.
//
// err is the store's failure, which aborts the update.
func (s *Service) admit(tx *store.Tx, device peer.ID, req *api.EnrollRequest) (outcome, err error) {
	a, err := tx.Account(req.User)
	switch {
	case err == nil && a.Device([]byte(device)) != nil && a.Device([]byte(device)).Active():
		return errEnrolled, nil
	case err == nil && a.Device([]byte(device)) != nil:
		return revoked(req.User), nil
	case errors.Is(err, store.ErrNotFound):
		a = nil
	case err != nil:
		return nil, err
	}
	hash := sha256.Sum256([]byte(req.Token))
	if !s.open {
		inv, err := tx.Invite(hash)
		if errors.Is(err, store.ErrNotFound) {
			return errBadInvite, nil
		}
		if err != nil {
			return nil, err
		}
		if !s.inviteFor(inv, req.User) || inv.NewDevice {
			return errBadInvite, nil
		}
	}
	if a != nil {
		return api.Errorf(api.Code_INVALID_ARGUMENT, "the user %s is enrolled at this node with another device", req.User), nil
	}
	if s.open {
		return nil, nil
	}
	return nil, tx.DeleteInvite(hash)
}

// inviteFor reports whether inv is good for user now: its user (compared
// in constant time) and not expired.
func (s *Service) inviteFor(inv *store.Invite, user string) bool {
	return subtle.ConstantTimeCompare([]byte(inv.User), []byte(user)) == 1 && s.now().Before(inv.Expires)
}

// Invite makes a one-time enrollment token for user, valid for ttl (the
// configured invite_ttl when 0). Only its hash is stored. With newDevice
// it is a new-device token: it adds a device to the enrolled user's
// account (see Hello), and the user must be enrolled here with room for
// another device; otherwise the user must not be enrolled.
func (s *Service) Invite(ctx context.Context, user string, ttl time.Duration, newDevice bool) (token string, expires time.Time, err error) {
	if !api.ValidUser(user) {
		return "", time.Time{}, api.Errorf(api.Code_INVALID_ARGUMENT, "%q is not a valid user name", user)
	}
	if ttl <= 0 {
		ttl = s.cfg.InviteTTL
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("make invite: %w", err)
	}
	token = "custos-invite-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	expires = s.now().Add(ttl)
	err = s.store.Decide(ctx, func(tx *store.Tx) (error, error) {
		if outcome, err := inviteRoom(tx, user, newDevice); outcome != nil || err != nil {
			return outcome, err
		}
		inv := &store.Invite{Hash: sha256.Sum256([]byte(token)), User: user, Expires: expires, Created: s.now(), NewDevice: newDevice}
		if err := tx.PutInvite(inv); err != nil {
			return nil, err
		}
		what := "invite"
		if newDevice {
			what = "new-device invite"
		}
		return nil, s.record(tx, &api.Entry{Kind: api.EntryKind_INVITE, User: user, Admin: what + " until " + expires.UTC().Format(time.RFC3339)})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// inviteRoom refuses an invite that could not be used: an enrollment
// invite for a user enrolled already, a new-device invite for a user not
// enrolled or with MaxActiveDevices active devices.
func inviteRoom(tx *store.Tx, user string, newDevice bool) (outcome, err error) {
	a, err := tx.Account(user)
	switch {
	case errors.Is(err, store.ErrNotFound) && newDevice:
		return api.Errorf(api.Code_NOT_FOUND, "the user %s is not enrolled at this node; a new-device invite is for an enrolled user", user), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case !newDevice:
		return api.Errorf(api.Code_ALREADY_EXISTS, "the user %s is enrolled already; to add a device, make a new-device invite", user), nil
	case a.ActiveDevices() >= store.MaxActiveDevices:
		return tooManyDevices(user), nil
	}
	return nil, nil
}
