package client

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custos-network/custos/api"
)

func TestNetworkUpdateAdoptsNewAddressesAndNamesAndRefusesOtherCustodians(t *testing.T) {
	a, b, c := card(t, "a"), card(t, "b"), card(t, "c")
	nw, err := NewNetwork(2, []*api.Card{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault")
	if err := Init(path, nw.Marshal(), "alice"); err != nil {
		t.Fatal(err)
	}
	update := func(k int, cards ...*api.Card) ([]NodeUpdate, error) {
		t.Helper()
		n, err := NewNetwork(k, cards)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		return cl.UpdateNetwork(n.Marshal())
	}
	if got, err := update(2, a, b, c); err != nil || len(got) != 0 {
		t.Fatalf("the same network: %+v, %v; want nothing to do", got, err)
	}
	moved := *b
	moved.Addrs = []string{"/ip4/127.0.0.2/tcp/4002"}
	moved.Name = "bee"
	got, err := update(2, a, &moved, c)
	if err != nil || len(got) != 1 || got[0] != (NodeUpdate{Node: "bee", OldName: "b", Readdress: true}) {
		t.Fatalf("a node moved and renamed: %+v, %v", got, err)
	}
	cl, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := cl.Network().Nodes[1]; n.Name != "bee" || n.Addrs[0] != "/ip4/127.0.0.2/tcp/4002" {
		t.Fatalf("the vault's network after the update: %+v", n)
	}
	cl.Close()

	d := card(t, "d")
	for _, tc := range []struct {
		name  string
		k     int
		cards []*api.Card
		why   string
	}{
		{"a new threshold is refused", 3, []*api.Card{a, &moved, c}, "the threshold goes from 2 to 3"},
		{"a replaced node is refused", 2, []*api.Card{a, &moved, d}, "c (" + short(c.PeerID) + ") is not in it; d (" + short(d.PeerID) + ") is new"},
		{"an added node is refused", 2, []*api.Card{a, &moved, c, d}, "d (" + short(d.PeerID) + ") is new"},
		{"another order is refused", 2, []*api.Card{&moved, a, c}, "another order"},
	} {
		_, err := update(tc.k, tc.cards...)
		if !errors.Is(err, ErrNeedsReshare) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), "custos reshare") {
			t.Errorf("%s: %v; want ErrNeedsReshare saying %q", tc.name, err, tc.why)
		}
	}
}
