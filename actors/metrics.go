package actors

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/limit"
)

// Metrics are the grains' Prometheus instruments. Safe for concurrent use.
type Metrics struct {
	ProfileCacheHits   prometheus.Counter
	ProfileCacheMisses prometheus.Counter
	MatchesFormed      *prometheus.CounterVec // by pool
	MatchResults       *prometheus.CounterVec // by result
	VotesRecorded      prometheus.Counter
	StoreErrors        *prometheus.CounterVec   // by op
	RateLimited        *prometheus.CounterVec   // by scope (user, address) and action (limit.Action)
	LimiterUnavailable *prometheus.CounterVec   // by action: per-address checks that failed open
	QueueFull          *prometheus.CounterVec   // by queue: requests refused because a bounded work queue was full
	QueueWait          *prometheus.HistogramVec // by pool, gender
	Sessions           prometheus.Gauge         // active UserSession activations on this node
	SamplesDropped     prometheus.Counter
	Resent             *prometheus.CounterVec   // by grain kind: messages resent after a dead letter or a lost node
	Undeliverable      *prometheus.CounterVec   // by grain kind: messages given up after the delivery timeout
	DoublePairs        prometheus.Counter       // pairings the store refused: a partner was in another match
	PoolsActive        prometheus.Gauge         // MatchPool activations on this node
	SpinToMatch        *prometheus.HistogramVec // by pool: spin to the match_found pushed to the spinner's sockets
	StoreLatency       *prometheus.HistogramVec // by op: every store call (MeasureStore)
	GrainLatency       *prometheus.HistogramVec // by kind: Router requests (Ask), failovers included

	pools      poolLabels
	grainObs   map[string]prometheus.Observer // by grain kind; static after NewMetrics
	grainOther prometheus.Observer            // a kind not in grainKinds
	// queue is the per-pool gauges' collector (poolgauges.go).
	queue *queueGauges
}

// OtherPool is the pool label of every pool past the bound (PoolLabel).
const OtherPool = "other"

// maxPoolLabels bounds the pool label values when SPIN_POOLS is unset.
const maxPoolLabels = 50

// poolLabels remembers the first maxPoolLabels pool names seen, so that
// user-chosen pool names cannot grow the metric series without bound.
type poolLabels struct {
	mu   sync.Mutex
	seen map[string]struct{} // guarded by mu
}

// PoolLabel returns the label value of pool name for the pool-labelled
// series (MatchesFormed, QueueWait, SpinToMatch, the queue gauges): with SPIN_POOLS set (allowed), a
// listed name or OtherPool; otherwise the first maxPoolLabels distinct
// names seen by this node, then OtherPool.
func (m *Metrics) PoolLabel(allowed []string, name string) string {
	if len(allowed) > 0 {
		if slices.Contains(allowed, name) {
			return name
		}
		return OtherPool
	}
	m.pools.mu.Lock()
	defer m.pools.mu.Unlock()
	if _, ok := m.pools.seen[name]; ok {
		return name
	}
	if len(m.pools.seen) >= maxPoolLabels || name == OtherPool {
		return OtherPool
	}
	if m.pools.seen == nil {
		m.pools.seen = map[string]struct{}{}
	}
	m.pools.seen[name] = struct{}{}
	return name
}

// NewMetrics creates the instruments and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ProfileCacheHits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_profile_cache_hits_total", Help: "Profile reads served from a UserSession's cache."}),
		ProfileCacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_profile_cache_misses_total", Help: "Profile reads that went to the store."}),
		MatchesFormed:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_matches_formed_total", Help: "Pairs formed."}, []string{"pool"}),
		MatchResults:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_match_results_total", Help: "Matches settled, by result."}, []string{"result"}),
		VotesRecorded:      prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_votes_recorded_total", Help: "Votes made durable."}),
		StoreErrors:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_store_errors_total", Help: "Store calls that failed, by operation."}, []string{"op"}),
		RateLimited:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_rate_limited_total", Help: "Requests refused by a rate limit or a cap, by scope (user, address) and action."}, []string{"scope", "action"}),
		QueueFull:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_work_queue_full_total", Help: "Requests refused because a bounded per-user or per-address work queue was full, by queue."}, []string{"queue"}),
		LimiterUnavailable: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_rate_limiter_unavailable_total", Help: "Per-address limit checks that got no answer from their Limiter grain and were allowed (fail open)."}, []string{"action"}),
		QueueWait:          prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spinmatch_queue_wait_seconds", Help: "Time from spin to match.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 12)}, []string{"pool", "gender"}),
		Sessions:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "spinmatch_sessions", Help: "UserSession activations on this node."}),
		SamplesDropped:     prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_wait_samples_dropped_total", Help: "Wait samples dropped because the writer's queue was full."}),
		Resent:             prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_grain_messages_resent_total", Help: "Grain messages resent through a fresh lookup after a dead letter or a lost node."}, []string{"kind"}),
		Undeliverable:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spinmatch_grain_messages_undeliverable_total", Help: "Grain messages given up after the delivery timeout."}, []string{"kind"}),
		DoublePairs:        prometheus.NewCounter(prometheus.CounterOpts{Name: "spinmatch_pairings_refused_total", Help: "Pairings the store refused because a partner was already in another match."}),
		PoolsActive:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "spinmatch_pools_active", Help: "MatchPool activations on this node (a pool with nobody in it passivates after an idle period)."}),
		SpinToMatch:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spinmatch_spin_to_match_seconds", Help: "Time from a spin to the match_found pushed to the spinner's sockets, by pool.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"pool"}),
		StoreLatency:       prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spinmatch_store_call_seconds", Help: "Latency of store calls (failed ones included), by operation.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"op"}),
		GrainLatency:       prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spinmatch_grain_request_seconds", Help: "Latency of grain requests through the Router (failovers included), by grain kind.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"kind"}),
		grainObs:           map[string]prometheus.Observer{},
	}
	m.queue = newQueueGauges()
	if reg != nil {
		reg.MustRegister(m.ProfileCacheHits, m.ProfileCacheMisses, m.MatchesFormed, m.MatchResults,
			m.VotesRecorded, m.StoreErrors, m.RateLimited, m.QueueWait, m.Sessions, m.SamplesDropped,
			m.Resent, m.Undeliverable, m.DoublePairs, m.LimiterUnavailable, m.QueueFull,
			m.PoolsActive, m.SpinToMatch, m.StoreLatency, m.GrainLatency, m.queue)
	}
	// The label sets are fixed: every series exists from the start.
	for a := limit.Action(0); a < limit.NumActions; a++ {
		m.RateLimited.WithLabelValues(limit.User.String(), a.String())
		m.RateLimited.WithLabelValues(limit.Address.String(), a.String())
		m.LimiterUnavailable.WithLabelValues(a.String())
	}
	for _, q := range []string{QueueSocketCommands, QueueRESTAddress, QueueRESTUser} {
		m.QueueFull.WithLabelValues(q)
	}
	for _, k := range grainKinds {
		m.grainObs[k] = m.GrainLatency.WithLabelValues(k)
		m.Resent.WithLabelValues(k)
		m.Undeliverable.WithLabelValues(k)
	}
	m.grainOther = m.GrainLatency.WithLabelValues("other")
	for op := range numStoreOps {
		m.StoreLatency.WithLabelValues(storeOpNames[op])
	}
	return m
}

// grainKinds are the kind label values of GrainLatency (any other kind is
// "other").
var grainKinds = []string{KindUserSession, KindMatchPool, KindMatch, KindPoolDirectory, KindLimiter, KindReports, KindAlerts}

// observeGrain records one Router request to kind that started at t0.
func (m *Metrics) observeGrain(kind string, t0 time.Time) {
	o, ok := m.grainObs[kind]
	if !ok {
		o = m.grainOther
	}
	o.Observe(time.Since(t0).Seconds())
}
