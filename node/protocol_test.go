package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// env is a node at which alice has enrolled, logged in and put one unit.
type env struct {
	t     *testing.T
	ctx   context.Context
	n     *nodetest.InProcess
	alice *nodetest.Device
	unit  *api.UnitRef
	share []byte
}

func newEnv(t *testing.T, opts ...nodetest.Option) *env {
	t.Helper()
	n := nodetest.Start(t, opts...)
	e := &env{t: t, ctx: t.Context(), n: n, alice: loggedIn(t, n, "alice")}
	units, shares := putUnits(t, n, e.alice, 1)
	e.unit, e.share = units[0], shares[0]
	return e
}

// consistent checks that the node's log replays and that the node still
// serves a new user, who sees none of the others' units.
func (e *env) consistent() {
	e.t.Helper()
	rawLog(e.t, e.n)
	zed := loggedIn(e.t, e.n, "zed")
	units, err := zed.List(e.ctx, e.n.ID())
	if err != nil || len(units) != 0 {
		e.t.Fatalf("a new user lists %d units, %v; want none", len(units), err)
	}
}

// failures is user's count of failed logins in a row.
func (e *env) failures(user string) int {
	e.t.Helper()
	users, err := e.n.Users(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range users {
		if u.User == user {
			return u.Failures
		}
	}
	e.t.Fatalf("no account %s", user)
	return 0
}

// releasable checks that alice still gets her share.
func (e *env) releasable() {
	e.t.Helper()
	resp, err := e.alice.Release(e.ctx, e.n.ID(), e.unit)
	if err != nil || len(resp.Shares) != 1 || !bytes.Equal(resp.Shares[0].Share, e.share) {
		e.t.Fatalf("alice does not get her share back: %v", err)
	}
}

// lastIs checks the kind and outcome of the newest log entry and returns it.
func (e *env) lastIs(kind api.EntryKind, outcome api.Code) *api.Entry {
	e.t.Helper()
	last := lastEntry(e.t, e.n)
	if last.Kind != kind || last.Outcome != outcome {
		e.t.Fatalf("the newest log entry is %s/%s, want %s/%s", last.Kind, last.Outcome, kind, outcome)
	}
	return last
}

// raw writes frame on a new stream of protocol p from d and returns the
// error field of the node's answer (field 1 of every answer).
func (e *env) raw(d *nodetest.Device, p protocol.ID, frame []byte) error {
	s, err := d.Host.NewStream(e.ctx, e.n.ID(), p)
	if err != nil {
		return err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.Write(frame); err != nil {
		return err
	}
	var resp api.EnrollResponse
	if err := api.NewReader(s, api.MaxMessageSize).Read(&resp); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if resp.Error == nil {
		return errors.New("the node accepted the request")
	}
	return api.FromProto(resp.Error)
}

// signed makes a release request of units by d, signed for the node with
// ID node at time when.
func signed(d *nodetest.Device, node peer.ID, when time.Time, units ...*api.UnitRef) *api.ReleaseRequest {
	req := &api.ReleaseRequest{Units: units, TimeUnixMs: uint64(when.UnixMilli()), Nonce: make([]byte, api.RequestNonceSize)}
	_, _ = rand.Read(req.Nonce)
	msg := api.ReleaseTranscript([]byte(node), []byte(d.Host.ID()), d.User, req.TimeUnixMs, req.Nonce, units)
	sig, err := d.Host.Peerstore().PrivKey(d.Host.ID()).Sign(msg)
	if err != nil {
		panic(err)
	}
	req.DeviceSignature = sig
	return req
}

// release sends req from d and returns the answer and its refusal.
func (e *env) release(d *nodetest.Device, req *api.ReleaseRequest) (*api.ReleaseResponse, error) {
	var resp api.ReleaseResponse
	if err := d.Call(e.ctx, e.n.ID(), api.ProtocolRelease, req, &resp); err != nil {
		return nil, err
	}
	return &resp, api.FromProto(resp.Error)
}

// login is one login exchange driven step by step.
type login struct {
	ls    *nodetest.LoginStream
	ch    *api.LoginChallenge
	nonce []byte
}

// hello opens a login stream from d, sends a hello under d's current
// dealing with its password blinded, and returns the stream with its
// challenge.
func (e *env) hello(d *nodetest.Device) *login {
	e.t.Helper()
	req := d.Blind()
	defer req.Wipe()
	b := req.Blinded()
	ls, ch, err := d.Hello(e.ctx, e.n.ID(), &api.LoginHello{User: d.User, Epoch: d.Epoch(), Blinded: b[:]})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(ls.Close)
	return &login{ls: ls, ch: ch, nonce: ch.Nonce}
}

// sign signs the login transcript of nonce as d with its login key.
func (e *env) sign(d *nodetest.Device, nonce []byte) []byte {
	return ed25519.Sign(d.AuthKey(e.n.ID()), api.LoginTranscript([]byte(e.n.ID()), []byte(d.Host.ID()), d.User, nonce))
}

// answer sends a proof and returns the login's outcome.
func (l *login) answer(sig []byte) error {
	_, err := l.ls.Answer(sig)
	return err
}

// frame is a length prefix followed by body.
func frame(length uint64, body []byte) []byte {
	return append(varint.ToUvarint(length), body...)
}

func opt(f func(c *config.Config)) []nodetest.Option { return []nodetest.Option{f} }

// negotiation marks a case whose refusal comes from libp2p's protocol
// negotiation rather than from a node's answer.
const negotiation = api.Code(-1)

// TestRefusals checks that every bad request gets its own code and a
// message fit to show, never a panic, and leaves the node consistent.
func TestRefusals(t *testing.T) {
	type rule struct {
		name  string
		opts  []nodetest.Option
		run   func(e *env) error
		code  api.Code // negotiation: refused before any message
		msg   string   // in the refusal's message
		after func(e *env, err error)
	}
	garbage := bytes.Repeat([]byte{0xff}, 8)
	rules := []rule{
		{
			name: "an unknown protocol version is refused at negotiation",
			run: func(e *env) error {
				var resp api.ReleaseResponse
				return e.alice.Call(e.ctx, e.n.ID(), "/custos/shares/release/9.9.9", e.alice.ReleaseRequest(e.n.ID(), e.unit), &resp)
			},
			code: negotiation, msg: "protocols not supported",
		},
		{
			name: "a length prefix that overflows is INVALID_ARGUMENT",
			run:  func(e *env) error { return e.raw(e.alice, api.ProtocolRelease, bytes.Repeat([]byte{0xff}, 11)) },
			code: api.Code_INVALID_ARGUMENT, msg: "malformed",
		},
		{
			name: "a login proof that is not a signature is INVALID_ARGUMENT",
			run:  func(e *env) error { return e.hello(e.alice).answer(make([]byte, 10)) },
			code: api.Code_INVALID_ARGUMENT, msg: "not an Ed25519 signature",
		},
		{
			name: "a user name with a slash is INVALID_ARGUMENT at enrollment",
			run:  func(e *env) error { return device(e.t, e.n, "a/b").Enroll(e.ctx, e.n.ID(), "") },
			code: api.Code_INVALID_ARGUMENT, msg: "a user name is",
		},
		{
			name: "a user name with a slash is INVALID_ARGUMENT at login",
			run: func(e *env) error {
				d := device(e.t, e.n, "a/b")
				return d.Login(e.ctx, e.n.ID())
			},
			code: api.Code_INVALID_ARGUMENT, msg: "a user name is",
		},

		// Sessions.
		{
			name: "an idle session expires and is UNAUTHENTICATED",
			opts: opt(func(c *config.Config) { c.Auth.SessionIdle = 300 * time.Millisecond }),
			run: func(e *env) error {
				time.Sleep(500 * time.Millisecond)
				_, err := e.alice.Release(e.ctx, e.n.ID(), e.unit)
				return err
			},
			code: api.Code_UNAUTHENTICATED, msg: "the session expired",
		},
		{
			name: "a session in use still expires at session_max",
			opts: opt(func(c *config.Config) {
				c.Auth.SessionIdle, c.Auth.SessionMax = 600*time.Millisecond, 600*time.Millisecond
			}),
			run: func(e *env) error {
				start := time.Now()
				if err := e.alice.Login(e.ctx, e.n.ID()); err != nil {
					return err
				}
				for time.Since(start) < 3*time.Second {
					if _, err := e.alice.List(e.ctx, e.n.ID()); err != nil {
						if time.Since(start) < 600*time.Millisecond {
							e.t.Errorf("the session expired after %v, before session_max", time.Since(start))
						}
						return err
					}
					time.Sleep(20 * time.Millisecond)
				}
				return errors.New("the session never expired")
			},
			code: api.Code_UNAUTHENTICATED, msg: "the session expired",
		},
		{
			name: "another device cannot enroll a taken user name",
			run:  func(e *env) error { return device(e.t, e.n, "alice").Enroll(e.ctx, e.n.ID(), "") },
			code: api.Code_INVALID_ARGUMENT, msg: "enrolled at this node with another device",
		},
		{
			name: "another device cannot log in as a user, and is not counted against them",
			run:  func(e *env) error { return device(e.t, e.n, "alice").Login(e.ctx, e.n.ID()) },
			code: api.Code_NOT_FOUND, msg: "this device is not enrolled for the user alice at this node",
			after: func(e *env, _ error) {
				last := e.lastIs(api.EntryKind_LOGIN, api.Code_NOT_FOUND)
				if bytes.Equal(last.ClientPeerId, []byte(e.alice.Host.ID())) {
					e.t.Error("the refused login is logged as alice's device")
				}
				if f := e.failures("alice"); f != 0 {
					e.t.Errorf("alice has %d failures, want 0", f)
				}
				e.releasable()
			},
		},
		{
			name: "a session does not follow its user to another device",
			run: func(e *env) error {
				other := device(e.t, e.n, "alice")
				_, err := e.release(other, signed(other, e.n.ID(), time.Now(), e.unit))
				return err
			},
			code: api.Code_UNAUTHENTICATED, msg: "not logged in",
		},

		// Login.
		{
			name: "a replayed login answer is UNAUTHENTICATED",
			run: func(e *env) error {
				first := e.hello(e.alice)
				sig := e.sign(e.alice, first.nonce)
				if err := first.answer(sig); err != nil {
					return err
				}
				return e.hello(e.alice).answer(sig)
			},
			code: api.Code_UNAUTHENTICATED, msg: "wrong user or password",
		},
		{
			name: "an answer after challenge_ttl is UNAUTHENTICATED, and the attempt stays counted",
			opts: opt(func(c *config.Config) { c.Auth.ChallengeTTL = 300 * time.Millisecond }),
			run: func(e *env) error {
				l := e.hello(e.alice)
				time.Sleep(500 * time.Millisecond)
				return l.answer(e.sign(e.alice, l.nonce))
			},
			code: api.Code_UNAUTHENTICATED, msg: "no login challenge is pending",
			after: func(e *env, _ error) {
				// The hello's evaluation answered a guess already.
				if f := e.failures("alice"); f != 1 {
					e.t.Errorf("alice has %d failures, want 1", f)
				}
			},
		},
		{
			name: "a wrong password is UNAUTHENTICATED and counted durably",
			run: func(e *env) error {
				e.alice.SetPassword("Tr0ub4dor&3")
				defer e.alice.SetPassword("correct horse battery staple")
				return e.alice.Login(e.ctx, e.n.ID())
			},
			code: api.Code_UNAUTHENTICATED, msg: "wrong user or password",
			after: func(e *env, _ error) {
				e.lastIs(api.EntryKind_LOGIN, api.Code_UNAUTHENTICATED)
				if f := e.failures("alice"); f != 1 {
					e.t.Errorf("alice has %d failures, want 1", f)
				}
				e.n.Restart(e.t)
				if f := e.failures("alice"); f != 1 {
					e.t.Errorf("after a restart alice has %d failures, want 1", f)
				}
				if err := e.alice.Connect(e.ctx, e.n.Info()); err != nil {
					e.t.Fatal(err)
				}
			},
		},
		{
			name: "login challenges over auth.logins are RATE_LIMITED with a retry-after",
			// newEnv's own login took one of the three.
			opts: opt(func(c *config.Config) { c.Auth.Logins = config.Bucket{Burst: 3, Every: time.Hour} }),
			run: func(e *env) error {
				for range 2 {
					if err := e.alice.Login(e.ctx, e.n.ID()); err != nil {
						return fmt.Errorf("a login within the bucket: %v", err)
					}
				}
				return e.alice.Login(e.ctx, e.n.ID())
			},
			code: api.Code_RATE_LIMITED, msg: "too many logins from this device",
			after: func(e *env, err error) {
				var se *api.StatusError
				if !errors.As(err, &se) || se.RetryAfter < 30*time.Minute {
					e.t.Errorf("retry after %v, want about the bucket's hour", se.RetryAfter)
				}
				if f := e.failures("alice"); f != 0 {
					e.t.Errorf("a refused challenge counted %d failures", f)
				}
			},
		},
		{
			name: "a login during the backoff is RATE_LIMITED with a retry-after, and not counted",
			opts: opt(func(c *config.Config) { c.Auth.BackoffBase = time.Minute }),
			run: func(e *env) error {
				_, wrong, _ := ed25519.GenerateKey(rand.Reader)
				if err := e.alice.LoginWith(e.ctx, e.n.ID(), wrong); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
					return fmt.Errorf("a wrong login: %v", err)
				}
				return e.alice.Login(e.ctx, e.n.ID())
			},
			code: api.Code_RATE_LIMITED, msg: "wait before the next login",
			after: func(e *env, err error) {
				var se *api.StatusError
				if !errors.As(err, &se) || se.RetryAfter < 30*time.Second || se.RetryAfter > time.Minute {
					e.t.Errorf("retry after %v, want about the 1m backoff_base", se.RetryAfter)
				}
				e.lastIs(api.EntryKind_LOGIN, api.Code_RATE_LIMITED)
				if f := e.failures("alice"); f != 1 {
					e.t.Errorf("alice has %d failures, want 1", f)
				}
			},
		},
		{
			name: "max_login_failures wrong logins lock the account, also against the right password",
			opts: opt(func(c *config.Config) {
				c.Auth.MaxLoginFailures, c.Auth.BackoffBase, c.Auth.BackoffMax = 3, time.Millisecond, 4*time.Millisecond
			}),
			run: func(e *env) error {
				_, wrong, _ := ed25519.GenerateKey(rand.Reader)
				for i := 1; i <= 3; i++ {
					time.Sleep(10 * time.Millisecond) // past the backoff
					err := e.alice.LoginWith(e.ctx, e.n.ID(), wrong)
					if i < 3 && !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
						return fmt.Errorf("wrong login %d: %v", i, err)
					}
					if i == 3 && !nodetest.IsCode(err, api.Code_LOCKED) {
						return fmt.Errorf("wrong login %d is not LOCKED: %v", i, err)
					}
				}
				time.Sleep(10 * time.Millisecond)
				return e.alice.Login(e.ctx, e.n.ID())
			},
			code: api.Code_LOCKED, msg: "locked",
			after: func(e *env, _ error) {
				var lock *api.Entry
				for _, en := range entries(e.t, e.n, 0) {
					if en.Kind == api.EntryKind_LOCK {
						lock = en
					}
				}
				if lock == nil || lock.User != "alice" {
					e.t.Fatal("the lock is not logged")
				}
				if _, err := e.alice.Release(e.ctx, e.n.ID(), e.unit); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
					e.t.Errorf("a locked account's session still releases: %v", err)
				}
				e.n.Restart(e.t)
				if err := e.alice.Connect(e.ctx, e.n.Info()); err != nil {
					e.t.Fatal(err)
				}
				if err := e.alice.Login(e.ctx, e.n.ID()); !nodetest.IsCode(err, api.Code_LOCKED) {
					e.t.Errorf("after a restart the login is %v, want LOCKED", err)
				}
				if err := e.n.Unlock(e.ctx, "alice"); err != nil {
					e.t.Fatal(err)
				}
				if err := e.alice.Login(e.ctx, e.n.ID()); err != nil {
					e.t.Errorf("after an unlock the login is %v", err)
				}
			},
		},

		// Enrollment.
		{
			name: "an invite used once is UNAUTHENTICATED the second time",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(e *env) error {
				token, _, err := e.n.Invite(e.ctx, "bob", 0)
				if err != nil {
					return err
				}
				if err := device(e.t, e.n, "bob").Enroll(e.ctx, e.n.ID(), token); err != nil {
					return err
				}
				return device(e.t, e.n, "bob").Enroll(e.ctx, e.n.ID(), token)
			},
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "an expired invite is UNAUTHENTICATED",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(e *env) error {
				token, _, err := e.n.Invite(e.ctx, "bob", time.Millisecond)
				if err != nil {
					return err
				}
				time.Sleep(10 * time.Millisecond)
				return device(e.t, e.n, "bob").Enroll(e.ctx, e.n.ID(), token)
			},
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "an invite for another user is refused and stays good for its user",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(e *env) error {
				token, _, err := e.n.Invite(e.ctx, "bob", 0)
				if err != nil {
					return err
				}
				err = device(e.t, e.n, "carol").Enroll(e.ctx, e.n.ID(), token)
				if err := device(e.t, e.n, "bob").Enroll(e.ctx, e.n.ID(), token); err != nil {
					e.t.Errorf("bob cannot use his invite after carol tried: %v", err)
				}
				return err
			},
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "an invite-only node refuses an enrollment without a token, even of an enrolled user",
			opts: []nodetest.Option{nodetest.Invite},
			run:  func(e *env) error { return device(e.t, e.n, "alice").Enroll(e.ctx, e.n.ID(), "") },
			code: api.Code_UNAUTHENTICATED, msg: "invite token is not valid",
		},
		{
			name: "enrolling twice is ALREADY_EXISTS",
			run:  func(e *env) error { return e.alice.Enroll(e.ctx, e.n.ID(), "") },
			code: api.Code_ALREADY_EXISTS, msg: "this device is enrolled already",
			after: func(e *env, _ error) {
				e.lastIs(api.EntryKind_ENROLL, api.Code_ALREADY_EXISTS)
				e.releasable()
			},
		},
		{
			name: "an invite for an enrolled user is ALREADY_EXISTS",
			opts: []nodetest.Option{nodetest.Invite},
			run: func(e *env) error {
				_, _, err := e.n.Invite(e.ctx, "alice", 0)
				return err
			},
			code: api.Code_ALREADY_EXISTS, msg: "enrolled already",
		},

		// Units and batches.
		{
			name: "a release of another user's unit is NOT_FOUND",
			run: func(e *env) error {
				resp, err := loggedIn(e.t, e.n, "bob").Release(e.ctx, e.n.ID(), e.unit)
				if err != nil {
					return err
				}
				if resp.Shares[0].Share != nil {
					e.t.Fatal("bob got alice's share")
				}
				return api.FromProto(resp.Shares[0].Error)
			},
			code: api.Code_NOT_FOUND, msg: "no share of this unit version",
			after: func(e *env, _ error) {
				last := e.lastIs(api.EntryKind_RELEASE, api.Code_NOT_FOUND)
				if last.User != "bob" || len(last.Refusals) != 1 || last.Refusals[0].Code != api.Code_NOT_FOUND {
					e.t.Error("the refusal is not in bob's release entry")
				}
				e.releasable()
			},
		},
		{
			name: "a delete of another user's unit is NOT_FOUND and the unit stays",
			run:  func(e *env) error { return loggedIn(e.t, e.n, "bob").Delete(e.ctx, e.n.ID(), e.unit) },
			code: api.Code_NOT_FOUND, msg: "no share of this unit version",
			after: func(e *env, _ error) {
				e.lastIs(api.EntryKind_DELETE, api.Code_NOT_FOUND)
				e.releasable()
			},
		},
		{
			name: "a put by another user under the same unit ID does not touch the unit",
			run: func(e *env) error {
				_, err := loggedIn(e.t, e.n, "bob").Put(e.ctx, e.n.ID(), e.unit, nodetest.Share())
				return err
			},
			code:  api.Code_OK,
			after: func(e *env, _ error) { e.releasable() },
		},
		{
			name: "a batch over max_batch is INVALID_ARGUMENT",
			opts: opt(func(c *config.Config) { c.Limits.MaxBatch = 4 }),
			run: func(e *env) error {
				_, err := e.alice.Release(e.ctx, e.n.ID(), e.unit, nodetest.Unit(), nodetest.Unit(), nodetest.Unit(), nodetest.Unit())
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "names 5 units, more than the 4 allowed",
		},
		{
			name: "a batch larger than the per-user burst takes one token of it",
			opts: opt(func(c *config.Config) { c.Limits.UserReleases = config.Bucket{Burst: 2, Every: time.Hour} }),
			run: func(e *env) error {
				resp, err := e.alice.Release(e.ctx, e.n.ID(), e.unit, nodetest.Unit(), nodetest.Unit(), nodetest.Unit())
				if err == nil && (len(resp.Shares) != 4 || resp.Shares[0].Share == nil) {
					e.t.Errorf("the batch answered %d units, the first without its share", len(resp.Shares))
				}
				return err
			},
			code:  api.Code_OK,
			after: func(e *env, _ error) { e.releasable() },
		},
		{
			name: "a unit named twice in a batch is INVALID_ARGUMENT",
			run: func(e *env) error {
				_, err := e.alice.Release(e.ctx, e.n.ID(), e.unit, nodetest.Unit(), e.unit)
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "names a unit version twice",
		},
		{
			name: "an empty batch is INVALID_ARGUMENT",
			run: func(e *env) error {
				_, err := e.alice.Release(e.ctx, e.n.ID())
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "names no unit",
		},
		{
			name: "a unit ID of the wrong size is INVALID_ARGUMENT",
			run: func(e *env) error {
				_, err := e.alice.Put(e.ctx, e.n.ID(), &api.UnitRef{UnitId: make([]byte, 15), Version: 1}, nodetest.Share())
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "a unit ID is 16 bytes",
		},
		{
			name: "unit version 0 is INVALID_ARGUMENT",
			run:  func(e *env) error { return e.alice.Delete(e.ctx, e.n.ID(), &api.UnitRef{UnitId: e.unit.UnitId}) },
			code: api.Code_INVALID_ARGUMENT, msg: "versions start at 1",
		},
		{
			name: "a share of the wrong size is INVALID_ARGUMENT",
			run: func(e *env) error {
				_, err := e.alice.Put(e.ctx, e.n.ID(), nodetest.Unit(), make([]byte, api.ShareSize+1))
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "the share is malformed",
		},
		{
			name: "a release signed for another node is UNAUTHENTICATED and logged",
			run: func(e *env) error {
				_, err := e.release(e.alice, signed(e.alice, e.alice.Host.ID(), time.Now(), e.unit))
				return err
			},
			code: api.Code_UNAUTHENTICATED, msg: "device signature does not match",
			after: func(e *env, _ error) {
				// A request refused as a whole is logged without the units
				// it names, and so without the signature over them.
				last := e.lastIs(api.EntryKind_RELEASE, api.Code_UNAUTHENTICATED)
				if len(last.Units) != 0 || len(last.DeviceSignature) != 0 {
					e.t.Errorf("the refusal is logged with %d units and a %d-byte signature; want neither", len(last.Units), len(last.DeviceSignature))
				}
			},
		},
		{
			name: "a release whose units changed after signing is UNAUTHENTICATED",
			run: func(e *env) error {
				req := signed(e.alice, e.n.ID(), time.Now(), nodetest.Unit())
				req.Units = []*api.UnitRef{e.unit}
				_, err := e.release(e.alice, req)
				return err
			},
			code: api.Code_UNAUTHENTICATED, msg: "device signature does not match",
		},
		{
			name: "a device clock 6 minutes slow is INVALID_ARGUMENT and logged",
			run: func(e *env) error {
				_, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now().Add(-6*time.Minute), e.unit))
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "off the node's",
			after: func(e *env, _ error) { e.lastIs(api.EntryKind_RELEASE, api.Code_INVALID_ARGUMENT) },
		},
		{
			name: "a device clock 6 minutes fast is INVALID_ARGUMENT",
			run: func(e *env) error {
				_, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now().Add(6*time.Minute), e.unit))
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "off the node's",
		},
		{
			name: "a device clock 4 minutes off is within the allowed skew",
			run: func(e *env) error {
				resp, err := e.release(e.alice, signed(e.alice, e.n.ID(), time.Now().Add(-4*time.Minute), e.unit))
				if err == nil && !bytes.Equal(resp.Shares[0].Share, e.share) {
					err = errors.New("not the share put")
				}
				return err
			},
			code: api.Code_OK,
		},
		{
			name: "a release request sent again is INVALID_ARGUMENT and logged",
			run: func(e *env) error {
				req := e.alice.ReleaseRequest(e.n.ID(), e.unit)
				if _, err := e.release(e.alice, req); err != nil {
					return fmt.Errorf("the first time: %w", err)
				}
				resp, err := e.release(e.alice, req)
				if resp != nil && len(resp.GetShares()) > 0 && len(resp.Shares[0].GetShare()) > 0 {
					return errors.New("the replay got a share")
				}
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "served before",
			after: func(e *env, _ error) { e.lastIs(api.EntryKind_RELEASE, api.Code_INVALID_ARGUMENT) },
		},
		{
			name: "a release request sent again after a restart is still refused",
			run: func(e *env) error {
				req := e.alice.ReleaseRequest(e.n.ID(), e.unit)
				if _, err := e.release(e.alice, req); err != nil {
					return fmt.Errorf("the first time: %w", err)
				}
				e.n.Restart(e.t)
				if err := e.alice.Connect(e.ctx, e.n.Info()); err != nil {
					return err
				}
				if err := e.alice.Login(e.ctx, e.n.ID()); err != nil {
					return err
				}
				_, err := e.release(e.alice, req)
				return err
			},
			code: api.Code_INVALID_ARGUMENT, msg: "served before",
		},
		{
			name: "a put of another share for an existing unit version is ALREADY_EXISTS and keeps the first",
			run: func(e *env) error {
				_, err := e.alice.Put(e.ctx, e.n.ID(), e.unit, nodetest.Share())
				return err
			},
			code: api.Code_ALREADY_EXISTS, msg: "holds another share",
			after: func(e *env, _ error) {
				e.lastIs(api.EntryKind_PUT, api.Code_ALREADY_EXISTS)
				e.releasable()
			},
		},
		{
			name: "a put of the same share again is OK",
			run: func(e *env) error {
				_, err := e.alice.Put(e.ctx, e.n.ID(), e.unit, bytes.Clone(e.share))
				return err
			},
			code: api.Code_OK,
			after: func(e *env, _ error) {
				e.lastIs(api.EntryKind_PUT, api.Code_OK)
				e.releasable()
			},
		},
		{
			name: "a delete of a missing unit is NOT_FOUND",
			run:  func(e *env) error { return e.alice.Delete(e.ctx, e.n.ID(), nodetest.Unit()) },
			code: api.Code_NOT_FOUND, msg: "no share of this unit version",
			after: func(e *env, _ error) { e.lastIs(api.EntryKind_DELETE, api.Code_NOT_FOUND) },
		},

		// Rate limits.
		{
			name: "an exhausted unit bucket refuses that unit inside an OK answer, with a retry-after",
			opts: opt(func(c *config.Config) { c.Limits.UnitReleases = config.Bucket{Burst: 2, Every: time.Hour} }),
			run: func(e *env) error {
				e.releasable()
				e.releasable()
				other, otherShares := putUnits(e.t, e.n, e.alice, 1)
				resp, err := e.alice.Release(e.ctx, e.n.ID(), e.unit, other[0])
				if err != nil {
					return fmt.Errorf("the whole request was refused: %w", err)
				}
				if resp.Shares[0].Share != nil || !bytes.Equal(resp.Shares[1].Share, otherShares[0]) {
					e.t.Error("the answer does not refuse just the exhausted unit")
				}
				return api.FromProto(resp.Shares[0].Error)
			},
			code: api.Code_RATE_LIMITED, msg: "too many releases of this unit",
			after: func(e *env, err error) {
				var se *api.StatusError
				if errors.As(err, &se); se.RetryAfter < 30*time.Minute {
					e.t.Errorf("retry after %v, want about the bucket's hour", se.RetryAfter)
				}
				last := e.lastIs(api.EntryKind_RELEASE, api.Code_OK)
				if len(last.Refusals) != 1 || last.Refusals[0].UnitIndex != 0 || last.Refusals[0].Code != api.Code_RATE_LIMITED {
					e.t.Errorf("the entry's refusals are %v, want unit 0 RATE_LIMITED", last.Refusals)
				}
				if err := last.VerifyDevice([]byte(e.n.ID())); err != nil {
					e.t.Errorf("the entry does not verify: %v", err)
				}
			},
		},
		{
			name: "an exhausted user bucket refuses the whole request, with a retry-after",
			opts: opt(func(c *config.Config) { c.Limits.UserReleases = config.Bucket{Burst: 3, Every: time.Hour} }),
			run: func(e *env) error {
				for range 3 {
					e.releasable()
				}
				resp, err := e.alice.Release(e.ctx, e.n.ID(), e.unit)
				if resp != nil && len(resp.Shares) != 0 {
					e.t.Error("a refused request carries shares")
				}
				return err
			},
			code: api.Code_RATE_LIMITED, msg: "too many release requests for this user",
			after: func(e *env, err error) {
				var se *api.StatusError
				if errors.As(err, &se); se.RetryAfter < 30*time.Minute {
					e.t.Errorf("retry after %v, want about the bucket's hour", se.RetryAfter)
				}
				e.lastIs(api.EntryKind_RELEASE, api.Code_RATE_LIMITED)
			},
		},
	}

	// Framing, at every protocol.
	small := opt(func(c *config.Config) { c.Limits.MaxMessageBytes = 4096 })
	for _, p := range []protocol.ID{api.ProtocolEnroll, api.ProtocolLogin, api.ProtocolPut, api.ProtocolRelease, api.ProtocolDelete, api.ProtocolList} {
		rules = append(rules,
			rule{
				name: "a malformed frame at " + string(p) + " is INVALID_ARGUMENT",
				run:  func(e *env) error { return e.raw(e.alice, p, frame(uint64(len(garbage)), garbage)) },
				code: api.Code_INVALID_ARGUMENT, msg: "the request is malformed",
			},
			rule{
				name: "a length prefix over max_message_bytes at " + string(p) + " is INVALID_ARGUMENT",
				opts: small,
				run:  func(e *env) error { return e.raw(e.alice, p, frame(4097, nil)) },
				code: api.Code_INVALID_ARGUMENT, msg: "over the node's size limit of 4096 bytes",
			})
		if p != api.ProtocolEnroll && p != api.ProtocolLogin {
			rules = append(rules, rule{
				name: "a request at " + string(p) + " without a session is UNAUTHENTICATED",
				run: func(e *env) error {
					bob := device(e.t, e.n, "bob")
					if err := bob.Enroll(e.ctx, e.n.ID(), ""); err != nil {
						return err
					}
					switch p {
					case api.ProtocolPut:
						_, err := bob.Put(e.ctx, e.n.ID(), nodetest.Unit(), nodetest.Share())
						return err
					case api.ProtocolRelease:
						_, err := bob.Release(e.ctx, e.n.ID(), e.unit)
						return err
					case api.ProtocolDelete:
						return bob.Delete(e.ctx, e.n.ID(), e.unit)
					}
					_, err := bob.List(e.ctx, e.n.ID())
					return err
				},
				code: api.Code_UNAUTHENTICATED, msg: "not logged in",
			})
		}
	}

	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			e := newEnv(t, r.opts...)
			err := r.run(e)
			var se *api.StatusError
			switch {
			case r.code == api.Code_OK:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case r.code == negotiation:
				if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), r.msg) {
					t.Fatalf("got %v, want a negotiation failure %q", err, r.msg)
				}
			case !errors.As(err, &se):
				t.Fatalf("got %v, want %s %q", err, r.code, r.msg)
			case se.Code != r.code || !strings.Contains(se.Message, r.msg):
				t.Fatalf("got %s %q, want %s %q", se.Code, se.Message, r.code, r.msg)
			}
			if r.after != nil {
				r.after(e, err)
			}
			e.consistent()
		})
	}
}
