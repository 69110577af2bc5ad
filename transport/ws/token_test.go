package ws

import (
	"testing"
	"time"
)

// TestTokenTimer walks a socket's token through expiry on an injected
// clock: nothing before exp, token_expired once at exp (opening the
// window), nothing inside the window, the close at its end; a renewal
// (a later exp) closes the window.
func TestTokenTimer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	exp := t0.Add(10 * time.Second)
	wait := 30 * time.Second
	steps := []struct {
		name     string
		at       time.Duration // since t0
		exp      time.Time
		want     tokenStep
		deadline time.Duration // since t0; -1: none
	}{
		{"before expiry", 9 * time.Second, exp, tokenNothing, -1},
		{"at expiry: told", 10 * time.Second, exp, tokenTellExpired, 40 * time.Second},
		{"inside the window", 39 * time.Second, exp, tokenNothing, 40 * time.Second},
		{"end of the window: close", 40 * time.Second, exp, tokenClose, 40 * time.Second},
	}
	var deadline time.Time
	for _, s := range steps {
		got, d := tokenCheck(t0.Add(s.at), s.exp, deadline, wait)
		if got != s.want {
			t.Fatalf("%s: step %d, want %d", s.name, got, s.want)
		}
		if (s.deadline < 0) != d.IsZero() || (s.deadline >= 0 && !d.Equal(t0.Add(s.deadline))) {
			t.Fatalf("%s: deadline %v", s.name, d)
		}
		deadline = d
	}
	// Renewed inside the window: the window closes, nothing happens.
	got, d := tokenCheck(t0.Add(20*time.Second), t0.Add(time.Hour), t0.Add(40*time.Second), wait)
	if got != tokenNothing || !d.IsZero() {
		t.Fatalf("after renewal: %d %v", got, d)
	}
}

func TestNextWake(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Second) }
	cases := []struct {
		name          string
		exp, deadline time.Time
		want          time.Time
	}{
		{"the expiry", at(3600), time.Time{}, at(3600)},
		{"expired: the window's end", at(-1), at(3), at(3)},
		{"window before the expiry", at(60), at(30), at(30)},
		{"expired, no window: nothing", at(-1), time.Time{}, time.Time{}},
	}
	for _, tc := range cases {
		if got := nextWake(now, tc.exp, tc.deadline); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.Sub(now), tc.want.Sub(now))
		}
	}
}
