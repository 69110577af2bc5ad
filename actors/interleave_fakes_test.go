package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// Fakes of the interleaving test (interleave_test.go): a slow, failing
// store with a reference model of the match claims, fake connections that
// record what a socket would be sent, and a trace of everything both saw.

// faultStore is a Store over the in-memory store that delays every call by
// a random 0..maxDelay (a slow store) and fails a random share of them with
// persistence.ErrUnavailable before they touch the data, so a failed write
// never happens. It keeps a reference model of the matches it let through
// (which user is claimed by which unsettled match), so the test can tell a
// store that admitted a double pairing from grains that announced one.
// Safe for concurrent use.
type faultStore struct {
	*memory.Store
	trace *traceLog // static after construction

	mu       sync.Mutex // guards the fields below it
	rng      *rand.Rand
	failP    float64
	maxDelay time.Duration
	calls    map[string]int
	failed   map[string]int

	// model serializes CreateMatch and RecordResult with the reference
	// model below, so the model sees them in the store's order.
	model     sync.Mutex
	matches   map[string]*modelMatch // guarded by model: every created match
	claims    map[string]string      // guarded by model: user -> unsettled match
	conflicts int                    // guarded by model: CreateMatch refusals
	problems  []string               // guarded by model: the store broke its contract
}

// modelMatch is the reference model's view of one created match.
type modelMatch struct {
	rec       persistence.Match
	createdAt time.Time // wall clock when CreateMatch returned
	result    string    // "" while unsettled
	implicit  bool      // settled as no_match by a later CreateMatch
	settledAt time.Time
}

var _ Store = (*faultStore)(nil)

func newFaultStore(seed int64, trace *traceLog) *faultStore {
	return &faultStore{
		Store:   memory.New(),
		trace:   trace,
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		calls:   map[string]int{},
		failed:  map[string]int{},
		matches: map[string]*modelMatch{},
		claims:  map[string]string{},
	}
}

// setFaults changes the failure probability and the longest delay.
func (f *faultStore) setFaults(failP float64, maxDelay time.Duration) {
	f.mu.Lock()
	f.failP, f.maxDelay = failP, maxDelay
	f.mu.Unlock()
}

// fault delays the call and decides whether it fails (before touching data).
func (f *faultStore) fault(ctx context.Context, op, what string) error {
	f.mu.Lock()
	f.calls[op]++
	var d time.Duration
	if f.maxDelay > 0 {
		d = time.Duration(f.rng.Int64N(int64(f.maxDelay) + 1))
	}
	p := f.failP
	if op == "create_match" {
		p *= 3 // pairings stay pending longer, across pool restarts
	}
	fail := f.rng.Float64() < p
	if fail {
		f.failed[op]++
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.trace.add("store %s %s: ctx done after delay", op, what)
			return fmt.Errorf("faultstore: %s: %w", op, ctx.Err())
		}
	}
	if fail {
		f.trace.add("store %s %s: INJECTED FAILURE", op, what)
		return fmt.Errorf("faultstore: %s: injected: %w", op, persistence.ErrUnavailable)
	}
	return nil
}

func (f *faultStore) counts() (calls, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.calls {
		calls += n
	}
	for _, n := range f.failed {
		failed += n
	}
	return calls, failed
}

func (f *faultStore) Ping(ctx context.Context) error {
	if err := f.fault(ctx, "ping", ""); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f *faultStore) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	if err := f.fault(ctx, "profile", userID); err != nil {
		return persistence.Profile{}, err
	}
	return f.Store.Profile(ctx, userID)
}

func (f *faultStore) PutProfile(ctx context.Context, p persistence.Profile) error {
	if err := f.fault(ctx, "put_profile", p.UserID); err != nil {
		return err
	}
	return f.Store.PutProfile(ctx, p)
}

func (f *faultStore) CreateMatch(ctx context.Context, m persistence.Match) error {
	what := fmt.Sprintf("%s (%s+%s)", m.ID, m.A.UserID, m.B.UserID)
	if err := f.fault(ctx, "create_match", what); err != nil {
		return err
	}
	f.model.Lock()
	defer f.model.Unlock()
	err := f.Store.CreateMatch(ctx, m)
	switch {
	case err == nil:
		f.noteCreated(m)
		f.trace.add("store create_match %s: ok", what)
	case errors.Is(err, persistence.ErrConflict):
		f.conflicts++
		f.noteConflict(m)
		f.trace.add("store create_match %s: CONFLICT %v", what, err)
	default:
		f.trace.add("store create_match %s: err %v", what, err)
	}
	return err
}

// noteCreated moves the model on after a successful CreateMatch. f.model
// must be held.
func (f *faultStore) noteCreated(m persistence.Match) {
	if old, ok := f.matches[m.ID]; ok {
		if old.rec.A.UserID != m.A.UserID || old.rec.B.UserID != m.B.UserID {
			f.problems = append(f.problems, fmt.Sprintf("match %s created again with other partners", m.ID))
		}
		return
	}
	now := time.Now()
	for _, u := range []string{m.A.UserID, m.B.UserID} {
		prev, ok := f.claims[u]
		if !ok {
			continue
		}
		pm := f.matches[prev]
		if pm.rec.VoteDeadline.After(m.CreatedAt) {
			f.problems = append(f.problems, fmt.Sprintf("store let %s into %s while in unsettled %s (deadline %s after %s)",
				u, m.ID, prev, pm.rec.VoteDeadline.Format(time.StampMilli), m.CreatedAt.Format(time.StampMilli)))
		}
		f.settleModel(pm, persistence.ResultNoMatch, true, now)
	}
	f.matches[m.ID] = &modelMatch{rec: m, createdAt: now}
	f.claims[m.A.UserID], f.claims[m.B.UserID] = m.ID, m.ID
}

// noteConflict checks that a refusal had a reason. f.model must be held.
func (f *faultStore) noteConflict(m persistence.Match) {
	for _, u := range []string{m.A.UserID, m.B.UserID} {
		if prev, ok := f.claims[u]; ok && f.matches[prev].rec.VoteDeadline.After(m.CreatedAt) {
			return
		}
	}
	f.problems = append(f.problems, fmt.Sprintf("store refused %s (%s+%s) with neither partner in an unsettled match", m.ID, m.A.UserID, m.B.UserID))
}

// settleModel records a result in the model. f.model must be held.
func (f *faultStore) settleModel(mm *modelMatch, result string, implicit bool, now time.Time) {
	if mm.result == "" {
		mm.result, mm.implicit, mm.settledAt = result, implicit, now
	} else if mm.result != result && !implicit {
		f.problems = append(f.problems, fmt.Sprintf("match %s: store returned result %s after %s", mm.rec.ID, result, mm.result))
	}
	for _, u := range []string{mm.rec.A.UserID, mm.rec.B.UserID} {
		if f.claims[u] == mm.rec.ID {
			delete(f.claims, u)
		}
	}
}

func (f *faultStore) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	if err := f.fault(ctx, "active_match", userID); err != nil {
		return persistence.Match{}, err
	}
	return f.Store.ActiveMatch(ctx, userID, since)
}

func (f *faultStore) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	if err := f.fault(ctx, "record_vote", matchID+" "+voter); err != nil {
		return "", err
	}
	stored, err := f.Store.RecordVote(ctx, matchID, voter, choice)
	f.trace.add("store record_vote %s %s %s: %s %v", matchID, voter, choice, stored, err)
	return stored, err
}

func (f *faultStore) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	if err := f.fault(ctx, "votes", matchID); err != nil {
		return nil, err
	}
	return f.Store.Votes(ctx, matchID)
}

func (f *faultStore) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	if err := f.fault(ctx, "record_result", matchID); err != nil {
		return "", err
	}
	f.model.Lock()
	defer f.model.Unlock()
	stored, err := f.Store.RecordResult(ctx, matchID, result)
	if err == nil {
		if mm := f.matches[matchID]; mm != nil {
			if mm.result != "" && mm.result != stored {
				f.problems = append(f.problems, fmt.Sprintf("match %s: RecordResult returned %s, model has %s", matchID, stored, mm.result))
			}
			f.settleModel(mm, stored, false, time.Now())
		} else {
			f.problems = append(f.problems, fmt.Sprintf("match %s: result recorded for a match the store never created", matchID))
		}
	}
	f.trace.add("store record_result %s %s: stored %s %v", matchID, result, stored, err)
	return stored, err
}

func (f *faultStore) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	if err := f.fault(ctx, "match_history", userID); err != nil {
		return nil, err
	}
	return f.Store.MatchHistory(ctx, userID, limit)
}

func (f *faultStore) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	if err := f.fault(ctx, "recent_partners", userID); err != nil {
		return nil, err
	}
	return f.Store.RecentPartners(ctx, userID, since)
}

func (f *faultStore) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	what := fmt.Sprintf("%s %s@%d", e.UserID, e.Pool, e.EnqueuedAt.UnixMilli())
	if err := f.fault(ctx, "put_queue_entry", what); err != nil {
		return err
	}
	err := f.Store.PutQueueEntry(ctx, e)
	f.trace.add("store put_queue_entry %s: %v", what, err)
	return err
}

func (f *faultStore) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	what := fmt.Sprintf("%s @%d", userID, enqueuedAt.UnixMilli())
	if err := f.fault(ctx, "delete_queue_entry", what); err != nil {
		return err
	}
	err := f.Store.DeleteQueueEntry(ctx, userID, enqueuedAt)
	f.trace.add("store delete_queue_entry %s: %v", what, err)
	return err
}

func (f *faultStore) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	if err := f.fault(ctx, "queue_entry", userID); err != nil {
		return persistence.QueueEntry{}, err
	}
	return f.Store.QueueEntry(ctx, userID)
}

func (f *faultStore) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	if err := f.fault(ctx, "queue_entries", pool); err != nil {
		return nil, err
	}
	es, err := f.Store.QueueEntries(ctx, pool, since)
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.UserID
	}
	f.trace.add("store queue_entries %s: %v %v", pool, ids, err)
	return es, err
}

func (f *faultStore) RecordWaitSample(ctx context.Context, s persistence.WaitSample) error {
	if err := f.fault(ctx, "record_wait_sample", s.Pool); err != nil {
		return err
	}
	return f.Store.RecordWaitSample(ctx, s)
}

func (f *faultStore) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if err := f.fault(ctx, "audit", e.Actor); err != nil {
		return err
	}
	return f.Store.Audit(ctx, e)
}

// probeConn is a fake WebSocket connection of one user: a plain actor that
// attaches to the session as transport/ws does (Attach when it starts, a
// heartbeat re-attach every period, Detach when it stops gracefully) and
// records every event it is sent. user, n and pid are static after spawn.
type probeConn struct {
	user string
	n    int64
	pid  *actor.PID

	graceful atomic.Bool // set before a stop that sends Detach

	mu     sync.Mutex
	events []probeEvent // guarded by mu
}

type probeEvent struct {
	at time.Time
	ev *msg.Event
}

func (c *probeConn) name() string { return fmt.Sprintf("%s#%d", c.user, c.n) }

func (c *probeConn) record(ev *msg.Event) {
	c.mu.Lock()
	c.events = append(c.events, probeEvent{at: time.Now(), ev: ev})
	c.mu.Unlock()
}

func (c *probeConn) snapshot() []probeEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]probeEvent(nil), c.events...)
}

// probeTick is a probe connection's heartbeat timer.
type probeTick struct{}

// probeActor is the actor behind a probeConn; stop is owned by Receive.
type probeActor struct {
	c     *probeConn
	sys   *System
	every time.Duration
	trace *traceLog
	stop  func() bool
}

// Receive handles one message.
func (a *probeActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.sys.Deliver(a.c.user, &msg.Attach{Conn: ctx.Self()}, nil)
		a.arm(ctx)
	case probeTick:
		a.sys.Deliver(a.c.user, &msg.Attach{Conn: ctx.Self(), Heartbeat: true}, nil)
		a.arm(ctx)
	case *actor.Stopping:
		if a.stop != nil {
			a.stop()
		}
		if a.c.graceful.Load() {
			a.sys.Deliver(a.c.user, &msg.Detach{Conn: ctx.Self()}, nil)
		}
	case *msg.Event:
		a.c.record(m)
		if _, ok := m.Kind.(*msg.Event_WaitUpdate); !ok {
			a.trace.add("conn %s <- %s", a.c.name(), describe(m))
		}
	}
}

func (a *probeActor) arm(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	t := time.AfterFunc(a.every, func() { root.Send(self, probeTick{}) })
	a.stop = t.Stop
}

// describe is a one-line summary of an event, for traces.
func describe(ev *msg.Event) string {
	ref := ""
	if ev.Ref != "" {
		ref = " ref=" + ev.Ref
	}
	switch k := ev.Kind.(type) {
	case *msg.Event_State:
		s := "state " + k.State.State
		if k.State.Match != nil {
			s += " " + k.State.Match.MatchId
		}
		return s + ref
	case *msg.Event_Queued:
		return fmt.Sprintf("queued pos=%d%s", k.Queued.GetQueue().GetPosition(), ref)
	case *msg.Event_WaitUpdate:
		return "wait_update" + ref
	case *msg.Event_MatchFound:
		m := k.MatchFound.Match
		return fmt.Sprintf("match_found %s (%s+%s)%s", m.GetMatchId(), m.GetA().GetUserId(), m.GetB().GetUserId(), ref)
	case *msg.Event_VoteRecorded:
		return fmt.Sprintf("vote_recorded %s %s%s", k.VoteRecorded.MatchId, k.VoteRecorded.Choice, ref)
	case *msg.Event_MatchResult:
		return fmt.Sprintf("match_result %s %s%s", k.MatchResult.MatchId, k.MatchResult.Result, ref)
	case *msg.Event_Cancelled:
		return "cancelled" + ref
	case *msg.Event_Error:
		return "error " + k.Error.Code + ref
	case *msg.Event_Signal:
		return "signal" + ref
	}
	return fmt.Sprintf("%T%s", ev.Kind, ref)
}

// traceLog is a bounded, timestamped log of what the store, the grains and
// the fake connections did, grepped for the users and matches of a
// violation. Safe for concurrent use.
type traceLog struct {
	start time.Time // static

	mu      sync.Mutex
	lines   []string // guarded by mu
	dropped int      // guarded by mu
	errs    map[string]int
}

const traceMax = 400_000

func newTraceLog() *traceLog { return &traceLog{start: time.Now(), errs: map[string]int{}} }

func (l *traceLog) add(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(l.start).Seconds()) + fmt.Sprintf(format, args...)
	l.mu.Lock()
	if len(l.lines) < traceMax {
		l.lines = append(l.lines, line)
	} else {
		l.dropped++
	}
	l.mu.Unlock()
}

// grep returns the last max lines that mention any of keys.
func (l *traceLog) grep(max int, keys ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		for _, k := range keys {
			if k != "" && strings.Contains(line, k) {
				out = append(out, line)
				break
			}
		}
	}
	if len(out) > max {
		out = append([]string{fmt.Sprintf("... %d earlier lines", len(out)-max)}, out[len(out)-max:]...)
	}
	return out
}

// writeFile writes the whole trace to path.
func (l *traceLog) writeFile(path string) error {
	l.mu.Lock()
	data := strings.Join(l.lines, "\n") + "\n"
	l.mu.Unlock()
	return os.WriteFile(path, []byte(data), 0o644)
}

func (l *traceLog) countErr(m string) {
	l.mu.Lock()
	l.errs[m]++
	l.mu.Unlock()
}

func (l *traceLog) errCounts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.errs))
	for k, v := range l.errs {
		out[k] = v
	}
	return out
}

// traceHandler is a slog.Handler that writes the grains' logs (Info and
// above) into a traceLog and counts the warnings and errors by message.
type traceHandler struct {
	log   *traceLog
	attrs string
}

func (h *traceHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *traceHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("log ")
	b.WriteString(r.Level.String())
	b.WriteString(" ")
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.log.add("%s", b.String())
	if r.Level >= slog.LevelWarn {
		h.log.countErr(r.Level.String() + " " + r.Message)
	}
	return nil
}

func (h *traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return &traceHandler{log: h.log, attrs: b.String()}
}

func (h *traceHandler) WithGroup(string) slog.Handler { return h }
