package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
)

func mustGet(t *testing.T, c *client.Client, label string) client.Record {
	t.Helper()
	rec, err := c.Get(context.Background(), label)
	if err != nil {
		t.Fatalf("get %s: %v", label, err)
	}
	return *rec
}

func TestReplaceMakesANewVersionAndDeletesTheOldAtEveryNode(t *testing.T) {
	tn := startNet(t, 3, 2, nil)
	c, _ := tn.unlocked(t, "alice", client.Options{})
	ctx := context.Background()
	if err := c.Put(ctx, "acme", &client.Record{Username: "svc", Password: "old secret"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(ctx, "acme", &client.Record{Username: "svc", Password: "new secret"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, "acme"); got.Password != "new secret" {
		t.Fatalf("after replace: %q", got.Password)
	}
	if u := list(t, c); len(u) != 1 || u[0].Version != 2 || u[0].Degraded {
		t.Fatalf("after replace: %+v", u)
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("shares at the nodes after replace: %v; want the new version's alone", got)
	}
	if err := c.Replace(ctx, "nope", &client.Record{Password: "x"}, client.PutOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("replace of a missing record: %v; want ErrNotFound", err)
	}
}

func TestRotateGivesNewServerKeysAndKeepsTheContents(t *testing.T) {
	tn := startNet(t, 3, 2, nil)
	c, _ := tn.unlocked(t, "alice", client.Options{})
	ctx := context.Background()
	for i := range 3 {
		if err := c.Put(ctx, fmt.Sprintf("r%d", i), &client.Record{Username: "u", Password: fmt.Sprintf("p%d", i)}, client.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int
	if err := c.Rotate(ctx, nil, client.ChangeOptions{Progress: func(done, total int) { seen = append(seen, done, total) }}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{0, 3, 3, 3}) {
		t.Fatalf("progress told %v; want 3 of 3", seen)
	}
	for i, u := range list(t, c) {
		if u.Version != 2 {
			t.Fatalf("%s is at version %d after a rotation", u.Label, u.Version)
		}
		if got := mustGet(t, c, u.Label); got.Password != fmt.Sprintf("p%d", i) {
			t.Fatalf("%s holds %q after a rotation", u.Label, got.Password)
		}
	}
	if got := tn.shareCounts(t); !slices.Equal(got, []int{3, 3, 3}) {
		t.Fatalf("shares at the nodes after rotate: %v", got)
	}
}

// killPoints are the steps of a change that a kill is simulated at: before
// any share is placed, with a share placed at one node only, with every
// share placed, after the commit in the vault, after the old versions'
// deletes.
var killPoints = []string{"staged", "put n1", "placed", "committed", "deleted"}

func TestAChangeKilledAtAnyStepLeavesEveryRecordOpenAndTheNextUnlockFinishesIt(t *testing.T) {
	tn := startNet(t, 3, 2, nil)
	ctx := context.Background()
	want := map[string]string{"a": "pa", "b": "pb"}
	users := 0
	for _, op := range []string{"replace", "rotate"} {
		for _, step := range killPoints {
			t.Run(op+" killed at "+step, func(t *testing.T) {
				users++
				c, path := tn.unlocked(t, fmt.Sprintf("u%d", users), client.Options{})
				for _, l := range []string{"a", "b"} {
					if err := c.Put(ctx, l, &client.Record{Username: "u", Password: want[l]}, client.PutOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				c.SetChangeFault(func(s string) error {
					if s == step {
						return client.ErrChangeFault
					}
					return nil
				})
				var err error
				after := maps(want)
				if op == "replace" {
					after["a"] = "pa new"
					err = c.Replace(ctx, "a", &client.Record{Username: "u", Password: "pa new"}, client.PutOptions{})
				} else {
					err = c.Rotate(ctx, nil, client.ChangeOptions{})
				}
				if !errors.Is(err, client.ErrChangeFault) {
					t.Fatalf("%s with a kill at %s: %v", op, step, err)
				}
				c.Close()

				// Before anything is resumed, every record opens: at its
				// old version, or at its new one once committed.
				c = open(t, path, client.Options{})
				c.SetChangeFault(func(s string) error {
					if s == "resume" {
						return client.ErrChangeFault
					}
					return nil
				})
				if err := c.Unlock(ctx, password); err != nil {
					t.Fatal(err)
				}
				for l := range want {
					if got := mustGet(t, c, l).Password; got != want[l] && got != after[l] {
						t.Fatalf("%s before the resume holds %q", l, got)
					}
				}
				c.Close()

				// The next unlock finishes the change.
				c = open(t, path, client.Options{})
				if err := c.Unlock(ctx, password); err != nil {
					t.Fatal(err)
				}
				if pend, err := c.PendingChanges(); err != nil || len(pend) != 0 {
					t.Fatalf("changes still under way after the resume: %+v, %v", pend, err)
				}
				for l := range want {
					if got := mustGet(t, c, l).Password; got != after[l] {
						t.Fatalf("%s after the resume holds %q, want %q", l, got, after[l])
					}
				}
				for _, u := range list(t, c) {
					if u.Version < 2 && (op == "rotate" || u.Label == "a") {
						t.Fatalf("%s is still at version %d after the resume", u.Label, u.Version)
					}
				}
				if got := tn.shareCounts(t); !slices.Equal(got, []int{2 * users, 2 * users, 2 * users}) {
					t.Fatalf("shares at the nodes: %v; want %d each (every other version deleted)", got, 2*users)
				}
			})
		}
	}
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// A delete of a replaced version that a node missed is retried at the next
// unlock as part of the replace: the node logs it as what it was.
func TestRetriedDeleteOfAChangeIsLoggedAsTheChange(t *testing.T) {
	tn := startNet(t, 4, 2, nil)
	c, path := tn.unlocked(t, "alice", client.Options{})
	ctx := context.Background()
	if err := c.Put(ctx, "acme", &client.Record{Password: "old secret"}, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	away := tn.nodes[3]
	if err := away.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c = open(t, path, client.Options{Timeout: 2 * time.Second})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(ctx, "acme", &client.Record{Password: "new secret"}, client.PutOptions{MinAcks: 3}); err != nil {
		t.Fatalf("a replace that one node missed: %v", err)
	}
	c.Close()
	if err := away.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	c = open(t, path, client.Options{})
	if err := c.Unlock(ctx, password); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hist, bad, err := c.History(ctx, "acme")
	if err != nil || len(bad) != 0 {
		t.Fatalf("history: %v %v", err, bad)
	}
	i := slices.IndexFunc(hist, func(h client.HistoryEntry) bool {
		return h.Node == "n4" && h.Kind == api.EntryKind_DELETE && h.Version == 1
	})
	if i < 0 {
		t.Fatalf("n4 logged no delete of version 1: %+v", hist)
	}
	if got := hist[i].Operation; got != api.Operation_OPERATION_REPLACE {
		t.Errorf("n4 logged the retried delete of version 1 as %v, want %v", got, api.Operation_OPERATION_REPLACE)
	}
}
