package actors

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// The per-pool gauges: spinmatch_queue_waiting,
// spinmatch_queue_oldest_wait_seconds and spinmatch_queue_wait_p90_seconds
// by pool and gender, and spinmatch_queue_imbalance_ratio by pool. Each MatchPool
// activation reports its reading on its wait tick (reportQueue) and
// withdraws it when it stops (forgetQueue); a scrape sums the readings of
// the pools that share a label (the pools past the bound share "other"),
// so the series stay bounded by the pool label bound times the genders,
// and a pool that passivated leaves none behind.

// queueReading is one pool's last report.
type queueReading struct {
	label   string
	waiting [len(pool.Genders)]int
	oldest  [len(pool.Genders)]float64 // seconds; 0 with nobody of that gender
	// imbalance is the pool's imbalance ratio (pool.Stats.ImbalanceRatio).
	imbalance float64
	// p90 is the wait_p90 alert rule's figure by gender, in seconds, as of
	// the pool's last statistics (pool.Stats.P90WaitNow); 0 without data.
	p90 [len(pool.Genders)]float64
}

// queueGauges is a prometheus.Collector over the active pools' readings.
// Safe for concurrent use.
type queueGauges struct {
	waitingDesc, oldestDesc, imbalanceDesc, p90Desc *prometheus.Desc

	mu     sync.Mutex
	byPool map[string]queueReading // guarded by mu: by pool name, one per active pool on this node
}

func newQueueGauges() *queueGauges {
	labels := []string{"pool", "gender"}
	return &queueGauges{
		waitingDesc:   prometheus.NewDesc("spinmatch_queue_waiting", "People waiting in a pool on this node, by pool and gender (reported on the pool's wait tick).", labels, nil),
		oldestDesc:    prometheus.NewDesc("spinmatch_queue_oldest_wait_seconds", "The longest current wait in a pool on this node, by pool and gender; 0 with nobody waiting.", labels, nil),
		imbalanceDesc: prometheus.NewDesc("spinmatch_queue_imbalance_ratio", "A pool's imbalance ratio (how many of the plentiful side wait per person of the scarce side, as in the admin snapshot), by pool; the largest of the pools labelled other.", []string{"pool"}, nil),
		p90Desc:       prometheus.NewDesc("spinmatch_queue_wait_p90_seconds", "The wait_p90 alert rule's figure by pool and gender: the 90th percentile of the window's matched waits and the current waits, as of the pool's last statistics (about once a second); the largest of the pools labelled other.", labels, nil),
		byPool:        map[string]queueReading{},
	}
}

// Describe implements prometheus.Collector.
func (g *queueGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.waitingDesc
	ch <- g.oldestDesc
	ch <- g.imbalanceDesc
	ch <- g.p90Desc
}

// Collect implements prometheus.Collector: waiting counts are summed over
// the pools of a label, oldest waits, p90 waits and imbalance ratios are
// their maximum.
func (g *queueGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	agg := make(map[string]queueReading, len(g.byPool))
	for _, r := range g.byPool {
		a := agg[r.label]
		for i := range r.waiting {
			a.waiting[i] += r.waiting[i]
			a.oldest[i] = max(a.oldest[i], r.oldest[i])
			a.p90[i] = max(a.p90[i], r.p90[i])
		}
		a.imbalance = max(a.imbalance, r.imbalance)
		agg[r.label] = a
	}
	g.mu.Unlock()
	for label, a := range agg {
		ch <- prometheus.MustNewConstMetric(g.imbalanceDesc, prometheus.GaugeValue, a.imbalance, label)
		for i, gender := range pool.Genders {
			ch <- prometheus.MustNewConstMetric(g.waitingDesc, prometheus.GaugeValue, float64(a.waiting[i]), label, gender.String())
			ch <- prometheus.MustNewConstMetric(g.oldestDesc, prometheus.GaugeValue, a.oldest[i], label, gender.String())
			ch <- prometheus.MustNewConstMetric(g.p90Desc, prometheus.GaugeValue, a.p90[i], label, gender.String())
		}
	}
}

// reportQueue records pool name's current reading under its bounded label.
func (m *Metrics) reportQueue(allowed []string, name string, r queueReading) {
	r.label = m.PoolLabel(allowed, name)
	m.queue.mu.Lock()
	m.queue.byPool[name] = r
	m.queue.mu.Unlock()
}

// forgetQueue drops pool name's reading (its activation stopped).
func (m *Metrics) forgetQueue(name string) {
	m.queue.mu.Lock()
	delete(m.queue.byPool, name)
	m.queue.mu.Unlock()
}
