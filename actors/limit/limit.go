// Package limit is Spinmatch's one rate limiter: GCRA (the generic cell
// rate algorithm, a token bucket kept as one timestamp), the named actions
// it limits, their budgets, and socket leases. It is pure: no goroutines,
// no clock of its own (every call takes now), no locks. Each value has one
// owner, the grain that holds it (a UserSession for per-user limits, a
// Limiter grain for per-address ones), and is not safe for concurrent use.
package limit

import (
	"math"
	"time"
)

// Rate is one budget: PerSecond events per second on average, at most
// Burst at once. A zero PerSecond means unlimited.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether r limits nothing.
func (r Rate) Unlimited() bool { return r.PerSecond <= 0 }

// interval is the time one event costs.
func (r Rate) interval() time.Duration {
	return time.Duration(float64(time.Second) / r.PerSecond)
}

func (r Rate) burst() int { return max(r.Burst, 1) }

// Window returns the budget as a quota per window for the RateLimit-Policy
// header: q events per w whole seconds (w >= 1), the sustained rate. A
// client that keeps to it is never refused; the burst comes on top.
func (r Rate) Window() (q, w int) {
	if r.Unlimited() {
		return 0, 0
	}
	if r.PerSecond >= 1 {
		return int(math.Floor(r.PerSecond)), 1
	}
	return 1, int(math.Ceil(1/r.PerSecond - 1e-9))
}

// Decision is the answer to one Take.
type Decision struct {
	// Allowed is false when the event is refused.
	Allowed bool
	// Remaining is how many more events would be allowed right now.
	Remaining int
	// RetryAfter is, when refused, how long until one event is allowed.
	RetryAfter time.Duration
	// Reset is how long until the whole burst is available again.
	Reset time.Duration
}

// GCRA is the state of one limit: the theoretical arrival time of the next
// event. The zero value is a full budget.
type GCRA struct {
	// tat is the theoretical arrival time in nanoseconds since epoch (0:
	// none yet): 8 bytes rather than a time.Time's 24, as every session
	// and Limiter grain holds one per action. Durations since epoch are
	// read on the monotonic clock, so a wall clock set back does not
	// hold a budget empty.
	tat int64
}

// epoch is the origin of GCRA times: the process's start. Never written
// after initialization.
var epoch = time.Now()

// since returns t as nanoseconds since epoch.
func since(t time.Time) int64 { return int64(t.Sub(epoch)) }

// Take spends one event of r at now, or refuses it (and then spends
// nothing). A clock that went backwards is treated as standing still.
func (g *GCRA) Take(r Rate, now time.Time) Decision {
	if r.Unlimited() {
		return Decision{Allowed: true, Remaining: math.MaxInt32}
	}
	t := r.interval()
	tolerance := time.Duration(r.burst()) * t
	n := since(now)
	tat := g.tat
	if tat == 0 || tat < n {
		tat = n
	}
	next := tat + int64(t)
	if ahead := time.Duration(next - n); ahead > tolerance {
		return Decision{RetryAfter: ahead - tolerance, Reset: time.Duration(tat - n)}
	}
	g.tat = next
	ahead := time.Duration(next - n)
	return Decision{Allowed: true, Remaining: int((tolerance - ahead) / t), Reset: ahead}
}

// Full reports whether r's whole burst is available at now (the state
// then holds nothing worth keeping).
func (g *GCRA) Full(now time.Time) bool { return g.tat == 0 || g.tat <= since(now) }
