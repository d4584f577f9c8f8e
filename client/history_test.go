package client_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/client"
	"github.com/custos-network/custos/client/vault"
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
		for _, u := range list(t, c) {
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
	// Each of bob's two unlocks released at 2 to 3 nodes: a get stops
	// waiting once it has its threshold of shares, and a request it has
	// not sent by then is not sent.
	nodes := map[string]int{}
	for _, h := range hist {
		nodes[h.Node]++
	}
	for n, count := range nodes {
		if count > 2 {
			t.Errorf("bob history: %d releases at %s, want at most 2", count, n)
		}
	}
	if len(hist) < 4 {
		t.Errorf("bob history: %d releases, want at least 4", len(hist))
	}
	if _, _, err := alice.History(ctx, "bob-record"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("alice history of bob's label: got %v, want ErrNotFound", err)
	}
}

// TestVaultRecordsEveryRequestItSent: after unlocks that ask only the
// nodes they need and stop waiting once they have enough shares, every
// release the nodes logged for this device has its nonce in the vault's
// request journal, and the requests of one unlock share one signed time:
// the journal holds one per node for each unlock, and for the next one,
// recorded ahead.
func TestVaultRecordsEveryRequestItSent(t *testing.T) {
	tn := startNet(t, 5, 3, nil)
	ctx := context.Background()
	c, _ := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	const unlocks = 8
	for range unlocks {
		if _, err := c.Get(ctx, "acme-portal"); err != nil {
			t.Fatal(err)
		}
	}
	reqs, dropped, err := c.Requests()
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]bool{}
	times := map[int64]int{}
	for _, r := range reqs {
		sent[r.Node+"/"+string(r.Nonce)] = true
		times[r.Time.UnixMilli()]++
	}
	if !dropped.IsZero() || len(times) != unlocks+1 {
		t.Fatalf("%d requests at %d distinct times (dropped until %v); want one time per unlock and the next, %d", len(reqs), len(times), dropped, unlocks+1)
	}
	for tm, n := range times {
		if n != 5 {
			t.Errorf("the unlock at %d recorded %d requests; want one per node, 5", tm, n)
		}
	}
	logged, failed, err := c.Log(ctx)
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	releases := 0
	unlockTimes := map[uint64]bool{}
	for _, le := range logged {
		if le.Entry.Kind != api.EntryKind_RELEASE {
			continue
		}
		releases++
		unlockTimes[le.Entry.RequestTimeUnixMs] = true
		if !sent[le.Node+"/"+string(le.Entry.RequestNonce)] {
			t.Errorf("%s logged release %d, whose request the vault did not record", le.Node, le.Index)
		}
		if times[int64(le.Entry.RequestTimeUnixMs)] == 0 {
			t.Errorf("%s logged release %d at a time of no recorded unlock", le.Node, le.Index)
		}
	}
	if releases < 3*unlocks || len(unlockTimes) != unlocks {
		t.Errorf("%d releases logged at %d signed times for %d unlocks", releases, len(unlockTimes), unlocks)
	}
	for _, r := range receiptsOf(t, c) {
		e, err := api.ParseEntry(r.Entry)
		if err != nil || !sent[r.Node+"/"+string(e.RequestNonce)] {
			t.Errorf("a receipt from %s is of no recorded request", r.Node)
		}
	}
}

// TestUnlockNeedsItsRequestsRecorded: when the vault's request journal
// cannot take an unlock's requests, none is sent. The one unlock whose
// requests the journal took before it was damaged (recorded ahead) may
// still be made; the next is refused, and every release the nodes logged
// is of a request the journal held before the damage.
func TestUnlockNeedsItsRequestsRecorded(t *testing.T) {
	tn := startNet(t, 3, 2, nil)
	ctx := context.Background()
	c, path := tn.unlocked(t, "alice", client.Options{})
	if err := c.Put(ctx, "acme-portal", acme, client.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	recorded := journaled(t, c)
	if err := os.WriteFile(path+".requests", []byte("custos-requests/1\nnot a request\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Get(ctx, "acme-portal") // may use the requests recorded ahead
	if rec, err := c.Get(ctx, "acme-portal"); rec != nil || !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("get with a damaged journal: a record %v, %v; want none and vault.ErrCorrupt", rec != nil, err)
	}
	logged, failed, err := c.Log(ctx)
	if err != nil || len(failed) > 0 {
		t.Fatal(err, failed)
	}
	for _, le := range logged {
		if le.Entry.Kind == api.EntryKind_RELEASE && !recorded[le.Node+"/"+string(le.Entry.RequestNonce)] {
			t.Errorf("%s logged a release request (entry %d) the journal did not record", le.Node, le.Index)
		}
	}
}
