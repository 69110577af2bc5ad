package pool

import (
	"math"
	"time"
)

// Estimator learns a pool's arrival rates, waits and match outcomes and
// estimates wait times from them with the model below. Its memory is fixed
// whatever the traffic: counts live in a ring of 60 time slots and finished
// waits in a bounded ring per gender. Not safe for concurrent use.
//
// The wait-time model.
//
// Partners. The partners of a waiter w are the people whose gender is in
// w.Seeking and whose Seeking holds w.Gender. Every arrival is counted in
// its class (gender x seeking, 3 x 7 classes), so the arrivals of w's
// partners are the sum over the classes compatible with w's class.
//
// Rate. Partners are taken to arrive as a Poisson process of rate lambda.
// lambda is estimated from the partner arrivals n counted in the sliding
// window, with a Gamma prior worth PriorWeight pseudo-arrivals spread over
// PriorWeight*PriorInterval of pseudo-time (a prior mean of one partner per
// PriorInterval):
//
//	lambda = (PriorWeight + n) / (PriorWeight*PriorInterval + span)
//
// which is the posterior mean. span is how much time the counts cover:
// min(Window, time since the first event the estimator saw). With no
// history lambda is 1/PriorInterval; as arrivals accumulate the data take
// over. The window is cut into 60 slots, so counts are exact to Window/60
// and span is the time covered by the live slots (between 59/60 and all of
// Window once the estimator is older than Window).
//
// Wait. Pairing is first come, first served among compatible people, so a
// waiter at position k (k-1 competitors ahead of them: same gender,
// overlapping seeking, older) is matched by the k-th partner who arrives from
// now. Poisson arrivals have no memory, so the remaining wait does not depend
// on how long w has already waited: it is the time to the k-th arrival,
// Gamma(k, lambda). P50 and P90 are its quantiles (exact Erlang quantiles for
// k <= 200 by Newton steps from the Wilson-Hilferty approximation, the
// approximation alone beyond; memoized per k). Estimates are capped at 30
// days. The model is slightly pessimistic: a partner who arrives may be
// incompatible with someone ahead (different seeking, or the rematch
// cooldown) and then serves w sooner. For a queued waiter the waiting counts
// feed only the reason, not the numbers: the position already says how many
// are ahead.
//
// A newcomer (EstimateFor). A newcomer of gender g is assumed to seek what the
// recent arrivals of g sought most, or every other gender with no history.
// Waiting counts are known per gender only, so the share of waiting partners
// who would accept g, and of waiting g who compete, is taken from the mix of
// recent arrivals (with one pseudo-arrival that accepts and competes). When
// more acceptable partners than competitors are waiting the newcomer is
// paired at once (P50 = P90 = 0); otherwise the newcomer stands at position
// 1 + the competitors waiting.
//
// Confidence. "low" when fewer than 5 partner arrivals back the rate, or the
// prior still dominates (fewer real arrivals than PriorWeight, or less
// observed time than PriorWeight*PriorInterval); "medium" below 30;
// "high" from 30.
//
// Reason. When w's partners are scarce among the people waiting (at least 3
// people of w's gender wait, and at least twice as many as the people of the
// other genders w seeks), the reason names the scarce genders and the counts.
// Otherwise it says the estimate is rough (little history), the pool is quiet
// (P50 of 2 minutes or more), or that a match should come soon.
type Estimator struct {
	cfg     EstimatorConfig // static after construction
	win     window
	start   int64 // earliest time seen, valid when started
	started bool
	waits   [numGenders + 1]waitRing // by gender, index 0 unused
	scratch []time.Duration          // reused by Stats
	quant   [][2]float64             // memoized P50, P90 of Gamma(k, 1) at index k-1
}

// EstimatorConfig configures an Estimator.
type EstimatorConfig struct {
	// Window is how far back arrivals, matches and waits are counted. Zero means 15m.
	Window time.Duration
	// PriorInterval is the prior mean time between arrivals of compatible
	// partners, used when there is no history. Zero means 60s.
	PriorInterval time.Duration
	// PriorWeight is how many pseudo-arrivals the prior is worth. Zero means 2.
	PriorWeight float64
	// WaitSamples bounds how many finished waits per gender are kept for
	// AvgWait and P90Wait (the newest win). Zero means 1024.
	WaitSamples int
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c EstimatorConfig) withDefaults() EstimatorConfig {
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.Window < numSlots {
		c.Window = numSlots // one nanosecond per slot at least
	}
	if c.PriorInterval <= 0 {
		c.PriorInterval = 60 * time.Second
	}
	if c.PriorWeight <= 0 {
		c.PriorWeight = 2
	}
	if c.WaitSamples <= 0 {
		c.WaitSamples = 1024
	}
	return c
}

// Confidence levels of an ETA.
const (
	ConfidenceLow    = "low"
	ConfidenceMedium = "medium"
	ConfidenceHigh   = "high"
)

// Thresholds of partner arrivals for medium and high confidence.
const (
	mediumArrivals = 5
	highArrivals   = 30
)

// maxETA caps an estimate so that absurd inputs cannot overflow a Duration.
const maxETA = 30 * 24 * time.Hour

// quietP50 is the median wait from which the pool is called quiet.
const quietP50 = 2 * time.Minute

// ETA is an estimate of the remaining wait.
type ETA struct {
	P50, P90   time.Duration
	Confidence string // ConfidenceLow, ConfidenceMedium or ConfidenceHigh
	Reason     string // a sentence a user can read
}

// maxMemoK bounds the memo of Gamma quantiles (64 KiB at most).
const maxMemoK = 4096

// quantiles returns the median and 90th percentile of Gamma(k, 1), k >= 1.
func (e *Estimator) quantiles(k int) (p50, p90 float64) {
	if k > maxMemoK {
		return erlangQuantile(k, 0.5), erlangQuantile(k, 0.9)
	}
	for len(e.quant) < k {
		n := len(e.quant) + 1
		e.quant = append(e.quant, [2]float64{erlangQuantile(n, 0.5), erlangQuantile(n, 0.9)})
	}
	q := e.quant[k-1]
	return q[0], q[1]
}

// NewEstimator returns an Estimator with no history.
func NewEstimator(cfg EstimatorConfig) *Estimator {
	cfg = cfg.withDefaults()
	e := &Estimator{cfg: cfg}
	e.win.width = int64(cfg.Window) / numSlots
	for _, g := range Genders {
		e.waits[g].buf = make([]waitSample, cfg.WaitSamples)
	}
	return e
}

// touch notes time t for the observed span and returns its key; ok is
// false for the zero time, which every method ignores.
func (e *Estimator) touch(t time.Time) (k int64, ok bool) {
	if t.IsZero() {
		return 0, false
	}
	k = timeKey(t)
	if !e.started || k < e.start {
		e.start, e.started = k, true
	}
	return k, true
}

// slotAt returns the window slot for an event at t, or nil when t is zero or
// older than the window.
func (e *Estimator) slotAt(t time.Time) *slot {
	k, ok := e.touch(t)
	if !ok {
		return nil
	}
	return e.win.at(k)
}

// Arrival records that a user of gender g seeking s joined the queue. Call it
// once per spin, not when a queued user re-announces itself.
func (e *Estimator) Arrival(g Gender, s GenderSet, at time.Time) {
	c, ok := classOf(g, s)
	if !ok {
		return
	}
	if sl := e.slotAt(at); sl != nil {
		sl.arrivals[c]++
		e.win.total.arrivals[c]++
	}
}

// Finished records that a wait of a user of gender g seeking s ended at at,
// after wait, either in a match or by leaving the queue.
func (e *Estimator) Finished(g Gender, s GenderSet, wait time.Duration, matched bool, at time.Time) {
	k, ok := e.touch(at)
	if !ok || !g.Valid() || !s.Valid() {
		return
	}
	e.win.advance(k)
	e.waits[g].push(waitSample{at: k, wait: max(wait, 0), matched: matched})
	if !matched {
		if sl := e.win.at(k); sl != nil {
			sl.abandoned[g]++
			e.win.total.abandoned[g]++
		}
	}
}

// MatchFormed records that a pair was formed at at.
func (e *Estimator) MatchFormed(at time.Time) {
	if sl := e.slotAt(at); sl != nil {
		sl.matches++
		e.win.total.matches++
	}
}

// MatchResult records the outcome of a date decided at at: mutual when both
// said yes.
func (e *Estimator) MatchResult(mutual bool, at time.Time) {
	sl := e.slotAt(at)
	if sl == nil {
		return
	}
	sl.decided++
	e.win.total.decided++
	if mutual {
		sl.mutual++
		e.win.total.mutual++
	}
}

// observe moves the window to now and returns the observed span.
func (e *Estimator) observe(now time.Time) time.Duration {
	k, ok := e.touch(now)
	if !ok {
		return 0
	}
	e.win.advance(k)
	return min(e.win.covered(k), time.Duration(k-e.start))
}

// partnerArrivals returns the arrivals in the window of people compatible
// with gender g seeking s.
func (e *Estimator) partnerArrivals(c class) int {
	n := 0
	for set := partnerClasses[c]; ; {
		pc, ok := set.next()
		if !ok {
			return n
		}
		n += int(e.win.total.arrivals[pc])
	}
}

// rate returns the posterior mean of the partner arrival rate, per second.
func (e *Estimator) rate(n int, span time.Duration) float64 {
	w := e.cfg.PriorWeight
	return (w + float64(n)) / (w*e.cfg.PriorInterval.Seconds() + span.Seconds())
}

// confidence grades an estimate backed by n real arrivals over span.
func (e *Estimator) confidence(n int, span time.Duration) string {
	priorTime := time.Duration(e.cfg.PriorWeight * float64(e.cfg.PriorInterval))
	switch {
	case n < mediumArrivals || float64(n) < e.cfg.PriorWeight || span < priorTime:
		return ConfidenceLow
	case n < highArrivals:
		return ConfidenceMedium
	}
	return ConfidenceHigh
}

// Estimate returns the remaining wait of the queued waiter w at the 1-based
// position, given the pool's current waiting counts by gender.
func (e *Estimator) Estimate(w *Waiter, position int, waiting map[Gender]int, now time.Time) ETA {
	span := e.observe(now)
	c, ok := classOf(w.Gender, w.Seeking)
	if !ok {
		return ETA{Confidence: ConfidenceLow, Reason: reasonInvalid}
	}
	return e.estimate(c, max(position, 1), waiting, span, true)
}

// estimate is the Gamma(k, lambda) wait of someone of class c at position k.
func (e *Estimator) estimate(c class, k int, waiting map[Gender]int, span time.Duration, queued bool) ETA {
	n := e.partnerArrivals(c)
	lambda := e.rate(n, span)
	q50, q90 := e.quantiles(k)
	eta := ETA{
		P50:        seconds(q50 / lambda),
		P90:        seconds(q90 / lambda),
		Confidence: e.confidence(n, span),
	}
	eta.Reason = reason(reasonInput{
		gender:   c.gender(),
		seeking:  c.seeking(),
		position: k,
		waiting:  waiting,
		perHour:  lambda * 3600,
		rough:    eta.Confidence == ConfidenceLow && (n < mediumArrivals || float64(n) < e.cfg.PriorWeight),
		quiet:    eta.P50 >= quietP50,
		queued:   queued,
	})
	return eta
}

// EstimateFor returns what a newcomer of gender g would wait now (see Estimator for
// the assumptions).
func (e *Estimator) EstimateFor(g Gender, waiting map[Gender]int, now time.Time) ETA {
	span := e.observe(now)
	if !g.Valid() {
		return ETA{Confidence: ConfidenceLow, Reason: reasonInvalid}
	}
	s := e.usualSeeking(g)
	c, _ := classOf(g, s)
	partners, seen := 0.0, 0
	for _, pg := range Genders {
		if pg != g && s.Has(pg) {
			acc, all := e.arrivalsOf(pg, SetOf(g))
			partners += float64(waiting[pg]) * float64(acc+1) / float64(all+1)
			seen += all
		}
	}
	overlap, all := e.arrivalsOf(g, s)
	competitors := float64(waiting[g]) * float64(overlap+1) / float64(all+1)
	if partners >= 1 && partners > competitors {
		return ETA{Confidence: e.confidence(seen, span), Reason: reasonInstant}
	}
	return e.estimate(c, 1+int(math.Round(competitors)), waiting, span, false)
}

// usualSeeking returns the seeking set most common among recent arrivals of
// gender g, or every other gender when none arrived.
func (e *Estimator) usualSeeking(g Gender) GenderSet {
	best, bestN := allGenders&^SetOf(g), uint32(0)
	for s := GenderSet(1); s <= allGenders; s++ {
		c, _ := classOf(g, s)
		if n := e.win.total.arrivals[c]; n > bestN {
			best, bestN = s, n
		}
	}
	return best
}

// arrivalsOf returns how many recent arrivals of gender g sought at least one
// gender of s, and how many arrivals of g there were.
func (e *Estimator) arrivalsOf(g Gender, s GenderSet) (match, all int) {
	for m := GenderSet(1); m <= allGenders; m++ {
		c, _ := classOf(g, m)
		n := int(e.win.total.arrivals[c])
		all += n
		if m&s != 0 {
			match += n
		}
	}
	return match, all
}

// seconds converts x seconds to a Duration, capped at maxETA.
func seconds(x float64) time.Duration {
	if math.IsNaN(x) || x < 0 {
		return 0
	}
	if x >= maxETA.Seconds() {
		return maxETA
	}
	return time.Duration(x * float64(time.Second))
}

// ChangedEnough reports whether b differs from a enough to tell the waiter:
// P50 or P90 moved by 10% of a's value or more, or the confidence changed.
// Moves under one second never count on their own, since the wire carries
// seconds and sub-second jitter is noise to a person.
func ChangedEnough(a, b ETA) bool {
	if a.Confidence != b.Confidence {
		return true
	}
	return moved(a.P50, b.P50) || moved(a.P90, b.P90)
}

func moved(a, b time.Duration) bool {
	d := b - a
	if d < 0 {
		d = -d
	}
	return d >= time.Second && d >= a/10
}
