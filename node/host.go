package node

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/zap"

	"github.com/custos-network/custos/node/config"
)

// perIPConns caps the connections from one address; a device needs one, and
// a NAT in front of an organisation's machines a few dozen. Larger networks
// get larger caps, as shares of limits.max_connections (subnetCaps).
const perIPConns = 64

// subnetCaps are the resource manager's caps on the connections of one
// subnet: an IPv4 address and /24; an IPv6 /56 (one site), /48 and /32 (an
// ISP's allocation), so that one network cannot fill the node's slots
// however many addresses it has.
func subnetCaps(maxConns int) (v4, v6 []rcmgr.ConnLimitPerSubnet) {
	share := func(quarters int) int { return max(perIPConns, maxConns*quarters/16) }
	v4 = []rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: perIPConns}, {PrefixLength: 24, ConnCount: share(4)}}
	v6 = []rcmgr.ConnLimitPerSubnet{
		{PrefixLength: 56, ConnCount: perIPConns},
		{PrefixLength: 48, ConnCount: share(2)},
		{PrefixLength: 32, ConnCount: share(4)},
	}
	return v4, v6
}

// newHost builds the node's libp2p host with every transport, security and
// limit set explicitly, rather than taking go-libp2p's defaults (which leave
// loopback unlimited, for one).
//
// Browsers reach the node over WebTransport, whose certificates go-libp2p
// makes and rotates itself (the browser pins their hashes, which custosd
// card prints), and over WebSocket: /ws, which an https page may open only
// to localhost, and /tls/ws with the operator's certificate (cfg.TLS).
func newHost(cfg *config.Config, key crypto.PrivKey, guard *connGuard, log *zap.Logger) (host.Host, error) {
	wsOpts, err := webSocketOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	lim := cfg.Limits
	mgr, err := newResourceManager(lim)
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	// The connection manager trims well before the hard limit, and looks
	// at a connection once it is older than an idle one may get: a peer
	// that reconnects now and then is trimmed like any other. Logged-in
	// devices are protected (connGuard).
	cm, err := connmgr.NewConnManager(lim.MaxConnections/2, lim.MaxConnections*3/4,
		connmgr.WithGracePeriod(lim.ConnIdleTimeout), connmgr.WithSilencePeriod(min(10*time.Second, lim.ConnIdleTimeout)))
	if err != nil {
		mgr.Close()
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	guard.protector = cm
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(webtransport.New),
		libp2p.Transport(websocket.New, wsOpts...),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(mgr),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(guard),
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
	h.Network().Notify(guard)
	return h, nil
}

// cardAddrs writes addrs as the node's card lists them, with one
// WebTransport address per certificate hash. go-libp2p announces the hashes
// of the certificate in use and of the next; a browser dialling an address
// with both gets the connection only while the node vouches for both in its
// handshake (js-libp2p checks that every hash it dialled is among the
// node's), and a node restarted after a rotation vouches no more for the
// certificate before. With one hash an address, the address of the newer
// certificate works until that certificate expires, restarts or not.
func cardAddrs(addrs []ma.Multiaddr) []string {
	var out []string
	for _, a := range addrs {
		base, hashes := splitCertHashes(a)
		if len(hashes) < 2 {
			out = append(out, a.String())
			continue
		}
		for _, h := range hashes {
			out = append(out, base.AppendComponent(h).String())
		}
	}
	return out
}

// splitCertHashes splits a into the address without its certhash components
// and those components.
func splitCertHashes(a ma.Multiaddr) (base ma.Multiaddr, hashes []*ma.Component) {
	for i := range a {
		c := &a[i]
		if c.Protocol().Code == ma.P_CERTHASH {
			hashes = append(hashes, c)
		} else {
			base = append(base, *c)
		}
	}
	return base, hashes
}

// webSocketOptions gives the WebSocket transport the operator's certificate
// when a listen address needs it (config.Validate saw to it that cfg.TLS is
// set exactly then).
func webSocketOptions(cfg *config.Config, log *zap.Logger) ([]any, error) {
	if cfg.TLS.Cert == "" {
		return nil, nil
	}
	certs, err := loadCertFiles(config.TLS{Cert: cfg.Path(cfg.TLS.Cert), Key: cfg.Path(cfg.TLS.Key)}, log)
	if err != nil {
		return nil, err
	}
	return []any{websocket.WithTLSConfig(certs.tlsConfig())}, nil
}

// newResourceManager sets every limit of the resource manager from lim;
// opts go last (tests use them to take the connection rate limit away).
func newResourceManager(lim config.Limits, opts ...rcmgr.Option) (network.ResourceManager, error) {
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
	options := []rcmgr.Option{
		rcmgr.WithNetworkPrefixLimit(
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("127.0.0.0/8"), ConnCount: lim.MaxConnections}},
			[]rcmgr.NetworkPrefixLimit{{Network: netip.MustParsePrefix("::1/128"), ConnCount: lim.MaxConnections}}),
		rcmgr.WithLimitPerSubnet(subnetCaps(lim.MaxConnections)),
		rcmgr.WithMetricsDisabled(),
	}
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits), append(options, opts...)...)
}
