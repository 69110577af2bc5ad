//go:build !race

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence/pgtest"
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
		// Idle users whose sessions are on the victim too: one changes the
		// profile over REST, one spins, right after the kill.
		editor := devUser(t, c.nodes[0].base(), c.name("sedit-", actors.KindUserSession, victim, survivors, -1), "Eve", "female", p, "male")
		spinner := devUser(t, c.nodes[2].base(), c.name("sspin-", actors.KindUserSession, victim, survivors, -1), "Sam", "male", p, "female")
		cs, _ := spinner.dial(t)
		defer c.restart(victim)
		at := c.kill(victim)
		type answer struct {
			code int
			body frame
		}
		put := make(chan answer, 1)
		go func() { // no t.Fatal off the test goroutine: errors come back as code 0
			b, _ := json.Marshal(map[string]any{"display_name": "Eva", "gender": "female", "seeking": []string{"male"}, "pool": p})
			req, _ := http.NewRequest("PUT", c.nodes[0].base()+"/api/me", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+editor.token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				put <- answer{0, frame{"error": err.Error()}}
				return
			}
			defer res.Body.Close()
			var body frame
			_ = json.NewDecoder(res.Body).Decode(&body)
			put <- answer{res.StatusCode, body}
		}()
		spinID := cs.send("spin", nil)
		failovers = append(failovers, c.resume(t, men, at, survivors, false))
		if f := cs.expectRef(t, spinID, at.Add(resumeBound)); f.str("type") != "queued" {
			t.Fatalf("spin around the kill: %v", f)
		}
		select {
		case a := <-put:
			if a.code != http.StatusOK || a.body.str("display_name") != "Eva" {
				t.Fatalf("PUT /api/me around the kill: %d %v", a.code, a.body)
			}
		case <-time.After(time.Until(at.Add(resumeBound))):
			t.Fatalf("PUT /api/me around the kill: no answer within %v", resumeBound)
		}
		cs.send("cancel", nil)
		cs.expect("cancelled")
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

	t.Run("a node the others declared dead answers 503 until it restarts", func(t *testing.T) {
		const victim = 1
		n := c.nodes[victim]
		u := devUser(t, n.base(), fmt.Sprintf("frozen-%d", time.Now().UnixNano()), "Fay", "female", "global", "male")
		cf, _ := u.dial(t)
		_ = n.cmd.Process.Signal(syscall.SIGSTOP)
		waitFor(t, 10*time.Second, "the others to drop the frozen node", func() bool {
			return c.nodes[0].members() == 2 && c.nodes[2].members() == 2
		})
		_ = n.cmd.Process.Signal(syscall.SIGCONT)
		waitFor(t, 10*time.Second, "the revived node to know it was declared dead", func() bool {
			ready, live := status(n.base()+"/readyz"), status(n.base()+"/healthz")
			return ready == http.StatusServiceUnavailable && live == http.StatusServiceUnavailable
		})
		// Its users are sent elsewhere: the socket closes.
		for {
			if _, err := cf.next(5 * time.Second); errors.Is(err, errTimeout) {
				t.Fatal("the socket on the node declared dead stayed open")
			} else if err != nil {
				break
			}
		}
		c.kill(victim)
		c.restart(victim) // a fresh process rejoins with a fresh id
	})

	t.Run("the store holds no double pairing", func(t *testing.T) {
		c.checkStore(t)
	})
	sort.Slice(failovers, func(i, j int) bool { return failovers[i] < failovers[j] })
	t.Logf("kill -9 to every affected user resumed: %v", failovers)
}

// expectPast reads frames until one of type typ, skipping wait_update and
// the types in skip; anything else fails the test.
func (c *client) expectPast(t *testing.T, typ string, skip ...string) frame {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("%s: waiting for %q: %v (seen %v)", c.u.name, typ, err, c.types())
		}
		switch got := f.str("type"); {
		case got == typ:
			return f
		case got == "wait_update" || slices.Contains(skip, got):
		default:
			t.Fatalf("%s: want %q, got %v", c.u.name, typ, f)
		}
	}
}

// status returns the HTTP status of a GET (0 when it fails).
func status(url string) int {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
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
		// A state may come first: a socket that re-attached to a fresh
		// session after the kill gets one, at any time.
		if g := m.expectPast(t, "match_found", "state"); g.str("match_id") != f.str("match_id") {
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

// TestReadyWhileJoining starts a node whose seed is not up yet: it serves
// HTTP at once, answers /healthz 200 and /readyz 503 while it keeps looking
// for the seed, and becomes ready once the seed starts.
func TestReadyWhileJoining(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	c := &procCluster{t: t, db: pgtest.NewDatabase(t)}
	c.env = []string{"SPIN_ENV=development", "JWT_SECRET=" + testSecret, "DATABASE_URL=" + c.db, "SPIN_CLUSTER_KEY=" + devClusterKey, "SPIN_LOG_LEVEL=warn"}
	for i, host := range []string{"127.0.0.1", "127.0.0.2"} {
		c.nodes = append(c.nodes, &procNode{
			host: host, http: freePortOn(t, host), gossip: freePortOn(t, host), remote: freePortOn(t, host),
			name: fmt.Sprintf("j%d", i+1),
		})
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.running() {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
	})
	c.launch(1) // its only seed, node 0, is not running
	joiner := c.nodes[1]
	waitFor(t, 20*time.Second, "the joining node to serve HTTP", func() bool { return status(joiner.base()+"/healthz") == http.StatusOK })
	for k := 0; k < 5; k++ {
		if got := status(joiner.base() + "/readyz"); got != http.StatusServiceUnavailable {
			t.Fatalf("/readyz of a node looking for its seed: %d, want 503", got)
		}
		if got := status(joiner.base() + "/api/queue/status"); got != http.StatusServiceUnavailable {
			t.Fatalf("/api/queue/status of a node looking for its seed: %d, want 503", got)
		}
		time.Sleep(200 * time.Millisecond) // it stays unready while the seed is down
	}
	c.launch(0)
	c.waitReady(0)
	c.waitReady(1)
	c.waitMembers(2)
}

// TestRollingRestart stops (SIGTERM) each of three real nodes in turn and
// starts it again while robot users keep spinning and voting, with sockets
// on every node. No robot may see an error it would have to act on (only
// unavailable, which says to retry, is allowed), each stop must take at
// most 5 s, every robot must keep completing dates, every acknowledged
// vote must be in PostgreSQL once, and nobody may be in two matches.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	c := startProcCluster(t)
	ctx, stop := context.WithCancel(context.Background())
	robots := c.startRobots(ctx, t, "Robot", 8)
	pause := func(d time.Duration) {
		t.Helper()
		time.Sleep(d) // traffic keeps flowing meanwhile; nothing is awaited
	}
	pause(2 * time.Second)
	for i := range c.nodes {
		took := c.term(i)
		t.Logf("%s stopped in %v", c.nodes[i].name, took)
		if took > 5*time.Second {
			t.Errorf("%s took %v to stop on SIGTERM (bound 5s)", c.nodes[i].name, took)
		}
		c.restart(i)
		pause(2 * time.Second)
	}
	before := make([]int, len(robots))
	for k, r := range robots {
		before[k] = r.datesDone()
	}
	// After the last restart every robot must still complete dates.
	deadline := time.Now().Add(20 * time.Second)
	for k := 0; k < len(robots); {
		if robots[k].datesDone() > before[k] {
			k++
			continue
		}
		if time.Now().After(deadline) {
			for _, r := range robots {
				r.mu.Lock()
				t.Logf("%s (%s): %d dates; last frames:\n  %s", r.u.name, r.u.id, r.dates, strings.Join(r.last, "\n  "))
				r.mu.Unlock()
			}
			t.Fatal("a robot completed no date after the rolling restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	for _, r := range robots {
		<-r.done
	}
	total := 0
	for _, r := range robots {
		r.mu.Lock()
		for _, e := range r.errs {
			t.Errorf("%s: %s", r.u.name, e)
		}
		total += r.dates
		votes := r.voted
		r.mu.Unlock()
		for mid := range votes {
			var n int
			if err := c.pool.QueryRow(context.Background(), `select count(*) from votes where match_id = $1 and voter = $2`, mid, r.u.id).Scan(&n); err != nil || n != 1 {
				t.Errorf("%s: acknowledged vote on %s is in the store %d times (%v)", r.u.name, mid, n, err)
			}
		}
	}
	t.Logf("%d dates completed by %d robots during the rolling restart", total, len(robots))
	c.checkStore(t)
}

// startRobots starts n robots (women and men in turn, sockets on every
// node) in one fresh pool; they run until ctx is done.
func (c *procCluster) startRobots(ctx context.Context, t *testing.T, name string, n int) []*robot {
	t.Helper()
	p := fmt.Sprintf("%s%d", strings.ToLower(name), time.Now().UnixNano()%1000)
	robots := make([]*robot, 0, n)
	for k := 0; k < n; k++ {
		gender, seeking := "female", "male"
		if k%2 == 1 {
			gender, seeking = "male", "female"
		}
		id := fmt.Sprintf("%s%d-%d", strings.ToLower(name), k, time.Now().UnixNano())
		u := devUser(t, c.nodes[k%3].base(), id, fmt.Sprintf("%s%d", name, k), gender, p, seeking)
		r := &robot{u: u, c: c, node: k % 3, done: make(chan struct{})}
		robots = append(robots, r)
		go r.run(ctx)
	}
	return robots
}

// robot is a user who spins, votes yes on every match and spins again,
// reconnecting to a running node whenever its socket closes. It records
// the errors a person would have to act on.
type robot struct {
	u    *user
	c    *procCluster
	node int
	done chan struct{}

	mu    sync.Mutex
	dates int
	voted map[string]bool // match ids of acknowledged votes
	errs  []string
	last  []string // the latest frames, for a failure's diagnosis
	conns int      // connections so far
	// unanswered is set while a spin sent on an earlier connection that
	// closed got no reply: the server may have taken it, so a repeat on
	// the next connection may be answered already_queued or busy, which
	// only confirm that the first one went through.
	unanswered bool
}

func (r *robot) datesDone() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dates
}

func (r *robot) fail(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *robot) run(ctx context.Context) {
	defer close(r.done)
	r.voted = map[string]bool{}
	for ctx.Err() == nil {
		ws := r.dial(ctx)
		if ws == nil {
			return
		}
		r.serve(ctx, ws)
		_ = ws.Close()
	}
}

// dial connects to a running node, trying them in turn for up to 10 s.
func (r *robot) dial(ctx context.Context) *websocket.Conn {
	deadline := time.Now().Add(10 * time.Second)
	for ctx.Err() == nil {
		n := r.c.nodes[r.node%len(r.c.nodes)]
		r.node++
		h := http.Header{"Authorization": {"Bearer " + r.u.token}}
		ws, _, err := websocket.DefaultDialer.Dial(wsURL(n.base()), h)
		if err == nil {
			return ws
		}
		if time.Now().After(deadline) {
			r.fail("could not connect to any node for 10 s: %v", err)
			return nil
		}
		time.Sleep(100 * time.Millisecond) // the next node is tried at once; this paces a full round
	}
	return nil
}

// serve plays one connection until it closes or ctx is done.
func (r *robot) serve(ctx context.Context, ws *websocket.Conn) {
	r.mu.Lock()
	r.conns++
	conn := r.conns
	r.mu.Unlock()
	r.note(fmt.Sprintf("[conn %d] connected to %s", conn, ws.RemoteAddr()))
	seq := 0
	send := func(m map[string]any) {
		seq++
		m["id"] = seq
		_ = ws.WriteJSON(m)
	}
	// spun is set from a spin until the match it leads to, so the robot,
	// like a person, spins once however many ways it learns it is idle (a
	// state, a match_result, a replayed match_result).
	spun := false
	answered := map[float64]bool{} // request ids answered on this connection
	spinID := 0                    // id of this connection's unanswered spin
	retried := r.unanswered
	defer func() { r.unanswered = spinID != 0 }()
	lastSpin := 0 // id of this connection's latest spin
	spin := func() {
		if !spun {
			spun = true
			send(map[string]any{"type": "spin"})
			spinID, lastSpin = seq, seq
		}
	}
	go func() { <-ctx.Done(); _ = ws.Close() }()
	for {
		var f frame
		if err := ws.ReadJSON(&f); err != nil {
			r.note("closed: " + err.Error())
			return
		}
		if f.str("type") != "wait_update" {
			r.note(fmt.Sprintf("[conn %d] %v", conn, f))
		}
		if ref, ok := f["ref"].(float64); ok {
			if answered[ref] {
				r.fail("two answers to request %v (a resend ran twice): %v", ref, f)
			}
			answered[ref] = true
			if int(ref) == spinID {
				spinID = 0
			}
		}
		switch f.str("type") {
		case "state":
			switch f.str("state") {
			case actors.StateIdle:
				spin()
			case actors.StateQueued:
				spun = true
			case actors.StateMatched:
				spun = false
				if mid := f.obj("match").str("match_id"); !r.hasVoted(mid) {
					send(map[string]any{"type": "vote", "match_id": mid, "choice": "yes"})
				}
			}
		case "match_found":
			spun = false
			send(map[string]any{"type": "vote", "match_id": f.str("match_id"), "choice": "yes"})
		case "vote_recorded":
			r.mu.Lock()
			r.voted[f.str("match_id")] = true
			r.mu.Unlock()
		case "match_result":
			r.mu.Lock()
			r.dates++
			r.mu.Unlock()
			// A person takes a moment before the next spin; it also keeps
			// the robot inside its rate limit (5 commands a second).
			time.Sleep(450 * time.Millisecond)
			spin()
		case "error":
			e := f.obj("error")
			if f.str("code") != "" {
				e = f
			}
			if code := e.str("code"); retried && (code == actors.CodeAlreadyQueued || code == actors.CodeBusy) {
				retried = false // the earlier spin went through
				continue
			}
			if c := e.str("code"); c == actors.CodeUnavailable || c == actors.CodeRateLimited {
				// Says to retry (after retry_after_s): ask where we stand and
				// go on from there, as the page does.
				if ref, _ := f["ref"].(float64); int(ref) == lastSpin {
					spun = false // the spin was refused: spin again when idle
				}
				time.Sleep(time.Duration(e.num("retry_after_s")*1000) * time.Millisecond)
				send(map[string]any{"type": "status"})
				continue
			}
			r.fail("error %v; history:\n  %s", f, strings.Join(r.history(), "\n  "))
		}
	}
}

func (r *robot) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(s) > 200 {
		s = s[:200]
	}
	r.last = append(r.last, time.Now().Format("15:04:05.000")+" "+s)
	if len(r.last) > 40 {
		r.last = r.last[1:]
	}
}

func (r *robot) history() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.last...)
}

func (r *robot) hasVoted(mid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.voted[mid]
}

// TestFailoverTimes measures, over SPIN_FAILOVER_KILLS kills (default 2;
// `make failover` runs 12), the time from kill -9 of the node holding a
// busy pool (and some of its waiters' sessions and sockets) to every
// waiter resumed, and logs the p50 and the max. Each must be within
// resumeBound.
func TestFailoverTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	kills := 2
	if v := os.Getenv("SPIN_FAILOVER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SPIN_FAILOVER_KILLS=%q: want a positive number", v)
		}
		kills = n
	}
	c := startProcCluster(t)
	var times []time.Duration
	for k := 0; k < kills; k++ {
		victim := k % 3
		var survivors []int
		for i := 0; i < 3; i++ {
			if i != victim {
				survivors = append(survivors, i)
			}
		}
		p := c.name(fmt.Sprintf("ft%d-", k), actors.KindMatchPool, victim, survivors, -1)
		men := c.queueMen(t, p, fmt.Sprintf("ft%d-m", k), 4, func(j int) int { return j % 3 }, -1)
		at := c.kill(victim)
		times = append(times, c.resume(t, men, at, survivors, true))
		c.restart(victim)
		for _, m := range men {
			m.send("cancel", nil)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("kill -9 to every waiter resumed over %d kills: p50 %v, max %v (all: %v)",
		kills, times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), times)
}

// TestNoFalseSuspicionUnderLoad keeps both cores busy (robots spinning and
// voting through three real nodes, plus two CPU-bound processes) for
// SPIN_SUSPICION_S seconds (default 10; `make suspicion` runs 120) and
// checks that no node ever loses a member and none is ever suspected
// while alive (spinmatch_cluster_false_suspicions_total stays 0).
func TestNoFalseSuspicionUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process cluster test: not in -short")
	}
	dur := 10 * time.Second
	if v := os.Getenv("SPIN_SUSPICION_S"); v != "" {
		s, err := strconv.Atoi(v)
		if err != nil || s < 1 {
			t.Fatalf("SPIN_SUSPICION_S=%q: want a positive number of seconds", v)
		}
		dur = time.Duration(s) * time.Second
	}
	c := startProcCluster(t)
	for k := 0; k < 2; k++ {
		burn := exec.Command("sh", "-c", "while :; do :; done")
		if err := burn.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = burn.Process.Kill(); _ = burn.Wait() })
	}
	ctx, stop := context.WithCancel(context.Background())
	robots := c.startRobots(ctx, t, "Load", 12)
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		for _, n := range c.nodes {
			if got := n.members(); got != 3 {
				t.Fatalf("%s sees %d members under load", n.name, got)
			}
		}
		time.Sleep(250 * time.Millisecond) // sampling period of the membership check
	}
	stop()
	dates := 0
	for _, r := range robots {
		<-r.done
		dates += r.datesDone()
	}
	for _, n := range c.nodes {
		if s := metric(t, n.base(), "spinmatch_cluster_false_suspicions_total"); s != 0 {
			t.Errorf("%s was suspected %v times while alive", n.name, s)
		}
	}
	t.Logf("%v under load (%d dates, two CPU burners): no member lost, no false suspicion", dur, dates)
}
