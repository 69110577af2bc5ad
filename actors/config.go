package actors

import (
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/pool"
)

// Config holds the timings and limits of the grains. Start from DefaultConfig
// (production defaults) or TestConfig (fast timings for tests).
type Config struct {
	// DateLength is how long a date lasts (SPIN_DATE_S).
	DateLength time.Duration
	// VoteWindow is how long voting stays open after the date (SPIN_VOTE_S).
	VoteWindow time.Duration
	// ReconnectGrace is how long a queued user without a connection keeps
	// the place in the queue (SPIN_RECONNECT_GRACE_S).
	ReconnectGrace time.Duration
	// RematchCooldown is how long two users are not paired again
	// (SPIN_REMATCH_COOLDOWN_S). Zero turns it off.
	RematchCooldown time.Duration
	// Refresh is how often a queued session re-announces itself to its pool,
	// so a pool that lost its activation rebuilds its queue.
	Refresh time.Duration
	// WaitTick is how often a pool re-evaluates its waiters' estimates.
	WaitTick time.Duration
	// WaitUpdateMax is the longest a queued user goes without a wait_update.
	WaitUpdateMax time.Duration
	// RequestTimeout bounds one grain-to-grain request.
	RequestTimeout time.Duration
	// DeliveryTimeout bounds the delivery of one one-way grain message,
	// resends included (see Router).
	DeliveryTimeout time.Duration
	// SessionIdle is how long an idle session without connections lives
	// before it passivates.
	SessionIdle time.Duration
	// Limits are the per-user and per-address budgets and caps (limiter.go).
	Limits LimitConfig
	// HistoryLimit bounds /api/matches.
	HistoryLimit int
	// Estimator configures every pool's ETA model.
	Estimator pool.EstimatorConfig
	// Pools, when non-empty, are the only pool names profiles may choose
	// (SPIN_POOLS); empty means any valid name.
	Pools []string
	// PoolIdle is how long a pool with nobody in it (no waiters, no
	// unsettled pairings) lives, without ticking, before it passivates.
	// Zero means the estimator's window (15 minutes by default): by then
	// the pool's statistics hold nothing a new activation would miss.
	PoolIdle time.Duration
	// Alerts configures the alert rules (alerts.go).
	Alerts AlertConfig
}

// DefaultConfig returns the production defaults of PROTOCOL.md.
func DefaultConfig() Config {
	return Config{
		DateLength:      180 * time.Second,
		VoteWindow:      30 * time.Second,
		ReconnectGrace:  15 * time.Second,
		RematchCooldown: 24 * time.Hour,
		Refresh:         5 * time.Second,
		WaitTick:        time.Second,
		WaitUpdateMax:   5 * time.Second,
		RequestTimeout:  5 * time.Second,
		DeliveryTimeout: 15 * time.Second,
		SessionIdle:     10 * time.Minute,
		Limits:          LimitConfig{Budgets: limit.Defaults()},
		HistoryLimit:    100,
	}
}

// TestConfig returns DefaultConfig with timings short enough for tests.
func TestConfig() Config {
	c := DefaultConfig()
	c.DateLength = 2 * time.Second
	c.VoteWindow = time.Second
	c.ReconnectGrace = 2 * time.Second
	c.Refresh = time.Second
	c.WaitTick = 200 * time.Millisecond
	c.WaitUpdateMax = time.Second
	c.SessionIdle = time.Minute
	c.Limits.Budgets = limit.Generous()
	return c
}
