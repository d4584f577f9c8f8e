package node

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/custos-network/custos/node/config"
)

// TestOneNetworkCannotFillTheNode: the node's resource manager caps the
// connections of one IPv4 address and /24, and of one IPv6 /56, /48 and
// /32, each far below limits.max_connections, so that no one network can
// hold the node's connection slots however many addresses it has. The
// connection rate limit, which slows a network down but does not cap it,
// is taken away here, so that the caps are what refuses.
func TestOneNetworkCannotFillTheNode(t *testing.T) {
	lim := config.Default("n1").Limits
	tests := []struct {
		network string
		addr    func(i int) string // the i-th address of the network to connect from
		want    int
	}{
		{"an IPv4 address", func(int) string { return "/ip4/203.0.113.7" }, perIPConns},
		{"an IPv4 /24", func(i int) string { return fmt.Sprintf("/ip4/198.51.100.%d", i%256) }, lim.MaxConnections / 4},
		{"an IPv6 /56", func(i int) string { return fmt.Sprintf("/ip6/2001:db8:0:100::%x", i+1) }, perIPConns},
		{"an IPv6 /48, from many /56s", func(i int) string { return fmt.Sprintf("/ip6/2001:db8:1:%x00::1", i%256) }, lim.MaxConnections / 8},
		{"an IPv6 /32, from many /48s", func(i int) string { return fmt.Sprintf("/ip6/2001:db8:%x::1", i+1) }, lim.MaxConnections / 4},
	}
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			mgr, err := newResourceManager(lim, rcmgr.WithConnRateLimiters(&rate.Limiter{}))
			if err != nil {
				t.Fatal(err)
			}
			defer mgr.Close()
			held := 0
			for i := range lim.MaxConnections {
				scope, err := mgr.OpenConnection(network.DirInbound, true, ma.StringCast(tt.addr(i)+"/tcp/4001"))
				if err != nil {
					break
				}
				defer scope.Done()
				// Past its handshake, a connection belongs to its peer, here
				// a new one each time.
				if err := scope.SetPeer(peer.ID(fmt.Sprintf("peer-%d", i))); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				held++
			}
			if held != tt.want {
				t.Errorf("%s holds %d connections; want %d of the node's %d", tt.network, held, tt.want, lim.MaxConnections)
			}
		})
	}
}
