package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/zap"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/store"
	"github.com/custos-network/custos/threshold/toprf"
)

// testNode is the login service of one node on a real store in a
// directory, which a test can stop and start again, as a node restarts.
type testNode struct {
	t     *testing.T
	dir   string
	key   []byte // storage key
	id    peer.ID
	cfg   config.Auth
	clock *testClock
	store *store.Store
	svc   *Service
	// verify and evaluate, when set, replace the signature check and the
	// evaluation of every service the node starts.
	verify   func(ed25519.PublicKey, []byte, []byte) bool
	evaluate func(int, []byte, []byte) ([]byte, []byte, error)
}

// testClock is a clock a test moves forward, past backoffs.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestNode(t *testing.T, cfg config.Auth) *testNode {
	t.Helper()
	n := &testNode{t: t, dir: filepath.Join(t.TempDir(), "data"), key: make([]byte, store.StorageKeySize), cfg: cfg,
		clock: &testClock{now: time.Now()}}
	if _, err := rand.Read(n.key); err != nil {
		t.Fatal(err)
	}
	n.id = newPeer(t)
	n.start()
	t.Cleanup(func() { n.store.Close() })
	return n
}

// start opens the store and makes a new service on it, as a node start does.
func (n *testNode) start() {
	n.t.Helper()
	st, err := store.Open(n.dir, n.key, zap.NewNop())
	if err != nil {
		n.t.Fatal(err)
	}
	l, err := audit.New(api.LogOrigin("n1"), ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		n.t.Fatal(err)
	}
	svc, err := New(st, l, n.id, "open", n.cfg, n.clock.Now)
	if err != nil {
		n.t.Fatal(err)
	}
	n.store, n.svc = st, svc
	if n.verify != nil {
		n.svc.verify = n.verify
	}
	if n.evaluate != nil {
		n.svc.evaluate = n.evaluate
	}
}

// restart drops the service, with everything it held in memory, closes the
// store and starts again on the same directory.
func (n *testNode) restart() {
	n.t.Helper()
	if err := n.store.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		n.t.Fatal(err)
	}
	n.start()
}

// account reads user's account from the store.
func (n *testNode) account(user string) *store.Account {
	n.t.Helper()
	var a *store.Account
	err := n.store.View(func(tx *store.Tx) (err error) {
		a, err = tx.Account(user)
		return err
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return a
}

// lastEntries returns the newest count entries of the audit log.
func (n *testNode) lastEntries(count int) []*api.Entry {
	n.t.Helper()
	var out []*api.Entry
	err := n.store.View(func(tx *store.Tx) error {
		size, err := tx.LogSize()
		if err != nil {
			return err
		}
		for i := max(0, size-int64(count)); i < size; i++ {
			b, err := tx.LogEntry(i)
			if err != nil {
				return err
			}
			e, err := api.ParseEntry(b)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return out
}

func newPeer(t testing.TB) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testDevice is an enrolled device: its peer ID, its share of a 2-of-3
// dealing of an OPRF key (index 1), and its login key here. The service
// does not care how the login key was derived, so it is a random one.
type testDevice struct {
	user  string
	id    peer.ID
	share toprf.KeyShare
	key   ed25519.PrivateKey
}

// testPassword stands for the password key the device blinds.
var testPassword = []byte("correct horse battery staple, hashed")

func (n *testNode) enroll(user string) *testDevice {
	n.t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		n.t.Fatal(err)
	}
	r, err := toprf.NewKey()
	if err != nil {
		n.t.Fatal(err)
	}
	defer r.Wipe()
	shares, pubs, err := r.Split(2, 3)
	if err != nil {
		n.t.Fatal(err)
	}
	d := &testDevice{user: user, id: newPeer(n.t), share: shares[0], key: key}
	req := &api.EnrollRequest{
		User: user, AuthPublicKey: key.Public().(ed25519.PublicKey),
		Oprf: &api.OprfShare{Epoch: 1, Index: 1, KeyShare: shares[0].Bytes(), PublicShare: pubs[0].Element[:]},
	}
	if err := n.svc.Enroll(context.Background(), d.id, req); err != nil {
		n.t.Fatal(err)
	}
	return d
}

// hello sends a hello of d under epoch 1 with a freshly blinded password,
// and checks the evaluation it gets against d's public share.
func (n *testNode) hello(ctx context.Context, d *testDevice) (*Challenge, error) {
	n.t.Helper()
	req, err := toprf.Blind(testPassword)
	if err != nil {
		n.t.Fatal(err)
	}
	defer req.Wipe()
	b := req.Blinded()
	c, err := n.svc.Hello(ctx, d.id, &api.LoginHello{User: d.user, Epoch: 1, Blinded: b[:]})
	if err != nil {
		return nil, err
	}
	if !toprf.Verify(d.share.Public(), b[:], c.Evaluated(), c.Proof()) {
		n.t.Fatal("the node's evaluation does not verify against the device's public share")
	}
	return c, nil
}

// login runs a whole login of d with its right login key.
func (n *testNode) login(d *testDevice) error {
	n.t.Helper()
	ctx := context.Background()
	c, err := n.hello(ctx, d)
	if err != nil {
		return err
	}
	sig := ed25519.Sign(d.key, api.LoginTranscript([]byte(n.id), []byte(d.id), d.user, c.Nonce()))
	_, err = n.svc.Login(ctx, c, sig)
	return err
}

// errCrash stands for the node's process dying.
var errCrash = errors.New("the node crashed")

// crashAtCheck makes the node "crash" when it checks a login signature,
// until the test ends: the goroutine stops there, as a killed process
// would, and nothing after that instruction runs.
func (n *testNode) crashAtCheck() {
	n.setVerify(func(ed25519.PublicKey, []byte, []byte) bool { panic(errCrash) })
}

// crashAtEvaluation makes the node "crash" when it evaluates a counted
// attempt's blinded element, until the test ends.
func (n *testNode) crashAtEvaluation() {
	n.setEvaluate(func(int, []byte, []byte) ([]byte, []byte, error) { panic(errCrash) })
}

// setVerify makes f the signature check of the running service and of
// those started after it; nil restores ed25519.Verify.
func (n *testNode) setVerify(f func(ed25519.PublicKey, []byte, []byte) bool) {
	if f == nil {
		f = ed25519.Verify
	}
	n.verify, n.svc.verify = f, f
}

// setEvaluate makes f the evaluation of the running service and of those
// started after it; nil restores evaluateShare.
func (n *testNode) setEvaluate(f func(int, []byte, []byte) ([]byte, []byte, error)) {
	if f == nil {
		f = evaluateShare
	}
	n.evaluate, n.svc.evaluate = f, f
}

// loginCrashing runs a login that crashes the node, and fails the test if
// it did not.
func (n *testNode) loginCrashing(d *testDevice) {
	n.t.Helper()
	defer func() {
		if p := recover(); p != errCrash {
			n.t.Fatalf("the login did not stop where the node was to crash (recovered %v)", p)
		}
	}()
	err := n.login(d)
	n.t.Fatalf("the login finished: %v", err)
}

// TestLoginAttemptStaysCountedWhenTheNodeStopsBeforeTheAnswer: the node
// counts a login attempt durably before it evaluates the OPRF for it and
// before it checks the signature, so a crash or a failing store after the
// count refunds no guess, even for the right password; and a run of
// attempts that never finish locks the account as failures do.
func TestLoginAttemptStaysCountedWhenTheNodeStopsBeforeTheAnswer(t *testing.T) {
	cfg := config.Default("n1").Auth
	cfg.MaxLoginFailures = 3

	t.Run("the count is durable when the evaluation is computed", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		evaluated := 0
		n.setEvaluate(func(index int, key, blinded []byte) ([]byte, []byte, error) {
			evaluated++
			// What another reader of the store sees now, as after a crash.
			if f := n.account("alice").Failures; f != 1 {
				t.Errorf("at the evaluation the store holds %d failures, want 1", f)
			}
			if last := n.lastEntries(1)[0]; last.Kind != api.EntryKind_EVALUATION || last.Epoch != 1 {
				t.Errorf("at the evaluation the log ends with %s of epoch %d, want the EVALUATION of epoch 1", last.Kind, last.Epoch)
			}
			return evaluateShare(index, key, blinded)
		})
		if err := n.login(alice); err != nil {
			t.Fatal(err)
		}
		if evaluated != 1 {
			t.Fatalf("%d evaluations, want 1", evaluated)
		}
	})

	t.Run("a count that fails to commit gets no evaluation", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		n.setEvaluate(func(int, []byte, []byte) ([]byte, []byte, error) {
			t.Error("an attempt was evaluated though its count was never written")
			return nil, nil, errCrash
		})
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the count's update does not run
		if c, err := n.hello(ctx, alice); err == nil || c != nil {
			t.Fatalf("a hello whose count failed was answered (%v)", err)
		}
		if f := n.account("alice").Failures; f != 0 {
			t.Fatalf("alice has %d failures, want 0", f)
		}
	})

	t.Run("a crash at the evaluation keeps the attempt counted", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		n.crashAtEvaluation()
		n.loginCrashing(alice)
		n.restart()
		if f := n.account("alice").Failures; f != 1 {
			t.Fatalf("after the crash and a restart alice has %d failures, want 1", f)
		}
	})

	t.Run("a crash at the signature check keeps the attempt counted", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		n.crashAtCheck()
		n.loginCrashing(alice)
		n.restart()
		if f := n.account("alice").Failures; f != 1 {
			t.Fatalf("after the crash and a restart alice has %d failures, want 1", f)
		}
	})

	t.Run("a store failure before the outcome is recorded keeps the attempt counted", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		n.setVerify(func(pub ed25519.PublicKey, msg, sig []byte) bool {
			n.store.Close()
			return ed25519.Verify(pub, msg, sig)
		})
		if err := n.login(alice); err == nil {
			t.Fatal("a login whose outcome could not be recorded succeeded")
		}
		n.restart()
		if f := n.account("alice").Failures; f != 1 {
			t.Fatalf("after the store failed alice has %d failures, want 1 (the right signature must not refund it)", f)
		}
	})

	for _, at := range []struct {
		name  string
		crash func(n *testNode)
	}{
		{"the evaluation", (*testNode).crashAtEvaluation},
		{"the signature check", (*testNode).crashAtCheck},
	} {
		t.Run("max_login_failures attempts that stop at "+at.name+" lock the account", func(t *testing.T) {
			n := newTestNode(t, cfg)
			alice := n.enroll("alice")
			at.crash(n)
			for range cfg.MaxLoginFailures {
				n.loginCrashing(alice)
				n.restart()
				n.clock.Advance(cfg.BackoffMax) // past the backoff
			}
			n.setVerify(nil)
			n.setEvaluate(nil)
			if err := n.login(alice); !errors.Is(err, api.ErrLocked) {
				t.Fatalf("the login after %d crashes: %v, want LOCKED", cfg.MaxLoginFailures, err)
			}
			n.restart()
			if a := n.account("alice"); !a.Locked {
				t.Fatal("the lock did not survive a restart")
			}
			last := n.lastEntries(2)
			if last[0].Kind != api.EntryKind_LOGIN || last[0].Outcome != api.Code_LOCKED || last[1].Kind != api.EntryKind_LOCK {
				t.Errorf("the log ends %s/%s, %s; want the refused LOGIN and the LOCK", last[0].Kind, last[0].Outcome, last[1].Kind)
			}
			if err := n.login(alice); !errors.Is(err, api.ErrLocked) {
				t.Fatalf("the right password on a locked account: %v, want LOCKED", err)
			}
		})
	}
}

// TestUnansweredEvaluationsLockTheAccount: every evaluation a node answers
// is a counted guess, whether or not a signature follows: after
// max_login_failures of them without a good signature the account locks,
// and the hellos say how many are left, counting down. A good signature
// resets the count.
func TestUnansweredEvaluationsLockTheAccount(t *testing.T) {
	cfg := config.Default("n1").Auth
	cfg.MaxLoginFailures = 3
	ctx := context.Background()

	t.Run("evaluations without signatures lock at max_login_failures", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		for i := 1; i <= cfg.MaxLoginFailures; i++ {
			c, err := n.hello(ctx, alice)
			if err != nil {
				t.Fatalf("hello %d: %v", i, err)
			}
			if left := c.AttemptsLeft(); left != cfg.MaxLoginFailures-i {
				t.Errorf("hello %d: %d attempts left, want %d", i, left, cfg.MaxLoginFailures-i)
			}
			n.clock.Advance(cfg.BackoffMax)
		}
		evaluated := false
		n.setEvaluate(func(index int, key, blinded []byte) ([]byte, []byte, error) {
			evaluated = true
			return evaluateShare(index, key, blinded)
		})
		if _, err := n.hello(ctx, alice); !errors.Is(err, api.ErrLocked) {
			t.Fatalf("hello %d: %v, want LOCKED", cfg.MaxLoginFailures+1, err)
		}
		if evaluated {
			t.Error("the node evaluated past max_login_failures")
		}
		if a := n.account("alice"); !a.Locked || a.Failures != cfg.MaxLoginFailures {
			t.Errorf("alice is locked %v with %d failures; want locked with %d", a.Locked, a.Failures, cfg.MaxLoginFailures)
		}
	})

	t.Run("a good signature resets the count", func(t *testing.T) {
		n := newTestNode(t, cfg)
		alice := n.enroll("alice")
		for range cfg.MaxLoginFailures - 1 {
			if _, err := n.hello(ctx, alice); err != nil {
				t.Fatal(err)
			}
			n.clock.Advance(cfg.BackoffMax)
		}
		c, err := n.hello(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if c.AttemptsLeft() != 0 {
			t.Fatalf("the last hello leaves %d attempts, want 0", c.AttemptsLeft())
		}
		sig := ed25519.Sign(alice.key, api.LoginTranscript([]byte(n.id), []byte(alice.id), alice.user, c.Nonce()))
		if _, err := n.svc.Login(ctx, c, sig); err != nil {
			t.Fatalf("the right signature on the last attempt: %v", err)
		}
		if c.AttemptsLeft() != cfg.MaxLoginFailures {
			t.Errorf("after the good login %d attempts are left, want %d", c.AttemptsLeft(), cfg.MaxLoginFailures)
		}
		if a := n.account("alice"); a.Failures != 0 || !a.NextAttempt.IsZero() {
			t.Errorf("after the good login alice has %d failures and waits until %v; want 0 and no wait", a.Failures, a.NextAttempt)
		}
	})
}
