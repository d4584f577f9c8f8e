package node_test

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/nodetest"
)

// A browser reaches a node only over WebSocket: a client with no other
// transport enrolls through the node's /ws listener.
func TestWebSocketListener(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) { c.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"} })
	var ws []ma.Multiaddr
	for _, a := range n.Addrs() {
		if strings.HasSuffix(a.String(), "/ws") {
			ws = append(ws, a)
		}
	}
	if len(ws) == 0 {
		t.Fatalf("the node listens on no /ws address: %v", n.Addrs())
	}
	h, err := libp2p.New(libp2p.NoListenAddrs, libp2p.Transport(websocket.New),
		libp2p.Security(noise.ID, noise.New), libp2p.Muxer(yamux.ID, yamux.DefaultTransport), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	enrollOver(t, h, n.ID(), ws)
}
