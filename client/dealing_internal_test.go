package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client/vault"
)

// silentNodes are TCP listeners that stand in for nodes: they count the
// connections made to them and close each at once, so a client that
// contacts one fails quickly and the test sees that it did.
type silentNodes struct {
	cards []*api.Card
	dials atomic.Int64
}

func newSilentNodes(t *testing.T, n int) *silentNodes {
	t.Helper()
	s := &silentNodes{}
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				s.dials.Add(1)
				c.Close()
			}
		}()
		c := card(t, fmt.Sprintf("n%d", i+1))
		c.Addrs = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port)}
		s.cards = append(s.cards, c)
	}
	return s
}

// newTestVault makes a vault on the network of cards, threshold k.
func newTestVault(t *testing.T, k int, cards []*api.Card) string {
	t.Helper()
	nw, err := NewNetwork(k, cards)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault.json")
	if err := Init(path, nw.Marshal(), "alice"); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTest(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Open(path, Options{Timeout: 2 * time.Second, MaxLoginWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var testPassword = []byte("correct horse battery staple")

// The first enroll deals the OPRF key and saves the vault with the dealing
// before it asks any node, every key share held until its node takes it;
// a later enroll keeps that dealing.
func TestFirstEnrollKeepsTheDealingBeforeAskingAnyNode(t *testing.T) {
	nodes := newSilentNodes(t, 3)
	path := newTestVault(t, 2, nodes.cards)
	c := openTest(t, path)
	if pending, held := c.Enrollment(); len(pending) != 3 || held {
		t.Fatalf("a new vault: pending %v, held %v; want every node, no shares", pending, held)
	}
	tokens := map[string]string{"n1": "t1", "n2": "t2", "n3": "t3"}
	results, err := c.Enroll(context.Background(), testPassword, tokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.State != NotEnrolled || r.Err == nil {
			t.Errorf("%s: %s %v; want not enrolled, unreachable", r.Node, r.State, r.Err)
		}
	}
	if nodes.dials.Load() == 0 {
		t.Fatal("no node was asked")
	}
	if pending, held := c.Enrollment(); len(pending) != 3 || !held {
		t.Fatalf("after a first enroll that reached no node: pending %v, held %v", pending, held)
	}
	c.Close()

	l := readLogin(t, path)
	if l.Epoch != 1 || l.Threshold != 2 || len(l.Nodes) != 3 {
		t.Fatalf("the dealing: epoch %d, threshold %d, %d nodes", l.Epoch, l.Threshold, len(l.Nodes))
	}
	for i, n := range l.Nodes {
		if n.Name != nodes.cards[i].Name || n.PeerID != nodes.cards[i].PeerID || n.Index != i+1 || len(n.KeyShare) == 0 {
			t.Errorf("node %d of the dealing: %s %s index %d, key share held %v", i, n.Name, n.PeerID, n.Index, len(n.KeyShare) > 0)
		}
	}

	c = openTest(t, path)
	if _, err := c.Enroll(context.Background(), []byte("another password"), tokens); err != nil {
		t.Fatal(err)
	}
	c.Close()
	again := readLogin(t, path)
	for i := range l.Nodes {
		if !bytes.Equal(again.Nodes[i].PublicShare, l.Nodes[i].PublicShare) {
			t.Fatal("a second enroll dealt the key again")
		}
	}
}

// readLogin reads the login dealing of the vault at path.
func readLogin(t *testing.T, path string) *vault.Login {
	t.Helper()
	h, err := vault.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v := h.Vault()
	if v.Login == nil {
		t.Fatal("the vault on disk has no login dealing")
	}
	if err := v.CheckLogin(); err != nil {
		t.Fatal(err)
	}
	l := *v.Login
	for i := range l.Nodes {
		l.Nodes[i].KeyShare = bytes.Clone(l.Nodes[i].KeyShare)
	}
	return &l
}

// What the vault can tell is told before any node is asked to evaluate a
// password: no dealing yet means not enrolled anywhere, and a dealing that
// was changed in the file is a damaged vault, not a lying node.
func TestUnlockChecksTheDealingBeforeAskingAnyNode(t *testing.T) {
	nodes := newSilentNodes(t, 3)
	path := newTestVault(t, 2, nodes.cards)

	c := openTest(t, path)
	err := c.Unlock(context.Background(), testPassword)
	var q *QuorumError
	if !errors.As(err, &q) || q.Reason() != ErrNotEnrolled || len(q.Nodes) != 3 {
		t.Fatalf("unlock before any enroll: %v; want not enrolled at every node", err)
	}
	if nodes.dials.Load() != 0 {
		t.Fatal("a node was asked before any enroll")
	}
	if _, err := c.Enroll(context.Background(), testPassword, map[string]string{"n1": "t"}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Another epoch: a valid vault, whose dealing's MAC no longer holds.
	// The dealing is the meta key login, its epoch its first 4 bytes
	// (docs/vault.md).
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		l := bytes.Clone(meta.Get([]byte("login")))
		if len(l) < 4 || binary.BigEndian.Uint32(l) != 1 {
			return errors.New("the vault has no dealing of epoch 1")
		}
		binary.BigEndian.PutUint32(l, 2)
		return meta.Put([]byte("login"), l)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	before := nodes.dials.Load()
	c = openTest(t, path)
	if err := c.Unlock(context.Background(), testPassword); !errors.Is(err, vault.ErrDamagedLogin) {
		t.Fatalf("unlock with a damaged dealing: %v; want ErrDamagedLogin", err)
	}
	if _, err := c.Enroll(context.Background(), testPassword, map[string]string{"n1": "t"}); !errors.Is(err, vault.ErrDamagedLogin) {
		t.Fatalf("enroll with a damaged dealing: %v; want ErrDamagedLogin", err)
	}
	if nodes.dials.Load() != before {
		t.Fatal("a node was asked with a damaged dealing")
	}
}
