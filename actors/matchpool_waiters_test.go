package actors

import (
	"strconv"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/actors/pool"
)

// TestPoolWaiters: the line comes oldest first with each waiter's
// position, cut at the limit (truncated, with the total), and at most
// MaxPoolWaiters whatever the request asks.
func TestPoolWaiters(t *testing.T) {
	p := &matchPool{name: "line", q: pool.NewQueue()}
	t0 := time.UnixMilli(1_700_000_000_000)
	for i, w := range []struct {
		id string
		g  pool.Gender
		s  pool.GenderSet
	}{
		{"m1", pool.Male, pool.SetOf(pool.Female)},
		{"n1", pool.Nonbinary, pool.SetOf(pool.Male, pool.Female, pool.Nonbinary)},
		{"m2", pool.Male, pool.SetOf(pool.Female)},
		{"m3", pool.Male, pool.SetOf(pool.Female)},
	} {
		if !p.q.Insert(&pool.Waiter{UserID: w.id, Gender: w.g, Seeking: w.s, EnqueuedAt: t0.Add(time.Duration(i) * time.Second)}) {
			t.Fatalf("insert %s", w.id)
		}
	}
	all := p.waiters(&msg.PoolWaitersRequest{})
	if all.Pool != "line" || all.Total != 4 || all.Truncated || len(all.Waiters) != 4 {
		t.Fatalf("waiters: %v", all)
	}
	for i, want := range []struct {
		id  string
		pos int32
	}{{"m1", 1}, {"n1", 1}, {"m2", 2}, {"m3", 3}} {
		w := all.Waiters[i]
		if w.UserId != want.id || w.Position != want.pos || w.EnqueuedAtMs != t0.Add(time.Duration(i)*time.Second).UnixMilli() {
			t.Errorf("waiter %d: %v, want %s at %d", i, w, want.id, want.pos)
		}
	}
	if g, s := all.Waiters[1].Gender, all.Waiters[1].Seeking; g != "nonbinary" || len(s) != 3 {
		t.Errorf("nonbinary waiter: %s seeking %v", g, s)
	}
	cut := p.waiters(&msg.PoolWaitersRequest{Limit: 2})
	if !cut.Truncated || cut.Total != 4 || len(cut.Waiters) != 2 || cut.Waiters[1].UserId != "n1" {
		t.Fatalf("limit 2: %v", cut)
	}
	if big := p.waiters(&msg.PoolWaitersRequest{Limit: MaxPoolWaiters + 1}); len(big.Waiters) != 4 || big.Truncated {
		t.Fatalf("a limit above the bound: %v", big)
	}
	long := &matchPool{name: "long", q: pool.NewQueue()}
	for i := range MaxPoolWaiters + 1 {
		long.q.Insert(&pool.Waiter{UserID: "u" + strconv.Itoa(i), Gender: pool.Female, Seeking: pool.SetOf(pool.Male), EnqueuedAt: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	if got := long.waiters(&msg.PoolWaitersRequest{Limit: 1 << 30}); len(got.Waiters) != MaxPoolWaiters || !got.Truncated || got.Total != MaxPoolWaiters+1 {
		t.Fatalf("a line over the bound: %d waiters, truncated %v, total %d", len(got.Waiters), got.Truncated, got.Total)
	}
}
