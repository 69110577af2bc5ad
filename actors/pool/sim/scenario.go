package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// Class is one kind of user in a scenario's traffic: a gender, what it
// seeks, and its share of the arrivals (Weight, relative to the others).
type Class struct {
	Gender  pool.Gender
	Seeking pool.GenderSet
	Weight  float64
}

// DefaultSeeking is what a user of gender g seeks unless a scenario says
// otherwise: the other binary gender, or everyone for a nonbinary user.
func DefaultSeeking(g pool.Gender) pool.GenderSet {
	switch g {
	case pool.Male:
		return pool.SetOf(pool.Female)
	case pool.Female:
		return pool.SetOf(pool.Male)
	}
	return pool.SetOf(pool.Genders[:]...)
}

// Dist is a patience distribution.
type Dist uint8

// The patience distributions.
const (
	Exponential Dist = iota + 1
	Lognormal
)

// String returns the name a scenario file uses for d.
func (d Dist) String() string {
	switch d {
	case Exponential:
		return "exponential"
	case Lognormal:
		return "lognormal"
	}
	return ""
}

// Patience is how long users wait before they give up.
type Patience struct {
	Dist Dist
	// Mean is the mean patience.
	Mean time.Duration
	// Sigma is the standard deviation of log(patience), Lognormal only.
	Sigma float64
}

// String describes p briefly ("exp 45s", "lognormal 2m0s σ1").
func (p Patience) String() string {
	if p.Dist == Lognormal {
		return fmt.Sprintf("lognormal mean %v σ %g", p.Mean, p.Sigma)
	}
	return fmt.Sprintf("exponential mean %v", p.Mean)
}

// RampPoint is one corner of a rush-hour ramp: at At (since the start of the
// run) the arrival rate is Mult times the scenario's Rate. Between corners
// the multiplier moves linearly; before the first and after the last it
// stays at theirs.
type RampPoint struct {
	At   time.Duration
	Mult float64
}

// Votes is what users do after a date.
type Votes struct {
	// Yes is the probability that a user votes yes.
	Yes float64
	// Respin is the probability that a user spins again once the match is
	// settled; the others leave for good.
	Respin float64
	// DateLength is how long a date lasts.
	DateLength time.Duration
	// VoteWindow bounds how long after the date each user takes to vote
	// (uniform in [0, VoteWindow]); the match settles at the later vote.
	VoteWindow time.Duration
	// RespinDelay is how long after the settlement a user who spins again does.
	RespinDelay time.Duration
}

// Scenario is one traffic pattern to run against a pool.
type Scenario struct {
	// Name identifies the scenario (lower case, digits and '-').
	Name string
	// Rate is the arrival rate of new users per second at multiplier 1.
	Rate float64
	// Classes are the kinds of arriving users and their shares.
	Classes []Class
	// Patience is how long users wait before they give up.
	Patience Patience
	// Ramp is the rush-hour ramp; empty means a constant rate.
	Ramp []RampPoint
	// Votes is what users do after a date.
	Votes Votes
	// Warmup is how long the run goes before spins are judged.
	Warmup time.Duration
	// Duration is when new spins stop being judged (counted from the
	// start, warm-up included). Traffic goes on after it until every
	// judged spin has ended.
	Duration time.Duration
	// Quick marks a scenario of the quick subset (the test).
	Quick bool
}

// Mult returns the ramp's rate multiplier at offset t since the start.
func (s *Scenario) Mult(t time.Duration) float64 {
	r := s.Ramp
	if len(r) == 0 {
		return 1
	}
	if t <= r[0].At {
		return r[0].Mult
	}
	for i := 1; i < len(r); i++ {
		if t <= r[i].At {
			a, b := r[i-1], r[i]
			if b.At == a.At {
				return b.Mult
			}
			f := float64(t-a.At) / float64(b.At-a.At)
			return a.Mult + f*(b.Mult-a.Mult)
		}
	}
	return r[len(r)-1].Mult
}

// maxMult returns the largest multiplier of the ramp (1 without one).
func (s *Scenario) maxMult() float64 {
	if len(s.Ramp) == 0 {
		return 1
	}
	m := 0.0
	for _, p := range s.Ramp {
		m = math.Max(m, p.Mult)
	}
	return m
}

// Share returns the share of arrivals of gender g.
func (s *Scenario) Share(g pool.Gender) float64 {
	all, of := 0.0, 0.0
	for _, c := range s.Classes {
		all += c.Weight
		if c.Gender == g {
			of += c.Weight
		}
	}
	if all == 0 {
		return 0
	}
	return of / all
}

// Mix describes the gender mix against the scarcest gender ("men:women 3:1").
func (s *Scenario) Mix() string {
	least := math.Inf(1)
	for _, g := range pool.Genders {
		if sh := s.Share(g); sh > 0 {
			least = math.Min(least, sh)
		}
	}
	var names, parts []string
	for _, g := range pool.Genders {
		sh := s.Share(g)
		if sh == 0 {
			continue
		}
		names = append(names, g.Plural())
		parts = append(parts, trimFloat(sh/least))
	}
	return strings.Join(names, ":") + " " + strings.Join(parts, ":")
}

// trimFloat prints x with at most two decimals.
func trimFloat(x float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", x), "0"), ".")
}

// validate checks s, naming the first bad field as a scenario file spells it.
func (s *Scenario) validate() *FieldError {
	if !validName(s.Name) {
		return &FieldError{"name", fmt.Sprintf("must be 1 to 40 of a-z, 0-9 and '-', not %q", s.Name)}
	}
	if !(s.Rate > 0 && s.Rate <= 1000) {
		return &FieldError{"rate_per_s", fmt.Sprintf("must be a number of arrivals per second in (0, 1000], not %g", s.Rate)}
	}
	if len(s.Classes) == 0 {
		return &FieldError{"classes", "must list at least one class"}
	}
	total := 0.0
	for i, c := range s.Classes {
		if !c.Gender.Valid() {
			return &FieldError{fmt.Sprintf("classes[%d].gender", i), "must be male, female or nonbinary"}
		}
		if !c.Seeking.Valid() {
			return &FieldError{fmt.Sprintf("classes[%d].seeking", i), "must list male, female or nonbinary"}
		}
		if !(c.Weight >= 0 && c.Weight < math.Inf(1)) {
			return &FieldError{fmt.Sprintf("classes[%d].weight", i), fmt.Sprintf("must be a number >= 0, not %g", c.Weight)}
		}
		total += c.Weight
	}
	if total <= 0 {
		return &FieldError{"classes", "must have a weight above 0 in all"}
	}
	if s.Patience.Dist != Exponential && s.Patience.Dist != Lognormal {
		return &FieldError{"patience.dist", "must be exponential or lognormal"}
	}
	if !(s.Patience.Mean > 0) {
		return &FieldError{"patience.mean_s", "must be a positive number of seconds"}
	}
	if s.Patience.Dist == Lognormal && !(s.Patience.Sigma > 0 && s.Patience.Sigma <= 3) {
		return &FieldError{"patience.sigma", fmt.Sprintf("must be in (0, 3], not %g", s.Patience.Sigma)}
	}
	for i, p := range s.Ramp {
		if p.At < 0 || (i > 0 && p.At < s.Ramp[i-1].At) {
			return &FieldError{fmt.Sprintf("ramp[%d].at_s", i), "must be >= 0 and not before the corner above it"}
		}
		if !(p.Mult >= 0 && p.Mult <= 100) {
			return &FieldError{fmt.Sprintf("ramp[%d].mult", i), fmt.Sprintf("must be in [0, 100], not %g", p.Mult)}
		}
	}
	if len(s.Ramp) > 0 && s.maxMult() <= 0 {
		return &FieldError{"ramp", "must have a multiplier above 0 somewhere"}
	}
	v := s.Votes
	switch {
	case !(v.Yes >= 0 && v.Yes <= 1):
		return &FieldError{"votes.yes", fmt.Sprintf("must be a probability in [0, 1], not %g", v.Yes)}
	case !(v.Respin >= 0 && v.Respin <= 1):
		return &FieldError{"votes.respin", fmt.Sprintf("must be a probability in [0, 1], not %g", v.Respin)}
	case v.DateLength < 0:
		return &FieldError{"votes.date_s", "must be >= 0 seconds"}
	case v.VoteWindow < 0:
		return &FieldError{"votes.vote_s", "must be >= 0 seconds"}
	case v.RespinDelay < 0:
		return &FieldError{"votes.respin_delay_s", "must be >= 0 seconds"}
	}
	if s.Warmup < 0 {
		return &FieldError{"warmup_s", "must be >= 0 seconds"}
	}
	if s.Duration <= s.Warmup {
		return &FieldError{"duration_s", fmt.Sprintf("must be longer than the warm-up (%v), not %v", s.Warmup, s.Duration)}
	}
	if s.Duration > 48*time.Hour {
		return &FieldError{"duration_s", "must be at most 48 hours"}
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// FieldError is a bad field of a scenario: Field as a scenario file spells
// it ("patience.mean_s"), Msg what is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
