package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// Sample is one estimate pushed to a user who was then matched, in seconds:
// the p50 and p90 told, the predecessor's estimate at the same moment, and
// the real remaining wait from that moment to the match.
type Sample struct {
	P50, P90, Pred, Real float64
	// At is when the estimate was told, in seconds since the run began.
	At float64
	// Confidence is the confidence told with the estimate ("" for a spin
	// paired at once).
	Confidence string
	// Oracle is the model's p50 given the scenario's true rates, negative
	// when the scenario has no oracle (first estimates only).
	Oracle float64
	// Pos is the place in line when the estimate was told (0: paired at
	// once).
	Pos int
	// Seeking is what the user sought (a row mixes the classes of one
	// gender; the samples tell them apart).
	Seeking pool.GenderSet
	// Age is how long the user had waited when told (0 for a first
	// estimate).
	Age float64
	// Lambda is the partner arrival rate the estimate was made with, and
	// RealLambda the rate at which partners spun over the real wait (per
	// second; first estimates of waiters only, else 0).
	Lambda, RealLambda float64
}

// ConfidenceRow is how accurate the estimates told with one confidence
// level were, over every gender and phase of a run: what the level
// promises (issue 9: "high" only where the p50's median error is under 25%
// of the wait).
type ConfidenceRow struct {
	Confidence string `json:"confidence"`
	N          int    `json:"n"`
	// MedianRelError is the median of |wait - p50| / max(wait, 1 s).
	MedianRelError float64 `json:"median_relative_error"`
	// Within25 is the share within 25% of the wait.
	Within25 float64 `json:"share_within_25pct"`
}

// ScoreConfidence returns one row per confidence level told in r (low,
// medium, high, in that order, those told at least once).
func ScoreConfidence(r *Run) []ConfidenceRow {
	var rel [3][]float64
	var within [3]int
	for _, gr := range r.ByGender {
		for _, ss := range [][]Sample{gr.First, gr.Update} {
			for _, s := range ss {
				i := slices.Index(confidenceLevels[:], s.Confidence)
				if i < 0 {
					continue
				}
				e := math.Abs(s.Real-s.P50) / math.Max(s.Real, 1)
				rel[i] = append(rel[i], e)
				count(&within[i], e <= 0.25)
			}
		}
	}
	var out []ConfidenceRow
	for i, level := range confidenceLevels {
		if len(rel[i]) == 0 {
			continue
		}
		out = append(out, ConfidenceRow{Confidence: level, N: len(rel[i]), MedianRelError: median(rel[i]), Within25: float64(within[i]) / float64(len(rel[i]))})
	}
	return out
}

// confidenceLevels are the levels of pool.ETA.Confidence, lowest first.
var confidenceLevels = [...]string{pool.ConfidenceLow, pool.ConfidenceMedium, pool.ConfidenceHigh}

// GenderRun is what a run saw of one gender's judged spins.
type GenderRun struct {
	Gender pool.Gender
	// First holds the first pushed estimate of every matched spin (0 s for
	// a spin paired at once, as the server tells it).
	First []Sample
	// Update holds every later wait_update of the matched spins.
	Update []Sample
	// GaveUp counts spins that ended unmatched (patience ran out);
	// GaveUpToldShorter those whose first p50 was shorter than their
	// patience, GaveUpPredShorter the same for the predecessor.
	GaveUp, GaveUpToldShorter, GaveUpPredShorter int
}

// Run is the raw outcome of one scenario run.
type Run struct {
	Scenario Scenario
	Seed     uint64
	// ByGender is indexed by gender - 1.
	ByGender [len(pool.Genders)]GenderRun
	// Spins counts judged spins, Matches every match of the run.
	Spins, Matches int
	// Censored counts judged spins still waiting when the run stopped.
	Censored int
	// Simulated is how much simulated time the run covered.
	Simulated time.Duration
}

// Phase says which estimates a Row scores.
type Phase string

// The phases.
const (
	PhaseFirst  Phase = "first"  // the first pushed estimate
	PhaseUpdate Phase = "update" // the later wait_updates
)

// minJudged is the fewest samples a row needs to be judged.
const minJudged = 5

// Row is the score of one gender and phase in one scenario.
type Row struct {
	Gender pool.Gender `json:"-"`
	// GenderName is Gender as the protocol spells it.
	GenderName string `json:"gender"`
	Phase      Phase  `json:"phase"`
	// N counts the samples (matched spins for PhaseFirst, wait_updates of
	// matched spins for PhaseUpdate).
	N int `json:"n"`
	// MedianWait is the median real (remaining) wait, in seconds.
	MedianWait float64 `json:"median_wait_s"`
	// LE50, Within25 and LE90 are the shares of real waits at most the p50,
	// within 25% of it (|wait - p50| <= 0.25 max(wait, 1 s)), and at most
	// the p90.
	LE50     float64 `json:"share_le_p50"`
	Within25 float64 `json:"share_within_25pct"`
	LE90     float64 `json:"share_le_p90"`
	// MAE and PredMAE are the median absolute errors of the p50 and of the
	// predecessor's estimate, in seconds.
	MAE     float64 `json:"mae_s"`
	PredMAE float64 `json:"predecessor_mae_s"`
	// OracleMAE is the median absolute error of the oracle's p50 (the
	// model given the true rates), when the scenario has one (PhaseFirst).
	OracleMAE float64 `json:"oracle_mae_s,omitempty"`
	// PredWithin25 is Within25 for the predecessor.
	PredWithin25 float64 `json:"predecessor_share_within_25pct"`
	// ToldUnder2s is the share told a p50 under 2 s.
	ToldUnder2s float64 `json:"share_told_p50_under_2s"`
	// GaveUp, GaveUpToldShorter and GaveUpPredShorter are GenderRun's,
	// PhaseFirst only.
	GaveUp            int `json:"gave_up,omitempty"`
	GaveUpToldShorter int `json:"gave_up_told_p50_shorter_than_patience,omitempty"`
	GaveUpPredShorter int `json:"gave_up_predecessor_shorter_than_patience,omitempty"`
	// Verdict is the row against the bars.
	Verdict Verdict `json:"verdict"`
}

// Verdict is a row held against the bars of issue 9.
type Verdict struct {
	// Judged is false for a row with fewer than 5 samples.
	Judged bool `json:"judged"`
	// Pass is true when every bar holds (and for a row not judged).
	Pass bool `json:"pass"`
	// Failures names each bar missed, with the figure.
	Failures []string `json:"failures,omitempty"`
}

// String is "pass", "FAIL" or "not judged (n < 5)".
func (v Verdict) String() string {
	switch {
	case !v.Judged:
		return fmt.Sprintf("not judged (n < %d)", minJudged)
	case v.Pass:
		return "pass"
	}
	return "FAIL"
}

// Score scores every gender of r with judged spins, first estimates then
// updates, in pool.Genders order.
func Score(r *Run) []Row {
	var rows []Row
	for _, gr := range r.ByGender {
		if len(gr.First) == 0 && gr.GaveUp == 0 {
			continue
		}
		first := scoreSamples(gr.Gender, PhaseFirst, gr.First)
		first.GaveUp, first.GaveUpToldShorter, first.GaveUpPredShorter = gr.GaveUp, gr.GaveUpToldShorter, gr.GaveUpPredShorter
		rows = append(rows, first, scoreSamples(gr.Gender, PhaseUpdate, gr.Update))
	}
	return rows
}

func scoreSamples(g pool.Gender, ph Phase, ss []Sample) Row {
	row := Row{Gender: g, GenderName: g.String(), Phase: ph, N: len(ss)}
	if len(ss) == 0 {
		row.Verdict = Verdict{Pass: true}
		return row
	}
	waits := make([]float64, 0, len(ss))
	errs := make([]float64, 0, len(ss))
	predErrs := make([]float64, 0, len(ss))
	var le50, within, le90, predWithin, under2 int
	for _, s := range ss {
		waits = append(waits, s.Real)
		errs = append(errs, math.Abs(s.Real-s.P50))
		predErrs = append(predErrs, math.Abs(s.Real-s.Pred))
		tol := 0.25 * math.Max(s.Real, 1)
		count(&le50, s.Real <= s.P50)
		count(&within, math.Abs(s.Real-s.P50) <= tol)
		count(&predWithin, math.Abs(s.Real-s.Pred) <= tol)
		count(&le90, s.Real <= s.P90)
		count(&under2, s.P50 < 2)
	}
	n := float64(len(ss))
	row.MedianWait = median(waits)
	row.MAE, row.PredMAE = median(errs), median(predErrs)
	if ph == PhaseFirst {
		var oracleErrs []float64
		for _, s := range ss {
			if s.Oracle >= 0 {
				oracleErrs = append(oracleErrs, math.Abs(s.Real-s.Oracle))
			}
		}
		if len(oracleErrs) == len(ss) {
			row.OracleMAE = median(oracleErrs)
		}
	}
	row.LE50, row.Within25, row.LE90 = float64(le50)/n, float64(within)/n, float64(le90)/n
	row.PredWithin25, row.ToldUnder2s = float64(predWithin)/n, float64(under2)/n
	row.Verdict = Judge(row)
	return row
}

func count(n *int, b bool) {
	if b {
		*n++
	}
}

// median returns the median of xs (sorting xs).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// Judge holds row against the bars of issue 9. A gender waits when its
// median wait is 2 s or more.
//
//   - p90 honesty: LE90 >= 85%, and <= 97% for a gender that waits.
//   - p50 calibration: 35% <= LE50 <= 65% for a gender that waits; else at
//     least 90% were told a p50 under 2 s.
//   - accuracy: MAE <= max(PredMAE, 1 s), and <= 0.7 PredMAE for a gender
//     that waits.
//
// A row with fewer than 5 samples is not judged.
func Judge(row Row) Verdict {
	if row.N < minJudged {
		return Verdict{Pass: true}
	}
	v := Verdict{Judged: true}
	fail := func(format string, a ...any) { v.Failures = append(v.Failures, fmt.Sprintf(format, a...)) }
	waits := row.MedianWait >= 2
	if row.LE90 < 0.85 {
		fail("p90 honesty: %s of waits <= p90, below 85%%", pct(row.LE90))
	} else if waits && row.LE90 > 0.97 {
		fail("p90 honesty: %s of waits <= p90, above 97%% (p90 too long)", pct(row.LE90))
	}
	if waits && (row.LE50 < 0.35 || row.LE50 > 0.65) {
		fail("p50 calibration: %s of waits <= p50, outside 35-65%%", pct(row.LE50))
	} else if !waits && row.ToldUnder2s < 0.9 {
		fail("p50 calibration: paired at once (median wait %s) but only %s told p50 < 2s, below 90%%", secs(row.MedianWait), pct(row.ToldUnder2s))
	}
	if limit := math.Max(row.PredMAE, 1); row.MAE > limit {
		fail("accuracy: median error %s above the predecessor's %s (or 1s)", secs(row.MAE), secs(row.PredMAE))
	} else if waits && row.MAE > 0.7*row.PredMAE {
		fail("accuracy: median error %s above 0.7 x the predecessor's %s", secs(row.MAE), secs(row.PredMAE))
	}
	v.Pass = len(v.Failures) == 0
	return v
}

func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// secs prints seconds briefly: "0.4s", "12s", "3m05s".
func secs(x float64) string {
	switch {
	case x < 10:
		return fmt.Sprintf("%.1fs", x)
	case x < 120:
		return fmt.Sprintf("%.0fs", x)
	case x < 7200:
		m := int(x) / 60
		return fmt.Sprintf("%dm%02ds", m, int(x)-60*m)
	}
	return fmt.Sprintf("%.1fh", x/3600)
}
