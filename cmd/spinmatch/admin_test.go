package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/transport/adminws"
)

const testAdminKey = "admin-key-for-the-admin-tests"

// adminGet calls an admin REST route with key in X-Admin-Key ("" for none).
func adminGet(t testing.TB, base, key, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("X-Admin-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// errorCode is the code of an HTTP error body.
func errorCode(b []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// restSnapshot reads GET /api/admin/queue-stats.
func restSnapshot(t testing.TB, base string) actors.Snapshot {
	t.Helper()
	code, b := adminGet(t, base, testAdminKey, "/api/admin/queue-stats")
	if code != 200 {
		t.Fatalf("queue-stats: %d %s", code, b)
	}
	var s actors.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("queue-stats body: %v: %s", err, b)
	}
	return s
}

// streamFrame is one /admin/ws frame: stats (the snapshot) or alert.
type streamFrame struct {
	Type string `json:"type"`
	actors.Snapshot
	alert actors.Alert // an alert frame's fields
	// Points are a history frame's (extension).
	Points []adminws.Point `json:"points"`
	got    time.Time
}

// adminStream is a real /admin/ws client; a reader goroutine feeds its
// frames into a channel.
type adminStream struct {
	ws     *websocket.Conn
	frames chan streamFrame
}

func adminWSURL(base, key string) string {
	u := "ws" + strings.TrimPrefix(base, "http") + "/admin/ws"
	if key != "" {
		u += "?admin_key=" + url.QueryEscape(key)
	}
	return u
}

// dialAdmin opens /admin/ws with the key in ?admin_key=; with read false
// nobody reads the socket (and its receive buffer is tiny): a stalled
// dashboard.
func dialAdmin(t testing.TB, base string, read bool) *adminStream {
	t.Helper()
	d := *websocket.DefaultDialer
	if !read {
		d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		}
	}
	ws, res, err := d.Dial(adminWSURL(base, testAdminKey), nil)
	if err != nil {
		t.Fatalf("dial /admin/ws: %v (%v)", err, res)
	}
	t.Cleanup(func() { _ = ws.Close() })
	s := &adminStream{ws: ws, frames: make(chan streamFrame, 1024)}
	if read {
		go func() {
			defer close(s.frames)
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				f := streamFrame{got: time.Now()}
				if err := json.Unmarshal(data, &f); err != nil {
					f.Type = "undecodable: " + string(data)
				}
				if f.Type == "alert" {
					_ = json.Unmarshal(data, &f.alert)
				}
				s.frames <- f
			}
		}()
	}
	return s
}

// next returns the next stats frame within d.
func (s *adminStream) next(t testing.TB, d time.Duration) streamFrame {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatal("admin stream closed")
			}
			if f.Type == "stats" {
				return f
			}
			if f.Type != "alert" && f.Type != "history" {
				t.Fatalf("admin stream frame type %q", f.Type)
			}
		case <-timer.C:
			t.Fatalf("no stats frame within %v", d)
		}
	}
}

func poolOf(s actors.Snapshot, name string) (actors.PoolSnapshot, bool) {
	for _, p := range s.Pools {
		if p.Pool == name {
			return p, true
		}
	}
	return actors.PoolSnapshot{}, false
}

// TestAdminSnapshotImbalance drives a real node over real sockets into a
// known imbalance: six men seeking women wait, one woman spins and is
// matched with the first, both vote yes, then one man cancels. The REST
// snapshot and the stream both show exactly the counts that made.
func TestAdminSnapshotImbalance(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = testAdminKey
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	const p = "imbalance"

	var men []*client
	for i := range 6 {
		u := newUser(t, base, fmt.Sprintf("Man%d", i), "male", p, "female")
		c, _ := u.dial(t)
		c.spin()
		men = append(men, c)
	}
	ann := newUser(t, base, "Ann", "female", p, "male")
	ca, _ := ann.dial(t)
	ca.spin()
	found := ca.expect("match_found")
	mid := found.str("match_id")
	if found.obj("partner").str("user_id") != men[0].u.id {
		t.Fatalf("Ann matched with %v, want the longest waiting man", found.obj("partner"))
	}
	men[0].expect("match_found")
	ca.send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	men[0].send("vote", map[string]any{"match_id": mid, "choice": "yes"})
	ca.expect("vote_recorded")
	men[0].expect("vote_recorded")
	if r := ca.expect("match_result"); r.str("result") != "mutual" {
		t.Fatalf("result %v", r)
	}
	men[0].expect("match_result")

	stream := dialAdmin(t, base, true)

	// check asserts the exact state; decided is whether the vote's result
	// (the last event) is in, so earlier snapshots are waited out.
	check := func(t *testing.T, s actors.Snapshot, waitingMen, abandonedMen int, ratio float64) {
		t.Helper()
		pl, ok := poolOf(s, p)
		if !ok {
			t.Fatalf("pool %q not in the snapshot: %+v", p, s.Pools)
		}
		if want := map[string]int{"male": waitingMen, "female": 0, "nonbinary": 0}; !mapsEqual(pl.Waiting, want) {
			t.Errorf("waiting = %v, want %v", pl.Waiting, want)
		}
		if pl.Imbalance.Ratio != ratio || pl.Imbalance.Scarce != "female" {
			t.Errorf("imbalance = %+v, want ratio %v, scarce female", pl.Imbalance, ratio)
		}
		if pl.MatchSuccessRate != 1 {
			t.Errorf("match_success_rate = %v, want 1 (1 mutual of 1 decided)", pl.MatchSuccessRate)
		}
		if pl.MatchesPerMin <= 0 {
			t.Errorf("matches_per_min = %v, want > 0", pl.MatchesPerMin)
		}
		if want := map[string]int{"male": abandonedMen, "female": 0, "nonbinary": 0}; !mapsEqual(pl.Abandoned, want) {
			t.Errorf("abandoned = %v, want %v", pl.Abandoned, want)
		}
		// The men still queued have waited longer than the matched man.
		if pl.P90WaitS["male"] <= 0 || pl.AvgWaitS["male"] <= 0 || pl.P90WaitS["male"] < pl.AvgWaitS["male"] {
			t.Errorf("men's waits: avg %v p90 %v", pl.AvgWaitS["male"], pl.P90WaitS["male"])
		}
		if pl.EtaS["female"] != 0 || pl.EtaS["male"] <= 0 {
			t.Errorf("eta_s = %v: a woman is matched at once, a man waits", pl.EtaS)
		}
		advice := fmt.Sprintf("Invite more women: %d men are waiting and no women.", waitingMen)
		if !slices.Contains(pl.Recommendations, advice) {
			t.Errorf("recommendations = %q, want %q", pl.Recommendations, advice)
		}
		if pl.WhatIf == nil || s.Alerts == nil {
			t.Errorf("what_if %v and alerts %v must be lists", pl.WhatIf, s.Alerts)
		}
		if len(s.Nodes) != 1 {
			t.Fatalf("nodes = %+v, want this one", s.Nodes)
		}
		nd := s.Nodes[0]
		if nd.ID != cfg.Cluster.NodeName || nd.Address != n.member.Address() || nd.Unavailable {
			t.Errorf("node = %+v, want id %s at %s", nd, cfg.Cluster.NodeName, n.member.Address())
		}
		// Seven users, each with one session and one socket (the admin
		// socket is not a user connection).
		if nd.Sessions != 7 || nd.Connections != 7 {
			t.Errorf("node sessions %d, connections %d; want 7 and 7", nd.Sessions, nd.Connections)
		}
	}
	// The snapshot is at most a second old: wait for one taken after the vote.
	decided := func(s actors.Snapshot) bool {
		pl, ok := poolOf(s, p)
		return ok && pl.MatchSuccessRate > 0
	}
	t.Run("rest", func(t *testing.T) {
		var s actors.Snapshot
		waitFor(t, 5*time.Second, "a snapshot with the vote", func() bool { s = restSnapshot(t, base); return decided(s) })
		check(t, s, 5, 0, 5)
	})
	t.Run("stream", func(t *testing.T) {
		f := stream.next(t, 3*time.Second)
		for !decided(f.Snapshot) {
			f = stream.next(t, 3*time.Second)
		}
		check(t, f.Snapshot, 5, 0, 5)
	})
	// One man gives up: abandonment and the ratio follow.
	men[1].send("cancel", nil)
	men[1].expect("cancelled")
	left := func(s actors.Snapshot) bool { pl, ok := poolOf(s, p); return ok && pl.Abandoned["male"] > 0 }
	t.Run("after a cancel, rest", func(t *testing.T) {
		var s actors.Snapshot
		waitFor(t, 5*time.Second, "a snapshot with the cancel", func() bool { s = restSnapshot(t, base); return left(s) })
		check(t, s, 4, 1, 4)
	})
	t.Run("after a cancel, stream", func(t *testing.T) {
		f := stream.next(t, 3*time.Second)
		for !left(f.Snapshot) {
			f = stream.next(t, 3*time.Second)
		}
		check(t, f.Snapshot, 4, 1, 4)
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAdminStreamCadence: at least one stats frame a second, counted over
// 5 s on a real socket, each a fresh snapshot.
func TestAdminStreamCadence(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = testAdminKey
	base := "http://" + startNode(t, cfg).Addr()
	s := dialAdmin(t, base, true)
	first := s.next(t, 2*time.Second)
	frames, prev, maxGap := 1, first, time.Duration(0)
	ats := map[time.Time]bool{first.At: true}
	for end := first.got.Add(5 * time.Second); ; {
		f := s.next(t, 2*time.Second)
		if f.got.After(end) {
			break
		}
		frames++
		maxGap = max(maxGap, f.got.Sub(prev.got))
		ats[f.At] = true
		prev = f
	}
	t.Logf("%d stats frames in the 5 s from the first; longest gap %v", frames, maxGap)
	if frames < 5 {
		t.Errorf("%d stats frames in 5 s, want at least 5", frames)
	}
	if maxGap > 1100*time.Millisecond {
		t.Errorf("longest gap between stats frames %v, want about a second at most", maxGap)
	}
	if len(ats) < frames {
		t.Errorf("%d distinct snapshots in %d frames: the stream repeats stale ones", len(ats), frames)
	}
}

// TestAdminRoutesSecurity: in production with ADMIN_API_KEY the admin
// routes answer 401 unauthorized without the key and with a wrong one,
// and serve with it; without ADMIN_API_KEY they answer 404.
func TestAdminRoutesSecurity(t *testing.T) {
	paths := []string{"/api/admin/queue-stats", "/api/admin/audit", "/admin/ws"}
	dialCode := func(t *testing.T, base, key string) int {
		t.Helper()
		ws, res, err := websocket.DefaultDialer.Dial(adminWSURL(base, key), nil)
		if err == nil {
			ws.Close()
			return http.StatusSwitchingProtocols
		}
		if res == nil {
			t.Fatalf("dial: %v", err)
		}
		return res.StatusCode
	}
	// One node at a time (see TestOperatorRoutesNeedTheirKeys).
	t.Run("production, key configured", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Development, cfg.AdminKey = false, testAdminKey
		base := "http://" + startNode(t, cfg).Addr()
		for _, path := range paths[:2] {
			for _, tc := range []struct {
				name, key string
				want      int
			}{{"no key", "", 401}, {"wrong key", testAdminKey + "x", 401}, {"key", testAdminKey, 200}} {
				code, b := adminGet(t, base, tc.key, path)
				if code != tc.want || (tc.want == 401 && errorCode(b) != "unauthorized") {
					t.Errorf("%s, %s: %d %s; want %d", path, tc.name, code, b, tc.want)
				}
			}
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+testAdminKey)
			if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
				t.Errorf("%s with the key as bearer: %v %v", path, res, err)
			} else {
				res.Body.Close()
			}
		}
		for _, tc := range []struct {
			name, key string
			want      int
		}{{"no key", "", 401}, {"wrong key", "wrong", 401}, {"key", testAdminKey, 101}} {
			if code := dialCode(t, base, tc.key); code != tc.want {
				t.Errorf("/admin/ws, %s: %d, want %d", tc.name, code, tc.want)
			}
		}
		// A foreign Origin is refused before the key is looked at.
		h := http.Header{"Origin": {"https://evil.example"}}
		if _, res, err := websocket.DefaultDialer.Dial(adminWSURL(base, testAdminKey), h); err == nil || res == nil || res.StatusCode != 403 {
			t.Errorf("/admin/ws from a foreign Origin: %v %v, want 403", res, err)
		}
	})
	t.Run("production, no key configured", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Development = false
		base := "http://" + startNode(t, cfg).Addr()
		for _, path := range paths[:2] {
			if code, b := adminGet(t, base, "guess", path); code != 404 || errorCode(b) != "not_found" {
				t.Errorf("%s: %d %s, want 404 not_found", path, code, b)
			}
		}
		if code := dialCode(t, base, "guess"); code != 404 {
			t.Errorf("/admin/ws: %d, want 404", code)
		}
	})
}

// TestAdminAuditLog: the audit log reads back newest first, limited; a bad
// limit is 400 bad_request.
func TestAdminAuditLog(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = testAdminKey
	n := startNode(t, cfg)
	base := "http://" + n.Addr()
	at := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 3 {
		e := persistence.AuditEntry{At: at.Add(time.Duration(i) * time.Second), Actor: "test-key", Action: "POST /api/test/spin",
			Target: fmt.Sprintf("user-%d", i), IP: "127.0.0.1", Detail: fmt.Sprintf("call %d", i)}
		if err := n.sys.Audit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []string{"0", "1001", "-1", "ten", "", "2.5"} {
		code, b := adminGet(t, base, testAdminKey, "/api/admin/audit?limit="+url.QueryEscape(limit))
		if code != 400 || errorCode(b) != "bad_request" {
			t.Errorf("limit %q: %d %s, want 400 bad_request", limit, code, b)
		}
	}
	code, b := adminGet(t, base, testAdminKey, "/api/admin/audit?limit=2")
	var out struct {
		Entries []map[string]string `json:"entries"`
	}
	if err := json.Unmarshal(b, &out); code != 200 || err != nil {
		t.Fatalf("audit: %d %s", code, b)
	}
	want := []map[string]string{
		{"at": at.Add(2 * time.Second).Format(time.RFC3339Nano), "actor": "test-key", "action": "POST /api/test/spin", "target": "user-2", "ip": "127.0.0.1", "detail": "call 2"},
		{"at": at.Add(time.Second).Format(time.RFC3339Nano), "actor": "test-key", "action": "POST /api/test/spin", "target": "user-1", "ip": "127.0.0.1", "detail": "call 1"},
	}
	if len(out.Entries) != 2 || !mapsEqualS(out.Entries[0], want[0]) || !mapsEqualS(out.Entries[1], want[1]) {
		t.Errorf("entries = %v, want %v", out.Entries, want)
	}
	if code, b := adminGet(t, base, testAdminKey, "/api/admin/audit"); code != 200 || strings.Count(string(b), `"actor"`) != 3 {
		t.Errorf("default limit: %d %s", code, b)
	}
}

func mapsEqualS(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAdminStalledSocketDropped: a dashboard that stops reading fills its
// bounded queue and is dropped, while another keeps its cadence.
func TestAdminStalledSocketDropped(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = testAdminKey
	const interval = 20 * time.Millisecond
	cfg.AdminStream = adminws.Config{Interval: interval, SendQueue: 4, SocketBuffer: 4096}
	base := "http://" + startNode(t, cfg).Addr()
	// Frames of some size, so the stalled socket's buffers fill quickly.
	for i := range 6 {
		u := newUser(t, base, fmt.Sprintf("Waiter%d", i), "male", fmt.Sprintf("stall-%d", i), "female")
		c, _ := u.dial(t)
		c.spin()
	}
	good := dialAdmin(t, base, true)
	good.next(t, 2*time.Second)
	dialAdmin(t, base, false) // never reads
	waitFor(t, 5*time.Second, "two admin sockets", func() bool { return metric(t, base, "spinmatch_admin_stream_clients") == 2 })

	prev, maxGap := good.next(t, time.Second), time.Duration(0)
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, base, "spinmatch_admin_stream_clients") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled admin socket was not dropped")
		}
		f := good.next(t, time.Second)
		maxGap, prev = max(maxGap, f.got.Sub(prev.got)), f
	}
	if got := metric(t, base, "spinmatch_admin_stream_dropped_total"); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	// The reader goes on at its cadence.
	for range 10 {
		f := good.next(t, time.Second)
		maxGap, prev = max(maxGap, f.got.Sub(prev.got)), f
	}
	t.Logf("longest gap of the reading dashboard: %v (interval %v)", maxGap, interval)
	if maxGap > 500*time.Millisecond {
		t.Errorf("the reading dashboard waited %v for a frame while the other stalled", maxGap)
	}
}

// TestAdminStreamAlerts: an alert that fires and resolves is announced on
// the stream exactly once each, and the stats frames list it while it
// fires; the webhook stand-in gets the same two changes, once each, with
// the same seq.
func TestAdminStreamAlerts(t *testing.T) {
	hook := &alertHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg := alertTestConfig(t, srv.URL)
	cfg.AdminKey = testAdminKey
	base := "http://" + startNode(t, cfg).Addr()
	pool := fmt.Sprintf("streamalerts%d", userSeq.Add(1))
	stream := dialAdmin(t, base, true)
	stream.next(t, 3*time.Second)

	var changes []actors.Alert
	firingInStats := false
	// read takes frames for d, or until cond holds, keeping the pool's alerts.
	read := func(d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.After(d)
		for cond == nil || !cond() {
			select {
			case f, ok := <-stream.frames:
				if !ok {
					t.Fatal("admin stream closed")
				}
				if f.Type == "alert" && f.alert.Rule == "imbalance" && f.alert.Pool == pool {
					changes = append(changes, f.alert)
				}
				for _, a := range f.Alerts {
					firingInStats = firingInStats || (a.Rule == "imbalance" && a.Pool == pool && a.State == "firing")
				}
			case <-deadline:
				if cond != nil {
					t.Fatalf("stream: %d alert changes of %s within %v: %+v", len(changes), pool, d, changes)
				}
				return
			}
		}
	}
	var men []*user
	for i := range 3 {
		u := newUser(t, base, fmt.Sprintf("M%d", i), "male", pool, "female")
		c, _ := u.dial(t)
		c.spin()
		men = append(men, u)
	}
	read(10*time.Second, func() bool { return len(changes) >= 1 && firingInStats })
	if a := changes[0]; a.State != "firing" || a.Severity != "warning" || a.Type != "alert" || a.Message == "" || a.Seq == 0 {
		t.Fatalf("firing alert on the stream = %+v", a)
	}
	for _, u := range men {
		if st, body := rest(t, base, u, http.MethodDelete, "/api/spin", nil); st != http.StatusOK {
			t.Fatalf("cancel: %d %v", st, body)
		}
	}
	read(10*time.Second, func() bool { return len(changes) >= 2 })
	read(2*time.Second, nil) // several evaluations and frames later
	if len(changes) != 2 || changes[1].State != "resolved" || changes[1].Seq <= changes[0].Seq {
		t.Fatalf("stream alert changes = %+v, want one firing and one resolved", changes)
	}
	waitFor(t, 5*time.Second, "both changes at the webhook", func() bool { return len(hook.about("imbalance", pool)) >= 2 })
	read(time.Second, nil) // more evaluations: neither side gets a change twice
	got := hook.about("imbalance", pool)
	if len(got) != 2 || len(changes) != 2 {
		t.Fatalf("webhook got %+v, stream %+v: want each change once on both", got, changes)
	}
	for i := range got {
		if got[i].Seq != changes[i].Seq || got[i].State != changes[i].State {
			t.Fatalf("change %d: webhook %+v, stream %+v: want the same seq and state", i, got[i], changes[i])
		}
	}
}

// firstHistory dials /admin/ws and returns the points of its first frame
// when that is the history frame (nil otherwise), and when it was dialled.
func firstHistory(t testing.TB, base string) ([]adminws.Point, time.Time) {
	t.Helper()
	dialled := time.Now().UTC()
	s := dialAdmin(t, base, true)
	defer s.ws.Close()
	select {
	case f, ok := <-s.frames:
		if ok && f.Type == "history" {
			return f.Points, dialled
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no first frame on /admin/ws")
	}
	return nil, dialled
}

// TestAdminStreamHistory: the node samples the trends while nobody
// watches; a new watcher's first frame is the history, with points taken
// before it connected that count the people waiting.
func TestAdminStreamHistory(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminKey = testAdminKey
	cfg.AdminStream = adminws.Config{HistoryStep: 50 * time.Millisecond}
	base := "http://" + startNode(t, cfg).Addr()
	pool := fmt.Sprintf("history%d", userSeq.Add(1))
	for i := range 2 {
		u := newUser(t, base, fmt.Sprintf("H%d", i), "male", pool, "female")
		c, _ := u.dial(t)
		c.spin()
	}
	var points []adminws.Point
	var dialled time.Time
	waitFor(t, 10*time.Second, "a history of 3 points counting the two waiting", func() bool {
		points, dialled = firstHistory(t, base)
		n := 0
		for _, p := range points {
			if p.Waiting >= 2 && p.At.Before(dialled) {
				n++
			}
		}
		return n >= 3
	})
	for i := 1; i < len(points); i++ {
		if !points[i].At.After(points[i-1].At) {
			t.Fatalf("history points out of order: %+v", points)
		}
	}
}
