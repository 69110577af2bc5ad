package actors

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/gopool"
)

// Grain kind names, as registered with the cluster.
const (
	KindUserSession = "UserSession"
	KindMatchPool   = "MatchPool"
	KindMatch       = "Match"
	// KindPoolDirectory lists the cluster's pools (one grain, DirectoryID).
	KindPoolDirectory = "PoolDirectory"
	// KindLimiter is declared in limiter.go.
)

// Deps is what every grain needs. Static after construction.
type Deps struct {
	Config  Config
	Store   Store
	Logger  *slog.Logger
	Metrics *Metrics
	// Samples writes wait samples; nil means they are not stored.
	Samples *SampleWriter
	// AlertsFired, when set, counts the alerts that fired in [start, end)
	// for the reports; nil means 0 (the hook the alerts work wires). Set
	// it before the cluster starts, like every field: the Reports grain
	// may activate at once.
	AlertsFired func(ctx context.Context, start, end time.Time) (int, error)
	// Now is the clock; zero means time.Now.
	Now func() time.Time
	// NewID returns a fresh match id; zero means a random 128-bit hex id.
	NewID func() string
	// Router delivers every grain message; Attach it to the cluster before
	// the first grain activates.
	Router *Router
	// OnPanic, when set, is told of a grain panic (for Sentry) before the
	// supervisor restarts the grain.
	OnPanic func(recovered any)
	// Alerts, when set, is told of each alert change on the node hosting
	// the Alerts grain; AlertMetrics, when set, counts the firing alerts.
	Alerts       AlertSink
	AlertMetrics *AlertMetrics

	// StoreNeverBlocks says Store answers every call at once, without I/O
	// or waiting on anything but its own short critical sections (the
	// embedded store): its calls then get no deadline, and so no context
	// timer each (callCtx). Leave it false for any store that may wait,
	// and for a store wrapped by a test to block or fail.
	StoreNeverBlocks bool

	// NodeName is this node's name in the cluster (SPIN_NODE_NAME), as the
	// admin snapshot lists it; empty: the actor system id.
	NodeName string

	hooks *testHooks // tests only; nil otherwise
	// sessions counts this node's UserSession activations (for the admin
	// snapshot; the Sessions gauge is the metric).
	sessions atomic.Int64
	// spins counts the spins this node's sessions took (System.Spins).
	spins atomic.Int64
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// noCancel is the cancel of a context callCtx did not derive.
func noCancel() {}

// callCtx returns the context for a grain's store calls and requests on
// parent, and its cancel: bounded by the request timeout, unless the
// store never blocks (StoreNeverBlocks), when it is parent itself, so
// that a call allocates no timer (a request is then bounded by its own
// timeout, Ask's, which needs no context timer either).
func (d *Deps) callCtx(parent context.Context) (context.Context, context.CancelFunc) {
	if d.StoreNeverBlocks {
		return parent, noCancel
	}
	return context.WithTimeout(parent, d.Config.RequestTimeout)
}

// Kinds returns the grain kinds every node hosts.
func Kinds(d *Deps) []*cluster.Kind {
	mw := actor.WithReceiverMiddleware(ackOneWay, reportPanics(d))
	// Mailboxes run on pooled goroutines (see gopool), 300 messages a run
	// as protoactor's default dispatcher does.
	dp := actor.WithDispatcher(gopool.NewDispatcher(gopool.Default, 300))
	return []*cluster.Kind{
		cluster.NewKind(KindUserSession, actor.PropsFromProducer(func() actor.Actor { return newSession(d) }, mw, dp)),
		cluster.NewKind(KindMatchPool, actor.PropsFromProducer(func() actor.Actor { return newMatchPool(d) }, mw, dp)),
		cluster.NewKind(KindMatch, actor.PropsFromProducer(func() actor.Actor { return newMatchGrain(d) }, mw, dp)),
		cluster.NewKind(KindPoolDirectory, actor.PropsFromProducer(func() actor.Actor { return newDirectory(d) }, mw, dp)),
		cluster.NewKind(KindLimiter, actor.PropsFromProducer(func() actor.Actor { return newLimiter(d) }, mw, dp)),
		cluster.NewKind(KindReports, actor.PropsFromProducer(func() actor.Actor { return newReportsGrain(d) }, mw, dp)),
		cluster.NewKind(KindAlerts, actor.PropsFromProducer(func() actor.Actor { return newAlertsGrain(d) }, mw, dp)),
	}
}

// reportPanics tells d.OnPanic of a panic in a grain's Receive, then lets
// the panic go on to the supervisor (which restarts the grain).
func reportPanics(d *Deps) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				if r := recover(); r != nil {
					d.Logger.Error("grain panic", "self", c.Self().String(), "panic", r, "reported", d.OnPanic != nil)
					if d.OnPanic != nil {
						d.OnPanic(r)
					}
					panic(r)
				}
			}()
			next(c, env)
		}
	}
}

// ask sends m to a grain through the Router and waits for its reply,
// within timeout.
func ask[R proto.Message](ctx context.Context, d *Deps, identity, kind string, m proto.Message, timeout time.Duration) (R, error) {
	return Ask[R](ctx, d.Router, kind, identity, m, timeout)
}

// rearmIdle sets the grain's receive timeout again after a ReceiveTimeout
// that found the grain busy: protoactor fires it once and then cancels it
// (actorContext.receiveTimeoutHandler), so without this a grain that was
// busy at its first check would never passivate.
func rearmIdle(ctx actor.Context, d time.Duration) { ctx.SetReceiveTimeout(d) }

// after sends m to self after d, from a timer goroutine. The returned func
// stops the timer. self must be a bare PID (bareSelf), which the timer
// holds: a stopped timer may linger in the runtime's timer heap for a
// while, and a PID that caches its process (ctx.Self(), or any PID once
// Root.Send sent to it) would keep a stopped grain's whole state alive.
// The timer sends with sendTo, which never caches the process; a grain
// keeps one bare copy of itself for all its timers (a copy per timer was
// a third of what a timer allocated).
func after(sys *actor.ActorSystem, self *actor.PID, d time.Duration, m any) func() bool {
	t := time.AfterFunc(d, func() { sendTo(sys, self, m) })
	return t.Stop
}

// bareSelf returns a bare copy (address and id only) of the grain's PID,
// for its timers (after) and its sends to itself through sendTo.
func bareSelf(ctx actor.Context) *actor.PID {
	p := ctx.Self()
	return actor.NewPID(p.Address, p.Id)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }
