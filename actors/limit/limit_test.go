package limit

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestGCRABurstThenRate(t *testing.T) {
	r := Rate{PerSecond: 5, Burst: 20}
	var g GCRA
	for i := 0; i < 20; i++ {
		d := g.Take(r, t0)
		if !d.Allowed || d.Remaining != 19-i {
			t.Fatalf("take %d: %+v", i, d)
		}
	}
	d := g.Take(r, t0)
	if d.Allowed || d.RetryAfter != 200*time.Millisecond || d.Reset != 4*time.Second {
		t.Fatalf("21st at once: %+v", d)
	}
	// A refusal spends nothing: still 200 ms to wait.
	if d := g.Take(r, t0.Add(100*time.Millisecond)); d.Allowed || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("refusal spent budget: %+v", d)
	}
	if d := g.Take(r, t0.Add(200*time.Millisecond)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after one interval: %+v", d)
	}
	// Sustained: one every 200 ms is always allowed, one more is not.
	at := t0.Add(200 * time.Millisecond)
	for i := 0; i < 50; i++ {
		at = at.Add(200 * time.Millisecond)
		if d := g.Take(r, at); !d.Allowed {
			t.Fatalf("sustained take %d refused: %+v", i, d)
		}
		if d := g.Take(r, at); d.Allowed {
			t.Fatalf("take above the rate %d allowed", i)
		}
	}
}

func TestGCRACountsInAWindow(t *testing.T) {
	// Over any 10 s from empty, at most burst + rate*10 events pass.
	cases := []struct {
		name string
		r    Rate
	}{
		{"spin", Rate{1, 10}},
		{"signal", Rate{50, 100}},
		{"slow", Rate{0.5, 5}},
		{"burst0 is 1", Rate{2, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var g GCRA
			ok := 0
			for ms := 0; ms < 10000; ms++ {
				for k := 0; k < 3; k++ {
					if g.Take(c.r, t0.Add(time.Duration(ms)*time.Millisecond)).Allowed {
						ok++
					}
				}
			}
			want := c.r.burst() + int(c.r.PerSecond*10)
			if ok < want-1 || ok > want {
				t.Fatalf("allowed %d in 10 s, want %d", ok, want)
			}
		})
	}
}

func TestGCRAUnlimitedAndClockBack(t *testing.T) {
	var g GCRA
	for i := 0; i < 1000; i++ {
		if !g.Take(Rate{}, t0).Allowed {
			t.Fatal("unlimited refused")
		}
	}
	r := Rate{1, 2}
	g.Take(r, t0)
	g.Take(r, t0)
	if d := g.Take(r, t0.Add(-time.Hour)); d.Allowed {
		t.Fatalf("a clock that went back refilled the budget: %+v", d)
	}
	if g.Full(t0) || !g.Full(t0.Add(2*time.Second)) {
		t.Fatal("Full")
	}
}

func TestWindow(t *testing.T) {
	cases := []struct {
		r    Rate
		q, w int
	}{
		{Rate{5, 20}, 5, 1}, {Rate{0.5, 5}, 1, 2}, {Rate{0.3, 1}, 1, 4}, {Rate{1.0 / 6, 5}, 1, 6}, {Rate{}, 0, 0}, {Rate{2.5, 1}, 2, 1},
	}
	for _, c := range cases {
		if q, w := c.r.Window(); q != c.q || w != c.w {
			t.Errorf("%+v: q=%d w=%d, want %d %d", c.r, q, w, c.q, c.w)
		}
	}
}

func TestSetKeepsActionsApart(t *testing.T) {
	b := Defaults()
	var s Set
	for i := 0; i < b.User[Spin].Burst; i++ {
		if !s.Take(&b.User, Spin, t0).Allowed {
			t.Fatalf("spin %d refused", i)
		}
	}
	if s.Take(&b.User, Spin, t0).Allowed {
		t.Fatal("spin over budget allowed")
	}
	for i := 0; i < 60; i++ {
		if !s.Take(&b.User, Signal, t0.Add(time.Duration(i)*time.Millisecond*16)).Allowed {
			t.Fatalf("signal %d refused while spins are limited", i)
		}
	}
	if s.Full(t0) {
		t.Fatal("Full after takes")
	}
	if !s.Full(t0.Add(time.Minute)) {
		t.Fatal("not Full after a minute")
	}
}

func TestActionNames(t *testing.T) {
	for a := Action(0); a < NumActions; a++ {
		if b, ok := ParseAction(a.String()); !ok || b != a || a.String() == "" {
			t.Fatalf("action %d: %q", a, a.String())
		}
	}
	if _, ok := ParseAction("nope"); ok {
		t.Fatal("parsed an unknown action")
	}
}

func TestLeases(t *testing.T) {
	var l Leases
	ttl := 30 * time.Second
	for i := 0; i < 3; i++ {
		if !l.Acquire(string(rune('a'+i)), 3, ttl, t0) {
			t.Fatalf("lease %d refused", i)
		}
	}
	if l.Acquire("d", 3, ttl, t0) {
		t.Fatal("lease over the cap")
	}
	if !l.Acquire("a", 3, ttl, t0) {
		t.Fatal("a held lease was refused on re-acquire")
	}
	l.Release("b")
	if !l.Acquire("d", 3, ttl, t0) {
		t.Fatal("lease after a release refused")
	}
	// A node died: its leases are not renewed and expire; renewed ones stay.
	later := t0.Add(20 * time.Second)
	l.Renew("a", 3, ttl, later)
	if l.Acquire("e", 3, ttl, t0.Add(31*time.Second)) != true || l.Len() != 2 {
		t.Fatalf("expired leases not pruned: %d", l.Len())
	}
	// A fresh activation relearns leases from renewals, above the cap but
	// never beyond the hard bound.
	var fresh Leases
	n := 0
	for i := 0; i < 100; i++ {
		if fresh.Renew(string(rune(1000+i)), 3, ttl, t0) {
			n++
		}
	}
	if n != hardMax(3) || fresh.Len() != hardMax(3) {
		t.Fatalf("renewals took %d, table %d, want %d", n, fresh.Len(), hardMax(3))
	}
	if fresh.Acquire("new", 3, ttl, t0) {
		t.Fatal("new lease while above the cap")
	}
}
