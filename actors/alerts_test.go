package actors

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spinmatch/spinmatch/actors/alert"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// sinkRec records announced alerts.
type sinkRec struct{ got []Alert }

func (s *sinkRec) Announce(a Alert) { s.got = append(s.got, a) }

// alertsAt returns an Alerts grain (outside an actor system: its methods
// are driven directly) on a clock the test moves.
func alertsAt(t *testing.T, now *time.Time) (*alertsGrain, *sinkRec) {
	t.Helper()
	cfg := TestConfig()
	cfg.Alerts = AlertConfig{Interval: time.Second, Thresholds: alert.Thresholds{For: 10 * time.Second, WaitP90: time.Hour,
		Imbalance: 4, MinWaiting: 10, StoreErrorsPerMin: 5, NodeLostHold: time.Minute}}
	sink := &sinkRec{}
	d := &Deps{Config: cfg, Logger: clustertest.Logger(), Now: func() time.Time { return *now }, Alerts: sink,
		AlertMetrics: NewAlertMetrics(prometheus.NewRegistry())}
	g := newAlertsGrain(d).(*alertsGrain)
	g.log, g.started, g.warm = d.Logger, *now, true
	return g, sink
}

// evaluate is the grain's tick without the actor plumbing.
func (g *alertsGrain) evaluate() {
	for _, c := range g.ev.Step(g.d.now(), alert.Conditions(g.cfg.Thresholds, g.figures(g.d.now()))) {
		g.announce(c)
	}
	g.setGauges(g.firing)
}

func TestAlertsGrainNodeLostOnceAndBack(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	g, sink := alertsAt(t, &now)
	lost := &msg.MemberRef{Id: "old-id", Address: "10.0.0.3:4000", AtMs: ms(now)}
	for _, node := range []string{"a", "b"} { // both survivors saw it
		g.report(&msg.AlertReport{Node: node, Lost: []*msg.MemberRef{lost}, Members: []*msg.MemberRef{{Id: node, Address: node + ":1"}}})
	}
	g.evaluate()
	for range 5 {
		now = now.Add(time.Second)
		g.report(&msg.AlertReport{Node: "a", Lost: []*msg.MemberRef{lost}})
		g.evaluate()
	}
	if len(sink.got) != 1 || sink.got[0].Rule != "node_lost" || sink.got[0].State != "firing" || sink.got[0].Member != "old-id" || sink.got[0].Node != "10.0.0.3:4000" {
		t.Fatalf("announced %+v, want one node_lost firing", sink.got)
	}
	if v := testutil.ToFloat64(g.d.AlertMetrics.Firing.WithLabelValues("node_lost")); v != 1 {
		t.Fatalf("gauge = %v", v)
	}
	// A new incarnation at that address: resolved For later, once.
	for range 12 {
		now = now.Add(time.Second)
		g.report(&msg.AlertReport{Node: "a", Lost: []*msg.MemberRef{lost}, Members: []*msg.MemberRef{{Id: "new-id", Address: "10.0.0.3:4000"}}})
		g.evaluate()
	}
	if len(sink.got) != 2 || sink.got[1].State != "resolved" || sink.got[1].Seq <= sink.got[0].Seq {
		t.Fatalf("announced %+v, want the resolve", sink.got)
	}
	if v := testutil.ToFloat64(g.d.AlertMetrics.Firing.WithLabelValues("node_lost")); v != 0 {
		t.Fatalf("gauge = %v", v)
	}
}

func TestAlertsGrainAdoptsWithoutAnnouncing(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	g, sink := alertsAt(t, &now)
	g.warm = false // a fresh activation
	firing := alertMsg(Alert{Rule: "store_errors", State: "firing", Severity: "critical", Message: "m", At: now.Add(-time.Minute), Seq: 41})
	g.report(&msg.AlertReport{Node: "a", KnownSeq: 40, Firing: nil})
	g.report(&msg.AlertReport{Node: "b", KnownSeq: 41, Firing: []*msg.AlertMsg{firing}, Recent: []*msg.AlertMsg{firing}})
	g.report(&msg.AlertReport{Node: "a", KnownSeq: 40}) // older: not adopted
	if st := g.state(0); !st.Fresh || st.Seq != 41 || len(st.Firing) != 1 || len(st.Changes) != 1 {
		t.Fatalf("state = %+v", st)
	}
	g.warm = true
	// The store errors go on: no second firing.
	for i := range 5 {
		now = now.Add(time.Second)
		g.report(&msg.AlertReport{Node: "a", StoreErrorsTotal: int64(10 * i)})
		g.evaluate()
	}
	if len(sink.got) != 0 {
		t.Fatalf("announced again: %+v", sink.got)
	}
	// They stop (the minute's count falls to 0 once the window has passed): resolved.
	for range 75 {
		now = now.Add(time.Second)
		g.report(&msg.AlertReport{Node: "a", StoreErrorsTotal: 40})
		g.evaluate()
	}
	if len(sink.got) != 1 || sink.got[0].State != "resolved" || sink.got[0].Rule != "store_errors" || sink.got[0].Seq <= 41 {
		t.Fatalf("announced %+v, want one resolve after seq 41", sink.got)
	}
	if st := g.state(41); len(st.Changes) != 1 || st.Changes[0].Seq != sink.got[0].Seq {
		t.Fatalf("changes after 41 = %+v", st.Changes)
	}
}
