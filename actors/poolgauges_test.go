package actors

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// queueSeries gathers reg's spinmatch_queue_waiting series as pool/gender -> value.
func queueSeries(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var pool, gender string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "pool":
					pool = l.GetValue()
				case "gender":
					gender = l.GetValue()
				}
			}
			out[pool+"/"+gender] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestQueueGaugesBoundedSummedAndForgotten(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	// SPIN_POOLS unset: the first maxPoolLabels pools get their own label.
	for i := range maxPoolLabels {
		m.reportQueue(nil, fmt.Sprintf("p%d", i), queueReading{waiting: [3]int{1, 0, 0}})
	}
	m.reportQueue(nil, "late-a", queueReading{waiting: [3]int{2, 1, 0}, oldest: [3]float64{30, 5, 0}})
	m.reportQueue(nil, "late-b", queueReading{waiting: [3]int{3, 0, 0}, oldest: [3]float64{10, 0, 0}})
	w := queueSeries(t, reg, "spinmatch_queue_waiting")
	if len(w) != (maxPoolLabels+1)*3 {
		t.Errorf("%d waiting series; want %d (the bound plus other, by 3 genders)", len(w), (maxPoolLabels+1)*3)
	}
	if w["other/male"] != 5 || w["other/female"] != 1 || w["p0/male"] != 1 {
		t.Errorf("other/male %v, other/female %v, p0/male %v; want 5, 1, 1", w["other/male"], w["other/female"], w["p0/male"])
	}
	if o := queueSeries(t, reg, "spinmatch_queue_oldest_wait_seconds"); o["other/male"] != 30 {
		t.Errorf("other/male oldest wait %v; want 30 (the longest of the pools labelled other)", o["other/male"])
	}
	for i := range maxPoolLabels {
		m.forgetQueue(fmt.Sprintf("p%d", i))
	}
	m.forgetQueue("late-a")
	w = queueSeries(t, reg, "spinmatch_queue_waiting")
	if len(w) != 3 || w["other/male"] != 3 {
		t.Errorf("after the pools stopped: %v; want only other's 3 series, other/male 3", w)
	}
	// With SPIN_POOLS set, an unlisted pool is other.
	m2 := NewMetrics(nil)
	if got := m2.PoolLabel([]string{"main"}, "side"); got != OtherPool {
		t.Errorf("PoolLabel(unlisted) = %q; want other", got)
	}
}
