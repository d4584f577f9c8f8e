package api

import (
	"strings"
	"testing"
)

func TestCard(t *testing.T) {
	_, dev := newDevice(t)
	good := &Card{Name: "node-a", PeerID: dev.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"}}
	b := good.Marshal()
	if !strings.HasPrefix(string(b), "version: 1\n") {
		t.Fatalf("a card does not start with its version:\n%s", b)
	}
	back, err := ParseCard(b)
	if err != nil {
		t.Fatal(err)
	}
	info, err := back.AddrInfo()
	if err != nil || info.ID != dev || len(info.Addrs) != 2 {
		t.Fatalf("AddrInfo = %v, %v", info, err)
	}
	bad := map[string]string{
		"an unknown version is refused":    "version: 2\nname: a\npeer_id: " + dev.String() + "\naddrs: [/ip4/127.0.0.1/tcp/1]\n",
		"a missing version is refused":     "name: a\npeer_id: " + dev.String() + "\naddrs: [/ip4/127.0.0.1/tcp/1]\n",
		"an unknown field is refused":      "version: 1\nname: a\npeer_id: " + dev.String() + "\naddrs: [/ip4/127.0.0.1/tcp/1]\nextra: 1\n",
		"an upper-case name is refused":    "version: 1\nname: A\npeer_id: " + dev.String() + "\naddrs: [/ip4/127.0.0.1/tcp/1]\n",
		"a bad peer ID is refused":         "version: 1\nname: a\npeer_id: 12D3nope\naddrs: [/ip4/127.0.0.1/tcp/1]\n",
		"no addresses are refused":         "version: 1\nname: a\npeer_id: " + dev.String() + "\n",
		"a bad multiaddr is refused":       "version: 1\nname: a\npeer_id: " + dev.String() + "\naddrs: [/ip4/300.0.0.1/tcp/1]\n",
		"something else than YAML refused": "\x00\x01",
		"an oversized file is refused":     strings.Repeat("#", maxCardSize+1),
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseCard([]byte(in)); err == nil {
				t.Fatal("ParseCard succeeded")
			}
		})
	}
}

func FuzzParseCard(f *testing.F) {
	f.Add([]byte("version: 1\nname: a\npeer_id: x\naddrs: [/ip4/127.0.0.1/tcp/1]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCard(b)
		if err == nil {
			if _, err := c.AddrInfo(); err != nil {
				t.Fatalf("a parsed card has no AddrInfo: %v", err)
			}
		}
	})
}
