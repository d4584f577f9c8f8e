package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/custos-network/custos/api"
	"github.com/custos-network/custos/node/admin"
	"github.com/custos-network/custos/node/audit"
	"github.com/custos-network/custos/node/auth"
	"github.com/custos-network/custos/node/config"
	"github.com/custos-network/custos/node/limits"
	"github.com/custos-network/custos/node/store"
)

// gaugePeriod is how often the store-derived gauges are refreshed.
const gaugePeriod = 15 * time.Second

// maxLimiterKeys bounds the rate-limit buckets kept in memory.
const maxLimiterKeys = 100_000

// Node is one running custodian.
type Node struct {
	cfg     *config.Config
	log     *zap.Logger
	key     crypto.PrivKey
	host    host.Host
	store   *store.Store
	audit   *audit.Log
	auth    *auth.Service
	units   *limits.Limiter // releases per (user, unit)
	users   *limits.Limiter // releases per user
	writes  *limits.Limiter // puts and deletes per user
	seen    *seenRequests   // release requests within the clock skew
	conns   *connGuard      // connection slots kept for enrolled devices
	metrics *metrics
	now     func() time.Time

	// refusalLog bounds the logged refusals of release requests past the
	// user's budget, per user; writeRefusalLog those of puts and deletes.
	refusalLog      *limits.LogBudget
	writeRefusalLog *limits.LogBudget

	auditors map[peer.ID]bool // may read every audit log entry

	// releaseFault, set only by tests of this package, fails a store step
	// of every release (see storeFault).
	releaseFault atomic.Pointer[func(step string) error]

	opsListener   net.Listener // nil when cfg.HTTP is ""
	adminListener net.Listener
	backupPass    string
	started       time.Time

	inflight  sync.WaitGroup
	mu        sync.Mutex // guards closing against inflight.Add
	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New opens the node's store and starts listening. The protocols are served
// at once; Run serves the rest and shuts down when its context ends.
func New(cfg *config.Config, log *zap.Logger) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := LoadIdentity(cfg.Path(cfg.IdentityKey))
	if err != nil {
		return nil, err
	}
	storageKey, err := ReadStorageKey(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	defer clear(storageKey)
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	// n is not the named result: a failed New returns nil, and the deferred
	// Close must still reach what was opened.
	n := &Node{cfg: cfg, log: log, key: key, metrics: newMetrics(), now: time.Now, started: time.Now(), backupPass: backupPassphrase(storageKey)}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	n.auditors = make(map[peer.ID]bool, len(cfg.Auditors))
	for _, a := range cfg.Auditors {
		aid, err := peer.Decode(a) // Validate checked it already
		if err != nil {
			return nil, fmt.Errorf("auditor %.64q: %w", a, err)
		}
		n.auditors[aid] = true
	}
	if n.store, err = store.Open(cfg.Path(cfg.DataDir), storageKey, log.Named("store")); err != nil {
		return nil, err
	}
	if err := n.claimStore(id); err != nil {
		return nil, err
	}
	raw, err := key.Raw()
	if err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	if n.audit, err = audit.New(api.LogOrigin(cfg.Name), raw); err != nil {
		return nil, err
	}
	if n.auth, err = auth.New(n.store, n.audit, id, cfg.Enrollment, cfg.Auth, nil); err != nil {
		return nil, err
	}
	n.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "custos_unlogged_refusals_total",
		Help: "Refused logins and enrollments of devices not enrolled here that went unlogged (auth.stranger_log).",
	}, func() float64 { return float64(n.auth.UnloggedRefusals()) }))
	n.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "custos_unlogged_login_refusals_total",
		Help: "Logins of enrolled accounts refused as locked or in backoff that went unlogged (auth.refusal_log).",
	}, func() float64 { return float64(n.auth.UnloggedAccountRefusals()) }))
	n.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "custos_store_commits_total",
		Help: "Durable commits of the store, one fsync each (group commit: many updates may share one).",
	}, func() float64 { _, c := n.store.Commits(); return float64(c) }))
	n.metrics.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "custos_store_updates_total",
		Help: "Store updates (log entries with what they record) made durable by those commits.",
	}, func() float64 { u, _ := n.store.Commits(); return float64(u) }))
	n.units = limits.New(cfg.Limits.UnitReleases, maxLimiterKeys, nil)
	n.users = limits.New(cfg.Limits.UserReleases, maxLimiterKeys, nil)
	n.refusalLog = limits.NewLogBudget(config.Bucket{Burst: 1, Every: cfg.Limits.UserReleases.Every}, maxLimiterKeys, nil)
	n.writes = limits.New(cfg.Limits.UserWrites, maxLimiterKeys, nil)
	n.writeRefusalLog = limits.NewLogBudget(config.Bucket{Burst: 1, Every: cfg.Limits.UserWrites.Every}, maxLimiterKeys, nil)
	n.seen = replayMemory(cfg.Limits.UserReleases)
	if err := n.seedSeenRequests(); err != nil {
		return nil, fmt.Errorf("read the recent release requests from the log: %w", err)
	}
	if cfg.HTTP != "" {
		if n.opsListener, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return nil, fmt.Errorf("ops http: %w", err)
		}
	}
	if n.adminListener, err = admin.Listen(adminSocket(cfg)); err != nil {
		return nil, err
	}
	n.conns = newConnGuard(cfg.Limits.MaxConnections, cfg.Limits.ConnIdleTimeout, n.auth.Enrolled,
		func(p peer.ID) bool { return n.auditors[p] || n.auth.LoggedIn(p) })
	if n.host, err = newHost(cfg, key, n.conns, log.Named("tls")); err != nil {
		return nil, err
	}
	n.serveProtocols()
	n.refreshGauges()
	log.Info("node started", zap.String("name", cfg.Name), zap.Stringer("peer_id", id), zap.Any("addrs", n.Addrs()))
	return n, nil
}

// claimStore binds the data directory to this identity the first time, and
// refuses another node's directory afterwards.
func (n *Node) claimStore(id peer.ID) error {
	var owner []byte
	err := n.store.View(func(tx *store.Tx) error {
		var err error
		owner, err = tx.Meta("peer_id")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if owner == nil {
		return n.store.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("peer_id", []byte(id)) })
	}
	if !bytes.Equal(owner, []byte(id)) {
		other, _ := peer.IDFromBytes(owner)
		return fmt.Errorf("the data directory %s belongs to node %s, not to this identity %s", n.cfg.Path(n.cfg.DataDir), other, id)
	}
	return nil
}

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs are the multiaddrs the node listens on, with its peer ID.
func (n *Node) Addrs() []ma.Multiaddr { return n.host.Addrs() }

// Card is the node's card with the addresses it actually listens on.
func (n *Node) Card() *api.Card {
	return &api.Card{Name: n.cfg.Name, PeerID: n.ID().String(), Addrs: cardAddrs(n.Addrs())}
}

// Run serves the operations HTTP server until ctx ends, then drains the
// requests in flight and closes the node.
func (n *Node) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if n.opsListener != nil {
		g.Go(func() error { return n.serveOps(gctx, n.opsListener) })
	}
	g.Go(func() error { return admin.Serve(gctx, n.adminListener, n, n.log.Named("admin")) })
	g.Go(func() error {
		// Entries appended by login and admin actions, and locks, show in
		// the gauges within this period; releases and puts at once.
		t := time.NewTicker(gaugePeriod)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				n.refreshGauges()
			}
		}
	})
	g.Go(func() error {
		t := time.NewTicker(n.conns.sweepPeriod())
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-t.C:
				n.conns.sweep(n.host.Network().Conns(), now)
			}
		}
	})
	err := g.Wait()
	if cerr := n.Close(); err == nil {
		err = cerr
	}
	return err
}

// enter admits a request unless the node is closing.
func (n *Node) enter() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() {
		return false
	}
	n.inflight.Add(1)
	return true
}

// Close stops taking requests, waits for those in flight (at most one
// request timeout), then closes the host and the store. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closing.Store(true)
		n.mu.Unlock()
		if n.host != nil {
			for _, p := range protocols {
				n.host.RemoveStreamHandler(p)
			}
		}
		done := make(chan struct{})
		go func() { n.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(n.cfg.Limits.RequestTimeout + time.Second):
			n.log.Warn("requests still running at shutdown; closing anyway")
		}
		var errs []error
		if n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.opsListener != nil {
			n.opsListener.Close()
		}
		if n.adminListener != nil {
			n.adminListener.Close()
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		n.closeErr = errors.Join(errs...)
		n.log.Info("node stopped")
	})
	return n.closeErr
}

var protocols = []protocol.ID{
	api.ProtocolEnroll, api.ProtocolLogin, api.ProtocolPut,
	api.ProtocolRelease, api.ProtocolDelete, api.ProtocolList,
	api.ProtocolCheckpoint, api.ProtocolEntries, api.ProtocolProof,
}

// refreshGauges sets the log size and locked-account gauges from the store.
func (n *Node) refreshGauges() {
	st, err := n.store.Stats()
	if err != nil {
		n.log.Warn("read store stats", zap.Error(err))
		return
	}
	n.metrics.logSize.Set(float64(st.LogSize))
	n.metrics.locked.Set(float64(st.LockedAccounts))
}
