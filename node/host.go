package node

import (
	"fmt"
	"net/netip"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"

	"github.com/custos-network/custos/node/config"
)

// perIPConns caps the connections from one address; a device needs one, and
// a NAT in front of an organisation's machines a few dozen.
const perIPConns = 64

// newHost builds the node's libp2p host with every transport, security and
// limit set explicitly, rather than taking go-libp2p's defaults (which leave
// loopback unlimited, for one).
func newHost(cfg *config.Config, key crypto.PrivKey) (host.Host, error) {
	lim := cfg.Limits
	limits := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:          rcmgr.LimitVal(lim.MaxConnections),
			ConnsInbound:   rcmgr.LimitVal(lim.MaxConnections),
			Streams:        rcmgr.LimitVal(lim.MaxConnections * lim.MaxStreamsPerPeer),
			StreamsInbound: rcmgr.LimitVal(lim.MaxConnections * lim.MaxStreamsPerPeer),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns:          8,
			ConnsInbound:   8,
			Streams:        rcmgr.LimitVal(lim.MaxStreamsPerPeer),
			StreamsInbound: rcmgr.LimitVal(lim.MaxStreamsPerPeer),
		},
		// A peer's streams of one protocol, and of the unnegotiated phase,
		// have their own (lower) defaults in go-libp2p; the node's limit is
		// per peer, whatever the protocol.
		ProtocolPeerDefault: rcmgr.ResourceLimits{
			Streams:        rcmgr.LimitVal(lim.MaxStreamsPerPeer),
			StreamsInbound: rcmgr.LimitVal(lim.MaxStreamsPerPeer),
		},
		ServicePeerDefault: rcmgr.ResourceLimits{
			Streams:        rcmgr.LimitVal(lim.MaxStreamsPerPeer),
			StreamsInbound: rcmgr.LimitVal(lim.MaxStreamsPerPeer),
		},
		Transient: rcmgr.ResourceLimits{
			Streams:        rcmgr.LimitVal(lim.MaxConnections * lim.MaxStreamsPerPeer),
			StreamsInbound: rcmgr.LimitVal(lim.MaxConnections * lim.MaxStreamsPerPeer),
		},
	}.Build(rcmgr.DefaultLimits.AutoScale())
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits),
		rcmgr.WithNetworkPrefixLimit(
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("127.0.0.0/8"), ConnCount: lim.MaxConnections}},
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("::1/128"), ConnCount: lim.MaxConnections}}),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIPConns}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: perIPConns}}),
		rcmgr.WithMetricsDisabled())
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(lim.MaxConnections*3/4, lim.MaxConnections)
	if err != nil {
		mgr.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(websocket.New),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(mgr),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.Ping(false),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("custosd"),
	)
	if err != nil {
		cm.Close()
		mgr.Close()
		return nil, fmt.Errorf("listen on %v: %w", cfg.Listen, err)
	}
	return h, nil
}
