package main

import (
	"context"
	"runtime/debug"
	"time"
)

// gcPace raises the garbage collector's target (GOGC) while the node
// pairs users at a high rate, and puts it back when the rate falls.
//
// The collector's share of the CPU follows the allocation rate divided by
// GOGC: under matchmaking load it was a fifth of a node's CPU at the
// default 100. A higher GOGC at all times would cost memory where the
// budget is tightest, the idle signed-in user (issue 10: 20 KiB of RSS
// each, with the collector's headroom in it), and an idle node allocates
// little, so it gains nothing from a higher target. The load that
// allocates is the spins, so the pace follows the node's spin rate, not
// its allocation rate (a burst of sign-ins allocates too, and must leave
// the idle budget as it was).
//
// Owned by run's goroutine; static fields are set before run.
type gcPace struct {
	// Static after construction.
	spins func() int64  // the node's spins since start (actors.System.Spins)
	set   func(int) int // debug.SetGCPercent
	base  int           // GOGC while not busy (the default, 100)
	busy  int           // GOGC while busy
	on    float64       // spins/s at or over which the node is busy
	off   float64       // spins/s under which a busy node is not any more
	now   func() time.Time

	last   int64     // spins at the last step
	lastAt time.Time // time of the last step
	high   bool      // the busy target is set
}

// Defaults of gcPace: busy from 500 spins/s (where the collector's work
// starts to show in the profile), back under 200, with a target four
// times the default while busy (see DESIGN.md, Where a spin's CPU goes
// today, for the measurements).
const (
	gcBaseDefault = 100
	gcBusyDefault = 400
	gcBusyOn      = 500
	gcBusyOff     = 200
	gcPaceEvery   = time.Second
)

// newGCPace returns a pace on spins with the defaults.
func newGCPace(spins func() int64) *gcPace {
	return &gcPace{spins: spins, set: debug.SetGCPercent, base: gcBaseDefault, busy: gcBusyDefault,
		on: gcBusyOn, off: gcBusyOff, now: time.Now}
}

// step looks at the spin rate since the last step and sets the target it
// calls for; it returns whether the busy target is set.
func (p *gcPace) step() bool {
	n, at := p.spins(), p.now()
	if !p.lastAt.IsZero() {
		if dt := at.Sub(p.lastAt).Seconds(); dt > 0 {
			rate := float64(n-p.last) / dt
			switch {
			case !p.high && rate >= p.on:
				p.high = true
				p.set(p.busy)
			case p.high && rate < p.off:
				p.high = false
				p.set(p.base)
			}
		}
	}
	p.last, p.lastAt = n, at
	return p.high
}

// run steps every period until ctx is done, then leaves the base target.
func (p *gcPace) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	p.step()
	for {
		select {
		case <-ctx.Done():
			if p.high {
				p.set(p.base)
			}
			return
		case <-t.C:
			p.step()
		}
	}
}
