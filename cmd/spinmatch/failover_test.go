//go:build !race

package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/spinmatch/spinmatch/actors"
)

// resumeBound is the longest an affected user may wait after a node is
// killed: for a re-queued wait_update, a state, or the answer to their
// pending request.
const resumeBound = 3 * time.Second

// TestFailover runs three real spinmatch processes against PostgreSQL,
// with WebSocket clients on every node, and kills (SIGKILL) in turn the
// node holding the busy pool, the node holding the sessions of queued
// users whose sockets are elsewhere, and the node holding a Match grain
// between the two votes. Each time it checks that every affected user
// resumes within resumeBound, that the queue keeps its order, that votes
// are durable exactly once, and that the killed node, restarted, rejoins
// with a fresh id and takes traffic.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	c := startProcCluster(t)
	var failovers []time.Duration

	t.Run("the node holding the busy pool", func(t *testing.T) {
		const victim = 0
		survivors := []int{1, 2}
		p := c.name("busy", actors.KindMatchPool, victim, survivors, -1)
		men := c.queueMen(t, p, "bm", 6, func(k int) int { return k % 3 }, -1)
		defer c.restart(victim)
		at := c.kill(victim)
		failovers = append(failovers, c.resume(t, men, at, survivors, true))
		c.checkFIFO(t, p, "bw", men, survivors)
	})

	t.Run("the node holding the sessions of queued users", func(t *testing.T) {
		const victim = 1
		survivors := []int{0, 2}
		p := c.name("sess", actors.KindMatchPool, 0, survivors, 0)
		// Sessions on the victim, sockets on the survivors.
		men := c.queueMen(t, p, "sm", 6, func(k int) int { return survivors[k%2] }, victim)
		defer c.restart(victim)
		at := c.kill(victim)
		failovers = append(failovers, c.resume(t, men, at, survivors, false))
		c.checkFIFO(t, p, "sw", men, survivors)
	})

	t.Run("the node holding a Match grain between the two votes", func(t *testing.T) {
		const victim = 2
		survivors := []int{0, 1}
		p := c.name("mg", actors.KindMatchPool, 0, survivors, 0)
		var ca, cb *client
		var mid string
		for k := 0; mid == ""; k++ {
			if k == 30 {
				t.Fatal("no Match grain landed on the victim in 30 pairs")
			}
			a := devUser(t, c.nodes[0].base(), c.name(fmt.Sprintf("mga%d-", k), actors.KindUserSession, 0, survivors, 0), "Ada", "female", p, "male")
			b := devUser(t, c.nodes[1].base(), c.name(fmt.Sprintf("mgb%d-", k), actors.KindUserSession, 1, survivors, 1), "Bo", "male", p, "female")
			ca, _ = a.dial(t)
			cb, _ = b.dial(t)
			ca.spin()
			cb.spin()
			m := ca.expect("match_found").str("match_id")
			cb.expect("match_found")
			if c.owner(actors.KindMatch, m, 0, 1, 2) == victim {
				mid = m
				break
			}
			for _, x := range []*client{ca, cb} {
				x.send("vote", map[string]any{"match_id": m, "choice": "no"})
				x.expect("vote_recorded")
			}
			ca.expect("match_result")
			cb.expect("match_result")
		}
		ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		ca.expect("vote_recorded")
		defer c.restart(victim)
		at := c.kill(victim)
		id := cb.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
		f := cb.expectRef(t, id, at.Add(resumeBound))
		if f.str("type") != "vote_recorded" {
			t.Fatalf("second vote around the kill: %v", f)
		}
		failovers = append(failovers, time.Since(at))
		for _, x := range []*client{ca, cb} {
			if r := x.expect("match_result"); r.str("result") != "mutual" || r.str("match_id") != mid {
				t.Fatalf("%s: result %v", x.u.name, r)
			}
		}
		c.checkVotes(t, mid, 2)
	})

	t.Run("the store holds no double pairing", func(t *testing.T) {
		c.checkStore(t)
	})
	sort.Slice(failovers, func(i, j int) bool { return failovers[i] < failovers[j] })
	t.Logf("kill -9 to every affected user resumed: %v", failovers)
}

// queueMen creates n men seeking women in pool p whose sockets are on node
// sock(k) (and whose sessions are on sessionOn, or anywhere when -1), spins
// them one after another and returns their clients in queue order.
func (c *procCluster) queueMen(t *testing.T, p, prefix string, n int, sock func(int) int, sessionOn int) []*client {
	t.Helper()
	var out []*client
	for k := 0; k < n; k++ {
		id := fmt.Sprintf("%s%d", prefix, k)
		if sessionOn >= 0 {
			var others []int
			for i := 0; i < 3; i++ {
				if i != sessionOn {
					others = append(others, i)
				}
			}
			id = c.name(prefix+fmt.Sprint(k)+"-", actors.KindUserSession, sessionOn, others, -1)
		}
		u := devUser(t, c.nodes[sock(k)].base(), id, fmt.Sprintf("Man%d", k), "male", p, "female")
		cl, _ := u.dial(t)
		if q := cl.spin(); int(q.obj("queue").num("position")) != k+1 {
			t.Fatalf("%s queued at %v, want %d", u.name, q.obj("queue")["position"], k+1)
		}
		out = append(out, cl)
	}
	return out
}

// resume checks that every client is back within resumeBound of at: one
// whose node died reconnects to a survivor and gets state (queued); the
// others get an answer to a status request sent right after the kill,
// and, with pushed, a wait_update or state pushed by the rebuilt pool or
// session (received well after the kill, so not one in flight before it).
// It returns when the last one resumed.
func (c *procCluster) resume(t *testing.T, cls []*client, at time.Time, survivors []int, pushed bool) time.Duration {
	t.Helper()
	deadline := at.Add(resumeBound)
	var last time.Time
	for k, cl := range cls {
		id := cl.sendQuiet("status")
		f, err := cl.untilAnswerAndPush(id, pushed, at.Add(300*time.Millisecond), deadline)
		if err != nil && !errors.Is(err, errTimeout) {
			// Its socket was on the killed node: reconnect to a survivor.
			cl.u.base = c.nodes[survivors[k%len(survivors)]].base()
			nc, st := cl.u.dial(t)
			*cl = *nc
			f = st
		} else if err != nil {
			t.Fatalf("%s: no answer to status (or no wait_update from the rebuilt pool) within %v (seen %v)", cl.u.name, resumeBound, cl.types())
		}
		if f.str("state") != actors.StateQueued {
			t.Fatalf("%s after the kill: %v", cl.u.name, f)
		}
		if now := time.Now(); now.After(deadline) {
			t.Fatalf("%s resumed %v after the kill (bound %v)", cl.u.name, now.Sub(at), resumeBound)
		} else if now.After(last) {
			last = now
		}
	}
	return last.Sub(at)
}

// checkFIFO has women join one by one on the survivors: each must be
// matched with the longest-waiting man left, so the queue kept its order.
func (c *procCluster) checkFIFO(t *testing.T, p, prefix string, men []*client, survivors []int) {
	t.Helper()
	for k, m := range men {
		w := devUser(t, c.nodes[survivors[k%len(survivors)]].base(), fmt.Sprintf("%s%d-%d", prefix, k, time.Now().UnixNano()), fmt.Sprintf("Woman%d", k), "female", p, "male")
		cw, _ := w.dial(t)
		cw.spin()
		f := cw.expect("match_found")
		if got := f.obj("partner").str("user_id"); got != m.u.id {
			t.Fatalf("woman %d matched with %s, want %s (the queue lost its order)", k, got, m.u.id)
		}
		if g := m.expect("match_found"); g.str("match_id") != f.str("match_id") {
			t.Fatalf("%s: match %v, want %s", m.u.name, g, f.str("match_id"))
		}
	}
}

// checkVotes asserts the match has exactly n votes (one per voter) and one result.
func (c *procCluster) checkVotes(t *testing.T, mid string, n int) {
	t.Helper()
	ctx := context.Background()
	var votes, voters, results int
	if err := c.pool.QueryRow(ctx, `select count(*), count(distinct voter) from votes where match_id = $1`, mid).Scan(&votes, &voters); err != nil {
		t.Fatal(err)
	}
	if err := c.pool.QueryRow(ctx, `select count(*) from match_results where match_id = $1`, mid).Scan(&results); err != nil {
		t.Fatal(err)
	}
	if votes != n || voters != n || results != 1 {
		t.Fatalf("match %s: %d votes by %d voters, %d results; want %d, %d, 1", mid, votes, voters, results, n, n)
	}
}

// checkStore asserts that no user was ever in two matches at once: of two
// matches of one user, the earlier one has its result (or its deadline)
// before the later one formed.
func (c *procCluster) checkStore(t *testing.T) {
	t.Helper()
	rows, err := c.pool.Query(context.Background(), `
		with m as (
			select id, a_user_id as u, created_at, vote_deadline from matches
			union all
			select id, b_user_id, created_at, vote_deadline from matches)
		select m1.u, m1.id, m2.id
		  from m m1 join m m2 on m1.u = m2.u and m1.id <> m2.id and m2.created_at >= m1.created_at
		  left join match_results r on r.match_id = m1.id
		 where (r.decided_at is null or r.decided_at > m2.created_at + interval '50 milliseconds')
		   and m1.vote_deadline > m2.created_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u, a, b string
		_ = rows.Scan(&u, &a, &b)
		t.Errorf("user %s was in matches %s and %s at once", u, a, b)
	}
	var dup int
	if err := c.pool.QueryRow(context.Background(),
		`select count(*) from (select match_id from match_results group by match_id having count(*) > 1) x`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("%d matches have two results", dup)
	}
}

// sendQuiet is send without failing the test on a closed socket; it
// returns the id (the write error, if any, shows up as a read error).
func (c *client) sendQuiet(typ string) float64 {
	c.seq++
	_ = c.ws.WriteJSON(map[string]any{"type": typ, "id": c.seq})
	return float64(c.seq)
}

// untilRef reads frames until the one answering request id, or until
// deadline, or the socket's end (an error).
func (c *client) untilRef(id float64, deadline time.Time) (frame, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errTimeout
		}
		f, err := c.next(left)
		if err != nil {
			return nil, err
		}
		if ref, ok := f["ref"].(float64); ok && ref == id {
			return f, nil
		}
	}
}

// untilAnswerAndPush reads frames until it has the answer to request id
// and, with push, a wait_update or an unasked state received after since;
// it returns the answer, or errTimeout at deadline, or the socket's end.
func (c *client) untilAnswerAndPush(id float64, push bool, since, deadline time.Time) (frame, error) {
	var answer frame
	pushed := !push
	for answer == nil || !pushed {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errTimeout
		}
		f, err := c.next(left)
		if err != nil {
			return nil, err
		}
		ref, asked := f["ref"].(float64)
		if asked && ref == id {
			answer = f
			continue
		}
		if typ := f.str("type"); (typ == "wait_update" || (typ == "state" && !asked)) && time.Now().After(since) {
			pushed = true
		}
	}
	return answer, nil
}

// expectRef is untilRef that fails the test.
func (c *client) expectRef(t *testing.T, id float64, deadline time.Time) frame {
	t.Helper()
	f, err := c.untilRef(id, deadline)
	if err != nil {
		t.Fatalf("%s: no answer to request %v by the deadline: %v (seen %v)", c.u.name, id, err, c.types())
	}
	return f
}
