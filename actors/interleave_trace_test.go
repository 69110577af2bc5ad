package actors

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// The interleaving test's trace (see interleave_test.go): what the store,
// the grains and the fake sockets did, grepped when an invariant breaks,
// and the check that a grain is never active twice at once.

// newTraceLogger is the grains' logger: everything Info and above goes to
// the trace.
func newTraceLogger(l *traceLog) *slog.Logger { return slog.New(&traceHandler{log: l}) }

// activations tracks the live activations of every grain identity, to
// check that a grain is never active twice at once. Safe for concurrent use.
type activations struct {
	mu       sync.Mutex
	live     map[string]map[string]time.Time // guarded by mu: identity -> PID id -> started
	started  int                             // guarded by mu
	overlaps []finding                       // guarded by mu
}

func (a *activations) start(l *traceLog, pid string) {
	ident := grainIdentity(pid)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.started++
	if a.live[ident] == nil {
		a.live[ident] = map[string]time.Time{}
	}
	for other, at := range a.live[ident] {
		text := fmt.Sprintf("%s activated while %s (since %s) is still active", pid, other, at.Format("15:04:05.000"))
		a.overlaps = append(a.overlaps, finding{text: text, keys: []string{ident}})
		l.add("DOUBLE ACTIVATION %s", text)
	}
	a.live[ident][pid] = time.Now()
}

func (a *activations) stop(pid string) {
	ident := grainIdentity(pid)
	a.mu.Lock()
	delete(a.live[ident], pid)
	a.mu.Unlock()
}

// grainIdentity is the identity in a grain PID's id
// ("partition-activator/<identity>$<n>").
func grainIdentity(pid string) string {
	if i := strings.IndexByte(pid, '/'); i >= 0 {
		pid = pid[i+1:]
	}
	if i := strings.LastIndexByte(pid, '$'); i >= 0 {
		pid = pid[:i]
	}
	return pid
}

// traceGrain writes every message a grain activation handles (but the
// periodic chatter) to the trace, with the activation's PID.
func traceGrain(l *traceLog, acts *activations) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			switch m := env.Message.(type) {
			case *actor.Started:
				acts.start(l, c.Self().Id)
				l.add("grain %s <- Started", c.Self().Id)
			case *actor.Stopped:
				acts.stop(c.Self().Id)
				l.add("grain %s <- Stopped", c.Self().Id)
			case *msg.WaitUpdate, *msg.PoolAlive, waitTick, *msg.Ack, *cluster.ClusterInit:
			case *msg.Attach:
				if !m.Heartbeat {
					l.add("grain %s <- attach %s", c.Self().Id, m.Conn.GetId())
				}
			case *msg.Command:
				if !strings.HasPrefix(m.Ref, probeRef) {
					l.add("grain %s <- command %s ref=%s", c.Self().Id, kindName(m), m.Ref)
				}
			case *msg.MatchFound:
				l.add("grain %s <- MatchFound %s", c.Self().Id, m.GetMatch().GetMatchId())
			case *msg.MatchResult:
				l.add("grain %s <- MatchResult %s %s", c.Self().Id, m.MatchId, m.Result)
			case *msg.MatchAborted:
				l.add("grain %s <- MatchAborted %s", c.Self().Id, m.MatchId)
			case *msg.StartMatch:
				l.add("grain %s <- StartMatch %s (%s+%s)", c.Self().Id, m.GetMatch().GetMatchId(), m.GetMatch().GetA().GetUserId(), m.GetMatch().GetB().GetUserId())
			case *msg.Enqueue:
				l.add("grain %s <- Enqueue %s refresh=%v at=%d", c.Self().Id, m.GetWaiter().GetUserId(), m.Refresh, m.GetWaiter().GetEnqueuedAtMs())
			case *msg.Dequeue:
				l.add("grain %s <- Dequeue %s ghost=%v", c.Self().Id, m.UserId, m.Ghost)
			case *msg.MatchOutcome:
				l.add("grain %s <- MatchOutcome %s %s (%s+%s)", c.Self().Id, m.MatchId, m.Result, m.A, m.B)
			case *msg.Resume:
				l.add("grain %s <- Resume %s", c.Self().Id, m.Pool)
			case *msg.QueueStatus, *msg.PoolStatsRequest:
			default:
				l.add("grain %s <- %T", c.Self().Id, m)
			}
			next(c, env)
		}
	}
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
