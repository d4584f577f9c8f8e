package node_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
	custos "github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/auditor"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// TestLoginV2LogsVerifyInFull: the entries of login v2 (EVALUATION per
// counted attempt, LOGIN per signature check, PASSWORD per password change
// step) each name their epoch, and a log made of them, with wrong
// passwords, a challenge alone and a password change, passes an auditor's
// full verification (custos audit verify --full) at every node.
func TestLoginV2LogsVerifyInFull(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "auditor.key")
	aid, err := auditor.NewKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := auditor.LoadKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := func(c *config.Config) {
		c.Auditors = []string{aid.String()}
		c.Auth.BackoffBase, c.Auth.BackoffMax = time.Millisecond, time.Millisecond
	}
	nodes := []*nodetest.InProcess{nodetest.StartNamed(t, "n1", opts), nodetest.StartNamed(t, "n2", opts), nodetest.StartNamed(t, "n3", opts)}
	ids := make([]peer.ID, len(nodes))
	cards := make([]*api.Card, len(nodes))
	for i, n := range nodes {
		ids[i], cards[i] = n.ID(), n.Card()
	}
	ctx := t.Context()
	alice := nodetest.NewDevice(t, "alice")
	alice.Deal(2, ids...)
	_, wrong, _ := ed25519.GenerateKey(rand.Reader)
	const next = "Tr0ub4dor&3"
	for _, n := range nodes {
		id := n.ID()
		steps := []struct {
			what string
			run  func() error
		}{
			{"connect", func() error { return alice.Connect(ctx, n.Info()) }},
			{"enroll", func() error { return alice.Enroll(ctx, id, "") }},
			{"a wrong password", func() error {
				if err := alice.LoginWith(ctx, id, wrong); !nodetest.IsCode(err, api.Code_UNAUTHENTICATED) {
					return err
				}
				return nil
			}},
			{"the right one", func() error { return alice.Login(ctx, id) }},
			{"a challenge alone", func() error {
				ls, _, err := alice.Hello(ctx, id, &api.LoginHello{User: "alice", Epoch: 1})
				if err == nil {
					ls.Close()
				}
				return err
			}},
			{"a stage", func() error {
				alice.ChangePassword(next)
				_, err := alice.Stage(ctx, id)
				return err
			}},
			{"a login under the staged epoch", func() error {
				alice.SetPassword(next)
				defer alice.SetPassword("correct horse battery staple")
				return alice.LoginEpoch(ctx, id, 2)
			}},
			{"the commit", func() error {
				_, err := alice.Commit(ctx, id, 2)
				return err
			}},
		}
		for _, s := range steps {
			time.Sleep(5 * time.Millisecond) // past the backoff
			if err := s.run(); err != nil {
				t.Fatalf("%s: %s: %v", n.Config.Name, s.what, err)
			}
		}
		kinds := map[api.EntryKind]int{}
		for _, e := range entries(t, n, 0) {
			kinds[e.Kind]++
			switch e.Kind {
			case api.EntryKind_ENROLL, api.EntryKind_EVALUATION, api.EntryKind_LOGIN, api.EntryKind_PASSWORD:
				if e.Epoch == 0 {
					t.Errorf("%s: a %s entry names no epoch", n.Config.Name, e.Kind)
				}
			}
		}
		if kinds[api.EntryKind_EVALUATION] != 4 || kinds[api.EntryKind_LOGIN] != 3 || kinds[api.EntryKind_PASSWORD] != 2 {
			t.Errorf("%s logs %v; want 4 EVALUATION, 3 LOGIN, 2 PASSWORD", n.Config.Name, kinds)
		}
	}

	network, err := custos.NewNetwork(2, cards)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := auditor.Verify(ctx, network, key, filepath.Join(dir, "state"), auditor.Options{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Nodes {
		if !r.OK() {
			t.Errorf("audit verify --full: %s", r.String())
		}
	}
}
