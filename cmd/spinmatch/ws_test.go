package main

import (
	"fmt"

	"github.com/spinmatch/spinmatch/actors"
	"testing"
	"time"
)

// TestLiveMatching runs the user-socket scenarios of PROTOCOL.md against one
// real node over real WebSockets. Each case uses its own pool, so the cases
// run in parallel against the shared node.
func TestLiveMatching(t *testing.T) {
	n := startNode(t, testConfig(t))
	base := "http://" + n.Addr()
	pool := func(t *testing.T) string { return fmt.Sprintf("p%d", userSeq.Add(1)) }

	t.Run("compatible pair is matched and both get the same match", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		ann := newUser(t, base, "Ann", "female", p, "male")
		bob := newUser(t, base, "Bob", "male", p, "female")
		ca, st := ann.dial(t)
		if st.str("state") != "idle" {
			t.Fatalf("initial state %v", st)
		}
		cb, _ := bob.dial(t)
		q := ca.spin()
		if q.obj("queue").num("position") != 1 || q.obj("queue").str("pool") != p {
			t.Fatalf("queued %v", q)
		}
		if eta := q.obj("eta"); eta.str("confidence") == "" || eta.str("reason") == "" || eta.num("p90_s") < eta.num("p50_s") {
			t.Fatalf("eta %v", eta)
		}
		start := time.Now()
		cb.spin()
		fa, fb := ca.expect("match_found"), cb.expect("match_found")
		if d := time.Since(start); d > time.Second {
			t.Errorf("match took %v, want < 1s", d)
		}
		if fa.str("match_id") == "" || fa.str("match_id") != fb.str("match_id") {
			t.Fatalf("match ids %q / %q", fa.str("match_id"), fb.str("match_id"))
		}
		if fa.obj("partner").str("user_id") != bob.id || fb.obj("partner").str("display_name") != "Ann" {
			t.Fatalf("partners: %v / %v", fa.obj("partner"), fb.obj("partner"))
		}
		ends, err1 := time.Parse(time.RFC3339, fa.str("date_ends_at"))
		dl, err2 := time.Parse(time.RFC3339, fa.str("vote_deadline"))
		if err1 != nil || err2 != nil || !dl.After(ends) {
			t.Fatalf("deadlines %q %q", fa.str("date_ends_at"), fa.str("vote_deadline"))
		}
		ca.quiet(200 * time.Millisecond) // exactly one match_found
	})

	t.Run("incompatible users are not matched", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		man := newUser(t, base, "Max", "male", p, "female")
		womanForWomen := newUser(t, base, "Wen", "female", p, "female")
		womanForMen := newUser(t, base, "Lea", "female", p, "male")
		cm, _ := man.dial(t)
		cw, _ := womanForWomen.dial(t)
		cl, _ := womanForMen.dial(t)
		cm.spin()
		cw.spin()
		cw.quiet(300 * time.Millisecond)
		cl.spin()
		if got := cl.expect("match_found").obj("partner").str("user_id"); got != man.id {
			t.Fatalf("Lea matched with %s, want Max", got)
		}
		cm.expect("match_found")
		cw.send("status", nil)
		if st := cw.expect("state"); st.str("state") != "queued" {
			t.Fatalf("Wen state %v", st)
		}
	})

	t.Run("longest waiting compatible user is served first", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		m1 := newUser(t, base, "First", "male", p, "female")
		m2 := newUser(t, base, "Second", "male", p, "female")
		w := newUser(t, base, "Wanda", "female", p, "male")
		c1, _ := m1.dial(t)
		c2, _ := m2.dial(t)
		cw, _ := w.dial(t)
		c1.spin()
		q2 := c2.spin()
		if q2.obj("queue").num("position") != 2 {
			t.Fatalf("second in line has position %v", q2.obj("queue")["position"])
		}
		if q2.obj("queue").obj("waiting").num("male") != 2 {
			t.Fatalf("waiting %v", q2.obj("queue")["waiting"])
		}
		cw.spin()
		if got := cw.expect("match_found").obj("partner").str("user_id"); got != m1.id {
			t.Fatalf("matched with %s, want the first in line", got)
		}
		c1.expect("match_found")
		// The second man moves up to position 1.
		waitFor(t, 5*time.Second, "position 1", func() bool {
			f, err := c2.next(3 * time.Second)
			return err == nil && f.str("type") == "wait_update" && f.obj("queue").num("position") == 1
		})
	})

	t.Run("mutual and no_match results", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			a, b   string
			result string
		}{
			{"both yes", "yes", "yes", "mutual"},
			{"one no", "yes", "no", "no_match"},
		} {
			p := pool(t)
			d := matchPair(t, base, p, "Ava", "Ben")
			a, ca, cb, mid := d.a, d.ca, d.cb, d.mid
			id := ca.send("vote", map[string]any{"match_id": mid, "choice": tc.a})
			vr := ca.expect("vote_recorded")
			if vr.num("ref") != id || vr.str("choice") != tc.a || vr.str("match_id") != mid {
				t.Fatalf("%s: vote_recorded %v", tc.name, vr)
			}
			cb.send("vote", map[string]any{"match_id": mid, "choice": tc.b})
			cb.expect("vote_recorded")
			ra, rb := ca.expect("match_result"), cb.expect("match_result")
			if ra.str("result") != tc.result || rb.str("result") != tc.result || ra.str("match_id") != mid {
				t.Fatalf("%s: results %v / %v", tc.name, ra, rb)
			}
			code, hist := rest(t, base, a, "GET", "/api/matches", nil)
			list, _ := hist["matches"].([]any)
			if code != 200 || (tc.result == "mutual") != (len(list) == 1) {
				t.Fatalf("%s: history %d %v", tc.name, code, hist)
			}
		}
	})

	t.Run("vote deadline settles a missing vote as no", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		d := matchPair(t, base, p, "Amy", "Bo")
		ca, cb, mid, found := d.ca, d.cb, d.mid, d.found
		ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		ca.expect("vote_recorded")
		dl, _ := time.Parse(time.RFC3339, found.str("vote_deadline"))
		ra := ca.expectWithin("match_result", time.Until(dl)+5*time.Second)
		if ra.str("result") != "no_match" || time.Now().Before(dl) {
			t.Fatalf("result %v at %v (deadline %v)", ra, time.Now(), dl)
		}
		cb.expect("match_result")
		cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		if e := cb.expect("error"); e.str("code") != "vote_closed" {
			t.Fatalf("late vote: %v", e)
		}
	})

	t.Run("cancel leaves the queue", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		a := newUser(t, base, "Cat", "female", p, "male")
		ca, _ := a.dial(t)
		ca.spin()
		id := ca.send("cancel", nil)
		if c := ca.expect("cancelled"); c.num("ref") != id {
			t.Fatalf("cancelled %v", c)
		}
		ca.send("cancel", nil)
		if e := ca.expect("error"); e.str("code") != "not_queued" {
			t.Fatalf("second cancel: %v", e)
		}
		// A man arriving now must not be matched with her.
		m := newUser(t, base, "Carl", "male", p, "female")
		cm, _ := m.dial(t)
		cm.spin()
		cm.quiet(300 * time.Millisecond)
	})

	t.Run("reconnect within grace keeps the place and delivers a missed match", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		m1 := newUser(t, base, "Dan", "male", p, "female")
		m2 := newUser(t, base, "Dev", "male", p, "female")
		c1, _ := m1.dial(t)
		c2, _ := m2.dial(t)
		c1.spin()
		c2.spin()
		_ = c2.ws.Close()
		// Reconnect: same position.
		c2b, st := m2.dial(t)
		if st.str("state") != "queued" || st.obj("queue").num("position") != 2 || st.obj("eta") == nil {
			t.Fatalf("resumed state %v", st)
		}
		// Drop again; a match happens while Dev has no socket.
		_ = c2b.ws.Close()
		_ = c1.ws.Close()
		w1 := newUser(t, base, "Dora", "female", p, "male")
		w2 := newUser(t, base, "Dina", "female", p, "male")
		cw1, _ := w1.dial(t)
		cw1.spin()
		if got := cw1.expect("match_found").obj("partner").str("user_id"); got != m1.id {
			t.Fatalf("Dora matched with %s, want Dan (first in line, within grace)", got)
		}
		cw2, _ := w2.dial(t)
		cw2.spin()
		mid := cw2.expect("match_found").str("match_id")
		// Dina learns first (from the pool's reply); Dev's session hears it
		// from the Match grain a moment later.
		waitFor(t, 5*time.Second, "Dev's session to hold the match", func() bool {
			_, st := rest(t, base, m2, "GET", "/api/match/status", nil)
			return st.str("state") == "matched"
		})
		c2c, st := m2.dial(t)
		if st.str("state") != "matched" || st.obj("match").str("match_id") != mid {
			t.Fatalf("reconnect state %v", st)
		}
		if f := c2c.expect("match_found"); f.str("match_id") != mid {
			t.Fatalf("missed match_found %v", f)
		}
	})

	t.Run("a result settled while offline is delivered on reconnect", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		d := matchPair(t, base, p, "Kai", "Kit")
		a, ca, cb, mid := d.a, d.ca, d.cb, d.mid
		ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		ca.expect("vote_recorded")
		_ = ca.ws.Close()
		time.Sleep(50 * time.Millisecond) // let the close reach the server
		cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		cb.expect("vote_recorded")
		cb.expect("match_result")
		ca2, st := a.dial(t)
		if st.str("state") != "idle" {
			t.Fatalf("state %v", st)
		}
		if r := ca2.expect("match_result"); r.str("match_id") != mid || r.str("result") != "mutual" {
			t.Fatalf("replayed result %v", r)
		}
		ca3, _ := a.dial(t) // replayed once only
		ca3.quiet(200 * time.Millisecond)
	})

	t.Run("a burst of commands is rate limited and the socket stays", func(t *testing.T) {
		t.Parallel()
		a := newUser(t, base, "Lou", "male", pool(t), "female")
		ca, _ := a.dial(t)
		limited := 0
		// A burst within the socket's send queue (256 frames), so every reply fits.
		const burst = 150
		for i := 0; i < burst; i++ {
			ca.send("status", nil)
		}
		for i := 0; i < burst; i++ {
			f, err := ca.next(5 * time.Second)
			if err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
			if f.str("type") == "error" {
				if f.str("code") != "rate_limited" || f.num("retry_after_s") <= 0 {
					t.Fatalf("error %v", f)
				}
				limited++
			}
		}
		if limited == 0 {
			t.Fatal("a burst of commands was not rate limited")
		}
		time.Sleep(time.Second) // tokens refill with time
		ca.send("status", nil)
		ca.expect("state")
	})

	t.Run("after the grace period the user leaves the queue", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		a := newUser(t, base, "Eve", "female", p, "male")
		ca, _ := a.dial(t)
		ca.spin()
		_ = ca.ws.Close()
		// Poll the public queue status (it does not count as presence) until
		// the pool lets her go; it must not happen before the grace period.
		closed := time.Now()
		waitFor(t, 10*time.Second, "the queue to let her go", func() bool {
			_, qs := rest(t, base, nil, "GET", "/api/queue/status", nil)
			for _, x := range qs["pools"].([]any) {
				if f := frame(x.(map[string]any)); f.str("pool") == p {
					return f.obj("waiting").num("female") == 0
				}
			}
			return false
		})
		if waited := time.Since(closed); waited < actors.TestConfig().ReconnectGrace {
			t.Fatalf("left the queue after %v, before the grace period", waited)
		}
		_, st := a.dial(t)
		if st.str("state") != "idle" {
			t.Fatalf("state after grace %v", st)
		}
		m := newUser(t, base, "Ed", "male", p, "female")
		cm, _ := m.dial(t)
		cm.spin()
		cm.quiet(300 * time.Millisecond)
	})

	t.Run("every socket of a user gets the events", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		a := newUser(t, base, "Fay", "female", p, "male")
		b := newUser(t, base, "Finn", "male", p, "female")
		tab1, _ := a.dial(t)
		tab2, _ := a.dial(t)
		cb, _ := b.dial(t)
		tab1.spin()
		if q := tab2.expect("queued"); q["ref"] != nil {
			t.Fatalf("other tab's queued carries a ref: %v", q)
		}
		cb.spin()
		m1, m2 := tab1.expect("match_found"), tab2.expect("match_found")
		if m1.str("match_id") != m2.str("match_id") {
			t.Fatal("tabs saw different matches")
		}
		tab1.quiet(150 * time.Millisecond)
		tab2.quiet(150 * time.Millisecond)
	})

	t.Run("signal reaches only the partner", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		d := matchPair(t, base, p, "Gia", "Gus")
		a, ca, cb, mid := d.a, d.ca, d.cb, d.mid
		cc, _ := newUser(t, base, "Gil", "male", p, "female").dial(t)
		ca.send("signal", map[string]any{"match_id": mid, "data": map[string]any{"sdp": "offer-1", "kind": "offer"}})
		s := cb.expect("signal")
		if s.str("from") != a.id || s.str("match_id") != mid || s.obj("data").str("sdp") != "offer-1" {
			t.Fatalf("signal %v", s)
		}
		ca.quiet(150 * time.Millisecond) // not echoed to the sender
		cc.quiet(150 * time.Millisecond) // nor to a stranger
		// A stranger cannot signal into the match.
		cc.send("signal", map[string]any{"match_id": mid, "data": map[string]any{"x": 1}})
		if e := cc.expect("error"); e.str("code") != "match_not_found" {
			t.Fatalf("stranger signal: %v", e)
		}
		cb.quiet(150 * time.Millisecond)
	})

	t.Run("rest spin, status and cancel", func(t *testing.T) {
		t.Parallel()
		p := pool(t)
		a := newUser(t, base, "Hal", "male", p, "female")
		code, q := rest(t, base, a, "POST", "/api/spin", nil)
		if code != 202 || q.str("type") != "queued" {
			t.Fatalf("spin %d %v", code, q)
		}
		code, e := rest(t, base, a, "POST", "/api/spin", nil)
		if code != 409 || e.obj("error").str("code") != "already_queued" {
			t.Fatalf("second spin %d %v", code, e)
		}
		code, st := rest(t, base, a, "GET", "/api/match/status", nil)
		if code != 200 || st.str("state") != "queued" {
			t.Fatalf("status %d %v", code, st)
		}
		// The public status may lag by up to a second (it is cached).
		waitFor(t, 5*time.Second, "the public queue status to show Hal", func() bool {
			code, qs := rest(t, base, nil, "GET", "/api/queue/status", nil)
			for _, x := range qs["pools"].([]any) {
				if f := frame(x.(map[string]any)); f.str("pool") == p {
					return code == 200 && f.obj("waiting").num("male") == 1 && f.obj("eta_s")["male"] != nil
				}
			}
			return false
		})
		code, e = rest(t, base, a, "PUT", "/api/me", map[string]any{"display_name": "Hal 2", "gender": "male", "seeking": []string{"female"}, "pool": p})
		if code != 409 || e.obj("error").str("code") != "busy" {
			t.Fatalf("profile change while queued %d %v", code, e)
		}
		b := newUser(t, base, "Hana", "female", p, "male")
		code, mf := rest(t, base, b, "POST", "/api/spin", nil)
		if code != 200 || mf.str("type") != "match_found" || mf.obj("partner").str("user_id") != a.id {
			t.Fatalf("instant pair %d %v", code, mf)
		}
		code, vr := rest(t, base, a, "POST", "/api/vote", map[string]any{"match_id": mf.str("match_id"), "choice": "yes"})
		if code != 200 || vr.str("type") != "vote_recorded" {
			t.Fatalf("vote %d %v", code, vr)
		}
		code, e = rest(t, base, a, "DELETE", "/api/spin", nil)
		if code != 409 || e.obj("error").str("code") != "not_queued" {
			t.Fatalf("cancel while matched %d %v", code, e)
		}
	})
}
