package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the node's Prometheus series. Labels take only fixed values
// (protocol IDs, codes, outcomes), never a user name or a peer ID.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // by protocol and code
	latency  *prometheus.HistogramVec // by protocol
	releases *prometheus.CounterVec   // shares, by outcome
	logins   *prometheus.CounterVec   // by outcome
	// release requests refused past the user's budget and not logged
	unloggedReleases prometheus.Counter
	// puts and deletes refused past the user's budget and not logged
	unloggedWrites prometheus.Counter
	logSize        prometheus.Gauge
	locked         prometheus.Gauge
}

// labelPeerGone is the code label of a request whose peer hung up, reset
// the stream or let its deadline pass before it was answered.
const labelPeerGone = "PEER_GONE"

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_requests_total", Help: "Protocol requests, by protocol and code (" + labelPeerGone + ": the peer left unanswered).",
		}, []string{"protocol", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "custos_request_duration_seconds", Help: "Time from a stream's opening to its answer, by protocol.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"protocol"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_releases_total", Help: "Shares asked for, by outcome (released or the refusal code).",
		}, []string{"outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "custos_logins_total", Help: "Login attempts, by outcome.",
		}, []string{"outcome"}),
		unloggedReleases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_unlogged_release_refusals_total",
			Help: "Release requests refused for the user's limits.user_releases past one logged refusal per period, unlogged.",
		}),
		unloggedWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "custos_unlogged_write_refusals_total",
			Help: "Puts and deletes refused for the user's limits.user_writes past one logged refusal per period, unlogged.",
		}),
		logSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_log_entries", Help: "Entries in the audit log.",
		}),
		locked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "custos_locked_accounts", Help: "Accounts locked after failed logins or by an operator.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.releases, m.logins, m.unloggedReleases, m.unloggedWrites, m.logSize, m.locked,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
