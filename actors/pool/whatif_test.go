package pool

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// The figures were checked by the simulator: 3 men and 1 woman a second,
// patience 45 s, gives men a median wait of 48 s, and with 1,800 more women
// an hour (3 men and 1.5 women a second) 30.5 s.
func TestWhatIfMatchesTheSimulatedPool(t *testing.T) {
	p := NewPool(PoolConfig{})
	e := p.Estimator()
	start := t0.Add(-15 * time.Minute)
	e.MatchFormed(start)
	arrive(e, Male, sF, 2700, 15*time.Minute, t0)
	arrive(e, Female, sM, 900, 15*time.Minute, t0)
	// 90 men wait throughout and two of them leave a second (each is
	// replaced): 1/45 s each, over 81,000 s at risk.
	for i := range 90 {
		w := wt("q"+strconv.Itoa(i), Male, sF, 0)
		w.EnqueuedAt = start
		p.Insert(w, start)
	}
	for i := range 1800 {
		at := start.Add(time.Duration(i+1) * 500 * time.Millisecond)
		id := "q" + strconv.Itoa(i%90)
		p.Leave(id, at)
		w := wt(id, Male, sF, 0)
		w.EnqueuedAt = at
		p.Insert(w, at)
	}
	for i := range 90 {
		p.Take("q"+strconv.Itoa(i), t0)
	}
	got := p.WhatIf(Female, 1800, t0)
	men := got[Male]
	if !within(men.Now, 48*time.Second, 0.1) || !within(men.Then, 30500*time.Millisecond, 0.1) {
		t.Errorf("men's median %v -> %v; the simulator measured 48s -> 30.5s", men.Now, men.Then)
	}
	if w := got[Female]; w.Now != 0 || w.Then != 0 {
		t.Errorf("women's median %v -> %v; want 0 (men are waiting for them)", w.Now, w.Then)
	}
	st := p.Stats(t0) // nobody queued: no gender is scarce now
	if len(st.WhatIf) != 0 {
		t.Errorf("what-ifs without a scarce gender: %+v", st.WhatIf)
	}
	for i := range 12 {
		w := wt("m"+string(rune('a'+i)), Male, sF, 0)
		w.EnqueuedAt = t0
		p.Join(w, false, t0)
	}
	st = p.Stats(t0)
	if len(st.WhatIf) != 3 || st.WhatIf[0].Gender != Female || st.WhatIf[0].MorePerHour != 900 || st.WhatIf[1].MorePerHour != 1800 || st.WhatIf[2].MorePerHour != 4000 {
		t.Fatalf("what-ifs = %+v; want women +900, +1800, +4000 an hour", st.WhatIf)
	}
	found := false
	for _, r := range st.Recommendations {
		if strings.HasPrefix(r, "If 1800 more women an hour joined this pool, men's median wait would go from ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no what-if among the recommendations: %q", st.Recommendations)
	}
}

func TestRoundNice(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 1, 7.4: 7, 12.4: 12, 37: 40, 149: 150, 310: 300, 3600: 4000} {
		if got := roundNice(in); got != want {
			t.Errorf("roundNice(%v) = %v, want %v", in, got, want)
		}
	}
}
