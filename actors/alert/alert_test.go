package alert

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func imb(pool string) Condition {
	return Condition{Key: Key{Rule: Imbalance, Pool: pool}, Severity: Warning, Message: "m"}
}

// steps runs e over a schedule of (offset, holding) and returns the
// changes by offset.
func TestEvaluatorEdges(t *testing.T) {
	type step struct {
		at   time.Duration
		hold bool
		want State // "" no change
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fires after holding for For, once", []step{
			{0, true, ""}, {30 * time.Second, true, ""}, {59 * time.Second, true, ""},
			{60 * time.Second, true, Firing}, {61 * time.Second, true, ""}, {200 * time.Second, true, ""},
		}},
		{"a blip shorter than For never fires", []step{
			{0, true, ""}, {30 * time.Second, false, ""}, {45 * time.Second, true, ""}, {100 * time.Second, true, ""},
			{105 * time.Second, true, Firing},
		}},
		{"resolves after not holding for For, once", []step{
			{0, true, ""}, {60 * time.Second, true, Firing}, {70 * time.Second, false, ""},
			{129 * time.Second, false, ""}, {130 * time.Second, false, Resolved}, {131 * time.Second, false, ""}, {300 * time.Second, false, ""},
		}},
		{"hysteresis: holding again stops the resolve countdown", []step{
			{0, true, ""}, {60 * time.Second, true, Firing}, {70 * time.Second, false, ""},
			{120 * time.Second, true, ""}, {125 * time.Second, false, ""}, {184 * time.Second, false, ""},
			{185 * time.Second, false, Resolved},
		}},
		{"fires again after a resolve", []step{
			{0, true, ""}, {60 * time.Second, true, Firing}, {61 * time.Second, false, ""},
			{121 * time.Second, false, Resolved}, {122 * time.Second, true, ""}, {182 * time.Second, true, Firing},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEvaluator(time.Minute)
			for _, s := range tc.steps {
				var hold []Condition
				if s.hold {
					hold = []Condition{imb("a")}
				}
				ch := e.Step(t0.Add(s.at), hold)
				switch {
				case s.want == "" && len(ch) != 0:
					t.Fatalf("at %v: want no change, got %+v", s.at, ch)
				case s.want != "" && (len(ch) != 1 || ch[0].State != s.want || !ch[0].At.Equal(t0.Add(s.at))):
					t.Fatalf("at %v: want one %s, got %+v", s.at, s.want, ch)
				}
			}
		})
	}
}

func TestEvaluatorImmediateAndKeys(t *testing.T) {
	e := NewEvaluator(time.Minute)
	lost := Condition{Key: Key{Rule: NodeLost, Node: "n1"}, Severity: Critical, Immediate: true}
	ch := e.Step(t0, []Condition{lost, imb("a"), imb("b")})
	if len(ch) != 1 || ch[0].Key != lost.Key || ch[0].State != Firing {
		t.Fatalf("immediate: got %+v", ch)
	}
	ch = e.Step(t0.Add(time.Minute), []Condition{lost, imb("a"), imb("b")})
	if len(ch) != 2 || ch[0].Key.Pool != "a" || ch[1].Key.Pool != "b" {
		t.Fatalf("two pools fire once each, sorted: %+v", ch)
	}
	if f := e.Firing(); len(f) != 3 {
		t.Fatalf("firing = %+v, want 3", f)
	}
	// The immediate one still waits For to resolve.
	if ch := e.Step(t0.Add(90*time.Second), []Condition{imb("a"), imb("b")}); len(ch) != 0 {
		t.Fatalf("resolved too soon: %+v", ch)
	}
	if ch := e.Step(t0.Add(150*time.Second), []Condition{imb("a"), imb("b")}); len(ch) != 1 || ch[0].State != Resolved || ch[0].Key != lost.Key {
		t.Fatalf("node_lost resolve: %+v", ch)
	}
}

func TestEvaluatorZeroForAndAdopt(t *testing.T) {
	e := NewEvaluator(0)
	if ch := e.Step(t0, []Condition{imb("a")}); len(ch) != 1 || ch[0].State != Firing {
		t.Fatalf("For 0 fires at once: %+v", ch)
	}
	if ch := e.Step(t0.Add(time.Second), nil); len(ch) != 1 || ch[0].State != Resolved {
		t.Fatalf("For 0 resolves at once: %+v", ch)
	}

	// An adopted alert is not announced again while it holds, and its
	// resolve is.
	e = NewEvaluator(time.Minute)
	e.Adopt(imb("a"))
	if ch := e.Step(t0, []Condition{imb("a")}); len(ch) != 0 {
		t.Fatalf("adopted fired again: %+v", ch)
	}
	if ch := e.Step(t0.Add(time.Second), nil); len(ch) != 0 {
		t.Fatalf("resolved too soon: %+v", ch)
	}
	if ch := e.Step(t0.Add(61*time.Second), nil); len(ch) != 1 || ch[0].State != Resolved {
		t.Fatalf("adopted resolve: %+v", ch)
	}
}

func TestConditions(t *testing.T) {
	th := DefaultThresholds()
	f := Figures{
		Pools: []PoolFigures{
			{Pool: "busy", Waiting: map[string]int{"male": 10, "female": 2}, Ratio: 5, Scarce: "female",
				P90Wait: map[string]time.Duration{"male": 601 * time.Second, "female": 600 * time.Second}},
			{Pool: "small", Waiting: map[string]int{"male": 8, "female": 1}, Ratio: 8}, // 9 < MinWaiting
			{Pool: "even", Waiting: map[string]int{"male": 10, "female": 10}, Ratio: 1},
		},
		StoreErrorsPerMin: 11,
		Lost:              []LostNode{{ID: "id1", Address: "127.0.0.1:1"}},
	}
	got := map[Key]Condition{}
	for _, c := range Conditions(th, f) {
		got[c.Key] = c
	}
	want := []Key{
		{Rule: WaitP90, Pool: "busy", Gender: "male"},
		{Rule: Imbalance, Pool: "busy"},
		{Rule: StoreErrors},
		{Rule: NodeLost, Node: "id1"},
	}
	if len(got) != len(want) {
		t.Fatalf("conditions = %+v, want %v", got, want)
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("missing %v", k)
		}
	}
	if c := got[Key{Rule: NodeLost, Node: "id1"}]; !c.Immediate || c.Severity != Critical {
		t.Errorf("node_lost = %+v", c)
	}
	f.StoreErrorsPerMin = 10
	for _, c := range Conditions(th, f) {
		if c.Key.Rule == StoreErrors {
			t.Errorf("10 per minute is not above 10")
		}
	}
}

func TestErrorRate(t *testing.T) {
	r := NewErrorRate(time.Minute)
	r.Observe("a", 100, t0)
	r.Observe("b", 5, t0)
	if got := r.PerWindow(t0); got != 0 {
		t.Fatalf("first reports: %v", got)
	}
	for i := 1; i <= 90; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		r.Observe("a", 100+int64(i), now) // one a second
		r.Observe("b", 5, now)
	}
	if got := r.PerWindow(t0.Add(90 * time.Second)); got != 60 {
		t.Fatalf("per minute = %v, want 60", got)
	}
	// b restarts (its count falls): counted from its new value.
	r.Observe("b", 0, t0.Add(91*time.Second))
	r.Observe("b", 3, t0.Add(92*time.Second))
	if got := r.PerWindow(t0.Add(92 * time.Second)); got < 62 || got > 63 {
		t.Fatalf("per minute after restart = %v", got)
	}
	// Nodes that stop reporting are forgotten.
	if got := r.PerWindow(t0.Add(10 * time.Minute)); got != 0 {
		t.Fatalf("stale nodes counted: %v", got)
	}
}
