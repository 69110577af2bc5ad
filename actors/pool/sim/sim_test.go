package sim

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// testConfig is the server's pool timings (actors.DefaultConfig; cmd/spinsim
// checks they agree).
func testConfig(seed uint64) Config {
	return Config{Tick: time.Second, Cooldown: 24 * time.Hour, Seed: seed, Pool: pool.PoolConfig{WaitUpdateMax: 5 * time.Second}}
}

// scenario returns the matrix scenario name, shortened to ten minutes
// judged after at most three minutes of warm-up (these tests check the
// simulator's mechanics, not the bars).
func scenario(t *testing.T, name string) Scenario {
	t.Helper()
	s, ok := Find(Matrix(), name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	if len(s.Ramp) == 0 {
		s.Warmup = min(s.Warmup, 3*time.Minute)
		s.Duration = s.Warmup + 10*time.Minute
	}
	return s
}

func TestSimulateIsDeterministic(t *testing.T) {
	s := scenario(t, "mixed-nonbinary-exp-45s")
	a, b := Simulate(s, testConfig(7)), Simulate(s, testConfig(7))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with seed 7 differ")
	}
	if !reflect.DeepEqual(Score(a), Score(b)) {
		t.Fatal("two scores of seed 7 differ")
	}
	c := Simulate(s, testConfig(8))
	if reflect.DeepEqual(a.ByGender, c.ByGender) {
		t.Fatal("seeds 7 and 8 gave the same run")
	}
}

// TestTraffic checks the generated traffic against the scenario: nobody
// can be paired (every man seeks a woman, none comes), so every judged
// spin gives up, and their count is the arrival rate times the judged time.
func TestTraffic(t *testing.T) {
	s := Scenario{
		Name: "men-only", Rate: 2, Classes: binary(1, 0),
		Patience: Patience{Dist: Lognormal, Mean: 30 * time.Second, Sigma: 1},
		Votes:    DefaultVotes(), Warmup: time.Minute, Duration: 21 * time.Minute,
	}
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	r := Simulate(s, testConfig(1))
	want := s.Rate * (s.Duration - s.Warmup).Seconds() // 2400
	men := r.ByGender[pool.Male-1]
	if math.Abs(float64(r.Spins)-want) > 4*math.Sqrt(want) || men.GaveUp != r.Spins || r.Matches != 0 || r.Censored != 0 {
		t.Fatalf("spins %d (want about %.0f), men gave up %d, matches %d, censored %d", r.Spins, want, men.GaveUp, r.Matches, r.Censored)
	}
	if len(men.First) != 0 || len(men.Update) != 0 {
		t.Fatalf("samples from unmatched men: %d first, %d updates", len(men.First), len(men.Update))
	}
}

// TestRushRamp checks the thinning: the arrivals of each stretch follow
// the ramp's multiplier.
func TestRushRamp(t *testing.T) {
	s := Scenario{
		Name: "ramp", Rate: 1, Classes: binary(1, 0),
		Patience: Patience{Dist: Exponential, Mean: 10 * time.Second},
		Ramp:     []RampPoint{{0, 1}, {10 * time.Minute, 1}, {10 * time.Minute, 4}, {20 * time.Minute, 4}},
		Votes:    DefaultVotes(),
	}
	for _, c := range []struct {
		from, to time.Duration
		mult     float64
	}{{0, 10 * time.Minute, 1}, {10 * time.Minute, 20 * time.Minute, 4}} {
		s.Warmup, s.Duration = c.from, c.to
		r := Simulate(s, testConfig(3))
		want := c.mult * (c.to - c.from).Seconds()
		if math.Abs(float64(r.Spins)-want) > 4*math.Sqrt(want) {
			t.Errorf("%v-%v: %d spins, want about %.0f", c.from, c.to, r.Spins, want)
		}
	}
	if m := s.Mult(5 * time.Minute); m != 1 {
		t.Errorf("Mult(5m) = %g, want 1", m)
	}
	s.Ramp = []RampPoint{{0, 1}, {10 * time.Minute, 3}}
	if m := s.Mult(5 * time.Minute); math.Abs(m-2) > 1e-9 {
		t.Errorf("Mult(5m) on a linear ramp = %g, want 2", m)
	}
	if m := s.Mult(time.Hour); m != 3 {
		t.Errorf("Mult after the last corner = %g, want 3", m)
	}
}

// TestSpinsAreScored checks what a run records for a balanced pool: both
// genders have matched spins, the partner who waited was told something
// and the newcomer paired at once was told 0 s, and the cooldown keeps
// re-spinning users from meeting the same partner again.
func TestSpinsAreScored(t *testing.T) {
	s := scenario(t, "1to1-exp-20s")
	r := Simulate(s, testConfig(1))
	instant, queued := 0, 0
	for _, g := range []pool.Gender{pool.Male, pool.Female} {
		gr := r.ByGender[g-1]
		if len(gr.First) < 100 {
			t.Fatalf("%s: %d matched spins", g, len(gr.First))
		}
		for _, x := range gr.First {
			if x.Real < 0 || x.P90 < x.P50 || x.Pred < 0 {
				t.Fatalf("%s: bad sample %+v", g, x)
			}
			if x.Real == 0 && x.P50 == 0 {
				instant++
			} else {
				queued++
			}
		}
	}
	if instant == 0 || queued == 0 {
		t.Fatalf("paired at once %d, queued first %d: want both", instant, queued)
	}
	if r.Censored != 0 {
		t.Errorf("censored %d", r.Censored)
	}
}

func TestPredecessor(t *testing.T) {
	var p predecessor
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := p.mean(t0); got != 0 {
		t.Fatalf("empty mean = %v", got)
	}
	p.add(t0, 10*time.Second)
	p.add(t0.Add(time.Minute), 30*time.Second)
	if got := p.mean(t0.Add(2 * time.Minute)); got != 20*time.Second {
		t.Errorf("mean = %v, want 20s", got)
	}
	if got := p.mean(t0.Add(5*time.Minute + time.Second)); got != 30*time.Second {
		t.Errorf("after the first left the window: mean = %v, want 30s", got)
	}
	if got := p.mean(t0.Add(time.Hour)); got != 0 {
		t.Errorf("after both left: mean = %v, want 0", got)
	}
}

func TestJudge(t *testing.T) {
	good := Row{N: 100, MedianWait: 30, LE50: 0.5, LE90: 0.9, MAE: 5, PredMAE: 10, ToldUnder2s: 0}
	instant := Row{N: 100, MedianWait: 0.5, LE50: 0.95, LE90: 0.99, MAE: 0.2, PredMAE: 0.1, ToldUnder2s: 0.95}
	for _, c := range []struct {
		name   string
		row    Row
		judged bool
		fails  int
	}{
		{"waits, every bar", good, true, 0},
		{"too few", Row{N: 4, MedianWait: 30}, false, 0},
		{"p90 too short", with(good, func(r *Row) { r.LE90 = 0.84 }), true, 1},
		{"p90 too long", with(good, func(r *Row) { r.LE90 = 0.98 }), true, 1},
		{"p50 too short", with(good, func(r *Row) { r.LE50 = 0.34 }), true, 1},
		{"p50 too long", with(good, func(r *Row) { r.LE50 = 0.66 }), true, 1},
		{"not 0.7 of the predecessor", with(good, func(r *Row) { r.MAE = 7.5 }), true, 1},
		{"worse than the predecessor", with(good, func(r *Row) { r.MAE = 11 }), true, 1},
		{"paired at once", instant, true, 0},
		{"paired at once, p90 at 100% is fine", with(instant, func(r *Row) { r.LE90 = 1 }), true, 0},
		{"paired at once, told long", with(instant, func(r *Row) { r.ToldUnder2s = 0.89 }), true, 1},
		{"paired at once, within 1 s", with(instant, func(r *Row) { r.MAE = 1 }), true, 0},
		{"paired at once, over 1 s", with(instant, func(r *Row) { r.MAE = 1.1 }), true, 1},
		{"everything wrong", Row{N: 9, MedianWait: 30, LE50: 1, LE90: 1, MAE: 40, PredMAE: 4}, true, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.row)
			if v.Judged != c.judged || len(v.Failures) != c.fails || v.Pass != (c.fails == 0) {
				t.Fatalf("verdict %+v; want judged %v with %d failures", v, c.judged, c.fails)
			}
		})
	}
}

func with(r Row, f func(*Row)) Row {
	f(&r)
	return r
}

func TestScoreSamples(t *testing.T) {
	ss := []Sample{
		{P50: 10, P90: 20, Pred: 0, Real: 8},   // <= p50, within 25%
		{P50: 10, P90: 20, Pred: 5, Real: 12},  // > p50, within 25%, <= p90
		{P50: 10, P90: 20, Pred: 30, Real: 30}, // > p90
		{P50: 1, P90: 2, Pred: 1, Real: 0},     // within 25% of 1 s? |0-1| = 1 > 0.25: no
	}
	r := scoreSamples(pool.Male, PhaseFirst, ss)
	if r.N != 4 || r.LE50 != 0.5 || r.Within25 != 0.5 || r.LE90 != 0.75 || r.ToldUnder2s != 0.25 {
		t.Fatalf("row %+v", r)
	}
	if r.MedianWait != 10 || r.MAE != 2 || r.PredMAE != 4 || r.PredWithin25 != 0.25 {
		t.Fatalf("medians: wait %g, MAE %g, pred MAE %g, pred within %g", r.MedianWait, r.MAE, r.PredMAE, r.PredWithin25)
	}
}
