package pool

import (
	"math"
	"time"
)

// The re-spin echo. After a date many users spin again, so a share of the
// partners who will arrive over someone's wait are people on a date now:
// partner arrivals are not Poisson but echo the pairings of a date's length
// ago. The pool knows whom it paired and when, so it keeps, by class, who is
// out on a date (paired and not back yet), and learns by gender a life
// table of coming back: of those still out at d bins after their pairing,
// how many came back at d (hazard back/risk, decayed with the window, so a
// share of pairings that has not had time to come back yet biases
// nothing). From it, the partners expected back within the next T seconds
// are those out now, each by the chance of coming back in T given not back
// by its age, plus those who will arrive during T, be paired (the waiter's
// side has a line) and come back within it (a renewal equation over the
// bins). The arrival rate a waiter is given is the fresh arrivals' rate
// (arrivals that were not returns, measured as before) plus those expected
// returns over the wait. Memory: one entry per user out on a date (at most
// maxOut) and fixed arrays of echoBins bins.

// echoBin is the resolution of return delays and echoBins how many bins the
// echo follows (echoSpan): a user not back echoSpan after their pairing
// counts as gone.
const (
	echoBin  = 5 * time.Second
	echoBins = 180
	echoSpan = echoBins * echoBin
)

// echoMinReturns is how many learned returns of the partners' genders the
// echo needs before it is used: until then partner arrivals are taken
// as they come (fresh and returns alike).
const echoMinReturns = 5.0

// maxOut bounds how many users out on a date are followed at once (a
// pairing beyond it is not followed: its users' returns count as fresh
// arrivals), so that memory is bounded whatever the traffic.
const maxOut = 1 << 17

// echoCompactMin is the length below which order is never compacted.
const echoCompactMin = 1024

// outRef is a user out on a date: class, pairing bin and the pairing's
// sequence number (which entry of order is this pairing's).
type outRef struct {
	c   class
	bin int64
	seq uint64
}

// outEntry is one pairing in order, for expiry.
type outEntry struct {
	id  string
	bin int64
	seq uint64
}

// echoCurve caches, for one set of partner classes, the partners expected
// back within j bins from now, j = 0..echoBins.
type echoCurve struct {
	set     classSet
	key     int64 // the echo bin it was computed in
	version uint64
	lam     float64
	within  [echoBins + 1]float64
}

// echo is the Estimator's memory of who is out on a date and of how they
// come back.
type echo struct {
	out   map[string]outRef
	order []outEntry // oldest first from head
	head  int
	seq   uint64 // the last pairing's sequence number
	// pending[c][i] counts the users of class c paired in bin pendBin[i]
	// (i = bin mod echoBins) who are not back yet.
	pending [numClasses][echoBins]uint32
	pendBin [echoBins]int64
	// back[g][d] is how many users of gender g came back d bins after
	// their pairing, risk[g][d] how many were still out when they reached
	// d bins (a life table of coming back: the hazard back/risk holds
	// whatever share of the pairings has had time to come back); both
	// decay with the estimator's window.
	back    [numGenders + 1][echoBins]float64
	risk    [numGenders + 1][echoBins]float64
	decayAt int64 // timeKey of the last decay, 0 before the first
	at      int64 // the latest bin accrued (valid when begun)
	begun   bool
	version uint64
	curves  [4]echoCurve
	nextC   int
}

func echoBinOf(k int64) int64 {
	i := k / int64(echoBin)
	if k%int64(echoBin) < 0 {
		i--
	}
	return i
}

func echoMod(i int64) int {
	m := i % echoBins
	if m < 0 {
		m += echoBins
	}
	return int(m)
}

// dated records that the user id (class c) was paired at key k.
func (x *echo) dated(id string, c class, k int64) {
	if x.out == nil {
		x.out = map[string]outRef{}
	}
	if _, ok := x.out[id]; ok || len(x.out) >= maxOut {
		return
	}
	b := echoBinOf(k)
	x.advance(b)
	if b < x.at {
		return // older than the bins accrued: not followed
	}
	i := echoMod(b)
	if x.pendBin[i] != b {
		x.clearBin(i, b)
	}
	x.pending[c][i]++
	x.risk[c.gender()][0]++
	x.seq++
	x.out[id] = outRef{c: c, bin: b, seq: x.seq}
	x.compact()
	x.order = append(x.order, outEntry{id: id, bin: b, seq: x.seq})
	x.version++
}

// compact drops the entries of order whose user is back already (or was
// paired again since), once they are most of it: a user who comes back
// leaves out but not order, and a busy pool pairs every user many times
// over echoSpan, so without this order would hold every pairing of the
// last echoSpan (1,500 a second at 750 pairs a second, 1.35 million
// entries) rather than the users out now. Amortized O(1) a pairing:
// order stays within 2*len(out) + echoCompactMin (one entry is kept a
// user out now, the one of their pairing's seq).
func (x *echo) compact() {
	if n := len(x.order) - x.head; n < echoCompactMin || n < 2*len(x.out) {
		return
	}
	kept := x.order[:0]
	for _, o := range x.order[x.head:] {
		if r, ok := x.out[o.id]; ok && r.seq == o.seq {
			kept = append(kept, o)
		}
	}
	clear(x.order[len(kept):])
	x.order, x.head = kept, 0
}

// clearBin makes ring index i hold bin b, with nobody in it.
func (x *echo) clearBin(i int, b int64) {
	x.pendBin[i] = b
	for c := range x.pending {
		x.pending[c][i] = 0
	}
}

// returned reports whether the user id, spinning at key k, is back from a
// date (and learns the delay).
func (x *echo) returned(id string, k int64, window time.Duration) bool {
	x.decay(k, window)
	x.advance(echoBinOf(k))
	r, ok := x.out[id]
	if !ok {
		return false
	}
	delete(x.out, id)
	d := echoBinOf(k) - r.bin
	if i := echoMod(r.bin); x.pendBin[i] == r.bin && x.pending[r.c][i] > 0 {
		x.pending[r.c][i]--
	}
	x.version++
	if d < 0 || d >= echoBins {
		return false
	}
	x.back[r.c.gender()][d]++
	return true
}

// advance moves the echo to bin b: the users still out count at risk of
// coming back at their new age, and those out echoSpan are dropped.
func (x *echo) advance(b int64) {
	if !x.begun {
		x.begun, x.at = true, b
	}
	if b <= x.at {
		return
	}
	from := max(x.at+1, b-echoBins)
	for t := from; t <= b; t++ {
		for a := 1; a < echoBins; a++ {
			pb := t - int64(a)
			i := echoMod(pb)
			if x.pendBin[i] != pb {
				continue
			}
			for c := range x.pending {
				if n := x.pending[c][i]; n > 0 {
					x.risk[class(c).gender()][a] += float64(n)
				}
			}
		}
	}
	x.at = b
	for x.head < len(x.order) && x.order[x.head].bin <= b-echoBins {
		o := x.order[x.head]
		x.order[x.head] = outEntry{}
		x.head++
		if r, ok := x.out[o.id]; ok && r.seq == o.seq {
			delete(x.out, o.id)
			x.version++
		}
	}
	if x.head > 1024 && x.head*2 > len(x.order) {
		x.order = append(x.order[:0], x.order[x.head:]...)
		x.head = 0
	}
}

// decay fades the learned returns with time constant window.
func (x *echo) decay(k int64, window time.Duration) {
	if x.decayAt == 0 || k <= x.decayAt {
		if x.decayAt == 0 {
			x.decayAt = k
		}
		return
	}
	dt := min(time.Duration(k-x.decayAt), window)
	if dt < time.Second {
		return
	}
	x.decayAt = k
	f := math.Exp(-dt.Seconds() / window.Seconds())
	for g := range x.back {
		for d := range x.back[g] {
			x.back[g][d] *= f
			x.risk[g][d] *= f
		}
	}
}

// active reports whether enough returns of set's genders were learned for
// the echo to be used.
func (x *echo) active(set classSet) bool {
	var seen [numGenders + 1]bool
	n := 0.0
	for s := set; ; {
		c, ok := s.next()
		if !ok {
			break
		}
		if g := c.gender(); !seen[g] {
			seen[g] = true
			for _, v := range x.back[g] {
				n += v
			}
		}
	}
	return n >= echoMinReturns
}

// slack is how many pairings or returns a cached curve may miss, within
// its bin and within 2% of its fresh rate: one in 32 of those out on a
// date (at least none). A busy pool pairs on most spins; recomputing the
// O(echoBins^2) curve at each would cost tens of microseconds a spin.
func (x *echo) slack() uint64 { return uint64(len(x.out) / 32) }

// within returns how many partners of set are expected back from a date
// within the next t seconds, at key k, when fresh partners arrive at lam
// per second.
func (x *echo) within(set classSet, k int64, lam, t float64) float64 {
	if t <= 0 {
		return 0
	}
	cv := x.curve(set, k, lam)
	j := t / echoBin.Seconds()
	if j >= echoBins {
		// Beyond the curve the returns go on at its last bin's rate.
		return cv.within[echoBins] + (j-echoBins)*(cv.within[echoBins]-cv.within[echoBins-1])
	}
	lo := int(j)
	f := j - float64(lo)
	return cv.within[lo] + f*(cv.within[lo+1]-cv.within[lo])
}

// curve returns the cached curve of set at k for fresh arrivals at lam,
// computing it when the pairings changed, the bin moved on or lam moved:
// O(genders x echoBins^2).
//
// Two kinds of partner come back within the next j bins: those out on a
// date now (by their age and the learned delays, conditional on not being
// back yet), and those who will arrive over the wait, be paired at once
// (the waiter's side has a line: the waiter) and come back in turn (the
// renewal equation a_j = fresh + known_j + sum_i<j a_i h_(j-i), with h
// the learned delays of a pairing).
func (x *echo) curve(set classSet, k int64, lam float64) *echoCurve {
	b := echoBinOf(k)
	x.advance(b)
	for i := range x.curves {
		if cv := &x.curves[i]; cv.set == set && cv.key == b && x.version-cv.version <= x.slack() && math.Abs(lam-cv.lam) <= 0.02*cv.lam {
			return cv
		}
	}
	cv := &x.curves[x.nextC]
	x.nextC = (x.nextC + 1) % len(x.curves)
	cv.set, cv.key, cv.version, cv.lam = set, b, x.version, lam
	var known [echoBins]float64 // expected returns in bin j from now
	var h [echoBins]float64     // a pairing's chance of coming back d bins later
	var hw float64
	var seen [numGenders + 1]bool
	for s := set; ; {
		c, ok := s.next()
		if !ok {
			break
		}
		g := c.gender()
		// surv[d] is the chance of not being back by d bins (the life
		// table's product of 1 - hazard), hz[d] the chance of coming back
		// at d.
		var surv [echoBins + 1]float64
		var hz [echoBins]float64
		surv[0] = 1
		for d := range echoBins {
			if r := x.risk[g][d]; r > 0 {
				hz[d] = min(x.back[g][d]/r, 1)
			}
			surv[d+1] = surv[d] * (1 - hz[d])
		}
		if !seen[g] {
			seen[g] = true
			w := x.risk[g][0]
			for d := range echoBins {
				h[d] += w * surv[d] * hz[d]
			}
			hw += w
		}
		for a := range echoBins {
			pb := b - int64(a)
			i := echoMod(pb)
			if x.pendBin[i] != pb || x.pending[c][i] == 0 || surv[a] <= 0 {
				continue
			}
			n := float64(x.pending[c][i]) / surv[a]
			for d := a; d < echoBins; d++ {
				known[d-a] += n * surv[d] * hz[d]
			}
		}
	}
	if hw > 0 {
		for d := range h {
			h[d] /= hw
		}
	}
	fresh := lam * echoBin.Seconds()
	var arr [echoBins]float64 // expected partner arrivals in bin j
	cv.within[0] = 0
	for j := range echoBins {
		v := fresh + known[j]
		for i := 0; i < j; i++ {
			v += arr[i] * h[j-i]
		}
		if h[0] < 1 {
			v /= 1 - h[0] // those paired in bin j who come back within it
		}
		arr[j] = v
		cv.within[j+1] = cv.within[j] + v - fresh
	}
	return cv
}
