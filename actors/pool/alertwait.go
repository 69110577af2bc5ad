package pool

import (
	"slices"
	"time"
)

// AlertP90Wait returns, by gender, the 90th percentile (nearest rank) of the
// waits that ended in a match in the window and the current waits of those
// still queued in q, at now: the wait_p90 alert rule's figure, which (unlike
// Stats.P90Wait) sees a queue whose waiters are stuck. A gender with neither
// is absent.
func (e *Estimator) AlertP90Wait(q *Queue, now time.Time) map[Gender]time.Duration {
	e.observe(now)
	since := timeKey(now) - int64(e.cfg.Window)
	var current [numGenders + 1][]time.Duration
	q.Each(func(w *Waiter, _ int) bool {
		if w.Gender.Valid() {
			current[w.Gender] = append(current[w.Gender], max(0, now.Sub(w.EnqueuedAt)))
		}
		return true
	})
	out := make(map[Gender]time.Duration, numGenders)
	for _, g := range Genders {
		var waits []time.Duration
		waits = append(waits, current[g]...)
		r := &e.waits[g]
		for i := 0; i < r.n; i++ {
			if x := r.buf[i]; x.at > since && x.matched {
				waits = append(waits, x.wait)
			}
		}
		if len(waits) == 0 {
			continue
		}
		slices.Sort(waits)
		rank := (9*len(waits) + 9) / 10
		out[g] = waits[max(rank, 1)-1]
	}
	return out
}
