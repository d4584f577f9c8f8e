package node_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestLoginSignedForAnotherNodeIsRefusedAndCounted: a login answer holds
// only at the node its transcript names. A signature over a transcript that
// names another node is refused and counted as a failed guess, whether it
// is made with the device's login key for that node (the same password: the
// answer another node could relay) or with its key for this one.
func TestLoginSignedForAnotherNodeIsRefusedAndCounted(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Auth.BackoffBase, c.Auth.BackoffMax = time.Millisecond, time.Millisecond })
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	// signFor signs the login transcript naming node, with key.
	signFor := func(node peer.ID, key ed25519.PrivateKey) func(nonce []byte) []byte {
		return func(nonce []byte) []byte {
			return ed25519.Sign(key, api.LoginTranscript([]byte(node), []byte(e.alice.Host.ID()), "alice", nonce))
		}
	}
	cases := []struct {
		name string
		sign func(nonce []byte) []byte
	}{
		{"the login key for the other node, over a transcript naming it", signFor(other, e.alice.AuthKey(other))},
		{"the login key for this node, over a transcript naming the other", signFor(other, e.alice.AuthKey(e.n.ID()))},
	}
	for i, c := range cases {
		time.Sleep(10 * time.Millisecond) // past the backoff
		l := e.hello(e.alice)
		if err := l.answer(c.sign(l.nonce)); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
			t.Fatalf("%s: %v, want UNAUTHENTICATED", c.name, err)
		}
		e.lastIs(api.EntryKind_LOGIN, api.Code_UNAUTHENTICATED)
		if f := e.failures("alice"); f != i+1 {
			t.Fatalf("%s: alice has %d failures, want %d", c.name, f, i+1)
		}
	}
	// The same exchange, signed for this node, logs in and resets the count.
	time.Sleep(10 * time.Millisecond)
	l := e.hello(e.alice)
	if err := l.answer(signFor(e.n.ID(), e.alice.AuthKey(e.n.ID()))(l.nonce)); err != nil {
		t.Fatalf("the answer signed for this node: %v", err)
	}
	if f := e.failures("alice"); f != 0 {
		t.Errorf("after a good login alice has %d failures, want 0", f)
	}
}
