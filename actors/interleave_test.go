package actors

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
)

// The interleaving test: "no double pairing under any interleaving". Each
// run starts a one-node cluster over a slow, failing store, lets several
// goroutines drive ~20 users through random spins, cancels, votes,
// connection churn, reconnect-grace expiries and grain restarts, then stops
// the faults, waits for the system to settle and checks what every fake
// connection was sent, and the store, against the invariants (see
// interleave_check_test.go).
//
// Reproduce a run with the seed it prints:
//
//	go test -race -count=1 -run Interleav ./actors/ -interleave.seed=N -interleave.runs=1 -v
//
// The seed fixes each driver's choice of operations and the store's faults;
// the goroutines' real interleaving is the scheduler's, so a seed makes a
// failure likely again, not certain.
var (
	interleaveSeed  = flag.Int64("interleave.seed", 0, "interleaving test: seed of the first run (0: from the clock)")
	interleaveRuns  = flag.Int("interleave.runs", 0, "interleaving test: number of runs (0: 4, or 1 with -short)")
	interleaveDrive = flag.Duration("interleave.drive", 0, "interleaving test: how long each run drives the users (0: 3s, or 2s with -short)")
	interleaveFail  = flag.Float64("interleave.fail", 0.08, "interleaving test: share of store calls that fail while driving")
	interleaveKeep  = flag.Bool("interleave.keep", false, "interleaving test: write every run's trace to the temp dir, not only a failed run's")
)

const (
	interleaveUsers   = 20
	interleaveDrivers = 6
	interleaveMaxConn = 3
	// storeDelay is the slow store's longest delay while driving.
	storeDelay = 50 * time.Millisecond
)

func TestInterleavings(t *testing.T) {
	seed := *interleaveSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	runs, drive := 4, 3*time.Second
	if testing.Short() {
		runs, drive = 1, 2*time.Second
	}
	if *interleaveRuns > 0 {
		runs = *interleaveRuns
	}
	if *interleaveDrive > 0 {
		drive = *interleaveDrive
	}
	t.Logf("interleaving test: seed %d, %d runs of %v", seed, runs, drive)
	for i := range runs {
		s := seed + int64(i)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			h := startInterleave(t, s, i, 1+int(s&1)) // one pool or two, by seed
			defer func() {
				if !t.Failed() && !*interleaveKeep {
					return
				}
				path := filepath.Join(os.TempDir(), fmt.Sprintf("interleave-%d.trace", s))
				if err := h.trace.writeFile(path); err != nil {
					path = err.Error()
				}
				if t.Failed() {
					t.Logf("FAILED with seed %d: rerun with -interleave.seed=%d -interleave.runs=1; full trace: %s", s, s, path)
				} else {
					t.Logf("trace: %s", path)
				}
			}()
			defer h.summary()
			defer h.check() // also after a settle that timed out
			h.drive(drive)
			h.settle()
		})
	}
}

// interleaveConfig is TestConfig with timings short enough that matches
// settle and users spin again within a run.
func interleaveConfig() Config {
	c := TestConfig()
	// A match outlasts RequestTimeout, so a session blocked in one request
	// (whose message a poisoned grain dropped) still hears of a match
	// before its vote deadline.
	c.DateLength = 600 * time.Millisecond
	c.VoteWindow = 400 * time.Millisecond
	c.ReconnectGrace = 400 * time.Millisecond
	c.RematchCooldown = 0
	c.Refresh = 150 * time.Millisecond
	c.WaitTick = 50 * time.Millisecond
	c.WaitUpdateMax = time.Second
	c.RequestTimeout = time.Second
	c.DeliveryTimeout = 3 * time.Second
	c.Limits.Budgets = limit.Off()
	return c
}

// interleave is one run: the node, the store, the users and what was done.
type interleave struct {
	t     *testing.T
	seed  int64
	cfg   Config
	store *faultStore
	trace *traceLog
	deps  *Deps
	sys   *System
	pools []string
	users []*probeUser

	nextID  atomic.Int64 // match ids
	nextRef atomic.Int64 // command refs
	nextCon atomic.Int64 // connection numbers

	mu       sync.Mutex     // guards the fields below
	matchIDs []string       // every match id the pools drew, in order
	ops      map[string]int // operations done, by name

	acts  *activations // static pointer; see its own lock
	probe *statusProbe // static after startInterleave
}

// probeUser is one simulated user and the client side of their sockets.
type probeUser struct {
	id, gender, pool string

	mu        sync.Mutex   // guards the fields below
	conns     []*probeConn // open connections
	all       []*probeConn // every connection ever opened
	awayUntil time.Time    // no socket before this (a grace expiry)
	rest      []probeEvent // replies to REST commands
}

func startInterleave(t *testing.T, seed int64, run, pools int) *interleave {
	t.Helper()
	trace := newTraceLog()
	h := &interleave{
		t: t, seed: seed, cfg: interleaveConfig(), trace: trace,
		store: newFaultStore(seed, trace),
		ops:   map[string]int{},
		acts:  &activations{live: map[string]map[string]time.Time{}},
	}
	for p := range pools {
		h.pools = append(h.pools, fmt.Sprintf("r%dp%d", run, p))
	}
	log := newTraceLogger(trace)
	h.deps = &Deps{
		Config:  h.cfg,
		Store:   h.store,
		Logger:  log,
		Metrics: NewMetrics(nil),
		NewID: func() string {
			id := fmt.Sprintf("r%dm%04d", run, h.nextID.Add(1))
			h.mu.Lock()
			h.matchIDs = append(h.matchIDs, id)
			h.mu.Unlock()
			return id
		},
	}
	h.deps.Router = NewRouter(h.cfg, log.With("component", "router"), h.deps.Metrics)
	kinds := Kinds(h.deps)
	for _, k := range kinds {
		k.Props = k.Props.Clone(actor.WithReceiverMiddleware(traceGrain(trace, h.acts)))
	}
	node := clustertest.Start(t, clustertest.Config("127.0.0.1", fmt.Sprintf("interleave-%d", run), kinds...))
	h.sys = NewSystem(node.Cluster(), h.deps)
	t.Cleanup(h.deps.Router.Detach)
	h.probe = newStatusProbe(h.sys)

	ctx := context.Background()
	for i := range interleaveUsers {
		g, s := "female", "male"
		if i%2 == 1 {
			g, s = s, g
		}
		u := &probeUser{id: fmt.Sprintf("r%du%02d", run, i), gender: g, pool: h.pools[(i/2)%len(h.pools)]}
		err := h.store.Store.PutProfile(ctx, persistence.Profile{UserID: u.id, DisplayName: "User " + u.id, Gender: g, Seeking: []string{s}, Pool: u.pool})
		if err != nil {
			t.Fatalf("put profile: %v", err)
		}
		h.users = append(h.users, u)
	}
	return h
}

// drive runs the random operations from several goroutines for d, with
// the store slow and failing.
func (h *interleave) drive(d time.Duration) {
	h.store.setFaults(*interleaveFail, storeDelay)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for g := range interleaveDrivers {
		rng := rand.New(rand.NewPCG(uint64(h.seed), uint64(g+1)))
		wg.Go(func() {
			for ctx.Err() == nil {
				h.step(ctx, rng)
				pause(ctx, time.Duration(rng.IntN(10))*time.Millisecond)
			}
		})
	}
	wg.Wait()
	h.trace.add("driver stopped")
}

// pause paces a driver (it waits for nothing in particular).
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

type interleaveOp struct {
	name   string
	weight int
	do     func(h *interleave, ctx context.Context, rng *rand.Rand, u *probeUser)
}

var interleaveOps = []interleaveOp{
	{"spin/conn", 16, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) { h.viaConn(rng, u, spinCmd()) }},
	{"spin/rest", 4, func(h *interleave, ctx context.Context, _ *rand.Rand, u *probeUser) { h.viaREST(ctx, u, spinCmd()) }},
	{"cancel/conn", 5, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) { h.viaConn(rng, u, cancelCmd()) }},
	{"cancel/rest", 2, func(h *interleave, ctx context.Context, _ *rand.Rand, u *probeUser) { h.viaREST(ctx, u, cancelCmd()) }},
	{"status/conn", 3, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) { h.viaConn(rng, u, statusCmd()) }},
	{"status/rest", 2, func(h *interleave, ctx context.Context, _ *rand.Rand, u *probeUser) { h.viaREST(ctx, u, statusCmd()) }},
	{"vote/conn", 14, func(h *interleave, ctx context.Context, rng *rand.Rand, u *probeUser) {
		if id := h.currentMatch(ctx, u); id != "" {
			h.viaConn(rng, u, voteCmd(id, rng))
		}
	}},
	{"vote/rest", 4, func(h *interleave, ctx context.Context, rng *rand.Rand, u *probeUser) {
		if id := h.currentMatch(ctx, u); id != "" {
			h.viaREST(ctx, u, voteCmd(id, rng))
		}
	}},
	{"vote/stale", 1, func(h *interleave, ctx context.Context, rng *rand.Rand, u *probeUser) {
		if id := h.someMatchID(rng); id != "" {
			h.viaREST(ctx, u, voteCmd(id, rng))
		}
	}},
	{"attach", 6, func(h *interleave, _ context.Context, _ *rand.Rand, u *probeUser) { h.attach(u) }},
	{"detach", 3, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) { h.detach(rng, u, true, false) }},
	{"drop", 2, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) { h.detach(rng, u, false, false) }},
	{"away", 2, func(h *interleave, _ context.Context, rng *rand.Rand, u *probeUser) {
		h.detach(rng, u, rng.IntN(2) == 0, true)
	}},
	{"restart/session", 3, func(h *interleave, _ context.Context, _ *rand.Rand, u *probeUser) {
		h.restart(KindUserSession, u.id)
	}},
	{"restart/pool", 2, func(h *interleave, _ context.Context, _ *rand.Rand, u *probeUser) {
		h.restart(KindMatchPool, u.pool)
	}},
	{"restart/match", 3, func(h *interleave, _ context.Context, rng *rand.Rand, _ *probeUser) {
		if id := h.someMatchID(rng); id != "" {
			h.restart(KindMatch, id)
		}
	}},
}

var interleaveWeight = func() int {
	n := 0
	for _, op := range interleaveOps {
		n += op.weight
	}
	return n
}()

// step does one random operation for one random user.
func (h *interleave) step(ctx context.Context, rng *rand.Rand) {
	u := h.users[rng.IntN(len(h.users))]
	u.mu.Lock()
	away := time.Now().Before(u.awayUntil)
	u.mu.Unlock()
	if away {
		return // gone long enough for the reconnect grace to expire
	}
	n := rng.IntN(interleaveWeight)
	for _, op := range interleaveOps {
		if n -= op.weight; n < 0 {
			h.mu.Lock()
			h.ops[op.name]++
			h.mu.Unlock()
			h.trace.add("op %s %s", op.name, u.id)
			op.do(h, ctx, rng, u)
			return
		}
	}
}

func spinCmd() *msg.Command {
	return &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}
}

func cancelCmd() *msg.Command {
	return &msg.Command{Kind: &msg.Command_Cancel{Cancel: &msg.CancelCmd{}}}
}

func statusCmd() *msg.Command {
	return &msg.Command{Kind: &msg.Command_Status{Status: &msg.StatusCmd{}}}
}

func voteCmd(matchID string, rng *rand.Rand) *msg.Command {
	choice := persistence.ChoiceYes
	if rng.IntN(10) < 3 {
		choice = persistence.ChoiceNo
	}
	return &msg.Command{Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: matchID, Choice: choice}}}
}

// viaConn sends cmd on one of u's sockets (as transport/ws does), or over
// REST when u has none.
func (h *interleave) viaConn(rng *rand.Rand, u *probeUser, cmd *msg.Command) {
	u.mu.Lock()
	var c *probeConn
	if len(u.conns) > 0 {
		c = u.conns[rng.IntN(len(u.conns))]
	}
	u.mu.Unlock()
	if c == nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.RequestTimeout+time.Second)
		defer cancel()
		h.viaREST(ctx, u, cmd)
		return
	}
	cmd.Conn, cmd.Ref = c.pid, fmt.Sprint(h.nextRef.Add(1))
	h.trace.add("send %s via %s ref=%s", kindName(cmd), c.name(), cmd.Ref)
	h.sys.Deliver(u.id, cmd, nil)
}

// viaREST runs cmd as a REST call and keeps the reply.
func (h *interleave) viaREST(ctx context.Context, u *probeUser, cmd *msg.Command) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.RequestTimeout+time.Second)
	defer cancel()
	kind := kindName(cmd)
	ev, err := h.sys.Command(ctx, u.id, cmd)
	if err != nil {
		h.trace.add("rest %s %s: %v", kind, u.id, err)
		return
	}
	h.trace.add("rest %s %s <- %s", kind, u.id, describe(ev))
	u.mu.Lock()
	u.rest = append(u.rest, probeEvent{at: time.Now(), ev: ev})
	u.mu.Unlock()
}

func kindName(cmd *msg.Command) string {
	switch k := cmd.Kind.(type) {
	case *msg.Command_Spin:
		return "spin"
	case *msg.Command_Cancel:
		return "cancel"
	case *msg.Command_Status:
		return "status"
	case *msg.Command_Vote:
		return "vote " + k.Vote.MatchId + " " + k.Vote.Choice
	}
	return fmt.Sprintf("%T", cmd.Kind)
}

// currentMatch is the match u's sockets were last shown without a result
// yet, else the one a status call reports.
func (h *interleave) currentMatch(ctx context.Context, u *probeUser) string {
	u.mu.Lock()
	conns := slices.Clone(u.conns)
	u.mu.Unlock()
	var best string
	var at time.Time
	for _, c := range conns {
		open, when := "", time.Time{}
		for _, e := range c.snapshot() {
			switch k := e.ev.Kind.(type) {
			case *msg.Event_MatchFound:
				open, when = k.MatchFound.GetMatch().GetMatchId(), e.at
			case *msg.Event_MatchResult:
				if k.MatchResult.MatchId == open {
					open = ""
				}
			}
		}
		if open != "" && when.After(at) {
			best, at = open, when
		}
	}
	if best != "" {
		return best
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.RequestTimeout)
	defer cancel()
	ev, err := h.sys.Command(ctx, u.id, statusCmd())
	if err != nil {
		return ""
	}
	return ev.GetState().GetMatch().GetMatchId()
}

// someMatchID picks one of the last match ids the pools drew.
func (h *interleave) someMatchID(rng *rand.Rand) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.matchIDs) == 0 {
		return ""
	}
	recent := h.matchIDs[max(0, len(h.matchIDs)-8):]
	return recent[rng.IntN(len(recent))]
}

// attach opens a new socket for u.
func (h *interleave) attach(u *probeUser) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.conns) >= interleaveMaxConn {
		return
	}
	c := &probeConn{user: u.id, n: h.nextCon.Add(1)}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &probeActor{c: c, sys: h.sys, every: h.cfg.Refresh, trace: h.trace}
	})
	c.pid = h.sys.ActorSystem().Root.Spawn(props)
	h.trace.add("conn %s opened", c.name())
	u.conns = append(u.conns, c)
	u.all = append(u.all, c)
}

// detach closes one of u's sockets (gracefully: Detach is sent; otherwise
// the session learns from its watch), or all of them with away, after
// which u stays away past the reconnect grace.
func (h *interleave) detach(rng *rand.Rand, u *probeUser, graceful, away bool) {
	u.mu.Lock()
	var gone []*probeConn
	switch {
	case away:
		gone, u.conns = u.conns, nil
		u.awayUntil = time.Now().Add(h.cfg.ReconnectGrace + 200*time.Millisecond)
	case len(u.conns) > 0:
		i := rng.IntN(len(u.conns))
		gone = []*probeConn{u.conns[i]}
		u.conns = slices.Delete(u.conns, i, i+1)
	}
	u.mu.Unlock()
	for _, c := range gone {
		c.graceful.Store(graceful)
		h.trace.add("conn %s closed (graceful %v, away %v)", c.name(), graceful, away)
		h.sys.ActorSystem().Root.Stop(c.pid)
	}
}

// restart poisons the current activation of a grain (activating one if
// there is none), so that the next message activates a fresh one that
// restores from the store.
func (h *interleave) restart(kind, id string) {
	owner := h.deps.Router.Owner(kind, id)
	if owner == "" {
		return
	}
	req := &cluster.ActivationRequest{ClusterIdentity: cluster.NewClusterIdentity(id, kind)}
	res, err := h.sys.ActorSystem().Root.RequestFuture(actor.NewPID(owner, placementActor), req, time.Second).Result()
	a, ok := res.(*cluster.ActivationResponse)
	if err != nil || !ok || a.Pid == nil {
		h.trace.add("restart %s/%s: no activation (%v)", kind, id, err)
		return
	}
	h.trace.add("restart %s/%s: poison %s", kind, id, a.Pid.Id)
	h.sys.ActorSystem().Root.Poison(a.Pid)
}

// summary logs what the run covered.
func (h *interleave) summary() {
	h.mu.Lock()
	names := make([]string, 0, len(h.ops))
	total := 0
	for n, c := range h.ops {
		names = append(names, fmt.Sprintf("%s=%d", n, c))
		total += c
	}
	drawn := len(h.matchIDs)
	h.mu.Unlock()
	sort.Strings(names)
	calls, failed := h.store.counts()
	h.store.model.Lock()
	created, conflicts := len(h.store.matches), h.store.conflicts
	results := map[string]int{}
	for _, m := range h.store.matches {
		r := m.result
		if m.implicit {
			r += "(implicit)"
		}
		results[r]++
	}
	h.store.model.Unlock()
	events := 0
	conns := 0
	for _, u := range h.users {
		u.mu.Lock()
		all := slices.Clone(u.all)
		u.mu.Unlock()
		conns += len(all)
		for _, c := range all {
			events += len(c.snapshot())
		}
	}
	m := h.deps.Metrics
	var resent, undeliverable float64
	for _, k := range []string{KindUserSession, KindMatchPool, KindMatch, KindPoolDirectory} {
		resent += counterTotal(m.Resent.WithLabelValues(k))
		undeliverable += counterTotal(m.Undeliverable.WithLabelValues(k))
	}
	h.t.Logf("run seed=%d pools=%d: %d operations (%s)", h.seed, len(h.pools), total, strings.Join(names, " "))
	h.t.Logf("  %d connections got %d events; pools drew %d pairings, store created %d matches, refused %d (double pairings caught), results %v",
		conns, events, drawn, created, conflicts, results)
	h.t.Logf("  store: %d calls, %d injected failures; router: %.0f resends, %.0f undeliverable; warnings/errors logged: %v",
		calls, failed, resent, undeliverable, h.trace.errCounts())
}

func counterTotal(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
