package actors

import (
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// TestLimiterGrainLogic drives the Limiter grain's handling with an
// injected clock: the address budget, the socket cap with leases, and
// when the grain may passivate.
func TestLimiterGrainLogic(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := TestConfig()
	cfg.Limits = LimitConfig{Budgets: limit.Defaults(), LeaseTTL: 30 * time.Second}
	cfg.Limits.Address[limit.Spin] = limit.Rate{PerSecond: 2, Burst: 3}
	cfg.Limits.SocketsPerAddress = 2
	g := &limiter{d: &Deps{Config: cfg, Now: func() time.Time { return now }}}

	if !g.idle() {
		t.Fatal("a fresh grain is not idle")
	}
	for i := 0; i < 3; i++ {
		if r := g.take(&msg.LimitTake{Action: "spin"}); !r.Allowed || r.Remaining != int32(2-i) {
			t.Fatalf("spin %d: %+v", i, r)
		}
	}
	r := g.take(&msg.LimitTake{Action: "spin"})
	if r.Allowed || r.RetryAfterS != 0.5 {
		t.Fatalf("4th spin: %+v", r)
	}
	if g.idle() {
		t.Fatal("idle with a spent budget")
	}
	if r := g.take(&msg.LimitTake{Action: "no-such-action"}); !r.Allowed {
		t.Fatalf("unknown action refused: %+v", r)
	}

	// Two sockets fit, the third is refused by the cap (not the budget).
	for _, id := range []string{"a", "b"} {
		if r := g.take(&msg.LimitTake{Action: "upgrade", LeaseId: id}); !r.Allowed {
			t.Fatalf("socket %s: %+v", id, r)
		}
	}
	if r := g.take(&msg.LimitTake{Action: "upgrade", LeaseId: "c"}); r.Allowed || !r.LeaseRefused || r.RetryAfterS <= 0 {
		t.Fatalf("socket over the cap: %+v", r)
	}
	now = now.Add(time.Minute) // budgets full again; leases expired unrenewed
	if !g.idle() {
		t.Fatal("not idle after the leases expired and the budgets refilled")
	}
	if r := g.take(&msg.LimitTake{Action: "upgrade", LeaseId: "c"}); !r.Allowed {
		t.Fatalf("socket after the others' leases expired: %+v", r)
	}
	now = now.Add(20 * time.Second)
	g.leases.Renew("c", 2, cfg.Limits.leaseTTL(), now)
	now = now.Add(20 * time.Second)
	if g.idle() {
		t.Fatal("idle while a renewed lease is live")
	}
	g.leases.Release("c")
	if !g.idle() {
		t.Fatal("not idle after the release")
	}
}
