package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// WhatIfWait is what the what-if model says of one gender's median wait:
// now, and then (with more people of another gender joining).
type WhatIfWait = pool.WhatIfWait

// WhatIfFunc asks p what each gender's median wait would become if
// morePerHour more people of g joined per hour; ok is false when p cannot
// say.
type WhatIfFunc func(p *pool.Pool, g pool.Gender, morePerHour float64, now time.Time) (map[pool.Gender]WhatIfWait, bool)

// PoolWhatIf asks the pool's own model (pool.Pool.WhatIf); ok is false
// when it says nothing of any gender.
func PoolWhatIf(p *pool.Pool, g pool.Gender, morePerHour float64, now time.Time) (map[pool.Gender]WhatIfWait, bool) {
	m := p.WhatIf(g, morePerHour, now)
	return m, len(m) > 0
}

// whatIfShare is how many more of the scarce gender the check adds, as a
// share of its arrival rate.
const whatIfShare = 0.5

// WhatIfCheck is the simulator's check of the what-if model on one
// scenario: halfway through the judged stretch the pool is asked what the waiting
// gender's median wait would become with 50% more arrivals of the scarce
// gender; the same scenario is then run with that gender's rate raised so,
// and the median wait measured there is compared with the answer.
type WhatIfCheck struct {
	// Ran is false when the check could not run (Note says why).
	Ran  bool   `json:"ran"`
	Note string `json:"note,omitempty"`
	// Scarce is the gender added, Waiting the gender whose wait is judged.
	Scarce  string `json:"scarce,omitempty"`
	Waiting string `json:"waiting,omitempty"`
	// MorePerHour is how many more of Scarce an hour were asked about.
	MorePerHour float64 `json:"more_per_hour,omitempty"`
	// SaidNow and SaidThen are the model's median waits of Waiting, in
	// seconds; MeasuredNow and MeasuredThen the medians measured in the
	// scenario and in the raised one.
	SaidNow      float64 `json:"said_now_s,omitempty"`
	SaidThen     float64 `json:"said_then_s,omitempty"`
	MeasuredNow  float64 `json:"measured_now_s,omitempty"`
	MeasuredThen float64 `json:"measured_then_s,omitempty"`
	// Pass is true when SaidThen is within 25% of MeasuredThen (taking
	// the wait as at least 1 s).
	Pass bool `json:"pass"`
}

// String says the check's outcome in one line.
func (c *WhatIfCheck) String() string {
	if !c.Ran {
		return "not run: " + c.Note
	}
	verdict := "pass"
	if !c.Pass {
		verdict = "FAIL (not within 25%)"
	}
	return fmt.Sprintf("%.0f more %s an hour: %s median wait said %s -> %s, measured %s -> %s: %s",
		c.MorePerHour, pluralOf(c.Scarce), c.Waiting, secs(c.SaidNow), secs(c.SaidThen), secs(c.MeasuredNow), secs(c.MeasuredThen), verdict)
}

func pluralOf(name string) string {
	g, _ := pool.ParseGender(name)
	return g.Plural()
}

// WhatIfPlan is how the what-if check probes a scenario: pass Probe as
// Config.Probe of the scenario's run, then call Finish with that run.
type WhatIfPlan struct {
	s       Scenario
	scarce  pool.Gender
	waiting pool.Gender
	more    float64
	ask     WhatIfFunc
	said    map[pool.Gender]WhatIfWait
	asked   bool
	check   WhatIfCheck
}

// PlanWhatIf prepares the what-if check of s with ask (PoolWhatIf unless a
// test passes its own). The waiting gender is the most numerous; the
// scarce gender is the one it seeks most (by the weights of its classes).
// A scenario with a ramp, or whose waiting gender is not at least 1.5
// times as numerous as the scarce one, is not checked.
func PlanWhatIf(s Scenario, ask WhatIfFunc) *WhatIfPlan {
	pl := &WhatIfPlan{s: s, ask: ask}
	most := 0.0
	for _, g := range pool.Genders {
		if sh := s.Share(g); sh > most {
			most, pl.waiting = sh, g
		}
	}
	var sought [len(pool.Genders)]float64
	for _, c := range s.Classes {
		for _, g := range pool.Genders {
			if c.Gender == pl.waiting && g != pl.waiting && c.Seeking.Has(g) {
				sought[g-1] += c.Weight
			}
		}
	}
	best := 0.0
	for _, g := range pool.Genders {
		if sought[g-1] > best {
			best, pl.scarce = sought[g-1], g
		}
	}
	switch {
	case len(s.Ramp) > 0:
		pl.check.Note = "the scenario has a ramp (its median wait moves)"
	case pl.scarce == 0 || most < 1.5*s.Share(pl.scarce):
		pl.check.Note = "no gender is scarce"
	}
	if pl.check.Note == "" {
		pl.more = whatIfShare * s.Rate * s.Mult(s.Warmup) * s.Share(pl.scarce) * 3600
		pl.check.Scarce, pl.check.Waiting, pl.check.MorePerHour = pl.scarce.String(), pl.waiting.String(), pl.more
	}
	return pl
}

// Probe asks the pool halfway through the judged stretch (Config.Probe).
func (pl *WhatIfPlan) Probe(p *pool.Pool, now time.Time) {
	if pl.check.Note != "" {
		return
	}
	pl.said, pl.asked = pl.ask(p, pl.scarce, pl.more, now)
	if !pl.asked {
		pl.check.Note = "the pool's what-if model said nothing"
	}
}

// Raised returns the scenario with the scarce gender's arrivals raised by
// the amount asked about, the others' unchanged.
func (pl *WhatIfPlan) Raised() Scenario {
	s := pl.s
	share := s.Share(pl.scarce)
	s.Rate *= 1 + whatIfShare*share
	s.Classes = append([]Class(nil), s.Classes...)
	for i := range s.Classes {
		if s.Classes[i].Gender == pl.scarce {
			s.Classes[i].Weight *= 1 + whatIfShare
		}
	}
	s.Name += "-whatif"
	return s
}

// NeedsRaised reports whether Finish needs the raised run.
func (pl *WhatIfPlan) NeedsRaised() bool { return pl.asked }

// Finish compares the answer with base (the probed run) and raised (a run
// of Raised, nil when NeedsRaised is false).
func (pl *WhatIfPlan) Finish(base, raised *Run) *WhatIfCheck {
	c := pl.check
	if !pl.asked || raised == nil {
		if c.Note == "" {
			c.Note = "the raised scenario did not run"
		}
		return &c
	}
	c.Ran = true
	said := pl.said[pl.waiting]
	c.SaidNow, c.SaidThen = said.Now.Seconds(), said.Then.Seconds()
	c.MeasuredNow = medianWait(base, pl.waiting)
	c.MeasuredThen = medianWait(raised, pl.waiting)
	c.Pass = math.Abs(c.SaidThen-c.MeasuredThen) <= 0.25*math.Max(c.MeasuredThen, 1)
	return &c
}

// medianWait is the median wait of g's matched judged spins in r.
func medianWait(r *Run, g pool.Gender) float64 {
	ss := r.ByGender[g-1].First
	waits := make([]float64, len(ss))
	for i, s := range ss {
		waits[i] = s.Real
	}
	return median(waits)
}
