package actors

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
)

// Grain kind names, as registered with the cluster.
const (
	KindUserSession = "UserSession"
	KindMatchPool   = "MatchPool"
	KindMatch       = "Match"
	// KindPoolDirectory lists the cluster's pools (one grain, DirectoryID).
	KindPoolDirectory = "PoolDirectory"
)

// Deps is what every grain needs. Static after construction.
type Deps struct {
	Config  Config
	Store   Store
	Logger  *slog.Logger
	Metrics *Metrics
	// Samples writes wait samples; nil means they are not stored.
	Samples *SampleWriter
	// Now is the clock; zero means time.Now.
	Now func() time.Time
	// NewID returns a fresh match id; zero means a random 128-bit hex id.
	NewID func() string
	// OnPanic, when set, is told of a grain panic (for Sentry) before the
	// supervisor restarts the grain.
	OnPanic func(recovered any)
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Kinds returns the grain kinds every node hosts.
func Kinds(d *Deps) []*cluster.Kind {
	mw := actor.WithReceiverMiddleware(reportPanics(d))
	return []*cluster.Kind{
		cluster.NewKind(KindUserSession, actor.PropsFromProducer(func() actor.Actor { return newSession(d) }, mw)),
		cluster.NewKind(KindMatchPool, actor.PropsFromProducer(func() actor.Actor { return newMatchPool(d) }, mw)),
		cluster.NewKind(KindMatch, actor.PropsFromProducer(func() actor.Actor { return newMatchGrain(d) }, mw)),
		cluster.NewKind(KindPoolDirectory, actor.PropsFromProducer(func() actor.Actor { return newDirectory(d) }, mw)),
	}
}

// reportPanics tells d.OnPanic of a panic in a grain's Receive, then lets
// the panic go on to the supervisor (which restarts the grain).
func reportPanics(d *Deps) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				if r := recover(); r != nil {
					d.Logger.Error("grain panic", "self", c.Self().String(), "panic", r)
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

// grainPID finds (activating if need be) a grain, through the cluster's PID
// cache. It blocks while the identity lookup asks the owner node.
func grainPID(c *cluster.Cluster, identity, kind string) (*actor.PID, error) {
	if pid, ok := c.PidCache.Get(identity, kind); ok && pid != nil {
		return pid, nil
	}
	pid := c.Get(identity, kind)
	if pid == nil {
		return nil, fmt.Errorf("grain %s/%s: no activation", kind, identity)
	}
	c.PidCache.Set(identity, kind, pid)
	return pid, nil
}

// tell sends m to a grain without waiting; failures are logged.
func tell(c *cluster.Cluster, log *slog.Logger, identity, kind string, m proto.Message) {
	pid, err := grainPID(c, identity, kind)
	if err != nil {
		log.Warn("tell: grain lookup failed", "kind", kind, "id", identity, "err", err)
		return
	}
	c.ActorSystem.Root.Send(pid, m)
}

// ask sends m to a grain and waits for its reply, retrying through the
// cluster's request path (which drops stale cached PIDs).
func ask[R proto.Message](ctx context.Context, c *cluster.Cluster, identity, kind string, m proto.Message, timeout time.Duration) (R, error) {
	var zero R
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return zero, fmt.Errorf("ask %s/%s: %w", kind, identity, context.DeadlineExceeded)
	}
	res, err := c.Request(identity, kind, m, cluster.WithTimeout(timeout))
	if err != nil {
		return zero, fmt.Errorf("ask %s/%s: %w", kind, identity, err)
	}
	r, ok := res.(R)
	if !ok {
		return zero, fmt.Errorf("ask %s/%s: unexpected reply %T", kind, identity, res)
	}
	return r, nil
}

// after sends m to self after d, from a timer goroutine. The returned func
// stops the timer.
func after(sys *actor.ActorSystem, self *actor.PID, d time.Duration, m any) func() bool {
	t := time.AfterFunc(d, func() { sys.Root.Send(self, m) })
	return t.Stop
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }
