package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

const testSecret = "test-secret-0123456789abcdef0123456789"

// testConfig is a one-node configuration on loopback with fast timings.
func testConfig(t testing.TB) Config {
	t.Helper()
	cc := cluster.DefaultLocalConfig()
	cc.NodeName = fmt.Sprintf("test-%d", time.Now().UnixNano())
	cc.Keys = clustertest.Keys() // gossip and remote as in production
	return Config{
		Addr:        "127.0.0.1:0",
		Development: true,
		JWTSecret:   []byte(testSecret),
		Actors:      actors.TestConfig(),
		Cluster:     cc,
		// The test clients all come from 127.0.0.1, a load generator:
		// exempt from the per-address limits (limits tests use others).
		Limits: limitsConfig{LimitExempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
	}
}

// startNode starts a node and shuts it down at cleanup.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("SPIN_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	waitFor(t, 20*time.Second, "node ready", func() bool {
		return n.ready(context.Background()) == nil
	})
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var userSeq atomic.Int64

// user is a test user with a development token.
type user struct {
	id, token, name string
	base            string
}

// newUser creates a profile through /api/dev/token.
func newUser(t testing.TB, base, name, gender, pool string, seeking ...string) *user {
	t.Helper()
	id := fmt.Sprintf("u%d-%s", userSeq.Add(1), strings.ToLower(name))
	body, _ := json.Marshal(map[string]any{"user_id": id, "display_name": name, "gender": gender, "seeking": seeking, "pool": pool})
	res, err := http.Post(base+"/api/dev/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("dev token: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		UserID string `json:"user_id"`
		Token  string `json:"token"`
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("dev token: %d %s", res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("dev token body: %v", err)
	}
	return &user{id: out.UserID, token: out.Token, name: name, base: base}
}

// frame is a decoded server message.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }
func (f frame) obj(k string) frame  { m, _ := f[k].(map[string]any); return m }
func (f frame) num(k string) float64 {
	n, _ := f[k].(float64)
	return n
}

// client is one real WebSocket connection. A reader goroutine feeds frames
// into a channel, so a read timeout in a test never breaks the socket.
type client struct {
	t      testing.TB
	u      *user
	ws     *websocket.Conn
	seq    int
	seen   []frame
	frames chan frame
	closed chan error // receives the read error that ended the reader
}

func (c *client) readLoop() {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.closed <- err
			close(c.frames)
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			f = frame{"type": "undecodable", "raw": string(data)}
		}
		c.frames <- f
	}
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") + "/ws" }

// dial connects u and consumes the initial state message, which it returns.
func (u *user) dial(t testing.TB) (*client, frame) {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + u.token}}
	ws, res, err := websocket.DefaultDialer.Dial(wsURL(u.base), h)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u.name, err, res)
	}
	c := &client{t: t, u: u, ws: ws, frames: make(chan frame, 256), closed: make(chan error, 1)}
	go c.readLoop()
	t.Cleanup(func() { _ = ws.Close() })
	st := c.expect("state")
	return c, st
}

// send writes a client message with a fresh id and returns the id.
func (c *client) send(typ string, fields map[string]any) float64 {
	c.t.Helper()
	c.seq++
	m := map[string]any{"type": typ, "id": c.seq}
	for k, v := range fields {
		m[k] = v
	}
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("%s: write %s: %v", c.u.name, typ, err)
	}
	return float64(c.seq)
}

// errTimeout is next's error when no frame arrived in time.
var errTimeout = errors.New("no frame in time")

// next returns the next frame, errTimeout after d, or the socket's read error.
func (c *client) next(d time.Duration) (frame, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case f, ok := <-c.frames:
		if !ok {
			err := <-c.closed
			c.closed <- err
			return nil, err
		}
		c.seen = append(c.seen, f)
		return f, nil
	case <-timer.C:
		return nil, errTimeout
	}
}

// expect reads frames, skipping wait_update, until one of type typ arrives.
func (c *client) expect(typ string) frame {
	c.t.Helper()
	return c.expectWithin(typ, 10*time.Second)
}

func (c *client) expectWithin(typ string, d time.Duration) frame {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("%s: no %q within %v", c.u.name, typ, d)
		}
		f, err := c.next(left)
		if err != nil {
			c.t.Fatalf("%s: waiting for %q: %v (seen %v)", c.u.name, typ, err, c.types())
		}
		switch f.str("type") {
		case typ:
			return f
		case "wait_update":
			continue
		default:
			c.t.Fatalf("%s: want %q, got %v", c.u.name, typ, f)
		}
	}
}

// quiet asserts that no frame other than wait_update arrives for d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		f, err := c.next(left)
		if errors.Is(err, errTimeout) {
			return
		}
		if err != nil {
			c.t.Fatalf("%s: read: %v", c.u.name, err)
		}
		if f.str("type") != "wait_update" {
			c.t.Fatalf("%s: unexpected %v", c.u.name, f)
		}
	}
}

func (c *client) types() []string {
	var out []string
	for _, f := range c.seen {
		out = append(out, f.str("type"))
	}
	return out
}

// spin sends spin and returns the queued reply.
func (c *client) spin() frame {
	c.t.Helper()
	id := c.send("spin", nil)
	q := c.expect("queued")
	if q.num("ref") != id {
		c.t.Fatalf("%s: queued ref %v, want %v", c.u.name, q["ref"], id)
	}
	return q
}

// rest calls a REST route as u (nil u: anonymous) and decodes the answer.
func rest(t testing.TB, base string, u *user, method, path string, body any) (int, frame) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if u != nil {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var f frame
	_ = json.NewDecoder(res.Body).Decode(&f)
	return res.StatusCode, f
}

// date is two users who are matched: a woman seeking men (a) and a man
// seeking women (b), both connected.
type date struct {
	a, b   *user
	ca, cb *client
	mid    string
	found  frame // a's match_found
}

// matchPair creates and connects the two users in pool p, spins both, and
// waits for both match_found frames.
func matchPair(t testing.TB, base, p, nameA, nameB string) date {
	t.Helper()
	d := date{a: newUser(t, base, nameA, "female", p, "male"), b: newUser(t, base, nameB, "male", p, "female")}
	d.ca, _ = d.a.dial(t)
	d.cb, _ = d.b.dial(t)
	d.ca.spin()
	d.cb.spin()
	d.found = d.ca.expect("match_found")
	d.mid = d.found.str("match_id")
	if fb := d.cb.expect("match_found"); d.mid == "" || fb.str("match_id") != d.mid {
		t.Fatalf("match ids %q / %q", d.mid, fb.str("match_id"))
	}
	return d
}
