package client

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/custos-network/custos/api"
)

func card(t *testing.T, name string) *api.Card {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &api.Card{Version: api.CardVersion, Name: name, PeerID: id.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}}
}

func TestNetworkFile(t *testing.T) {
	a, b, c := card(t, "a"), card(t, "b"), card(t, "c")
	n, err := NewNetwork(2, []*api.Card{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	file := n.Marshal()
	if !strings.HasPrefix(string(file), "version: 1\n") {
		t.Fatalf("the network file does not start with its version:\n%s", file)
	}
	if strings.Contains(string(file), "version: 0") {
		t.Fatalf("the nodes carry a card version:\n%s", file)
	}
	back, err := ParseNetwork(file)
	if err != nil {
		t.Fatal(err)
	}
	if back.Threshold != 2 || len(back.Nodes) != 3 || back.Nodes[1].PeerID != b.PeerID {
		t.Fatalf("round trip changed the network: %+v", back)
	}
	dup := *b
	dup.Name = "d"
	sameName := card(t, "a")
	tests := []struct {
		name  string
		k     int
		cards []*api.Card
	}{
		{"a threshold of one is refused", 1, []*api.Card{a, b, c}},
		{"a threshold above the nodes is refused", 4, []*api.Card{a, b, c}},
		{"one node is not a network", 2, []*api.Card{a}},
		{"a peer ID listed twice is refused", 2, []*api.Card{a, b, &dup}},
		{"a name listed twice is refused", 2, []*api.Card{a, b, sameName}},
		{"a node without addresses is refused", 2, []*api.Card{a, b, {Name: "e", PeerID: c.PeerID}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewNetwork(tc.k, tc.cards); err == nil {
				t.Fatal("NewNetwork succeeded")
			}
		})
	}
	for name, in := range map[string]string{
		"an unknown version is refused": strings.Replace(string(file), "version: 1", "version: 2", 1),
		"an unknown field is refused":   string(file) + "extra: 1\n",
		"garbage is refused":            "\x00\x01\x02",
		"an empty file is refused":      "",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseNetwork([]byte(in)); err == nil {
				t.Fatal("ParseNetwork succeeded")
			}
		})
	}
}

func FuzzParseNetwork(f *testing.F) {
	f.Add([]byte("version: 1\nthreshold: 2\nnodes: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNetwork(b)
		if err != nil {
			return
		}
		if _, err := ParseNetwork(n.Marshal()); err != nil {
			t.Fatalf("a valid network does not survive a round trip: %v", err)
		}
	})
}
