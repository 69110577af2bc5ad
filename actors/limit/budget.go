package limit

import "time"

// Budgets are every limit of a deployment (cmd/spinmatch/config_limits.go
// reads them from SPIN_LIMIT_*). Start from Defaults.
type Budgets struct {
	// User holds each action's per-user budget; a zero Rate is unlimited.
	User [NumActions]Rate
	// Address holds each action's per-address budget; a zero Rate is unlimited.
	Address [NumActions]Rate
	// SocketsPerUser caps a user's open sockets, across the cluster.
	// Zero means no cap.
	SocketsPerUser int
	// SocketsPerAddress caps an address's open sockets, across the
	// cluster (leases in its Limiter grain). Zero means no cap.
	SocketsPerAddress int
}

// Defaults returns the production budgets. Address budgets are larger than
// user ones: many users may share one address (an office, a carrier NAT).
func Defaults() Budgets {
	var b Budgets
	set := func(a Action, user, addr Rate) { b.User[a], b.Address[a] = user, addr }
	set(Upgrade, Rate{1, 10}, Rate{10, 60})
	set(Spin, Rate{1, 10}, Rate{20, 100})
	set(Vote, Rate{2, 10}, Rate{20, 100})
	set(Signal, Rate{50, 100}, Rate{200, 400})
	set(Command, Rate{5, 20}, Rate{50, 200})
	set(Profile, Rate{0.5, 5}, Rate{5, 30})
	set(RestUser, Rate{10, 40}, Rate{50, 200})
	set(RestPublic, Rate{}, Rate{10, 40})
	set(RestToken, Rate{}, Rate{2, 20})
	set(RestReport, Rate{}, Rate{1.0 / 6, 5})
	set(RestAdmin, Rate{}, Rate{20, 100})
	b.SocketsPerUser = 10
	b.SocketsPerAddress = 100
	return b
}

// Off returns budgets that limit nothing (benchmarks, model tests).
func Off() Budgets { return Budgets{} }

// Set is the state of one owner's limits, one GCRA per action. The zero
// value is every budget full.
type Set struct {
	s [NumActions]GCRA
}

// Take spends one event of action a under rates.
func (s *Set) Take(rates *[NumActions]Rate, a Action, now time.Time) Decision {
	if a >= NumActions {
		return Decision{Allowed: true}
	}
	return s.s[a].Take(rates[a], now)
}

// Full reports whether every budget is full at now.
func (s *Set) Full(now time.Time) bool {
	for i := range s.s {
		if !s.s[i].Full(now) {
			return false
		}
	}
	return true
}

// Generous returns budgets for tests that are not about limits: every
// per-user budget 50/s with a burst of 100 (a burst of commands is still
// cut), every per-address budget and both caps ten times the defaults.
func Generous() Budgets {
	b := Defaults()
	for a := range b.User {
		if !b.User[a].Unlimited() {
			b.User[a] = Rate{50, 100}
		}
		b.Address[a].PerSecond *= 10
		b.Address[a].Burst *= 10
	}
	b.SocketsPerUser *= 10
	b.SocketsPerAddress *= 10
	return b
}
