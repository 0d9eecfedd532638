// Package metrics owns Latch's Prometheus metrics: one registry per process (no global state),
// requests by route and status, latency by route, logins by method and outcome, and messages
// sent by channel. Labels never carry identifiers, codes or tokens.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors Latch updates.
type Metrics struct {
	Registry *prometheus.Registry
	Requests *prometheus.CounterVec
	Latency  *prometheus.HistogramVec
	Logins   *prometheus.CounterVec
	Messages *prometheus.CounterVec
	// Shed counts requests answered 503 at once because the server had as many in flight as
	// --max-in-flight allows.
	Shed *prometheus.CounterVec
}

// New registers Latch's collectors (and the Go and process collectors) in a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latch_http_requests_total", Help: "HTTP requests by route pattern and status."}, []string{"route", "status"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latch_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		Logins:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latch_logins_total", Help: "Login attempts by method and outcome."}, []string{"method", "outcome"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latch_messages_sent_total", Help: "Messages sent by channel and outcome."}, []string{"channel", "outcome"}),
		Shed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "latch_http_shed_total",
			Help: "HTTP requests answered 503 without being started, because as many were in flight as --max-in-flight allows, by route pattern."}, []string{"route"}),
	}
	m.Registry.MustRegister(m.Requests, m.Latency, m.Logins, m.Messages, m.Shed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Login counts one login attempt.
func (m *Metrics) Login(method, outcome string) {
	if m != nil {
		m.Logins.WithLabelValues(method, outcome).Inc()
	}
}

// Message counts one message delivery.
func (m *Metrics) Message(channel, outcome string) {
	if m != nil {
		m.Messages.WithLabelValues(channel, outcome).Inc()
	}
}

// WriteBatches exports the SQLite writer's group commit: commits, and the write transactions
// they carried. Their ratio is how many transactions shared a commit.
func (m *Metrics) WriteBatches(stats func() (commits, transactions int64)) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latch_sqlite_commits_total",
			Help: "SQLite commits; each carries one or more write transactions (group commit)."},
			func() float64 { c, _ := stats(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latch_sqlite_write_transactions_total",
			Help: "SQLite write transactions committed."},
			func() float64 { _, t := stats(); return float64(t) }),
	)
}

// Checkpoints exports the SQLite checkpointer's runs by outcome: a growing "failed" count is a
// database file that cannot take the WAL's pages (a full disk, an I/O error).
func (m *Metrics) Checkpoints(stats func() (ran, failed int64)) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latch_sqlite_checkpoints_total",
			Help: "SQLite background WAL checkpoints run.", ConstLabels: prometheus.Labels{"outcome": "ok"}},
			func() float64 { r, _ := stats(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latch_sqlite_checkpoints_total",
			Help: "SQLite background WAL checkpoints run.", ConstLabels: prometheus.Labels{"outcome": "failed"}},
			func() float64 { _, f := stats(); return float64(f) }),
	)
}
