package client

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/custos-network/custos/threshold"
	"github.com/custos-network/custos/threshold/toprf"
)

// testPasswordKey is the Argon2id hash of a test password, made once.
var testPasswordKey = sync.OnceValues(func() (threshold.PasswordKey, error) {
	kdf, err := threshold.NewPasswordKDF()
	if err != nil {
		return threshold.PasswordKey{}, err
	}
	return kdf.Derive([]byte("correct horse battery staple"))
})

// testDealing deals a fresh OPRF key k of n, and returns the dealing as a
// client keeps it (no key share held), the key shares as the nodes hold
// them, and the output the whole key gives for pwh.
func testDealing(t *testing.T, k, n int, pwh threshold.PasswordKey) (*dealing, []toprf.KeyShare, []byte) {
	t.Helper()
	key, err := toprf.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	defer key.Wipe()
	keys, pubs, err := key.Split(k, n)
	if err != nil {
		t.Fatal(err)
	}
	out, err := key.Output(pwh.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Wipe()
	return &dealing{epoch: 1, k: k, pubs: pubs, held: make([]*toprf.KeyShare, n)}, keys, bytes.Clone(out.Bytes())
}

// capture is a round's derive that keeps a copy of the output, for tests.
type capture struct {
	mu    sync.Mutex
	calls int
	out   []byte
}

func (c *capture) derive(out toprf.Output, m threshold.MasterSecret) error {
	if m.IsZero() {
		return errors.New("no master secret")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.out = bytes.Clone(out.Bytes())
	return nil
}

func newTestRound(t *testing.T, d *dealing, pwh threshold.PasswordKey, nodes int, c *capture) *loginRound {
	t.Helper()
	m, err := threshold.NewMasterSecret()
	if err != nil {
		t.Fatal(err)
	}
	r, err := newLoginRound(d, pwh, m, nodes, c.derive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return r
}

// nodeAnswer is what an honest node i sends for the round's blinded element.
func nodeAnswer(t *testing.T, ks toprf.KeyShare, r *loginRound) (z, proof []byte) {
	t.Helper()
	zz, pp, err := ks.Evaluate(r.blinded())
	if err != nil {
		t.Fatal(err)
	}
	return zz[:], pp[:]
}

func waitRound(t *testing.T, r *loginRound) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.wait(ctx)
}

// The login keys come from the output of the whole key, whichever k nodes
// answer first, the answers verified in parallel as they arrive; the keys
// are made once.
func TestLoginRoundCombinesAnyKEvaluations(t *testing.T) {
	pwh, err := testPasswordKey()
	if err != nil {
		t.Fatal(err)
	}
	d, keys, want := testDealing(t, 3, 5, pwh)
	for _, answering := range [][]int{{0, 1, 2}, {4, 2, 0}, {1, 3, 4}, {0, 1, 2, 3, 4}} {
		c := &capture{}
		r := newTestRound(t, d, pwh, len(answering), c)
		var wg sync.WaitGroup
		for _, i := range answering {
			z, p := nodeAnswer(t, keys[i], r)
			wg.Go(func() {
				if err := r.verify(i, z, p); err != nil {
					t.Errorf("node %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if err := waitRound(t, r); err != nil {
			t.Fatalf("nodes %v: %v", answering, err)
		}
		if c.calls != 1 || !bytes.Equal(c.out, want) {
			t.Errorf("nodes %v: %d derivations, output equal to the whole key's: %v", answering, c.calls, bytes.Equal(c.out, want))
		}
	}
}

// A node whose answer does not verify (another share's evaluation, a
// broken proof, bytes that are no element) is ErrBadEvaluation and left
// out: k good ones still make the keys; with fewer the round ends without
// keys, and every node waiting on it hears so.
func TestLoginRoundDropsBadEvaluations(t *testing.T) {
	pwh, err := testPasswordKey()
	if err != nil {
		t.Fatal(err)
	}
	d, keys, want := testDealing(t, 3, 5, pwh)
	lies := map[string]func(z, p []byte) ([]byte, []byte){
		"another share's evaluation": nil, // filled in below
		"a broken proof":             func(z, p []byte) ([]byte, []byte) { p[3] ^= 1; return z, p },
		"no element":                 func(z, p []byte) ([]byte, []byte) { return bytes.Repeat([]byte{0xff}, 32), p },
		"an element changed":         func(z, p []byte) ([]byte, []byte) { z[0] ^= 4; return z, p },
	}
	for name, lie := range lies {
		for _, liars := range [][]int{{1}, {0, 4}, {1, 2, 3}} {
			c := &capture{}
			r := newTestRound(t, d, pwh, 5, c)
			bad := 0
			for i := range 5 {
				z, p := nodeAnswer(t, keys[i], r)
				liar := false
				for _, l := range liars {
					liar = liar || l == i
				}
				if liar {
					if lie == nil {
						z, p = nodeAnswer(t, keys[(i+1)%5], r)
					} else {
						z, p = lie(z, p)
					}
				}
				err := r.verify(i, z, p)
				if liar != errors.Is(err, ErrBadEvaluation) {
					t.Fatalf("%s, liars %v: node %d: %v", name, liars, i, err)
				}
				if liar {
					bad++
				}
			}
			err := waitRound(t, r)
			switch {
			case 5-bad >= 3 && (err != nil || !bytes.Equal(c.out, want)):
				t.Errorf("%s, liars %v: %v; want the whole key's output from the honest nodes", name, liars, err)
			case 5-bad < 3 && (!errors.Is(err, errNoLoginKeys) || c.calls != 0):
				t.Errorf("%s, liars %v: %v after %d derivations; want errNoLoginKeys and none", name, liars, err, c.calls)
			}
		}
	}
}

// Nodes that give no answer at all count like liars: the round ends as
// soon as k can no longer be reached, not at a timeout.
func TestLoginRoundEndsWhenKIsOutOfReach(t *testing.T) {
	pwh, err := testPasswordKey()
	if err != nil {
		t.Fatal(err)
	}
	d, keys, _ := testDealing(t, 3, 5, pwh)
	c := &capture{}
	r := newTestRound(t, d, pwh, 5, c)
	z, p := nodeAnswer(t, keys[0], r)
	if err := r.verify(0, z, p); err != nil {
		t.Fatal(err)
	}
	r.fail()
	r.fail()
	if r.closed() {
		t.Fatal("the round ended with 3 of 5 still possible")
	}
	r.fail()
	if err := waitRound(t, r); !errors.Is(err, errNoLoginKeys) {
		t.Fatalf("wait = %v, want errNoLoginKeys", err)
	}
	// An answer after the end makes no keys.
	z, p = nodeAnswer(t, keys[4], r)
	if err := r.verify(4, z, p); err != nil || c.calls != 0 {
		t.Fatalf("a late answer: %v, %d derivations", err, c.calls)
	}
}

// The key shares the vault holds during an unfinished enrollment evaluate
// as their nodes would, and count toward k; a node that also answers for
// the same index is counted once.
func TestLoginRoundUsesHeldKeyShares(t *testing.T) {
	pwh, err := testPasswordKey()
	if err != nil {
		t.Fatal(err)
	}
	d, keys, want := testDealing(t, 3, 5, pwh)
	d.held[1], d.held[3] = &keys[1], &keys[3]
	c := &capture{}
	r := newTestRound(t, d, pwh, 5, c)
	r.evaluateHeld()
	if r.closed() {
		t.Fatal("two held shares ended a round of threshold 3")
	}
	for _, i := range []int{1, 2} {
		z, p := nodeAnswer(t, keys[i], r)
		if err := r.verify(i, z, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitRound(t, r); err != nil || c.calls != 1 || !bytes.Equal(c.out, want) {
		t.Fatalf("wait = %v after %d derivations; want the whole key's output once", err, c.calls)
	}

	all := &dealing{epoch: 1, k: 3, pubs: d.pubs, held: []*toprf.KeyShare{&keys[0], &keys[1], &keys[2], &keys[3], &keys[4]}}
	c = &capture{}
	r = newTestRound(t, all, pwh, 5, c)
	r.evaluateHeld()
	if err := waitRound(t, r); err != nil || !bytes.Equal(c.out, want) {
		t.Fatalf("a dealing no node holds yet: %v", err)
	}
}

// Once closed, a round that made no keys makes none: its blind and master
// secret are wiped.
func TestLoginRoundClosedMakesNoKeys(t *testing.T) {
	pwh, err := testPasswordKey()
	if err != nil {
		t.Fatal(err)
	}
	d, keys, _ := testDealing(t, 2, 3, pwh)
	c := &capture{}
	r := newTestRound(t, d, pwh, 3, c)
	z0, p0 := nodeAnswer(t, keys[0], r)
	z1, p1 := nodeAnswer(t, keys[1], r)
	if err := r.verify(0, z0, p0); err != nil {
		t.Fatal(err)
	}
	r.close()
	if err := r.verify(1, z1, p1); err != nil {
		t.Fatal(err)
	}
	if err := waitRound(t, r); err == nil || c.calls != 0 {
		t.Fatalf("a closed round: %v after %d derivations; want an error and none", err, c.calls)
	}
}
