package pool

import (
	"fmt"
	"testing"
	"time"
)

// TestLineShareAndDraw: the joint class lines. In a pool of men seeking
// women and women seeking men every partner reaches the waiter's line and
// no one ahead leaves by another way (share exactly 1, no draw: such pools
// are estimated as before). A woman seeking women behind older men seeking
// women loses the women seeking everyone to the men (her share counts
// them), and a man seeking everyone ahead of men seeking women who leaves
// with a man seeking men is a draw on their line.
func TestLineShareAndDraw(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	mf, _ := classOf(Male, sF)
	ff, _ := classOf(Female, sF)

	t.Run("binary", func(t *testing.T) {
		p := NewPool(PoolConfig{})
		for i := range 10 {
			p.Join(&Waiter{UserID: fmt.Sprint("m", i), Gender: Male, Seeking: sF, EnqueuedAt: at(i)}, true, at(i))
		}
		for i := range 6 {
			if p.Join(&Waiter{UserID: fmt.Sprint("w", i), Gender: Female, Seeking: sM, EnqueuedAt: at(20 + i)}, true, at(20+i)) == nil {
				t.Fatalf("woman %d was not paired", i)
			}
		}
		if s, n := p.est.lineShare(mf); s != 1 || n != 6 {
			t.Fatalf("men seeking women: share %v of %v arrivals, want 1 of 6", s, n)
		}
		if d, _ := p.est.drawRate(mf); d != 0 {
			t.Fatalf("men seeking women: draw %v, want 0", d)
		}
	})

	t.Run("mixed", func(t *testing.T) {
		p := NewPool(PoolConfig{})
		for i := range 5 {
			p.Join(&Waiter{UserID: fmt.Sprint("m", i), Gender: Male, Seeking: sF, EnqueuedAt: at(i)}, true, at(i))
		}
		p.Join(&Waiter{UserID: "ff", Gender: Female, Seeking: sF, EnqueuedAt: at(5)}, true, at(5))
		before, _ := p.est.Rates(Female, sF, 1, 0, at(9))
		for i := range 4 {
			got := p.Join(&Waiter{UserID: fmt.Sprint("a", i), Gender: Female, Seeking: sAll, EnqueuedAt: at(10 + i)}, true, at(10+i))
			if got == nil || got.Gender != Male {
				t.Fatalf("woman seeking everyone %d paired with %v, want the oldest man", i, got)
			}
		}
		if s, n := p.est.lineShare(ff); s != 1.0/5 || n != 4 {
			t.Fatalf("women seeking women: share %v of %v arrivals, want 1/5 of 4", s, n)
		}
		after, _ := p.est.Rates(Female, sF, 1, 0, at(14))
		if after >= before {
			t.Fatalf("partner rate %v after four partners went elsewhere, %v before: want lower", after, before)
		}
		if got := p.Join(&Waiter{UserID: "ff2", Gender: Female, Seeking: sF, EnqueuedAt: at(15)}, true, at(15)); got == nil || got.UserID != "ff" {
			t.Fatalf("the second woman seeking women paired with %v, want ff", got)
		}
		if s, n := p.est.lineShare(ff); s != 2.0/6 || n != 5 {
			t.Fatalf("women seeking women: share %v of %v arrivals, want 2/6 of 5", s, n)
		}

		p.Join(&Waiter{UserID: "ma", Gender: Male, Seeking: sAll, EnqueuedAt: at(16)}, true, at(16))
		if d, _ := p.est.drawRate(mf); d != 0 {
			t.Fatalf("draw %v before any man left by a partner men seeking women cannot take", d)
		}
		if got := p.Join(&Waiter{UserID: "mm", Gender: Male, Seeking: sM, EnqueuedAt: at(17)}, true, at(17)); got == nil || got.UserID != "ma" {
			t.Fatalf("the man seeking men paired with %v, want ma", got)
		}
		if d, n := p.est.drawRate(mf); d <= 0 || n != 1 {
			t.Fatalf("draw %v from %v pairings, want one and a rate above 0", d, n)
		}
	})
}
