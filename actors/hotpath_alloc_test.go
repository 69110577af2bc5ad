package actors

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// eventSink is a socket's Connection process stripped to its events: it
// hands every event its session sends to a channel, as the real one hands
// them to the socket's writer.
type eventSink struct{ events chan *msg.Event }

func (s *eventSink) SendUserMessage(_ *actor.PID, m any) {
	if ev, ok := actor.UnwrapEnvelopeMessage(m).(*msg.Event); ok {
		s.events <- ev
	}
}
func (s *eventSink) SendSystemMessage(*actor.PID, any) {}
func (s *eventSink) Stop(*actor.PID)                   {}

// datePair is two users of the date test, each with a socket.
type datePair struct {
	ids   [2]string
	conns [2]*actor.PID
	sinks [2]*eventSink
}

// waitEvent reads sink's events until one satisfies ok, within a deadline.
func waitEvent(tb testing.TB, sink *eventSink, what string, ok func(*msg.Event) bool) *msg.Event {
	tb.Helper()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case ev := <-sink.events:
			if ok(ev) {
				return ev
			}
		case <-t.C:
			tb.Fatalf("no %s within 10 s", what)
			return nil
		}
	}
}

// date runs one whole date of p over the Router, as two sockets would: both
// spin, both get match_found, both vote, both get match_result.
func (p *datePair) date(tb testing.TB, r *Router) {
	tb.Helper()
	for i := range p.ids {
		r.Send(KindUserSession, p.ids[i], &msg.Command{Conn: p.conns[i], Ref: "s", Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}})
	}
	var matchID string
	for i := range p.ids {
		ev := waitEvent(tb, p.sinks[i], "match_found", func(ev *msg.Event) bool {
			if e := ev.GetError(); e != nil {
				tb.Fatalf("%s: error %s: %s", p.ids[i], e.Code, e.Message)
			}
			return ev.GetMatchFound() != nil
		})
		matchID = ev.GetMatchFound().GetMatch().GetMatchId()
	}
	for i := range p.ids {
		r.Send(KindUserSession, p.ids[i], &msg.Command{Conn: p.conns[i], Ref: "v", Kind: &msg.Command_Vote{Vote: &msg.Vote{MatchId: matchID, Choice: "no"}}})
	}
	for i := range p.ids {
		waitEvent(tb, p.sinks[i], "match_result", func(ev *msg.Event) bool { return ev.GetMatchResult() != nil })
	}
}

// dateNode starts one node on the embedded store with n pairs of users
// attached to sinks, each pair through one warm-up date.
func dateNode(tb testing.TB, n int) (*Router, []*datePair) {
	tb.Helper()
	cfg := TestConfig()
	cfg.RematchCooldown = 0
	d := &Deps{Config: cfg, Store: memory.New(), StoreNeverBlocks: true, Logger: clustertest.Logger(), Metrics: NewMetrics(prometheus.NewRegistry())}
	node := clustertest.Local(tb, Kinds(d)...)
	sys := NewSystem(node.Cluster(), d)
	as := node.Cluster().ActorSystem
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pairs := make([]*datePair, n)
	for k := range pairs {
		p := &datePair{}
		for i, g := range [2][2]string{{"male", "female"}, {"female", "male"}} {
			p.ids[i] = fmt.Sprintf("u%d-%d", k, i)
			if r, err := sys.PutProfile(ctx, p.ids[i], &msg.ProfileData{DisplayName: p.ids[i], Gender: g[0], Seeking: []string{g[1]}, Pool: fmt.Sprintf("p%d", k)}); err != nil || r.Error != nil {
				tb.Fatalf("profile %s: %v %v", p.ids[i], err, r.GetError())
			}
			p.sinks[i] = &eventSink{events: make(chan *msg.Event, 64)}
			p.conns[i], _ = as.ProcessRegistry.Add(p.sinks[i], as.ProcessRegistry.NextId())
			d.Router.Send(KindUserSession, p.ids[i], &msg.Attach{Conn: p.conns[i]})
			waitEvent(tb, p.sinks[i], "state", func(ev *msg.Event) bool { return ev.GetState() != nil })
		}
		p.date(tb, d.Router)
		pairs[k] = p
	}
	return d.Router, pairs
}

// TestDateAllocations bounds what one whole date (two spins, two
// match_found, two votes, two match_result) allocates on one node on the
// embedded store, sockets aside: the garbage collector's share of a
// node's CPU follows it. The figures are logged; the bounds sit above
// them with room for the runtime's noise, and below what the hot path
// allocated before the context timers and acknowledgement entries went.
func TestDateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster node")
	}
	r, pairs := dateNode(t, 64) // 63 dates a user: within the test budgets' burst
	const dates = 400 * 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range dates {
		pairs[i%len(pairs)].date(t, r)
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / dates
	bytes := float64(after.TotalAlloc-before.TotalAlloc) / dates
	t.Logf("one date: %.0f allocations, %.0f bytes", allocs, bytes)
	if allocs > dateAllocBound || bytes > dateBytesBound {
		t.Errorf("one date allocates %.0f times, %.0f bytes; bounds %d and %d", allocs, bytes, dateAllocBound, dateBytesBound)
	}
}

// The bounds of TestDateAllocations: 370 allocations and 23.3 KB a date
// before the hot path's cuts (a context timer per store call and request,
// three allocations per routed send, a PID copy per cache hit and per
// timer, protoactor's owner computation per send), 219 and 15.2 KB after
// (226 and 16.1 KB under -race).
const (
	dateAllocBound = 280
	dateBytesBound = 19500
)
