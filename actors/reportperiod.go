package actors

import (
	"time"

	"github.com/spinmatch/spinmatch/persistence"
)

// Report periods are UTC hours and UTC days. These helpers are pure: the
// Reports grain passes its clock in, and the tests pass theirs.

// ValidReportPeriod reports whether p names a report period.
func ValidReportPeriod(p string) bool {
	return p == persistence.PeriodHour || p == persistence.PeriodDay
}

// reportPeriods are the periods the Reports grain writes.
var reportPeriods = [...]string{persistence.PeriodHour, persistence.PeriodDay}

// periodStart returns the start of the period of kind that holds t.
func periodStart(kind string, t time.Time) time.Time {
	t = t.UTC()
	if kind == persistence.PeriodDay {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Hour)
}

// periodEnd returns the end of the period of kind that starts at start.
func periodEnd(kind string, start time.Time) time.Time {
	if kind == persistence.PeriodDay {
		return start.AddDate(0, 0, 1)
	}
	return start.Add(time.Hour)
}

// reportSettle is how long after a period's end its report is final: the
// matches formed at its very end have had their date and vote window,
// plus a minute for the last results and wait samples to be written.
func reportSettle(c Config) time.Duration { return c.DateLength + c.VoteWindow + time.Minute }

// ReportLookback is how far back the Reports grain writes the finished
// periods it finds missing when it activates (a period missed while no
// node ran it is written late): periods that ended within it.
const ReportLookback = 48 * time.Hour

// duePeriods returns the starts of the periods of kind that are final at
// now (ended at least settle ago) and ended within lookback, oldest first.
func duePeriods(kind string, now time.Time, settle, lookback time.Duration) []time.Time {
	var out []time.Time
	for s := periodStart(kind, now.Add(-settle)); ; {
		s = previousPeriod(kind, s)
		if !periodEnd(kind, s).After(now.Add(-lookback)) {
			break
		}
		out = append(out, s)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// previousPeriod returns the start of the period before the one of kind
// that starts at start.
func previousPeriod(kind string, start time.Time) time.Time {
	if kind == persistence.PeriodDay {
		return start.AddDate(0, 0, -1)
	}
	return start.Add(-time.Hour)
}

// nextDue returns when the next period of kind becomes final after now.
func nextDue(kind string, now time.Time, settle time.Duration) time.Time {
	return periodEnd(kind, periodStart(kind, now.Add(-settle))).Add(settle)
}
