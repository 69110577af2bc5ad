package sim

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

const goodFile = `{"scenarios": [{
  "name": "custom-3to1",
  "rate_per_s": 4,
  "classes": [{"gender": "male", "weight": 3}, {"gender": "female", "seeking": ["male", "female"], "weight": 1}],
  "patience": {"dist": "lognormal", "mean_s": 45, "sigma": 0.5},
  "ramp": [{"at_s": 0, "mult": 1}, {"at_s": 600, "mult": 4}],
  "votes": {"yes": 0.2, "respin_delay_s": 5},
  "duration_s": 900
}]}`

func TestParseScenarios(t *testing.T) {
	ss, err := ParseScenarios(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 {
		t.Fatalf("%d scenarios", len(ss))
	}
	s := ss[0]
	want := Scenario{
		Name: "custom-3to1", Rate: 4,
		Classes: []Class{
			{Gender: pool.Male, Seeking: pool.SetOf(pool.Female), Weight: 3},
			{Gender: pool.Female, Seeking: pool.SetOf(pool.Male, pool.Female), Weight: 1},
		},
		Patience: Patience{Dist: Lognormal, Mean: 45 * time.Second, Sigma: 0.5},
		Ramp:     []RampPoint{{0, 1}, {10 * time.Minute, 4}},
		Votes:    Votes{Yes: 0.2, Respin: 0.5, DateLength: 180 * time.Second, VoteWindow: 30 * time.Second, RespinDelay: 5 * time.Second},
		Warmup:   5 * time.Minute, Duration: 15 * time.Minute,
	}
	if got := Describe(s); got != Describe(want) {
		t.Fatalf("parsed\n  %s\nwant\n  %s", got, Describe(want))
	}
	if s.Votes != want.Votes || s.Patience != want.Patience || len(s.Classes) != 2 || s.Classes[1] != want.Classes[1] {
		t.Fatalf("parsed %+v", s)
	}
}

// TestParseScenariosBad checks that each bad file names the field at fault.
func TestParseScenariosBad(t *testing.T) {
	one := func(body string) string { return `{"scenarios": [` + body + `]}` }
	base := `"name": "x", "rate_per_s": 1, "classes": [{"gender": "male", "weight": 1}], "patience": {"dist": "exponential", "mean_s": 10}`
	for _, c := range []struct{ name, file, field string }{
		{"not JSON", `{"scenarios": [`, "scenarios"},
		{"empty", `{}`, "scenarios"},
		{"trailing data", `{"scenarios": [{` + base + `}]} {}`, "scenarios"},
		{"unknown top field", `{"scenarios": [{` + base + `}], "extra": 1}`, "extra"},
		{"unknown field", one(`{` + base + `, "colour": "red"}`), "scenarios[0].colour"},
		{"unknown nested field", one(`{"name": "x", "rate_per_s": 1, "classes": [{"gender": "male", "weight": 1}], "patience": {"dist": "exponential", "mean": 10}}`), "scenarios[0].mean"},
		{"bad name", one(`{` + strings.Replace(base, `"x"`, `"Bad Name"`, 1) + `}`), "scenarios[0].name"},
		{"rate a string", one(`{` + strings.Replace(base, `"rate_per_s": 1`, `"rate_per_s": "fast"`, 1) + `}`), "scenarios[0].rate_per_s"},
		{"rate zero", one(`{` + strings.Replace(base, `"rate_per_s": 1`, `"rate_per_s": 0`, 1) + `}`), "scenarios[0].rate_per_s"},
		{"no classes", one(`{"name": "x", "rate_per_s": 1, "patience": {"dist": "exponential", "mean_s": 10}}`), "scenarios[0].classes"},
		{"bad gender", one(`{` + strings.Replace(base, `"male"`, `"robot"`, 1) + `}`), "scenarios[0].classes[0].gender"},
		{"bad seeking", one(`{` + strings.Replace(base, `"weight": 1`, `"weight": 1, "seeking": ["robot"]`, 1) + `}`), "scenarios[0].classes[0].seeking"},
		{"no weight", one(`{` + strings.Replace(base, `, "weight": 1`, ``, 1) + `}`), "scenarios[0].classes[0].weight"},
		{"negative weight", one(`{` + strings.Replace(base, `"weight": 1`, `"weight": -1`, 1) + `}`), "scenarios[0].classes[0].weight"},
		{"bad dist", one(`{` + strings.Replace(base, `"exponential"`, `"uniform"`, 1) + `}`), "scenarios[0].patience.dist"},
		{"no mean", one(`{` + strings.Replace(base, `, "mean_s": 10`, ``, 1) + `}`), "scenarios[0].patience.mean_s"},
		{"sigma for exponential", one(`{` + strings.Replace(base, `"mean_s": 10`, `"mean_s": 10, "sigma": 1`, 1) + `}`), "scenarios[0].patience.sigma"},
		{"ramp backwards", one(`{` + base + `, "ramp": [{"at_s": 60, "mult": 1}, {"at_s": 30, "mult": 2}]}`), "scenarios[0].ramp[1].at_s"},
		{"ramp negative", one(`{` + base + `, "ramp": [{"at_s": 0, "mult": -1}]}`), "scenarios[0].ramp[0].mult"},
		{"yes above 1", one(`{` + base + `, "votes": {"yes": 1.5}}`), "scenarios[0].votes.yes"},
		{"negative date", one(`{` + base + `, "votes": {"date_s": -1}}`), "scenarios[0].votes.date_s"},
		{"duration before warm-up", one(`{` + base + `, "warmup_s": 600, "duration_s": 300}`), "scenarios[0].duration_s"},
		{"name twice", `{"scenarios": [{` + base + `}, {` + base + `}]}`, "scenarios[1].name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenarios(strings.NewReader(c.file))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Field != c.field || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q; want field %q, one line", err, c.field)
			}
		})
	}
}

// TestMatrixIsValid checks the built-in scenarios and that the matrix
// covers what issue 9 asks.
func TestMatrixIsValid(t *testing.T) {
	names := map[string]bool{}
	ramp, mixed := false, false
	for _, s := range Matrix() {
		if err := s.validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if names[s.Name] {
			t.Errorf("%s twice", s.Name)
		}
		names[s.Name] = true
		ramp = ramp || len(s.Ramp) > 0
		mixed = mixed || s.Share(pool.Nonbinary) > 0 && mixedSeeking(s) != ""
	}
	for _, n := range []string{"1to1-exp-20s", "3to1-logn-45s", "10to1-exp-2m", "10to1-logn-5m"} {
		if !names[n] {
			t.Errorf("no scenario %s", n)
		}
	}
	if !ramp || !mixed {
		t.Errorf("rush-hour ramp %v, nonbinary with mixed seeking %v", ramp, mixed)
	}
	if q := Quick(Matrix()); len(q) < 3 {
		t.Errorf("%d quick scenarios", len(q))
	}
}

func TestScoreConfidence(t *testing.T) {
	r := &Run{}
	r.ByGender[0].First = []Sample{
		{P50: 10, Real: 10, Confidence: "high"}, {P50: 10, Real: 12, Confidence: "high"}, {P50: 10, Real: 20, Confidence: "high"},
		{P50: 10, Real: 30, Confidence: "low"}, {P50: 0, Real: 0}, // paired at once: no level
	}
	r.ByGender[1].Update = []Sample{{P50: 5, Real: 4, Confidence: "medium"}}
	got := ScoreConfidence(r)
	if len(got) != 3 || got[0].Confidence != "low" || got[1].Confidence != "medium" || got[2].Confidence != "high" {
		t.Fatalf("rows %+v", got)
	}
	if h := got[2]; h.N != 3 || math.Abs(h.MedianRelError-2.0/12) > 1e-9 || math.Abs(h.Within25-2.0/3) > 1e-9 {
		t.Errorf("high: %+v, want 3 estimates, median error 1/6, 2/3 within 25%%", h)
	}
	if l := got[0]; l.N != 1 || math.Abs(l.MedianRelError-20.0/30) > 1e-9 {
		t.Errorf("low: %+v", l)
	}
}
