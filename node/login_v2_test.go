package node_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/threshold/toprf"
)

// blindedHello is a hello of d under epoch with d's password freshly
// blinded; it returns the blinded element too.
func blindedHello(d *nodetest.Device, epoch uint32) (*api.LoginHello, []byte) {
	req := d.Blind()
	defer req.Wipe()
	b := req.Blinded()
	return &api.LoginHello{User: d.User, Epoch: epoch, Blinded: b[:]}, b[:]
}

// evaluations counts the EVALUATION entries of n's log.
func evaluations(t testing.TB, n *nodetest.InProcess) int {
	t.Helper()
	count := 0
	for _, e := range entries(t, n, 0) {
		if e.Kind == api.EntryKind_EVALUATION {
			count++
		}
	}
	return count
}

// TestNoEvaluationForAHelloThatIsNotCounted: a node evaluates the OPRF only
// for an attempt it has counted, of the device enrolled for the user.
// Every hello it refuses (a device not enrolled, a malformed element, an
// epoch it does not hold, a locked account, one in backoff) gets no
// evaluation and no proof, and counts nothing.
func TestNoEvaluationForAHelloThatIsNotCounted(t *testing.T) {
	slow := func(c *config.Config) { c.Auth.BackoffBase = time.Minute }
	rules := []struct {
		name  string
		opts  []nodetest.Option
		setup func(e *env)
		hello func(e *env) (*nodetest.Device, *api.LoginHello)
		code  api.Code
		msg   string
	}{
		{
			name: "a device not enrolled for the user is NOT_FOUND",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				other := device(e.t, e.n, "alice")
				h, _ := blindedHello(other, 1)
				return other, h
			},
			code: api.Code_NOT_FOUND, msg: "this device is not enrolled for the user alice",
		},
		{
			name: "a blinded element that is not canonical is INVALID_ARGUMENT",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				return e.alice, &api.LoginHello{User: "alice", Epoch: 1, Blinded: bytes.Repeat([]byte{0xff}, 32)}
			},
			code: api.Code_INVALID_ARGUMENT, msg: "blinded element",
		},
		{
			name: "the identity as blinded element is INVALID_ARGUMENT",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				return e.alice, &api.LoginHello{User: "alice", Epoch: 1, Blinded: make([]byte, 32)}
			},
			code: api.Code_INVALID_ARGUMENT, msg: "blinded element",
		},
		{
			name: "a blinded element of 31 bytes is INVALID_ARGUMENT",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				h, b := blindedHello(e.alice, 1)
				h.Blinded = b[1:]
				return e.alice, h
			},
			code: api.Code_INVALID_ARGUMENT, msg: "blinded element",
		},
		{
			name: "an epoch the account does not hold is NOT_FOUND",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				h, _ := blindedHello(e.alice, 7)
				return e.alice, h
			},
			code: api.Code_NOT_FOUND, msg: "no dealing of epoch 7",
		},
		{
			name: "epoch 0 is NOT_FOUND",
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				h, _ := blindedHello(e.alice, 0)
				return e.alice, h
			},
			code: api.Code_NOT_FOUND, msg: "no dealing of epoch 0",
		},
		{
			name:  "a locked account is LOCKED",
			setup: func(e *env) { e.lock() },
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				h, _ := blindedHello(e.alice, 1)
				return e.alice, h
			},
			code: api.Code_LOCKED, msg: "locked",
		},
		{
			name: "an account in backoff is RATE_LIMITED",
			opts: opt(slow),
			setup: func(e *env) {
				_, wrong, _ := ed25519.GenerateKey(rand.Reader)
				if err := e.alice.LoginWith(e.ctx, e.n.ID(), wrong); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
					e.t.Fatalf("a wrong login: %v", err)
				}
			},
			hello: func(e *env) (*nodetest.Device, *api.LoginHello) {
				h, _ := blindedHello(e.alice, 1)
				return e.alice, h
			},
			code: api.Code_RATE_LIMITED, msg: "wait before the next login",
		},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			e := newEnv(t, r.opts...)
			if r.setup != nil {
				r.setup(e)
			}
			failures, evals := e.failures("alice"), evaluations(t, e.n)
			d, h := r.hello(e)
			_, ch, err := d.Hello(e.ctx, e.n.ID(), h)
			var se *api.StatusError
			if !errors.As(err, &se) || se.Code != r.code || !strings.Contains(se.Message, r.msg) {
				t.Fatalf("got %v, want %s %q", err, r.code, r.msg)
			}
			if len(ch.Evaluated) != 0 || len(ch.Proof) != 0 || len(ch.Nonce) != 0 {
				t.Error("the refusal carries an evaluation, a proof or a challenge")
			}
			if f := e.failures("alice"); f != failures {
				t.Errorf("alice has %d failures after the refusal, %d before", f, failures)
			}
			if n := evaluations(t, e.n); n != evals {
				t.Errorf("%d EVALUATION entries after the refusal, %d before", n, evals)
			}
			e.consistent()
		})
	}
}

// lock has the operator lock alice's account.
func (e *env) lock() {
	e.t.Helper()
	if err := e.n.Lock(e.ctx, "alice"); err != nil {
		e.t.Fatal(err)
	}
}

// TestAttemptsLeftCountDownToTheLock: both answers of a login say how many
// counted attempts are left before the account locks: after the hello's
// count, and after the signature's outcome. Wrong passwords count down to
// the lock; the right one resets to max_login_failures.
func TestAttemptsLeftCountDownToTheLock(t *testing.T) {
	const max = 3
	e := newEnv(t, func(c *config.Config) {
		c.Auth.MaxLoginFailures, c.Auth.BackoffBase, c.Auth.BackoffMax = max, time.Millisecond, time.Millisecond
	})
	wait := func() { time.Sleep(10 * time.Millisecond) } // past the backoff
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)

	wait()
	res, err := e.alice.LoginDetail(e.ctx, e.n.ID(), wrong)
	if !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) || res.Challenge.AttemptsLeft != max-1 || res.Result.AttemptsLeft != max-1 {
		t.Fatalf("a wrong password: %v, attempts left %d then %d; want UNAUTHENTICATED and %d, %d", err, res.Challenge.GetAttemptsLeft(), res.Result.GetAttemptsLeft(), max-1, max-1)
	}
	wait()
	res, err = e.alice.LoginDetail(e.ctx, e.n.ID(), e.alice.AuthKey(e.n.ID()))
	if err != nil || res.Challenge.AttemptsLeft != max-2 || res.Result.AttemptsLeft != max {
		t.Fatalf("the right password: %v, attempts left %d then %d; want %d, then %d after the reset", err, res.Challenge.GetAttemptsLeft(), res.Result.GetAttemptsLeft(), max-2, max)
	}
	for i := 1; i <= max; i++ {
		wait()
		res, err = e.alice.LoginDetail(e.ctx, e.n.ID(), wrong)
		want, code := uint32(max-i), api.Code_UNAUTHENTICATED
		if i == max {
			code = api.Code_LOCKED
		}
		if !nodetest.IsCode(err, code) || res.Challenge.AttemptsLeft != want || res.Result.AttemptsLeft != want {
			t.Fatalf("wrong password %d: %v, attempts left %d then %d; want %s and %d, %d", i, err, res.Challenge.GetAttemptsLeft(), res.Result.GetAttemptsLeft(), code, want, want)
		}
	}
	wait()
	res, err = e.alice.LoginDetail(e.ctx, e.n.ID(), e.alice.AuthKey(e.n.ID()))
	if !nodetest.IsCode(err, api.Code_LOCKED) || res.Challenge.GetAttemptsLeft() != 0 || len(res.Challenge.GetEvaluated()) != 0 {
		t.Fatalf("the right password on the locked account: %v, %d attempts left; want LOCKED, 0 and no evaluation", err, res.Challenge.GetAttemptsLeft())
	}
}

// TestAChallengeAloneIsCountedAndLogged: a hello without a blinded element
// (a client that holds its login keys already and logs in again) gets no
// evaluation, but the attempt is counted and logged all the same, and the
// right signature logs in and resets it.
func TestAChallengeAloneIsCountedAndLogged(t *testing.T) {
	e := newEnv(t)
	ls, ch, err := e.alice.Hello(e.ctx, e.n.ID(), &api.LoginHello{User: "alice", Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Evaluated) != 0 || len(ch.Proof) != 0 || len(ch.Nonce) != api.NonceSize {
		t.Fatalf("a challenge alone got a %d-byte evaluation, a %d-byte proof, a %d-byte nonce", len(ch.Evaluated), len(ch.Proof), len(ch.Nonce))
	}
	last := e.lastIs(api.EntryKind_EVALUATION, api.Code_OK)
	if last.Epoch != 1 || !strings.Contains(last.Reason, "a challenge alone") || e.failures("alice") != 1 {
		t.Errorf("the EVALUATION entry says epoch %d, %q; alice has %d failures; want epoch 1, a challenge alone, 1", last.Epoch, last.Reason, e.failures("alice"))
	}
	if _, err := ls.Answer(e.sign(e.alice, ch.Nonce)); err != nil {
		t.Fatal(err)
	}
	if f := e.failures("alice"); f != 0 {
		t.Errorf("after the good login alice has %d failures", f)
	}
}

// TestLoginAcrossNodesCombinesToTheDealtKey: each node evaluates with its
// own key share: its answer verifies against the public share dealt to it,
// the answers of any k nodes combine to the output of the whole key, and
// the login keys derived from that output log in at every node, with the
// log of each naming the epoch.
func TestLoginAcrossNodesCombinesToTheDealtKey(t *testing.T) {
	const k = 2
	nodes := []*nodetest.InProcess{nodetest.Start(t), nodetest.Start(t), nodetest.Start(t)}
	ids := make([]peer.ID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID()
	}
	d := nodetest.NewDevice(t, "alice")
	d.Deal(k, ids...)
	ctx := t.Context()
	for _, n := range nodes {
		if err := d.Connect(ctx, n.Info()); err != nil {
			t.Fatal(err)
		}
		if err := d.Enroll(ctx, n.ID(), ""); err != nil {
			t.Fatal(err)
		}
	}

	// One blinded element for every node, as a client sends.
	req := d.Blind()
	defer req.Wipe()
	b := req.Blinded()
	streams := make([]*nodetest.LoginStream, len(nodes))
	challenges := make([]*api.LoginChallenge, len(nodes))
	evals := make([]toprf.Evaluation, len(nodes))
	for i, n := range nodes {
		ls, ch, err := d.Hello(ctx, n.ID(), &api.LoginHello{User: "alice", Epoch: 1, Blinded: b[:]})
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		defer ls.Close()
		streams[i], challenges[i] = ls, ch
		if evals[i], err = req.Verify(d.PublicShare(n.ID(), 1), ch.Evaluated, ch.Proof); err != nil {
			t.Fatalf("node %d's evaluation does not verify against its public share: %v", i+1, err)
		}
		// Against another node's public share it does not.
		if _, err := req.Verify(d.PublicShare(ids[(i+1)%len(ids)], 1), ch.Evaluated, ch.Proof); !errors.Is(err, toprf.ErrProof) {
			t.Fatalf("node %d's evaluation verifies against node %d's public share: %v", i+1, (i+1)%len(ids)+1, err)
		}
	}
	whole := d.Output(1)
	defer whole.Wipe()
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {2, 0}} {
		got, err := req.Finalize(k, []toprf.Evaluation{evals[pair[0]], evals[pair[1]]})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(whole) {
			t.Errorf("nodes %d and %d combine to another output than the dealt key's", pair[0]+1, pair[1]+1)
		}
		got.Wipe()
	}

	out, err := req.Finalize(k, evals[:k])
	if err != nil {
		t.Fatal(err)
	}
	defer out.Wipe()
	for i, n := range nodes {
		key := nodetest.LoginKey(out, d.Master(), n.ID())
		sig := ed25519.Sign(key, api.LoginTranscript([]byte(n.ID()), []byte(d.Host.ID()), "alice", challenges[i].Nonce))
		if _, err := streams[i].Answer(sig); err != nil {
			t.Fatalf("node %d refuses the login key derived from the combined output: %v", i+1, err)
		}
		var seen int
		got := expectEntries(t, n, &seen,
			want{api.EntryKind_ENROLL, "alice", api.Code_OK},
			want{api.EntryKind_EVALUATION, "alice", api.Code_OK},
			want{api.EntryKind_LOGIN, "alice", api.Code_OK})
		for _, e := range got {
			if e.Epoch != 1 {
				t.Errorf("node %d logs %s of epoch %d, want 1", i+1, e.Kind, e.Epoch)
			}
		}
	}
}

// TestPasswordChangeAtANode: the password change protocol needs a session;
// while a new dealing is staged a device logs in under either epoch, each
// with its own password; a commit makes the new one the only one, an abort
// keeps the old one; a stage of another epoch than the next, or a commit or
// abort of one not staged, is refused, and every step is a PASSWORD entry
// naming its epoch.
func TestPasswordChangeAtANode(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth.BackoffBase, c.Auth.BackoffMax = time.Millisecond, time.Millisecond })
	id := e.n.ID()
	step := func(what string, resp *api.PasswdResponse, err error, code api.Code, current, staged uint32) {
		e.t.Helper()
		if code == api.Code_OK && err != nil || code != api.Code_OK && !nodetest.IsCode(err, code) {
			e.t.Fatalf("%s: %v, want %s", what, err, code)
		}
		if resp.GetEpoch() != current || resp.GetStagedEpoch() != staged {
			e.t.Errorf("%s: the node says epochs %d and %d staged, want %d and %d", what, resp.GetEpoch(), resp.GetStagedEpoch(), current, staged)
		}
		last := e.lastIs(api.EntryKind_PASSWORD, code)
		if last.Epoch == 0 || last.User != "alice" {
			e.t.Errorf("%s: the PASSWORD entry names epoch %d of %q", what, last.Epoch, last.User)
		}
	}
	login := func(epoch uint32, password string, code api.Code) {
		e.t.Helper()
		time.Sleep(5 * time.Millisecond) // past the backoff
		e.alice.SetPassword(password)
		err := e.alice.LoginEpoch(e.ctx, id, epoch)
		if code == api.Code_OK && err != nil || code != api.Code_OK && !nodetest.IsCode(err, code) {
			e.t.Fatalf("a login under epoch %d with %q: %v, want %s", epoch, password, err, code)
		}
	}
	const old, next = "correct horse battery staple", "Tr0ub4dor&3"

	// Without a session nothing is staged.
	bob := device(t, e.n, "bob")
	if err := bob.Enroll(e.ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	bob.ChangePassword(next)
	if _, err := bob.Stage(e.ctx, id); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
		t.Fatalf("a stage without a session: %v, want UNAUTHENTICATED", err)
	}

	resp, err := e.alice.Commit(e.ctx, id, 2)
	step("a commit before any stage", resp, err, api.Code_NOT_FOUND, 1, 0)

	e.alice.ChangePassword(next)
	resp, err = e.alice.Stage(e.ctx, id)
	step("the stage of epoch 2", resp, err, api.Code_OK, 1, 2)
	login(1, old, api.Code_OK)
	login(2, next, api.Code_OK)
	login(2, old, api.Code_UNAUTHENTICATED)
	login(1, next, api.Code_UNAUTHENTICATED)

	resp, err = e.alice.Abort(e.ctx, id, 3)
	step("an abort of an epoch not staged", resp, err, api.Code_NOT_FOUND, 1, 2)
	resp, err = e.alice.Commit(e.ctx, id, 2)
	step("the commit of epoch 2", resp, err, api.Code_OK, 2, 0)
	e.alice.UseStaged()
	gone := func(epoch uint32) {
		e.t.Helper()
		h, _ := blindedHello(e.alice, epoch)
		if _, _, err := e.alice.Hello(e.ctx, id, h); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
			e.t.Fatalf("a hello under epoch %d: %v, want NOT_FOUND", epoch, err)
		}
	}
	gone(1)
	login(2, next, api.Code_OK)

	// A stage of epoch 4 while 2 is current skips one: refused. Then 3 is
	// staged and aborted, and 2 stays.
	e.alice.ChangePassword("third") // the device stages epoch 3
	req := &api.PasswdRequest{Step: &api.PasswdRequest_Stage{Stage: &api.PasswdStage{Oprf: nodetest.OprfShare(4, 1), AuthPublicKey: make([]byte, 32)}}}
	resp, err = e.alice.Passwd(e.ctx, id, req)
	step("a stage of epoch 4", resp, err, api.Code_INVALID_ARGUMENT, 2, 0)
	resp, err = e.alice.Stage(e.ctx, id)
	step("the stage of epoch 3", resp, err, api.Code_OK, 2, 3)
	resp, err = e.alice.Abort(e.ctx, id, 3)
	step("the abort of epoch 3", resp, err, api.Code_OK, 2, 0)
	gone(3)
	login(2, next, api.Code_OK)
	e.releasable()
}

// TestPasswordChangeStepsAreChargedToUserWrites: each step is a log
// entry, so a logged-in device's steps are bounded by limits.user_writes,
// as its puts and deletes are.
func TestPasswordChangeStepsAreChargedToUserWrites(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Limits.UserWrites = config.Bucket{Burst: 3, Every: time.Hour} })
	// newEnv's put took one write.
	for i := range 2 {
		if _, err := e.alice.Abort(e.ctx, e.n.ID(), 2); !nodetest.IsCode(err, api.Code_NOT_FOUND) {
			t.Fatalf("step %d within the budget: %v, want NOT_FOUND", i+1, err)
		}
	}
	_, err := e.alice.Abort(e.ctx, e.n.ID(), 2)
	if !nodetest.IsCode(err, api.Code_RATE_LIMITED) {
		t.Fatalf("a step past limits.user_writes: %v, want RATE_LIMITED", err)
	}
	e.lastIs(api.EntryKind_PASSWORD, api.Code_RATE_LIMITED)
}
