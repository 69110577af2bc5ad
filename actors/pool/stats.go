package pool

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Thresholds of the admin recommendations.
const (
	minDecided  = 10 // decided dates before the success rate is judged
	lowSuccess  = 0.2
	minFinished = 10 // finished waits of a gender before abandonment is judged
	highAbandon = 0.5
	longP90     = 5 * time.Minute
)

// Stats is a snapshot of one pool for admins and the public queue status.
// Maps are keyed by gender; a gender with no data in the window is absent
// from AvgWait, P90Wait and AbandonRate.
type Stats struct {
	// Waiting counts everyone queued, by gender (every gender present).
	Waiting map[Gender]int
	// AvgWait and P90Wait are over waits that ended in a match in the
	// window; waits that ended by leaving are cut short and would pull them
	// down, so they are counted in AbandonRate instead.
	AvgWait, P90Wait map[Gender]time.Duration
	// P90WaitNow is the 90th percentile over the matched waits in the
	// window and the current waits of those still queued (the wait_p90
	// alert rule): a pool where nobody is matched still shows how long its
	// waiters wait. Absent for a gender with neither.
	P90WaitNow map[Gender]time.Duration
	// AbandonRate is the share of finished waits in the window that ended by
	// leaving the queue rather than in a match.
	AbandonRate map[Gender]float64
	// Abandoned counts, by gender, the waits that ended by leaving the
	// queue unmatched (a cancel, or the reconnect grace ran out) in the
	// window (every gender present).
	Abandoned map[Gender]int
	// ETA is EstimateFor(g).P50 for every gender.
	ETA map[Gender]time.Duration
	// MatchesPerMin is the rate of pairs formed over the observed window.
	MatchesPerMin float64
	// MatchSuccessRate is mutual / decided dates in the window; 0 with none.
	MatchSuccessRate float64
	// ImbalanceRatio is max/min of the waiting counts of the genders in use
	// (waiting, arrived or sought in the window), a zero minimum counting as
	// one; 1 when fewer than two genders are in use.
	ImbalanceRatio float64
	// Scarce is the name of the gender in short supply, "" when balanced
	// (see the scarcity rule: at least 3 of the largest group waiting and at
	// least twice as many as the scarce one).
	Scarce string
	// Recommendations is readable advice for admins, most important first.
	Recommendations []string
	// WhatIf is what the median waits would become with more people of
	// the scarce gender (Pool.Stats only).
	WhatIf []WhatIf
}

// ImbalanceRatio is Stats(waiting, now).ImbalanceRatio without computing
// the rest (the metrics' gauge reads it on every wait tick).
func (e *Estimator) ImbalanceRatio(waiting map[Gender]int, now time.Time) float64 {
	e.observe(now)
	var st Stats
	e.imbalance(waiting, &st)
	return st.ImbalanceRatio
}

// Stats returns the pool's statistics at now, given its waiting counts
// (P90WaitNow then knows no current waits: see QueueStats).
func (e *Estimator) Stats(waiting map[Gender]int, now time.Time) Stats {
	return e.stats(waiting, nil, now)
}

// QueueStats returns the statistics of the pool whose queue is q at now,
// the current waits of q's waiters included in P90WaitNow (AlertP90Wait).
// O(q.Len()).
func (e *Estimator) QueueStats(q *Queue, now time.Time) Stats {
	return e.stats(q.Waiting(), e.AlertP90Wait(q, now), now)
}

// stats computes Stats; p90Now is P90WaitNow, nil for P90Wait's figures.
func (e *Estimator) stats(waiting map[Gender]int, p90Now map[Gender]time.Duration, now time.Time) Stats {
	span := e.observe(now)
	nowKey := timeKey(now)
	st := Stats{
		Waiting:     make(map[Gender]int, numGenders),
		AvgWait:     make(map[Gender]time.Duration, numGenders),
		P90Wait:     make(map[Gender]time.Duration, numGenders),
		P90WaitNow:  make(map[Gender]time.Duration, numGenders),
		AbandonRate: make(map[Gender]float64, numGenders),
		Abandoned:   make(map[Gender]int, numGenders),
		ETA:         make(map[Gender]time.Duration, numGenders),
	}
	var sums [numGenders + 1]waitSummary
	for _, g := range Genders {
		st.Waiting[g] = waiting[g]
		sums[g], e.scratch = e.waits[g].summarize(nowKey-int64(e.cfg.Window), e.scratch)
		if s := sums[g]; s.matched > 0 {
			st.AvgWait[g], st.P90Wait[g] = s.avg, s.p90
		}
		if s := sums[g]; s.matched+s.left > 0 {
			st.AbandonRate[g] = float64(s.left) / float64(s.matched+s.left)
		}
		if p90Now == nil && sums[g].matched > 0 {
			st.P90WaitNow[g] = sums[g].p90
		} else if p, ok := p90Now[g]; ok {
			st.P90WaitNow[g] = p
		}
		st.Abandoned[g] = int(e.win.total.abandoned[g])
		st.ETA[g] = e.EstimateFor(g, waiting, now).P50
	}
	tot := &e.win.total
	if span > 0 {
		st.MatchesPerMin = float64(tot.matches) / span.Minutes()
	}
	if tot.decided > 0 {
		st.MatchSuccessRate = float64(tot.mutual) / float64(tot.decided)
	}
	most, least := e.imbalance(waiting, &st)

	if st.Scarce != "" {
		st.Recommendations = append(st.Recommendations, inviteMore(most, least, waiting))
	}
	for _, g := range Genders {
		s := sums[g]
		if n := s.matched + s.left; n >= minFinished && st.AbandonRate[g] >= highAbandon {
			st.Recommendations = append(st.Recommendations, fmt.Sprintf(
				"Many %s give up before a match: %d of %d waits (%.0f%%) in the last %s ended without one.",
				g.Plural(), s.left, n, 100*st.AbandonRate[g], human(e.cfg.Window)))
		}
	}
	for _, g := range Genders {
		if p := st.P90WaitNow[g]; p >= longP90 {
			st.Recommendations = append(st.Recommendations, fmt.Sprintf(
				"%s wait long: 1 in 10 %s waited %s or more (matched in the last %s, or still waiting).",
				capitalize(g.Plural()), g.Plural(), human(p), human(e.cfg.Window)))
		}
	}
	if tot.decided >= minDecided && st.MatchSuccessRate < lowSuccess {
		st.Recommendations = append(st.Recommendations, fmt.Sprintf(
			"Few dates end in a mutual yes: %d of %d (%.0f%%) in the last %s; review how partners are matched or the date length.",
			tot.mutual, tot.decided, 100*st.MatchSuccessRate, human(e.cfg.Window)))
	}
	if e.arrivals() == 0 && time.Duration(nowKey-e.start) >= e.cfg.Window {
		st.Recommendations = append(st.Recommendations, fmt.Sprintf(
			"No one joined this pool in the last %s.", human(e.cfg.Window)))
	}
	return st
}

// imbalance fills st.ImbalanceRatio and st.Scarce and returns the genders
// with the most and the fewest people waiting among those in use.
func (e *Estimator) imbalance(waiting map[Gender]int, st *Stats) (most, least Gender) {
	var demand [numGenders + 1]int // arrivals in the window seeking each gender
	var inUse GenderSet
	for c := class(0); c < numClasses; c++ {
		n := int(e.win.total.arrivals[c])
		if n == 0 {
			continue
		}
		inUse |= SetOf(c.gender()) | c.seeking()
		for _, g := range Genders {
			if c.seeking().Has(g) {
				demand[g] += n
			}
		}
	}
	for _, g := range Genders {
		if waiting[g] > 0 {
			inUse |= SetOf(g)
		}
	}
	st.ImbalanceRatio = 1
	used := 0
	for _, g := range Genders {
		if !inUse.Has(g) {
			continue
		}
		used++
		if most == 0 || waiting[g] > waiting[most] {
			most = g
		}
		// Among equally few, the most sought is the scarce one.
		if least == 0 || waiting[g] < waiting[least] || (waiting[g] == waiting[least] && demand[g] > demand[least]) {
			least = g
		}
	}
	if used < 2 {
		return most, least
	}
	st.ImbalanceRatio = max(1, float64(waiting[most])/float64(max(waiting[least], 1)))
	if scarce(waiting[most], waiting[least]) {
		st.Scarce = least.String()
	}
	return most, least
}

// inviteMore is the recommendation for a scarce gender.
func inviteMore(most, least Gender, waiting map[Gender]int) string {
	if waiting[least] == 0 {
		return fmt.Sprintf("Invite more %s: %d %s are waiting and no %s.",
			least.Plural(), waiting[most], most.Plural(), least.Plural())
	}
	per := math.Round(float64(waiting[most]) / float64(waiting[least]))
	return fmt.Sprintf("Invite more %s: %.0f %s wait for each %s.",
		least.Plural(), per, most.Plural(), least.Singular())
}

// arrivals returns every arrival counted in the window.
func (e *Estimator) arrivals() int {
	n := 0
	for _, a := range e.win.total.arrivals {
		n += int(a)
	}
	return n
}

// human formats d for a sentence: 15m, 1h, 7m30s.
func human(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// capitalize returns s with its first letter in upper case.
func capitalize(s string) string { return string(appendCapitalized(nil, s)) }
