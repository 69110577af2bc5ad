package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Result is one scenario's scored run, as the table and -json print it.
type Result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	Seed        uint64 `json:"seed"`
	Spins       int    `json:"judged_spins"`
	Matches     int    `json:"matches"`
	Censored    int    `json:"censored"`
	Rows        []Row  `json:"rows"`
	// Confidence is the accuracy of the estimates by confidence level.
	Confidence []ConfidenceRow `json:"confidence"`
	// WhatIf is the what-if check, when it ran.
	WhatIf *WhatIfCheck `json:"what_if,omitempty"`
	// Pass is true when every judged row passed (and the what-if check,
	// when it ran).
	Pass bool `json:"pass"`
	// run is the raw outcome, for the plot.
	run *Run
}

// NewResult scores r.
func NewResult(r *Run) *Result {
	s := r.Scenario
	res := &Result{
		Scenario:    s.Name,
		Description: Describe(s),
		Seed:        r.Seed,
		Spins:       r.Spins,
		Matches:     r.Matches,
		Censored:    r.Censored,
		Rows:        Score(r),
		Confidence:  ScoreConfidence(r),
		Pass:        true,
		run:         r,
	}
	for _, row := range res.Rows {
		res.Pass = res.Pass && row.Verdict.Pass
	}
	return res
}

// SetWhatIf attaches a what-if check; a failed check fails the result.
func (res *Result) SetWhatIf(c *WhatIfCheck) {
	res.WhatIf = c
	if c != nil && c.Ran && !c.Pass {
		res.Pass = false
	}
}

// Describe says what scenario s is in one line.
func Describe(s Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%g arrivals/s, %s, patience %s, yes %.0f%% re-spin %.0f%%, warm-up %v, judged to %v",
		s.Rate, s.Mix(), s.Patience, 100*s.Votes.Yes, 100*s.Votes.Respin, s.Warmup, s.Duration)
	if len(s.Ramp) > 0 {
		b.WriteString(", ramp")
		for _, p := range s.Ramp {
			fmt.Fprintf(&b, " %v:x%g", p.At, p.Mult)
		}
	}
	if seeking := mixedSeeking(s); seeking != "" {
		b.WriteString(", seeking " + seeking)
	}
	return b.String()
}

// mixedSeeking lists the classes when some do not seek their default.
func mixedSeeking(s Scenario) string {
	mixed := false
	var parts []string
	for _, c := range s.Classes {
		if c.Seeking != DefaultSeeking(c.Gender) {
			mixed = true
		}
		parts = append(parts, fmt.Sprintf("%s>%s x%g", c.Gender, c.Seeking, c.Weight))
	}
	if !mixed {
		return ""
	}
	return strings.Join(parts, ", ")
}

// WriteTable prints res as an aligned plain-text table, then each failed bar.
func WriteTable(w io.Writer, res *Result) error {
	fmt.Fprintf(w, "== %s: %s; seed %d\n", res.Scenario, res.Description, res.Seed)
	fmt.Fprintf(w, "   %d judged spins, %d matches in the run, %d judged spins censored (still waiting at the end)\n", res.Spins, res.Matches, res.Censored)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "gender\testimate\tn\tmed wait\t<=p50\t±25%\t<=p90\tMAE\tpred MAE\tpred ±25%\tp50<2s\tgave up\ttold<pat\tpred<pat\tverdict\t")
	for _, r := range res.Rows {
		gave, told, pred := "", "", ""
		if r.Phase == PhaseFirst {
			gave, told, pred = fmt.Sprint(r.GaveUp), fmt.Sprint(r.GaveUpToldShorter), fmt.Sprint(r.GaveUpPredShorter)
		}
		if r.N == 0 {
			fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t%s\t%s\t%s\t\n", r.Gender.Plural(), r.Phase, gave, told, pred, r.Verdict)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Gender.Plural(), r.Phase, r.N, secs(r.MedianWait), pct(r.LE50), pct(r.Within25), pct(r.LE90),
			secs(r.MAE), secs(r.PredMAE), pct(r.PredWithin25), pct(r.ToldUnder2s), gave, told, pred, r.Verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res.Rows {
		for _, f := range r.Verdict.Failures {
			fmt.Fprintf(w, "   FAIL %s %s: %s\n", r.Gender.Plural(), r.Phase, f)
		}
	}
	for _, r := range res.Rows {
		if r.OracleMAE > 0 {
			fmt.Fprintf(w, "   oracle (the model given the true rates): %s %s median error %s (this estimator %s, predecessor %s)\n", r.Gender.Plural(), r.Phase, secs(r.OracleMAE), secs(r.MAE), secs(r.PredMAE))
		}
	}
	if len(res.Confidence) > 0 {
		parts := make([]string, 0, len(res.Confidence))
		for _, c := range res.Confidence {
			parts = append(parts, fmt.Sprintf("%s: %d estimates, median error %s of the wait, %s within 25%%", c.Confidence, c.N, pct(c.MedianRelError), pct(c.Within25)))
		}
		fmt.Fprintf(w, "   confidence: %s\n", strings.Join(parts, "; "))
	}
	if c := res.WhatIf; c != nil {
		fmt.Fprintf(w, "   what-if: %s\n", c)
	}
	_, err := fmt.Fprintln(w)
	return err
}
