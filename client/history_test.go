package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/custos-network/custos/client"
)

// TestHistoryShowsOnlyTheUsersOwnReleases runs two users on the same nodes:
// each one's history holds the releases of their own records, newest first,
// and nothing of the other's.
func TestHistoryShowsOnlyTheUsersOwnReleases(t *testing.T) {
	tn := startNet(t, 3, 2, nil)
	ctx := context.Background()
	alice, _ := tn.unlocked(t, "alice", client.Options{})
	bob, _ := tn.unlocked(t, "bob", client.Options{})
	if err := alice.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := alice.Put(ctx, "globex-api", globex, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Put(ctx, "bob-record", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, get := range []struct {
		c     *client.Client
		label string
	}{{alice, "acme-portal"}, {bob, "bob-record"}, {alice, "globex-api"}, {bob, "bob-record"}} {
		if _, err := get.c.Get(ctx, get.label); err != nil {
			t.Fatalf("get %s: %v", get.label, err)
		}
	}
	ids := map[string]string{}
	for _, c := range []*client.Client{alice, bob} {
		for _, u := range c.List() {
			ids[u.ID.String()] = u.Label
		}
	}

	check := func(who string, c *client.Client, label string, want map[string]bool) []client.HistoryEntry {
		t.Helper()
		hist, failed, err := c.History(ctx, label)
		if err != nil || len(failed) > 0 {
			t.Fatalf("%s history %q: %v %v", who, label, err, failed)
		}
		if len(hist) == 0 {
			t.Fatalf("%s history %q: no entries", who, label)
		}
		for i, h := range hist {
			if !want[h.Label] || ids[h.UnitID] != h.Label || !h.Released {
				t.Errorf("%s history %q: entry %+v; want a release of %v", who, label, h, want)
			}
			if i > 0 && h.Time.After(hist[i-1].Time) {
				t.Errorf("%s history %q: not newest first at %d", who, label, i)
			}
		}
		return hist
	}
	hist := check("alice", alice, "", map[string]bool{"acme-portal": true, "globex-api": true})
	if hist[0].Label != "globex-api" || hist[len(hist)-1].Label != "acme-portal" {
		t.Errorf("alice history: newest %s, oldest %s; want globex-api, acme-portal", hist[0].Label, hist[len(hist)-1].Label)
	}
	check("alice", alice, "acme-portal", map[string]bool{"acme-portal": true})
	hist = check("bob", bob, "", map[string]bool{"bob-record": true})
	nodes := map[string]int{}
	for _, h := range hist {
		nodes[h.Node]++
	}
	for n, count := range nodes {
		if count != 2 {
			t.Errorf("bob history: %d releases at %s, want 2", count, n)
		}
	}
	if _, _, err := alice.History(ctx, "bob-record"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("alice history of bob's label: got %v, want ErrNotFound", err)
	}
}
