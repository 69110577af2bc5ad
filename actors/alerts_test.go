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

func TestAlertsGrainCountsFiringsByHour(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 59, 50, 0, time.UTC)
	g, _ := alertsAt(t, &now)
	fire := func(pool string) {
		g.announce(alert.Change{Condition: alert.Condition{Key: alert.Key{Rule: alert.Imbalance, Pool: pool}, Severity: alert.Warning}, State: alert.Firing, At: now})
	}
	fire("a")
	fire("b")
	g.announce(alert.Change{Condition: alert.Condition{Key: alert.Key{Rule: alert.Imbalance, Pool: "a"}}, State: alert.Resolved, At: now})
	now = now.Add(20 * time.Second) // 13:00:10
	fire("a")
	h12, h13 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       int64
	}{
		{"12:00 hour: two firings, a resolve is not one", h12, h13, 2},
		{"13:00 hour", h13, h13.Add(time.Hour), 1},
		{"the day", h12.Add(-12 * time.Hour), h12.Add(12 * time.Hour), 3},
		{"before", h12.Add(-time.Hour), h12, 0},
	} {
		if got := g.firedIn(ms(tc.start), ms(tc.end)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// Hours older than 48 are forgotten at the next firing.
	now = now.Add(49 * time.Hour)
	fire("c")
	if got := g.firedIn(ms(h12), ms(h13.Add(time.Hour))); got != 0 {
		t.Errorf("old hours kept: %d", got)
	}
	// The counts travel with the state a fresh activation adopts.
	if st := g.state(0); len(st.FiredHours) != 1 {
		t.Errorf("state fired hours = %v", st.FiredHours)
	}
}
