package persistence

import "time"

// Report periods: UTC hours and UTC days.
const (
	PeriodHour = "hour"
	PeriodDay  = "day"
)

// PeriodSummary is what the store's own records say about one period
// [Start, End), as of a given time (see actors.Store.SummarizePeriod).
type PeriodSummary struct {
	// Matches counts the matches formed in the period.
	Matches int
	// Mutual and NoMatch count those matches by result; a match without a
	// result whose vote deadline had passed by the summary's as-of time
	// counts as no_match (a missing vote is a no). Matches still under
	// way count in neither.
	Mutual, NoMatch int
	// AvgWaitS and P90WaitS are the mean and the 90th percentile (linear
	// interpolation between ranks, as PostgreSQL's percentile_cont) of the
	// waits that ended in a match in the period, in seconds at microsecond
	// precision, by gender; a gender without such a wait is absent.
	AvgWaitS, P90WaitS map[string]float64
	// Abandoned counts, by gender, the waits that ended in the period by
	// leaving the queue unmatched (cancelled, or the reconnect grace ran
	// out); a gender with none is absent.
	Abandoned map[string]int
	// PeakWaiting is the most users waiting at once during the period,
	// from the finished waits (each one an interval ending at its sample's
	// time; a wait that ended more than PeakWaitBound after the period is
	// left out) and the queue places still held.
	PeakWaiting int
}

// PeakWaitBound bounds how long after a period a finished wait may have
// ended and still count in the period's PeakWaiting: it bounds the
// samples a summary reads to the period plus this. Only a wait longer
// than this could be missed, and a place held that long is still in
// the queue places, which always count.
const PeakWaitBound = 24 * time.Hour

// Report is one stored report: the summary of a period plus what the
// reports grain adds. One per (Period, Start).
type Report struct {
	Period     string // PeriodHour or PeriodDay
	Start, End time.Time
	PeriodSummary
	// SuccessRate is Mutual / (Mutual + NoMatch); 0 with none decided.
	SuccessRate float64
	// AlertsFired counts the alerts that fired in the period.
	AlertsFired int
	// ComputedAt is when the report was computed; a stored report is only
	// replaced by one computed at the same time or later.
	ComputedAt time.Time
	// Final says the period (and the votes of its last matches) had ended
	// when the report was computed, so it will not change.
	Final bool
}
