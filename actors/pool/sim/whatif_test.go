package sim

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// TestWhatIfCheck drives the check with a fake model that answers with
// the waits it is told to, and checks when it is asked, what it is asked,
// the raised scenario, and the 25% rule.
func TestWhatIfCheck(t *testing.T) {
	s := scenario(t, "3to1-exp-45s")
	var askedAt time.Time
	var askedG pool.Gender
	var askedMore float64
	answer := time.Duration(0)
	fake := func(p *pool.Pool, g pool.Gender, more float64, now time.Time) (map[pool.Gender]WhatIfWait, bool) {
		askedAt, askedG, askedMore = now, g, more
		return map[pool.Gender]WhatIfWait{pool.Male: {Now: 30 * time.Second, Then: answer}}, true
	}
	pl := PlanWhatIf(s, fake)
	cfg := testConfig(1)
	cfg.Probe = pl.Probe
	base := Simulate(s, cfg)
	if !pl.NeedsRaised() {
		t.Fatal("the fake answered, but no raised run is asked for")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if !askedAt.Equal(start.Add(s.Warmup+(s.Duration-s.Warmup)/2)) || askedG != pool.Female || math.Abs(askedMore-0.5*4*0.25*3600) > 1e-6 {
		t.Fatalf("asked at %v about %v, %g more an hour; want halfway through the judged stretch, female, 1800", askedAt, askedG, askedMore)
	}
	raised := pl.Raised()
	if math.Abs(raised.Rate*raised.Share(pool.Male)-s.Rate*s.Share(pool.Male)) > 1e-9 ||
		math.Abs(raised.Rate*raised.Share(pool.Female)-1.5*s.Rate*s.Share(pool.Female)) > 1e-9 {
		t.Fatalf("raised: %g/s, men %g, women %g", raised.Rate, raised.Share(pool.Male), raised.Share(pool.Female))
	}
	rr := Simulate(raised, Config{Tick: cfg.Tick, Cooldown: cfg.Cooldown, Seed: cfg.Seed, Pool: cfg.Pool})
	measured := medianWait(rr, pool.Male)
	if measured >= medianWait(base, pool.Male) {
		t.Fatalf("more women, but men's median wait went from %gs to %gs", medianWait(base, pool.Male), measured)
	}
	for _, c := range []struct {
		then float64 // times the measured wait
		pass bool
	}{{1, true}, {1.2, true}, {0.8, true}, {1.3, false}, {0.7, false}} {
		answer = time.Duration(c.then * measured * float64(time.Second))
		pl := PlanWhatIf(s, fake)
		pl.Probe(nil, start)
		got := pl.Finish(base, rr)
		if !got.Ran || got.Pass != c.pass || got.Waiting != "male" || got.Scarce != "female" {
			t.Errorf("said %.1f x measured: %+v; want pass %v", c.then, got, c.pass)
		}
	}
}

func TestWhatIfNotRun(t *testing.T) {
	none := func(*pool.Pool, pool.Gender, float64, time.Time) (map[pool.Gender]WhatIfWait, bool) {
		return nil, false
	}
	for _, c := range []struct {
		name string
		s    Scenario
		note string
	}{
		{"balanced", scenario(t, "1to1-exp-20s"), "no gender is scarce"},
		{"ramp", rush(t), "ramp"},
		{"no model", scenario(t, "3to1-exp-45s"), "said nothing"},
		{"women wait", Scenario{Name: "w", Rate: 1, Classes: binary(1, 1.2)}, "no gender is scarce"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pl := PlanWhatIf(c.s, none)
			pl.Probe(nil, time.Time{})
			got := pl.Finish(nil, nil)
			if got.Ran || pl.NeedsRaised() || !strings.Contains(got.Note, c.note) {
				t.Fatalf("%+v; want not run: %s", got, c.note)
			}
		})
	}
}

// TestWhatIfPicksPartners checks that in a mixed pool the scarce gender
// is the one the waiting gender seeks most, not merely the rarest.
func TestWhatIfPicksPartners(t *testing.T) {
	pl := PlanWhatIf(scenario(t, "mixed-nonbinary-exp-45s"), nil)
	if pl.scarce != pool.Female || pl.waiting != pool.Male || pl.check.Note != "" {
		t.Fatalf("scarce %v, waiting %v, note %q", pl.scarce, pl.waiting, pl.check.Note)
	}
}

func rush(t *testing.T) Scenario {
	s, ok := Find(Matrix(), "rush-3to1-exp-45s")
	if !ok {
		t.Fatal("no rush scenario")
	}
	return s
}

// TestPoolWhatIf asks the real pool's model after a scenario's warm-up:
// it answers for the waiting gender, with waits that are not negative.
func TestPoolWhatIf(t *testing.T) {
	var got map[pool.Gender]WhatIfWait
	var ok bool
	cfg := testConfig(1)
	cfg.Probe = func(p *pool.Pool, now time.Time) { got, ok = PoolWhatIf(p, pool.Female, 1800, now) }
	Simulate(scenario(t, "3to1-exp-45s"), cfg)
	if !ok {
		t.Fatal("the pool's model said nothing")
	}
	for g, w := range got {
		if w.Now < 0 || w.Then < 0 {
			t.Errorf("%v: %+v", g, w)
		}
	}
	if _, ok := got[pool.Male]; !ok {
		t.Errorf("nothing of men: %v", got)
	}
}

func TestWriteSVG(t *testing.T) {
	s := scenario(t, "mixed-nonbinary-exp-45s")
	res := NewResult(Simulate(s, testConfig(1)))
	var b bytes.Buffer
	if err := WriteSVG(&b, res); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	circles, texts := 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "circle" {
				circles++
			}
		case xml.CharData:
			texts += string(el)
		}
	}
	for _, want := range []string{"men: n ", "women: n ", "nonbinary people: n ", "predecessor", "real wait"} {
		if !strings.Contains(texts, want) {
			t.Errorf("no %q in the plot's text", want)
		}
	}
	if circles < 100 || circles > 2*3*plotMaxDots+6 {
		t.Errorf("%d circles", circles)
	}
}
