package actors

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// fakeClock is a clock the test moves. Safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func histogram(t *testing.T, o prometheus.Observer) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

// TestSpinToMatchAndQueueGaugesOnTheGrainClock: Ann spins, waits 42 s on
// the grains' clock, then Bob spins and is paired at once. The queue
// gauges show Ann waiting (and for how long) while she is alone, and the
// spin-to-match_found histogram gets Ann's 42 s and Bob's 0 s.
func TestSpinToMatchAndQueueGaugesOnTheGrainClock(t *testing.T) {
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	reg := prometheus.NewRegistry()
	d := &Deps{Config: TestConfig(), Logger: clustertest.Logger(), Metrics: NewMetrics(reg), Now: clock.now}
	sys, d := boundedNodeWith(t, d)
	putProfile(t, sys, "ann", "female", "clocked", "male")
	putProfile(t, sys, "bob", "male", "clocked", "female")
	if q := command(t, sys, "ann", spinCmd()).GetQueued(); q == nil {
		t.Fatal("Ann was not queued")
	}
	clock.advance(10 * time.Second)
	clustertest.Eventually(t, 5*time.Second, "the pool to report Ann waiting 10 s", func() bool {
		w, o := queueSeries(t, reg, "spinmatch_queue_waiting"), queueSeries(t, reg, "spinmatch_queue_oldest_wait_seconds")
		return w["clocked/female"] == 1 && w["clocked/male"] == 0 && o["clocked/female"] == 10
	})
	// The wait_p90 figure is the one the pool's last statistics computed.
	if _, err := ask[*msg.PoolStats](context.Background(), d, "clocked", KindMatchPool, &msg.PoolStatsRequest{}, 5*time.Second); err != nil {
		t.Fatalf("pool stats: %v", err)
	}
	clustertest.Eventually(t, 5*time.Second, "the pool to report Ann's p90 wait of 10 s", func() bool {
		return queueSeries(t, reg, "spinmatch_queue_wait_p90_seconds")["clocked/female"] == 10
	})
	clock.advance(32 * time.Second)
	if ev := command(t, sys, "bob", spinCmd()); ev.GetQueued() == nil && ev.GetMatchFound() == nil {
		t.Fatalf("Bob's spin: %v", ev)
	}
	obs := d.Metrics.SpinToMatch.WithLabelValues("clocked")
	clustertest.Eventually(t, 5*time.Second, "both match_found observed", func() bool {
		return histogram(t, obs).GetSampleCount() == 2
	})
	if s := histogram(t, obs).GetSampleSum(); s != 42 {
		t.Errorf("spin to match_found sum = %v s; want 42 (Ann 42, Bob 0)", s)
	}
	clustertest.Eventually(t, 5*time.Second, "the pool to report nobody waiting", func() bool {
		w := queueSeries(t, reg, "spinmatch_queue_waiting")
		return w["clocked/female"] == 0 && w["clocked/male"] == 0
	})
	if h := histogram(t, d.Metrics.GrainLatency.WithLabelValues(KindMatchPool)); h.GetSampleCount() < 2 {
		t.Errorf("grain requests to MatchPool observed %d; want at least the two enqueues", h.GetSampleCount())
	}
}

// TestGrainKindsLabelEveryKind: every grain kind a node hosts has its own
// label value in the grain metrics (none is lumped into "other").
func TestGrainKindsLabelEveryKind(t *testing.T) {
	d := &Deps{Config: TestConfig(), Metrics: NewMetrics(nil)}
	for _, k := range Kinds(d) {
		if !slices.Contains(grainKinds, k.Kind) {
			t.Errorf("grain kind %s has no label in grainKinds", k.Kind)
		}
	}
}
