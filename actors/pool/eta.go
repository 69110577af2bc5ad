package pool

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Estimator learns a pool's arrival rates, departures, waits and match
// outcomes and estimates wait times from them with the model below. Its
// memory is fixed whatever the traffic: counts live in a ring of 60 time
// slots and finished waits in a bounded ring per gender. Not safe for
// concurrent use.
//
// The wait-time model (docs/DESIGN.md, "Wait estimates", has the
// measurements behind each choice).
//
// Partners and competitors. The partners of a waiter w are the people whose
// gender is in w.Seeking and whose Seeking holds w.Gender; w's competitors
// are the people of w's gender whose Seeking overlaps w's. Every arrival,
// departure and finished wait is counted in its class (gender x seeking,
// 3 x 7 classes), so each waiter's figures sum the classes that matter to it.
//
// The line. Pairing is first come, first served, so a waiter at position k
// (k-1 competitors ahead) moves up one place whenever a partner arrives (who
// takes the head of the line) or one of those ahead leaves unmatched. At
// position j that happens at rate lambda + (j-1)*gamma, with lambda the
// partners' arrival rate and gamma the rate at which a waiting competitor
// gives up. The remaining wait is therefore a sum of k exponential stages,
// sum over j of Exp(lambda + (j-1+own)*gamma): leaving is what makes a long
// line move much faster than its length suggests. own = 1 counts the
// waiter's own chance of leaving as one more stage-rate: conditional on being
// matched at all (which is who the estimate is for, since who leaves never
// learns their wait), exponential patience tilts each stage by exactly
// gamma. The mean and variance of the sum have closed forms (digamma and
// trigamma), so an estimate costs O(1) whatever k.
//
// Every class's line together. Where lines share partners (a mixed pool)
// a partner arrival takes the longest-waiting waiter who takes it, who may
// be of another line: a woman seeking everyone who arrives while men
// seeking women have waited longer than the women seeking women is paired
// with a man. So lambda is the partners' rate times the share of c's
// partner arrivals that reached c's line (someone of c's gender whose
// seeking overlaps c's) while a waiter of c was queued (lineShare, counted
// at every pairing, with one pseudo-arrival that reached it), and those
// ahead also leave through partners c cannot take (a man seeking everyone
// ahead of men seeking women, paired with a man seeking men): drawn, the
// pairings of that kind over the line's time waiting, adds to gamma for
// those ahead (drawRate). Both are O(classes) an estimate; in a pool of
// men seeking women and women seeking men the share is exactly 1 and the
// draw 0.
//
// Rates. lambda is the partners' arrival count over an adaptive horizon,
// with a Gamma prior worth PriorWeight arrivals at one per PriorInterval:
// (PriorWeight + n) / (PriorWeight*PriorInterval + span). The horizon starts
// at the last minute and extends to 2, 5 and Window minutes for as long as
// each older stretch is consistent with the newer rate (within 4 standard
// deviations of a Poisson count): a steady pool is measured over the whole
// window, a rush or its end is followed within a minute or two. When a
// straight-line fit of the rate over the last 5 or 15 minutes (trendSpans,
// the more significant; 15 only when the horizon found one rate over more
// than 5 minutes) clears trendZ standard deviations, the rate is
// taken at its mean over the expected wait rather than the horizon's (a
// pool filling up, or a rush building or ending). Once the pool has seen
// users come back from dates (echo.go), lambda is the fresh arrivals' rate
// (arrivals that were not returns) plus the partners expected back from a
// date within the expected wait (those out now, by their age and the
// learned return delays, and those who will be paired during it): the
// re-spin echo is a schedule the pool knows, not Poisson noise. The rate
// and the wait depend on each other; three passes settle them. gamma is the
// estimate of an exponential patience from person-time: the competitors who
// left unmatched in the window over the time waiters of those classes spent
// waiting within the window (accrued from the queue's class counts at
// every change, O(1)), with a prior of one departure per PriorPatience.
// Patience follows no fixed law, so gamma is scaled by a life table of
// leaving by age band (accrue, hazardRatio): for those ahead by their age
// bands, and for the waiter's own age. One rate for everyone ahead is still
// biased when the hazard changes with age (those about to be served need
// to stay only a few seconds, the young ones near the waiter leave faster
// than the average over the wait), so the wait is scaled by the fluid line
// of those ahead, each leaving by the hazard of their own age, over the
// same fluid line at the one rate (fluidRatio; 1 when the hazards do not
// differ by age beyond their noise).
//
// Quantiles. P50 and P90 are those of a Gamma distribution with the stages'
// mean and a variance that adds the uncertainty of the rates (the delta
// method: lambda known to 1/sqrt(n) of itself, gamma to 1/sqrt(departures)),
// by the Wilson-Hilferty approximation. Estimates are capped at 30 days.
// A first estimate's P90 is read further out when more than one in ten of
// the latest matched waits overran the P90 they were told (Recalibrate).
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
// Confidence comes from the shape of the estimate's distribution (its
// mean^2/variance, rates' uncertainty included): the simulator shows the
// median error of P50 under 25% of the wait from shape highShape on, and
// under 50% from mediumShape; below, or with fewer than mediumArrivals
// partner arrivals behind lambda, it is low.
//
// Reason. A sentence in the user's terms with numbers: how many of w's
// gender wait per partner when partners are scarce, how long people of w's
// gender are usually matched within here (the middle half of the recent
// matched waits), the place in line and, when many ahead leave, that the
// line moves faster than its length.
type Estimator struct {
	cfg     EstimatorConfig // static after construction
	win     window
	start   int64 // earliest time seen, valid when started
	started bool
	waits   [numGenders + 1]waitRing // by gender, index 0 unused
	scratch []time.Duration          // reused by Stats
	// line is the queue whose waiters' time at risk counts in gamma (set by
	// NewPool); nil leaves the current waiters out.
	line *Queue
	// horizons are the slot counts of the adaptive rate horizons.
	horizons []int
	// usual caches the middle half of each gender's matched waits,
	// computed at usualAt (finished, head) from usualN samples: valid
	// until the window's head moves or 1 + usualN/16 more waits finish (a
	// sort per estimate would cost O(n log n) on every spin of a busy pool,
	// and 6% new samples barely move a quartile).
	usual    [numGenders + 1][2]time.Duration
	usualAt  [2]int64
	usualN   int
	finished int64 // Finished calls so far
	// spread holds, by gender, where the latest matched waits fell in the
	// distribution they were told at their spin (Recalibrate).
	spread [numGenders + 1]spreadRing
	// riskAt is when atRisk last accrued (timeKey, 0 before the first).
	riskAt int64
	// life is, by gender, the life table of leaving (accrue); lifeAt the
	// time it was last accrued (timeKey, 0 before the first).
	life   [numGenders + 1]lifeTable
	lifeAt int64
	// mid caches midFrom for the gap midGap (valid when midOK).
	mid    [len(ageGrid)]int64
	midGap time.Duration
	midOK  bool
	// echo follows who is out on a date and how they come back (echo.go).
	echo echo
}

// ageGrid are the ages (seconds waited) at which the hazard of leaving is
// estimated; between two it is interpolated, beyond the last it is the last.
var ageGrid = [...]float64{0, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1440, 2400, 3600}

// EstimatorConfig configures an Estimator.
type EstimatorConfig struct {
	// Window is how far back arrivals, departures, matches and waits are
	// counted. Zero means 15m.
	Window time.Duration
	// PriorInterval is the prior mean time between arrivals of compatible
	// partners, used when there is no history. Zero means 60s.
	PriorInterval time.Duration
	// PriorWeight is how many pseudo-arrivals the prior is worth with no
	// history; it fades as real arrivals come in (halved after 5). Zero
	// means 1.
	PriorWeight float64
	// PriorPatience is the prior mean time a waiter waits before giving
	// up, worth one departure. Zero means 5m.
	PriorPatience time.Duration
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
		c.PriorWeight = 1
	}
	if c.PriorPatience <= 0 {
		c.PriorPatience = 5 * time.Minute
	}
	if c.WaitSamples <= 0 {
		c.WaitSamples = 1024
	}
	return c
}

// spreadSamples is how many matched waits per gender the spread
// calibration keeps, and spreadPrior how many pseudo-samples of "the
// model's spread is right" it starts from.
const (
	spreadSamples = 512
	spreadPrior   = 32
)

// spreadRing keeps the latest standardized errors of matched waits of one
// gender: (wait - model mean) / model standard deviation, at the spin.
type spreadRing struct {
	buf  [spreadSamples]float32
	next int
	n    int
	z90  float64 // the 90th percentile error (shrunk), 0 before any sample
}

// modelZ90 is the 90th percentile of a standardized error when the model is
// right (normal approximation).
const modelZ90 = 1.2816

func (r *spreadRing) push(z float64) {
	r.buf[r.next] = float32(z)
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
	var tmp [spreadSamples]float32
	v := tmp[:r.n]
	copy(v, r.buf[:r.n])
	slices.Sort(v)
	emp := float64(v[min(int(0.9*float64(len(v))), len(v)-1)])
	w := float64(r.n) / float64(r.n+spreadPrior)
	r.z90 = modelZ90 + w*(emp-modelZ90)
}

// p90 returns the P90 to tell: the model's, or further out when more than
// one in ten recent waits overran it (mean + the recent 90th percentile
// error in standard deviations).
func (r *spreadRing) p90(model, mean, variance float64) float64 {
	if r.z90 <= modelZ90 {
		return model
	}
	return max(model, mean+r.z90*math.Sqrt(variance))
}

// Recalibrate records that a waiter of gender g, told eta when they
// joined, was matched after wait. The model's spread leaves out what it
// cannot see (rates that drift, patience that is no simple law), which the
// recent waits show: when more than one in ten of them overran the 90th
// percentile they were told, P90 is told further out, never nearer (P50 is
// left to the model).
func (e *Estimator) Recalibrate(g Gender, eta ETA, wait time.Duration) {
	if !g.Valid() || eta.mean <= 0 || eta.variance <= 0 || eta.P50 < 2*time.Second {
		return
	}
	e.spread[g].push((wait.Seconds() - eta.mean) / math.Sqrt(eta.variance))
}

// Confidence levels of an ETA.
const (
	ConfidenceLow    = "low"
	ConfidenceMedium = "medium"
	ConfidenceHigh   = "high"
)

// Confidence thresholds (see Estimator): partner arrivals below which the
// estimate is low whatever its shape, and the shapes of medium and high.
const (
	mediumArrivals = 5.0
	mediumShape    = 2.5
	highShape      = 9.0
)

// Model constants (see Estimator): the standard deviations within which an
// older stretch of arrivals counts as consistent with the newer rate, and
// how many stage-rates the waiter's own leaving is worth.
const (
	consistentZ = 4.0
	ownLeaving  = 1.0
)

// rateHorizons are the horizons the arrival rate may be measured over,
// shortest first (the window itself comes last).
var rateHorizons = [...]time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute}

// maxETA caps an estimate so that absurd inputs cannot overflow a Duration.
const maxETA = 30 * 24 * time.Hour

// quietP50 is the median wait from which the pool is called quiet.
const quietP50 = time.Minute

// ETA is an estimate of the remaining wait.
type ETA struct {
	P50, P90   time.Duration
	Confidence string // ConfidenceLow, ConfidenceMedium or ConfidenceHigh
	Reason     string // a sentence a user can read
	// mean and variance (seconds) of the model's wait, for Recalibrate.
	mean, variance float64
}

// NewEstimator returns an Estimator with no history.
func NewEstimator(cfg EstimatorConfig) *Estimator {
	cfg = cfg.withDefaults()
	e := &Estimator{cfg: cfg}
	e.win.width = int64(cfg.Window) / numSlots
	for _, g := range Genders {
		e.waits[g].buf = make([]waitSample, cfg.WaitSamples)
	}
	for _, h := range rateHorizons {
		n := int((int64(h) + e.win.width - 1) / e.win.width)
		if n < numSlots && (len(e.horizons) == 0 || n > e.horizons[len(e.horizons)-1]) {
			e.horizons = append(e.horizons, n)
		}
	}
	e.horizons = append(e.horizons, numSlots)
	for _, h := range e.horizons {
		e.win.track(h)
	}
	for _, span := range trendSpans {
		e.win.track(int(e.trendSlots(span)))
	}
	e.usualAt = [2]int64{-1, -1}
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
		e.win.arrival(sl, c, false)
	}
}

// arrive records a new spin of w: an Arrival, counted also as a return
// when w is back from a date the pool paired it in.
func (e *Estimator) arrive(w *Waiter, at time.Time) {
	c, ok := classOf(w.Gender, w.Seeking)
	if !ok {
		return
	}
	sl := e.slotAt(at)
	if sl == nil {
		return
	}
	e.win.arrival(sl, c, e.echo.returned(w.UserID, timeKey(at), e.cfg.Window))
}

// dated records that w was paired at at (and is out on a date).
func (e *Estimator) dated(w *Waiter, at time.Time) {
	if c, ok := classOf(w.Gender, w.Seeking); ok && !at.IsZero() {
		e.echo.dated(w.UserID, c, timeKey(at))
	}
}

// Finished records that a wait of a user of gender g seeking s ended at at,
// after wait, either in a match or by leaving the queue.
func (e *Estimator) Finished(g Gender, s GenderSet, wait time.Duration, matched bool, at time.Time) {
	c, valid := classOf(g, s)
	k, ok := e.touch(at)
	if !ok || !valid {
		return
	}
	wait = max(wait, 0)
	e.win.advance(k)
	e.waits[g].push(waitSample{at: k, wait: wait, matched: matched})
	e.finished++
	sl := e.win.at(k)
	if sl == nil {
		return
	}
	if e.line == nil {
		// Without a queue to accrue from (atRisk), a finished wait is the
		// time at risk it stood for.
		sl.exposure[c] += wait.Seconds()
		e.win.total.exposure[c] += wait.Seconds()
	}
	if !matched {
		e.life[g].left[ageBand(wait.Seconds())]++
		sl.abandoned[g]++
		e.win.total.abandoned[g]++
		sl.left[c]++
		e.win.total.left[c]++
	}
}

// paired records where the arrival w went when it was paired with partner
// (nil: it was queued), given the classes present (queued) when it came:
// for every class c of them that w is a partner of, whether partner is of
// c's line (of c's gender, seeking overlapping c's) or outside it (an
// older waiter of another line who also takes w); and, for the classes of
// partner's line who cannot take w, that one of their line left by a
// partner not theirs. O(classes).
func (e *Estimator) paired(w, partner *Waiter, present classSet, at time.Time) {
	p, ok := classOf(w.Gender, w.Seeking)
	sl := e.slotAt(at)
	if !ok || sl == nil {
		return
	}
	if partner == nil {
		return // queued (a cooldown or a held place kept it from c): no one's line moved
	}
	q, ok := classOf(partner.Gender, partner.Seeking)
	if !ok {
		return
	}
	for set := partnerClasses[p] & present; ; {
		c, ok := set.next()
		if !ok {
			break
		}
		sl.offered[c]++
		e.win.total.offered[c]++
		if competitorClasses[c]&(1<<q) != 0 {
			sl.reached[c]++
			e.win.total.reached[c]++
		}
	}
	for set := competitorClasses[q] &^ partnerClasses[p]; ; {
		c, ok := set.next()
		if !ok {
			break
		}
		sl.drawn[c]++
		e.win.total.drawn[c]++
	}
}

// lineShare returns the share of class c's partner arrivals that reach c's
// line while a waiter of c is queued (the others go to an older waiter of
// another line who also takes them: a woman seeking everyone who arrives
// while men seeking women wait longer than the women seeking women is
// paired with one of the men), with one pseudo-arrival that reached it,
// and the arrivals behind it.
func (e *Estimator) lineShare(c class) (share, n float64) {
	o, r := float64(e.win.total.offered[c]), float64(e.win.total.reached[c])
	return (r + 1) / (o + 1), o
}

// drawRate returns the rate (per second of waiting) at which a waiter of
// class c's line is paired with a partner c cannot take, and the pairings
// behind it: the line ahead of c also moves that way (men seeking everyone
// ahead of a man seeking women leave with the men and nonbinary people who
// arrive).
func (e *Estimator) drawRate(c class) (delta, n float64) {
	var exposure float64
	for s := competitorClasses[c]; ; {
		cc, ok := s.next()
		if !ok {
			break
		}
		exposure += e.win.total.exposure[cc]
	}
	n = float64(e.win.total.drawn[c])
	if n == 0 || exposure <= 0 {
		return 0, 0
	}
	return n / exposure, n
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
// with class c.
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

// partnerRate returns the posterior mean of the arrival rate of class c's
// partners (per second) over the adaptive horizon at nowKey, and the real
// arrivals behind it. Cost: O(horizons x classes), whatever the history
// (the window keeps the horizons' counts, stretch.go).
func (e *Estimator) partnerRate(c class, nowKey int64) (lambda, n float64) {
	lambda, n, _ = e.partnerRateSpan(c, nowKey, false)
	return lambda, n
}

// partnerRateSpan is partnerRate with the span (seconds) of the horizon;
// with fresh it counts only the arrivals that were not back from a date.
func (e *Estimator) partnerRateSpan(c class, nowKey int64, fresh bool) (lambda, n, span float64) {
	set := partnerClasses[c]
	var total float64  // arrivals over the accepted horizon (span seconds)
	var within float64 // arrivals in the slots of the previous horizon
	end := nowKey      // end of the next stretch
	for i, h := range e.horizons {
		// The counts are integers well below 2^53: exact in a float64.
		upTo := float64(e.win.arrivalsWithin(int64(h), set, fresh))
		seg := upTo - within // the slots beyond the previous horizon
		from := max((e.win.head-int64(h)+1)*e.win.width, e.start)
		segSpan := float64(end-from) / float64(time.Second)
		if segSpan <= 0 {
			break
		}
		if i > 0 && span > 0 {
			// Under one rate for both stretches (the pooled rate r0) the
			// difference has variance r0 segSpan (1 + segSpan/span). The
			// newer stretch's own count would make a lull look surer than
			// a burst, and bias the rate low.
			want := total / span * segSpan
			r0 := (total + seg) / (span + segSpan)
			v := r0 * segSpan * (1 + segSpan/span)
			if d := seg - want; d*d > consistentZ*consistentZ*max(v, 1) {
				break // the older stretch tells of another rate: stop here
			}
		}
		total += seg
		span += segSpan
		end, within = from, upTo
	}
	// The prior fades as arrivals come in (a fixed one would bias a busy
	// pool's rate by its pseudo-time over the span).
	w := e.cfg.PriorWeight * priorFade / (priorFade + total)
	return (w + total) / (w*e.cfg.PriorInterval.Seconds() + span), total, span
}

// trendSpans are how far back the trend of an arrival rate is fitted (the
// one whose slope is the most significant is used), and trendZ the
// standard deviations its slope must clear to be used.
var trendSpans = [...]time.Duration{5 * time.Minute, 15 * time.Minute}

const trendZ = 3.0

// partnerTrend returns the slope (per second, per second) of class c's
// partner arrival rate, by weighted least squares on the slots' rates over
// each of trendSpans, the most significant, and whether it clears trendZ
// standard deviations of Poisson noise (a rate that is not moving reports
// false). A short span follows a rush that began a few minutes ago (a long
// one sees mostly the calm before it) and lets go soon after it ends; a
// long one sees a slow drift. A span longer than horizon (seconds: the
// stretch over which the rate horizon found one rate, partnerRateSpan) is
// not fitted: beyond it lies another regime, and a line through a ramp and
// the plateau after it keeps rising after the rate has stopped (in the rush
// scenario the 15-minute fit over the ramp up kept men's estimates short
// through the whole peak).
func (e *Estimator) partnerTrend(c class, nowKey int64, fresh bool, horizon float64) (slope float64, ok bool) {
	best := 0.0
	for i, span := range trendSpans {
		if i > 0 && span.Seconds() > horizon+1 {
			break
		}
		b, z2 := e.partnerTrendOver(c, nowKey, fresh, span)
		if z2 > trendZ*trendZ && z2 > best {
			slope, ok, best = b, true, z2
		}
	}
	return slope, ok
}

// trendSlots returns how many slots back from the head a trend over span
// is fitted on (at most the window).
func (e *Estimator) trendSlots(span time.Duration) int64 {
	return min((int64(span)+e.win.width-1)/e.win.width, numSlots)
}

// partnerTrendOver is partnerTrend's fit over one span: the slope and its
// squared z score. The fit is over the m newest slots, each clipped to the
// time observed (from the start to nowKey): a point at the slot's centre,
// t seconds from now (negative), weighted by its width w, with x arrivals,
// rate x/w. The slots wholly inside the observed time, all but the one
// holding now and the one holding the start, have width W and centres in
// steps of W: their sums of w, w t and w t^2 have closed forms in the
// ages, and their sums of x and x t come from the window's stretch of m
// slots (the arrivals and the arrivals times age), so a fit costs
// O(classes), whatever the history; the two clipped slots are added one
// by one. Equal to a walk of the slots to float rounding
// (TestStretchSumsMatchTheWalk).
func (e *Estimator) partnerTrendOver(c class, nowKey int64, fresh bool, span time.Duration) (slope, z2 float64) {
	set := partnerClasses[c]
	w := &e.win
	width := w.width
	m := e.trendSlots(span)
	// Ages (slots back from the head) of the slot holding now and of the
	// one holding the start; the slots of ages lo to hi are whole (a slot
	// newer than now's or older than the start's has no observed time).
	aNow := w.head - w.slotOf(nowKey)
	aStart := w.head - w.slotOf(e.start)
	lo, hi := max(aNow+1, 0), min(aStart, m-1)
	if w.slotOf(e.start)*width < e.start {
		hi = min(aStart-1, m-1)
	}
	var sw, st, sr, stt, str, count float64
	// add adds the slot of age a, clipped, as a walk would.
	add := func(a int64) {
		idx := w.head - a
		from := max(idx*width, e.start)
		to := min((idx+1)*width, nowKey)
		wd := float64(to-from) / float64(time.Second)
		if wd <= 0 {
			return
		}
		x := float64(w.countAt(a, set, fresh))
		t := -float64(nowKey-(from+to)/2) / float64(time.Second) // slot centre, seconds from now (negative)
		sw += wd
		st += wd * t
		sr += x
		stt += wd * t * t
		str += x * t
		count += x
	}
	switch {
	case hi-lo+1 < 3:
		// A fit over a few slots (a new pool) is walked as it is, so that
		// a fit of one slot, which has no slope, gives none.
		for a := max(aNow, 0); a <= min(aStart, m-1); a++ {
			add(a)
		}
	default:
		if aNow >= 0 && aNow < m {
			add(aNow)
		}
		if aStart != aNow && aStart > hi && aStart < m {
			add(aStart)
		}
		// Arrivals and arrivals x age over ages lo..hi: the stretch holds
		// ages 1..m-1; the head (age 0) is added when whole, and the ages
		// outside lo..hi that may hold arrivals (those newer than now, and
		// the start's slot) taken out.
		x0, x1 := int64(0), int64(0)
		if m > 1 {
			x0, x1 = w.stretchOf(m).sums(set, fresh)
		}
		if lo == 0 {
			x0 += w.countAt(0, set, fresh)
		}
		for a := int64(1); a < lo && a < m; a++ {
			n := w.countAt(a, set, fresh)
			x0, x1 = x0-n, x1-a*n
		}
		for a := hi + 1; a <= min(aStart, m-1); a++ {
			n := w.countAt(a, set, fresh)
			x0, x1 = x0-n, x1-a*n
		}
		// A whole slot of age a is centred at head*W + W/2 - a*W (the
		// walk's (from+to)/2), so t = -(q + a W) with q the offset of now
		// from the head's centre.
		n := float64(hi - lo + 1)
		sa := float64((lo + hi) * (hi - lo + 1) / 2)
		saa := float64(sumSquares(hi) - sumSquares(lo-1))
		q := float64(nowKey-w.head*width-width/2) / float64(time.Second)
		ws := float64(width) / float64(time.Second)
		sw += n * ws
		st -= ws * (n*q + ws*sa)
		stt += ws * (n*q*q + 2*q*ws*sa + ws*ws*saa)
		sr += float64(x0)
		str -= q*float64(x0) + ws*float64(x1)
		count += float64(x0)
	}
	if sw <= 0 || count < 10 {
		return 0, 0
	}
	tbar := st / sw
	sxx := stt - sw*tbar*tbar
	if sxx <= 0 {
		return 0, 0
	}
	slope = (str - sr*tbar) / sxx // sum w (t - tbar)(r - rbar) with r = x/w
	v := (count / sw) / sxx       // Poisson: var(r_j) = lambda/w_j
	return slope, slope * slope / v
}

// sumSquares returns 1^2 + 2^2 + ... + k^2 (0 for k < 1).
func sumSquares(k int64) int64 {
	if k < 1 {
		return 0
	}
	return k * (k + 1) * (2*k + 1) / 6
}

// priorFade is how many real events halve a prior's weight.
const priorFade = 5

// leaveRate returns the rate (per second) at which a waiting competitor of
// class c gives up, and the departures behind it.
func (e *Estimator) leaveRate(c class, now time.Time) (gamma, n float64) {
	return e.leaveRateIn(competitorClasses[c], now)
}

// leaveRateOf is leaveRate's rate over the classes of set.
func (e *Estimator) leaveRateOf(set classSet, now time.Time) float64 {
	g, _ := e.leaveRateIn(set, now)
	return g
}

// leaveRateIn is leaveRate over the classes of set.
func (e *Estimator) leaveRateIn(set classSet, now time.Time) (gamma, n float64) {
	var left, exposure float64
	for s := set; ; {
		cc, ok := s.next()
		if !ok {
			break
		}
		left += float64(e.win.total.left[cc])
		exposure += e.win.total.exposure[cc]
	}
	w := priorFade / (priorFade + left)
	return (w + left) / (w*e.cfg.PriorPatience.Seconds() + exposure), left
}

// atRisk adds, by class, the time the waiters of q have been at risk of
// leaving since the last call to the window slot of now (person-time, so
// that the rate of leaving over the window counts exactly the time spent
// waiting within it). Pool calls it before every change to the queue and
// on every tick: O(classes).
func (e *Estimator) atRisk(q *Queue, now time.Time) {
	k, ok := e.touch(now)
	if !ok {
		return
	}
	if e.riskAt == 0 || k <= e.riskAt {
		if e.riskAt == 0 {
			e.riskAt = k
		}
		return
	}
	dt := float64(k-e.riskAt) / float64(time.Second)
	e.riskAt = k
	sl := e.win.at(k)
	if sl == nil {
		return
	}
	for c := range q.buckets {
		if n := q.buckets[c].n; n > 0 {
			sl.exposure[c] += float64(n) * dt
			e.win.total.exposure[c] += float64(n) * dt
		}
	}
}

// hazardRatio returns how much more (or less) likely than the average
// waiter of gender g someone who has waited age is to leave over the next
// horizon seconds: the mean hazard over [age, age+horizon] over the mean
// hazard of everyone waiting. Waiting times at which people give up follow
// no fixed law (a lognormal patience, common in practice, makes the
// long-waiting far less likely to leave than newcomers), so its shape is
// learned as a life table (accrue) and the per-class rate is scaled by it.
func (e *Estimator) hazardRatio(g Gender, age, horizon float64) float64 {
	t := &e.life[g]
	var left, exposure float64
	for b := range ageGrid {
		left += t.left[b]
		exposure += t.exposure[b]
	}
	if left < 1 || exposure <= 0 {
		return 1
	}
	all := left / exposure
	prior := lifePrior / all // lifePrior departures' worth of time at the average hazard
	end := age + max(horizon, 1)
	var sum float64
	for b, lo := range ageGrid {
		hi := math.Inf(1)
		if b+1 < len(ageGrid) {
			hi = ageGrid[b+1]
		}
		if d := min(hi, end) - max(lo, age); d > 0 {
			sum += d * (t.left[b] + lifePrior) / (t.exposure[b] + prior)
		}
	}
	if r := sum / (end - age) / all; r > 0 && !math.IsInf(r, 0) {
		return r
	}
	return 1
}

// aheadRatio is hazardRatio for the people waiting longer than age: the
// mean over them (by their age bands as of the last accrue) of their
// hazard ratio over the next horizon seconds.
func (e *Estimator) aheadRatio(g Gender, age, horizon float64) float64 {
	t := &e.life[g]
	var sum float64
	n := 0
	for b := ageBand(age); b < len(ageGrid); b++ {
		if c := t.waiting[b]; c > 0 {
			mid := max(age, ageGrid[b])
			if b+1 < len(ageGrid) {
				mid = max(age, (ageGrid[b]+ageGrid[b+1])/2)
			}
			sum += float64(c) * e.hazardRatio(g, mid, horizon)
			n += c
		}
	}
	if n == 0 {
		return e.hazardRatio(g, age, horizon)
	}
	return sum / float64(n)
}

// fluidChunks is how many steps fluidRatio takes through the waiters of
// one age band at most.
const fluidChunks = 4

// fluidRatio returns how much longer (above 1) or shorter the wait of
// someone of gender g who has waited age, at position k, is when each of
// those ahead leaves by the hazard of their own age (the life table) than
// when all leave at the one rate gamma the stages use. The stages give
// every competitor ahead one rate for the whole wait (gamma0 scaled by
// their mean hazard ratio over it, aheadRatio); with patience that is not
// exponential that is biased: one near the head is served soon, so only
// their hazard over the next few seconds matters, and with lognormal
// patience (newcomers leave readily, the long-waiting rarely) the stages'
// wait came out 4 to 6% long in a 10:1 line of 2-minute patience (median
// wait / p50 0.94 to 0.96, given the true rates and hazards). The fluid
// line (the fluid approximation of a line with abandonment, Whitt 2006,
// which Ibrahim and Whitt use for non-exponential patience) serves those
// ahead oldest first: partners arrive at lambda, and the one ahead aged a
// is still there at their turn t with the chance exp(-(H(a+t) - H(a))), so
// each takes that much of a partner arrival, and the waiter is served one
// arrival after the last of them. The ratio is that fluid wait over the
// same fluid with the one rate gamma (in closed form), about 1 when the
// hazard does not change with age (and exactly 1, by the chi-square test,
// when it does not beyond its noise). The
// ages are the life table's counts of those waiting by age band (as of the
// last accrue), older than the waiter's, spread evenly over each band and
// scaled to the k-1 ahead.
// O(bands x fluidChunks x log bands), no allocation (BenchmarkFluidRatio).
func (e *Estimator) fluidRatio(g Gender, age float64, k int, lambda, gamma0, gamma float64) float64 {
	if k <= 1 || lambda <= 0 || gamma0 <= 0 || gamma <= 0 {
		return 1
	}
	t := &e.life[g]
	var left, exposure float64
	for b := range ageGrid {
		left += t.left[b]
		exposure += t.exposure[b]
	}
	if left < 1 || exposure <= 0 {
		return 1
	}
	all := left / exposure
	// Hazards that do not differ by age beyond the noise of their counts
	// (a chi-square test of one hazard for every band, at about 3 standard
	// deviations) change nothing: with exponential patience the bands'
	// noise alone moved the wait by a few percent.
	var chi2, df float64
	for b := range ageGrid {
		if want := t.exposure[b] * all; want >= 1 {
			d := t.left[b] - want
			chi2 += d * d / want
			df++
		}
	}
	if df--; df < 1 || chi2 <= df+3*math.Sqrt(2*df) {
		return 1
	}
	prior := lifePrior / all
	// h[b] is the hazard (per second) in band b, cum[b] the cumulative
	// hazard at its start.
	var h, cum [len(ageGrid)]float64
	for b := range ageGrid {
		h[b] = gamma0 * (t.left[b] + lifePrior) / (t.exposure[b] + prior) / all
		if b+1 < len(ageGrid) {
			cum[b+1] = cum[b] + h[b]*(ageGrid[b+1]-ageGrid[b])
		}
	}
	// band is ageBand without sort.Search's indirect calls.
	band := func(x float64) int {
		lo, hi := 0, len(ageGrid)-1
		for lo < hi {
			if mid := (lo + hi + 1) / 2; ageGrid[mid] <= x {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo
	}
	H := func(x float64) float64 {
		b := band(x)
		return cum[b] + h[b]*(x-ageGrid[b])
	}
	from := ageBand(age)
	n := 0
	for b := from; b < len(ageGrid); b++ {
		n += t.waiting[b]
	}
	if n == 0 {
		return 1
	}
	scale := float64(k-1) / float64(n)
	var fluid float64 // time until the waiter's turn, by age
	for b := len(ageGrid) - 1; b >= from; b-- {
		c := float64(t.waiting[b]) * scale
		if c <= 0 {
			continue
		}
		// The band's ages are taken as spread evenly over it (above the
		// waiter's own), the oldest first.
		lo := max(age, ageGrid[b])
		hi := lo
		if b+1 < len(ageGrid) {
			hi = max(lo, ageGrid[b+1])
		}
		m := min(math.Ceil(c), fluidChunks)
		step := c / m
		for j := range int(m) {
			a := hi - (float64(j)+0.5)*(hi-lo)/m
			// A midpoint step, dt = step S(t + dt/2) / lambda, with the
			// survival to the middle from the local hazard.
			x := a + fluid
			bx := band(x)
			s0 := math.Exp(-(cum[bx] + h[bx]*(x-ageGrid[bx]) - H(a)))
			d := step * s0 / lambda
			fluid += d * max(1-h[bx]*d/2, 0)
		}
	}
	fluid += 1 / lambda
	// The same fluid line at the one rate gamma, in closed form: dt/dn =
	// exp(-gamma t)/lambda.
	flat := math.Log1p(gamma*float64(k-1)/lambda)/gamma + 1/lambda
	if r := fluid / flat; r > 0 && !math.IsInf(r, 0) && !math.IsNaN(r) {
		return r
	}
	return 1
}

// lifeTable is one gender's departures and time at risk by age band
// (ageGrid), decayed with time constant Window so that old behaviour fades.
type lifeTable struct {
	left, exposure [len(ageGrid)]float64
	// waiting counts those waiting now by age band (as of the last accrue).
	waiting [len(ageGrid)]int
}

// ageBand returns the ageGrid band of an age in seconds.
func ageBand(age float64) int {
	return max(sort.SearchFloat64s(ageGrid[:], age+1e-9)-1, 0)
}

// accrue adds the time at risk since the last call of everyone waiting in
// q, by gender and age band, and counts those waiting by age band. Called
// once per wait tick. It does not visit the waiters: ages fall in a band
// when enqueue times fall in a range, which the class buckets count in
// O(log n) (Queue.enqueuedBy); only those who joined within the last dt,
// at risk for less than dt, are visited. Cost: O(bands x classes x log n)
// plus the newcomers since the last tick.
func (e *Estimator) accrue(q *Queue, now time.Time) {
	k, ok := e.touch(now)
	if !ok {
		return
	}
	if e.lifeAt == 0 || k <= e.lifeAt {
		if e.lifeAt == 0 {
			e.lifeAt = k
		}
		return
	}
	// A long gap (a stalled pool) is counted as it was, up to the window:
	// the waiters were at risk all along, and the old table fades by it.
	gap := min(time.Duration(k-e.lifeAt), e.cfg.Window)
	dt := gap.Seconds()
	e.lifeAt = k
	decay := math.Exp(-dt / e.cfg.Window.Seconds())
	for _, g := range Genders {
		t := &e.life[g]
		for b := range ageGrid {
			t.left[b] *= decay
			t.exposure[b] *= decay
		}
		t.waiting = [len(ageGrid)]int{}
	}
	if q.Len() == 0 {
		return
	}
	// aged(g, a) counts the waiters of gender g who have waited a or more
	// (nanoseconds).
	aged := func(g Gender, a int64) int { return q.enqueuedBy(g, k-a) }
	dtNs := int64(gap)
	for _, g := range Genders {
		if q.Count(g) == 0 {
			continue
		}
		t := &e.life[g]
		// Waiting by band: ages of band b are from bandFrom[b] (ages of 0
		// or less count nowhere).
		prev := aged(g, 1)
		for b := range ageGrid {
			next := 0
			if b+1 < len(ageGrid) {
				next = aged(g, bandFrom[b+1])
			}
			t.waiting[b] += prev - next
			prev = next
		}
		// Those at risk all of dt (age >= dt) add dt to the band of the
		// middle of it, age - dt/2.
		prev = aged(g, dtNs)
		for b := range ageGrid {
			next := 0
			if b+1 < len(ageGrid) {
				next = aged(g, max(e.midFrom(b+1, gap), dtNs))
			}
			if c := prev - next; c > 0 {
				t.exposure[b] += float64(c) * dt
			}
			prev = next
		}
	}
	// Those who joined within dt (0 < age < dt), newest at the tails.
	for c := range q.buckets {
		for n := q.buckets[c].tail; n != nil && k-n.at < dtNs; n = n.prev {
			age := now.Sub(n.w.EnqueuedAt).Seconds()
			if age > 0 && age < dt {
				e.life[n.w.Gender].exposure[ageBand(max(age-dt/2, 0))] += age
			}
		}
	}
}

// bandFrom holds, by age band, the least age in nanoseconds whose
// Duration.Seconds() falls in the band (ageBand), so that counting by
// enqueue time puts every waiter in the band a walk of ages would.
var bandFrom = func() (from [len(ageGrid)]int64) {
	for b := range ageGrid {
		from[b] = leastAge(func(d int64) bool { return ageBand(time.Duration(d).Seconds()) >= b })
	}
	return from
}()

// midFrom returns the least age in nanoseconds whose middle over the last
// gap, age - gap/2 in seconds, falls in band b or later. Cached for the
// latest gap (the tick, nearly always).
func (e *Estimator) midFrom(b int, gap time.Duration) int64 {
	if gap != e.midGap || !e.midOK {
		dt := gap.Seconds()
		for bb := range ageGrid {
			e.mid[bb] = leastAge(func(d int64) bool { return ageBand(max(time.Duration(d).Seconds()-dt/2, 0)) >= bb })
		}
		e.midGap, e.midOK = gap, true
	}
	return e.mid[b]
}

// leastAge returns the least d in [0, 2^52) for which ok (monotone) holds.
func leastAge(ok func(d int64) bool) int64 {
	lo, hi := int64(0), int64(1)<<52
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Estimate returns the remaining wait of the queued waiter w at the 1-based
// position, given the pool's current waiting counts by gender.
func (e *Estimator) Estimate(w *Waiter, position int, waiting map[Gender]int, now time.Time) ETA {
	e.observe(now)
	c, ok := classOf(w.Gender, w.Seeking)
	if !ok {
		return ETA{Confidence: ConfidenceLow, Reason: reasonInvalid}
	}
	age := max(now.Sub(w.EnqueuedAt).Seconds(), 0)
	return e.estimate(c, max(position, 1), waiting, now, true, age)
}

// stages returns the mean and variance (seconds) of the wait of someone of
// class c at position k, the rates' uncertainty included, and the partner
// arrivals and rates behind it.
func (e *Estimator) stages(c class, k int, now time.Time, age float64) (mean, variance, arrivals, lambda, gamma float64) {
	nowKey := timeKey(now)
	set := partnerClasses[c]
	fresh := e.echo.active(set)
	base, arrivals, span := e.partnerRateSpan(c, nowKey, fresh)
	if fresh {
		// The rate's uncertainty is that of every partner arrival seen.
		_, arrivals, _ = e.partnerRateSpan(c, nowKey, false)
	}
	gamma0, left := e.leaveRate(c, now)
	slope, trend := e.partnerTrend(c, nowKey, fresh, span)
	// Every class's line together: only the share of the partners that
	// reach c's line move it, and those ahead also leave by partners c
	// cannot take (lineShare, drawRate; 1 and 0 where every line is
	// one class's, as in a pool of men seeking women and women seeking men).
	share, offered := e.lineShare(c)
	delta, drawn := e.drawRate(c)
	// rate is the mean partner arrival rate over the next w seconds (of
	// those that reach c's line, share of them): the
	// horizon's, moved along its trend when it has one (a rush building or
	// ending: the horizon's mean is that of span/2 ago), plus the partners
	// expected back from a date within w.
	rate := func(w float64) float64 {
		l := base
		if trend {
			l = min(max(base+slope*(span/2+w/2), base/3), 3*base)
		}
		if fresh && w > 0 {
			l += e.echo.within(set, nowKey, base, w) / w
		}
		return share * l
	}
	// The rates depend on the wait and the wait on the rates: a few passes
	// at the class's average hazard give the horizon over which the rate
	// and the hazards by age are averaged.
	lambda = rate(quietP50.Seconds())
	var first float64
	for range 3 {
		first, _ = stageSums(k, lambda+ownLeaving*gamma0, gamma0+delta, 0)
		lambda = rate(first)
	}
	if lambda <= 0 {
		lambda = share * base
	}
	g := c.gender()
	gamma = gamma0 * e.aheadRatio(g, age, first)
	own := ownLeaving * gamma0 * e.hazardRatio(g, age, first)
	// Stages lambda+own+(j-1)(gamma+delta): the waiter's own leaving
	// shifts every stage by its own hazard.
	s1, s2 := stageSums(k, lambda+own, gamma+delta, 0)
	// Delta method: d mean/d lambda = -s2, d mean/d gamma = -(s1 - lambda s2)/gamma,
	// with var(lambda) = lambda^2 (1/(n+w) + (1-share)/(share (offered+1)))
	// and var(gamma) = gamma^2/(left+1), var(delta) = delta^2/(drawn+1).
	dl := lambda * s2
	dg := (s1 - lambda*s2) / (gamma + delta)
	variance = s2 + dl*dl*(1/(arrivals+e.cfg.PriorWeight)+(1-share)/(share*(offered+1))) +
		dg*dg*(gamma*gamma/(left+1)+delta*delta/(drawn+1))
	// Those ahead do not all leave at one rate: scale the wait by what
	// their ages change in the fluid line (fluidRatio).
	r := e.fluidRatio(g, age, k, lambda, gamma0, gamma)
	return s1 * r, variance * r * r, arrivals, lambda, gamma
}

// Rates returns the partner arrival rate and the competitors' rate of
// leaving (per second) behind the estimate of a waiter of gender g seeking
// s at position k who has waited age: what the model was given (the
// simulator reports them beside the rates that came).
func (e *Estimator) Rates(g Gender, s GenderSet, k int, age time.Duration, now time.Time) (lambda, gamma float64) {
	e.observe(now)
	c, ok := classOf(g, s)
	if !ok {
		return 0, 0
	}
	_, _, _, lambda, gamma = e.stages(c, max(k, 1), now, max(age.Seconds(), 0))
	return lambda, gamma
}

// estimate is the wait of someone of class c at position k.
func (e *Estimator) estimate(c class, k int, waiting map[Gender]int, now time.Time, queued bool, age float64) ETA {
	mean, variance, n, lambda, gamma := e.stages(c, k, now, age)
	eta := ETA{
		P50:        seconds(gammaQuantile(mean, variance, 0.5)),
		P90:        seconds(e.p90(c, age, mean, variance)),
		Confidence: confidence(n, mean, variance),
		mean:       mean,
		variance:   variance,
	}
	lo, hi := e.usualWait(c.gender())
	eta.Reason = reason(reasonInput{
		gender:   c.gender(),
		seeking:  c.seeking(),
		position: k,
		waiting:  waiting,
		perHour:  lambda * 3600,
		rough:    n < mediumArrivals,
		quiet:    eta.P50 >= quietP50,
		queued:   queued,
		usualLo:  lo,
		usualHi:  hi,
		fastLine: k >= 5 && mean < 0.7*float64(k)/lambda && gamma > 0,
	})
	return eta
}

// p90 is the model's 90th percentile, read further out for a waiter who
// has just spun when recent matched waits overran the P90 told at the
// spin (spreadRing; the ring learns from first estimates, so it is applied
// to first estimates only).
func (e *Estimator) p90(c class, age, mean, variance float64) float64 {
	q := gammaQuantile(mean, variance, 0.9)
	if age >= 1 {
		return q
	}
	return e.spread[c.gender()].p90(q, mean, variance)
}

// confidence grades an estimate with the given mean and variance, backed
// by n real partner arrivals.
func confidence(n, mean, variance float64) string {
	if n < mediumArrivals || mean <= 0 {
		return ConfidenceLow
	}
	shape := math.Inf(1)
	if variance > 0 {
		shape = mean * mean / variance
	}
	switch {
	case shape >= highShape:
		return ConfidenceHigh
	case shape >= mediumShape:
		return ConfidenceMedium
	}
	return ConfidenceLow
}

// usualWait returns the middle half (25th and 75th percentiles) of the
// matched waits of gender g in the window, zero with fewer than 5.
// Cached until a wait finishes or the window moves.
func (e *Estimator) usualWait(g Gender) (lo, hi time.Duration) {
	if e.win.head != e.usualAt[1] || e.finished < e.usualAt[0] || e.finished-e.usualAt[0] >= 1+int64(e.usualN/16) {
		e.usualAt = [2]int64{e.finished, e.win.head}
		e.usualN = 0
		since := e.win.head*e.win.width - int64(e.cfg.Window)
		for _, gg := range Genders {
			e.scratch = e.scratch[:0]
			r := &e.waits[gg]
			for i := 0; i < r.n; i++ {
				if x := r.buf[i]; x.matched && x.at > since {
					e.scratch = append(e.scratch, x.wait)
				}
			}
			e.usual[gg] = [2]time.Duration{}
			e.usualN = max(e.usualN, len(e.scratch))
			if len(e.scratch) >= 5 {
				slices.Sort(e.scratch)
				e.usual[gg] = [2]time.Duration{e.scratch[len(e.scratch)/4], e.scratch[(3*len(e.scratch))/4]}
			}
		}
	}
	return e.usual[g][0], e.usual[g][1]
}

// EstimateFor returns what a newcomer of gender g would wait now (see Estimator for
// the assumptions).
func (e *Estimator) EstimateFor(g Gender, waiting map[Gender]int, now time.Time) ETA {
	e.observe(now)
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
		conf := ConfidenceLow
		if float64(seen) >= mediumArrivals {
			conf = ConfidenceHigh
		}
		return ETA{Confidence: conf, Reason: reasonInstant}
	}
	return e.estimate(c, 1+int(math.Round(competitors)), waiting, now, false, 0)
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

// lifePrior is how many departures at the average hazard each age band of
// the life table starts from: bands few people reach stay near the average
// until their own departures say otherwise.
const lifePrior = 20.0
