package client_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/node/nodetest"
	"github.com/custos-network/custos/node/store"
)

// subnet is the network file of tn's nodes at indexes (from 0), threshold k.
func (tn *testNet) subnet(t testing.TB, k int, indexes ...int) []byte {
	t.Helper()
	var cards []*api.Card
	for _, i := range indexes {
		card, err := tn.nodes[i].Admin().Card(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, card)
	}
	nw, err := client.NewNetwork(k, cards)
	if err != nil {
		t.Fatal(err)
	}
	return nw.Marshal()
}

// tokensAt are invite tokens for user from tn's nodes at indexes.
func (tn *testNet) tokensAt(t testing.TB, user string, indexes ...int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, i := range indexes {
		inv, err := tn.nodes[i].Admin().Invite(context.Background(), user, 0)
		if err != nil {
			t.Fatal(err)
		}
		out[tn.nodes[i].Config.Name] = inv.Token
	}
	return out
}

// vaultOn makes a vault for user on the network file of tn's nodes at
// indexes, threshold k, enrolled at each.
func (tn *testNet) vaultOn(t testing.TB, user string, k int, indexes ...int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), user+".vault")
	if err := client.Init(path, tn.subnet(t, k, indexes...), user); err != nil {
		t.Fatal(err)
	}
	c := open(t, path, client.Options{})
	if _, err := c.Enroll(context.Background(), password, tn.tokensAt(t, user, indexes...)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	return path
}

var (
	oldNodes  = []int{0, 1, 2, 3, 4}       // n1..n5, 3 of 5
	newNodes  = []int{0, 1, 2, 5, 6, 7, 8} // n4, n5 replaced by n6, n7; n8, n9 added: 4 of 7
	joinNodes = []int{5, 6, 7, 8}
)

func TestReshareFrom3Of5To4Of7WithTwoNodesReplaced(t *testing.T) {
	tn := startNet(t, 9, 3, nil)
	ctx := context.Background()
	path := tn.vaultOn(t, "alice", 3, oldNodes...)
	c := open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 6 {
		l := fmt.Sprintf("r%d", i)
		want[l] = fmt.Sprintf("secret %d", i)
		if err := c.Put(ctx, l, &client.Record{Username: "u", Password: want[l]}, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	newFile := tn.subnet(t, 4, newNodes...)
	tokens := tn.tokensAt(t, "alice", joinNodes...)
	plan, err := c.PlanReshare(newFile, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(plan.Stay, plan.Join, plan.Leave, plan.Records, plan.OldThreshold, plan.NewThreshold, plan.MissingTokens) !=
		"[n1 n2 n3] [n6 n7 n8 n9] [n4 n5] 6 3 4 []" {
		t.Fatalf("plan: %+v", plan)
	}
	res, err := c.Reshare(ctx, newFile, password, tokens, client.ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Moved != 6 || len(res.Unreached) != 0 {
		t.Fatalf("reshare result: %+v", res)
	}
	c.Close()

	for _, i := range []int{3, 4} {
		if st := status(t, tn.nodes[i]); st.Shares != 0 || st.Accounts != 0 {
			t.Fatalf("n%d left the network and still holds %d shares and %d accounts", i+1, st.Shares, st.Accounts)
		}
		heldOnlyInLog(t, tn.nodes[i], "alice")
	}
	c = open(t, path, client.Options{})
	if nw := c.Network(); nw.Threshold != 4 || len(nw.Nodes) != 7 {
		t.Fatalf("the vault's network after the reshare: %d of %d", nw.Threshold, len(nw.Nodes))
	}
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatalf("unlock at the new network: %v", err)
	}
	for _, u := range list(t, c) {
		if u.Threshold != 4 || u.Nodes != 7 || u.Degraded {
			t.Fatalf("%s after the reshare: %+v", u.Label, u)
		}
	}
	c.Close()
	// Any 4 of the 7 open every record; 3 do not. The others are stopped
	// (SIGSTOP): they accept connections and never answer.
	c = open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	var labels []string
	for l := range want {
		labels = append(labels, l)
	}
	for _, up := range [][]int{{0, 1, 2, 5}, {5, 6, 7, 8}, {0, 2, 6, 8}} {
		resume := tn.pauseAllBut(t, newNodes, up)
		recs, err := c.GetMany(ctx, labels)
		if err != nil {
			t.Fatalf("get with only nodes %v of the 7 answering: %v", up, err)
		}
		for i, l := range labels {
			if recs[i].Password != want[l] {
				t.Fatalf("%s with only nodes %v answering: %q", l, up, recs[i].Password)
			}
		}
		resume()
	}
	resume := tn.pauseAllBut(t, newNodes, []int{1, 5, 7})
	defer resume()
	if _, err := c.Get(ctx, "r0"); !errors.Is(err, client.ErrNotEnoughCustodians) {
		t.Fatalf("get with 3 of 7 nodes answering: %v; want ErrNotEnoughCustodians", err)
	}
}

// pauseAllBut stops (SIGSTOP) tn's nodes at indexes of, but those of up,
// and returns what continues them (SIGCONT), which the test's cleanup
// calls too.
func (tn *testNet) pauseAllBut(t *testing.T, of, up []int) (resume func()) {
	t.Helper()
	var paused []*nodetest.Process
	for _, i := range of {
		if slices.Contains(up, i) {
			continue
		}
		if err := tn.nodes[i].Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		paused = append(paused, tn.nodes[i])
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			for _, p := range paused {
				if err := p.Signal(syscall.SIGCONT); err != nil {
					t.Errorf("continue %s: %v", p.Config.Name, err)
				}
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// heldOnlyInLog stops node p, which left user's network, and checks in its
// store that it holds nothing of user's (no account, no OPRF key share of
// the first epochs, no share) but its log, which records the account's
// closing.
func heldOnlyInLog(t *testing.T, p *nodetest.Process, user string) {
	t.Helper()
	closed := 0
	for _, e := range loggedEntries(t, p, user) {
		if e.Kind == api.EntryKind_ACCOUNT_CLOSE && e.Outcome == api.Code_OK {
			closed++
		}
	}
	if closed != 1 {
		t.Errorf("%s's log has %d closings of %s's account; want 1", p.Config.Name, closed, user)
	}
	s := stoppedStore(t, p)
	defer s.Close()
	err := s.View(func(tx *store.Tx) error {
		if _, err := tx.Account(user); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s's account of %s: %v; want none", p.Config.Name, user, err)
		}
		for epoch := uint32(1); epoch <= 4; epoch++ {
			if _, err := tx.OprfKeyShare(user, epoch); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s's OPRF key share of %s, epoch %d: %v; want none", p.Config.Name, user, epoch, err)
			}
		}
		units, err := tx.Units(user)
		if err == nil && len(units) != 0 {
			t.Errorf("%s holds %d shares of %s", p.Config.Name, len(units), user)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stoppedStore stops node p, unless it exited already, and opens its
// store, which the caller closes.
func stoppedStore(t *testing.T, p *nodetest.Process) *store.Store {
	t.Helper()
	if !p.Exited() {
		p.Stop(t)
	}
	return p.OpenStore(t)
}

// reshareKills are the steps of a reshare a kill is simulated at.
var reshareKills = []string{"reshare delivered", "staged", "put n6", "placed", "committed", "deleted", "closed n4", "reshare moved", "reshare finished"}

func TestAReshareKilledAtAnyStepLeavesEveryRecordOpenAndTheNextRunFinishesIt(t *testing.T) {
	tn := startNet(t, 9, 3, nil)
	ctx := context.Background()
	newFile := tn.subnet(t, 4, newNodes...)
	for u, step := range reshareKills {
		t.Run(step, func(t *testing.T) {
			user := fmt.Sprintf("u%d", u)
			path := tn.vaultOn(t, user, 3, oldNodes...)
			c := open(t, path, client.Options{})
			if err := c.Unlock(ctx, password); err != nil {
				t.Fatal(err)
			}
			for _, l := range []string{"a", "b"} {
				if err := c.Put(ctx, l, &client.Record{Username: "u", Password: "p" + l}, client.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			tokens := tn.tokensAt(t, user, joinNodes...)
			c.SetChangeFault(func(s string) error {
				if s == step {
					return client.ErrChangeFault
				}
				return nil
			})
			if _, err := c.Reshare(ctx, newFile, password, tokens, client.ChangeOptions{}); !errors.Is(err, client.ErrChangeFault) {
				t.Fatalf("reshare killed at %s: %v", step, err)
			}
			c.Close()

			// The records still on the old network open with it.
			c = open(t, path, client.Options{})
			if c.Network().Threshold == 3 {
				if err := c.Unlock(ctx, password); err != nil {
					t.Fatal(err)
				}
				for _, u := range list(t, c) {
					if u.Threshold == 3 {
						if got := mustGet(t, c, u.Label); got.Password != "p"+u.Label {
							t.Fatalf("%s on the old network holds %q", u.Label, got.Password)
						}
					}
				}
				if err := c.Rotate(ctx, nil, client.ChangeOptions{}); !errors.Is(err, client.ErrReshareUnderWay) {
					t.Fatalf("a rotation while a reshare is under way: %v; want ErrReshareUnderWay", err)
				}
				if _, err := c.Reshare(ctx, tn.subnet(t, 2, 0, 1, 2), password, nil, client.ChangeOptions{}); !errors.Is(err, client.ErrReshareUnderWay) {
					t.Fatalf("a reshare to another file while one is under way: %v; want ErrReshareUnderWay", err)
				}
			}
			// The next run finishes it.
			res, err := c.Reshare(ctx, newFile, password, nil, client.ChangeOptions{})
			if err != nil {
				t.Fatalf("the reshare after the kill: %v", err)
			}
			if len(res.Unreached) != 0 {
				t.Fatalf("the reshare after the kill names nodes that left unconfirmed: %v", res.Unreached)
			}
			c.Close()
			c = open(t, path, client.Options{})
			if err := c.Unlock(ctx, password); err != nil {
				t.Fatal(err)
			}
			for _, u := range list(t, c) {
				if u.Threshold != 4 || u.Nodes != 7 {
					t.Fatalf("%s after the finished reshare: %+v", u.Label, u)
				}
				if got := mustGet(t, c, u.Label); got.Password != "p"+u.Label {
					t.Fatalf("%s after the finished reshare holds %q", u.Label, got.Password)
				}
			}
			if pend, _ := c.PendingChanges(); len(pend) != 0 {
				t.Fatalf("changes left under way: %+v", pend)
			}
			for _, i := range []int{3, 4} {
				if got := status(t, tn.nodes[i]).Shares; got != 0 {
					t.Fatalf("n%d left the network and still holds %d shares", i+1, got)
				}
				users, err := tn.nodes[i].Admin().Users(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range users {
					if a.User == user {
						t.Fatalf("n%d left the network and still holds the account of %s: %+v", i+1, user, a)
					}
				}
			}
			total := 2 * (u + 1)
			for _, i := range newNodes {
				if got := status(t, tn.nodes[i]).Shares; got != total {
					t.Fatalf("n%d holds %d shares; want %d (each record's one version)", i+1, got, total)
				}
			}
		})
	}
}
