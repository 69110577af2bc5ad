package main

import (
	"fmt"
	"testing"
	"time"
)

// TestLateVoteIsClosed: over real sockets, a vote on a match whose result
// is out gets vote_closed, also after the user had another match since
// (and over REST), never match_not_found.
func TestLateVoteIsClosed(t *testing.T) {
	n := startNode(t, testConfig(t))
	base := "http://" + n.Addr()
	p := fmt.Sprintf("late%d", userSeq.Add(1))

	// Ann and Bob: Bob votes, Ann does not; the deadline settles it.
	d := matchPair(t, base, p, "Ann", "Bob")
	first := d.mid
	d.cb.send("vote", map[string]any{"match_id": first, "choice": "yes"})
	d.cb.expect("vote_recorded")
	dl, _ := time.Parse(time.RFC3339, d.found.str("vote_deadline"))
	if r := d.ca.expectWithin("match_result", time.Until(dl)+5*time.Second); r.str("result") != "no_match" {
		t.Fatalf("first result %v", r)
	}
	d.cb.expect("match_result")
	id := d.ca.send("vote", map[string]any{"match_id": first, "choice": "yes"})
	if e := d.ca.expect("error"); e.str("code") != "vote_closed" || e.num("ref") != id {
		t.Fatalf("Ann's vote after the result: %v, want vote_closed", e)
	}

	// Ann's next match (with Carl) settles too; the first one stays closed.
	carl := newUser(t, base, "Carl", "male", p, "female")
	cc, _ := carl.dial(t)
	d.ca.spin()
	cc.spin()
	second := d.ca.expect("match_found").str("match_id")
	cc.expect("match_found")
	for _, c := range []*client{d.ca, cc} {
		c.send("vote", map[string]any{"match_id": second, "choice": "no"})
		c.expect("vote_recorded")
	}
	d.ca.expect("match_result")
	cc.expect("match_result")
	d.ca.send("vote", map[string]any{"match_id": first, "choice": "no"})
	if e := d.ca.expect("error"); e.str("code") != "vote_closed" {
		t.Fatalf("Ann's vote on her earlier match: %v, want vote_closed", e)
	}
	code, out := rest(t, base, d.a, "POST", "/api/vote", map[string]any{"match_id": first, "choice": "no"})
	if code != 409 || out.obj("error").str("code") != "vote_closed" {
		t.Fatalf("REST vote on the earlier match: %d %v, want 409 vote_closed", code, out)
	}
	// A match that is not hers is still not found.
	d.ca.send("vote", map[string]any{"match_id": "no-such-match", "choice": "no"})
	if e := d.ca.expect("error"); e.str("code") != "match_not_found" {
		t.Fatalf("vote on an unknown match: %v", e)
	}
}
