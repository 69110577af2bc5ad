package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
)

// KindLimiter is the grain kind of per-address limits: one grain per client
// address in the whole cluster (identity "ip:<addr>", transport/clientip.Key),
// so every node spends from the same budget.
const KindLimiter = "Limiter"

// LimitConfig configures the limits (SPIN_LIMIT_*). Zero durations mean
// the defaults.
type LimitConfig struct {
	limit.Budgets
	// Timeout bounds one request to a Limiter grain. A check that gets no
	// answer in time fails open (see System.TakeAddress). Zero: 300 ms.
	Timeout time.Duration
	// LeaseTTL is how long a socket's per-address lease lives unless its
	// node renews it (every third of it). Zero: 30 s.
	LeaseTTL time.Duration
	// Idle is how long a Limiter grain waits for a message before it checks
	// whether it can passivate (and again after each check that finds it
	// busy). Zero: 30 s.
	Idle time.Duration
}

func (c LimitConfig) idle() time.Duration {
	if c.Idle <= 0 {
		return 30 * time.Second
	}
	return c.Idle
}

func (c LimitConfig) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 300 * time.Millisecond
	}
	return c.Timeout
}

// LeaseEvery returns how often a socket's lease is renewed.
func (c LimitConfig) LeaseEvery() time.Duration { return c.leaseTTL() / 3 }

func (c LimitConfig) leaseTTL() time.Duration {
	if c.LeaseTTL <= 0 {
		return 30 * time.Second
	}
	return c.LeaseTTL
}

// limiter is the Limiter grain: the per-address budgets and socket leases
// of one client address. Its table is bounded by construction: one GCRA per
// action and at most limit.Leases' hard bound of leases. It passivates
// when it holds nothing worth keeping, so an address that stops sending
// costs nothing after a while. All fields are owned by Receive.
//
// Its state is soft: a move (its node died) loses it, which refills the
// budgets once and drops the leases until the sockets' next renewals
// bring them back (limit.Leases.Renew).
type limiter struct {
	d      *Deps
	id     string
	set    limit.Set
	leases limit.Leases
}

func newLimiter(d *Deps) actor.Actor { return &limiter{d: d} }

// logger returns the node's logger with the grain's kind and address
// (made only when something is logged: one grain per client address).
func (g *limiter) logger() *slog.Logger {
	return g.d.Logger.With("grain", KindLimiter, "id", g.id)
}

// Receive handles one message.
func (g *limiter) Receive(ctx actor.Context) {
	g.d.hooks.receive(KindLimiter, g.id, ctx.Message())
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.id = cluster.GetClusterIdentity(ctx).GetIdentity()
		ctx.SetReceiveTimeout(g.d.Config.Limits.idle())
	case *actor.ReceiveTimeout:
		if g.idle() {
			ctx.Poison(ctx.Self())
			return
		}
		rearmIdle(ctx, g.d.Config.Limits.idle())
	case *msg.LimitTake:
		ctx.Respond(g.take(m))
		g.stray(ctx)
	case *msg.LeaseRenew:
		cfg := g.d.Config.Limits
		ok := g.leases.Renew(m.LeaseId, cfg.SocketsPerAddress, cfg.leaseTTL(), g.d.now())
		ctx.Respond(&msg.LimitReply{Allowed: ok})
		g.stray(ctx)
	case *msg.LeaseRelease:
		g.leases.Release(m.LeaseId)
	case *actor.Stopping, *actor.Stopped, *actor.Restarting, *cluster.ClusterInit:
	default:
		g.logger().Warn("limiter: unknown message", "type", fmt.Sprintf("%T", m))
	}
}

// idle reports whether the grain holds nothing worth keeping: every budget
// full and no live lease (it may passivate).
func (g *limiter) idle() bool {
	now := g.d.now()
	g.leases.Prune(now)
	return g.leases.Len() == 0 && g.set.Full(now)
}

func (g *limiter) take(m *msg.LimitTake) *msg.LimitReply {
	a, ok := limit.ParseAction(m.Action)
	if !ok {
		return &msg.LimitReply{Allowed: true}
	}
	now := g.d.now()
	cfg := g.d.Config.Limits
	r := decisionReply(g.set.Take(&cfg.Address, a, now))
	if r.Allowed && m.LeaseId != "" && !g.leases.Acquire(m.LeaseId, cfg.SocketsPerAddress, cfg.leaseTTL(), now) {
		r.Allowed, r.LeaseRefused = false, true
		r.RetryAfterS = cfg.LeaseEvery().Seconds() // a lease may free by then
	}
	return r
}

// stray stops an activation this node made for an address another node
// owns (a lagging view), after answering: the next request goes to the
// owner, so two activations never split one address's budget for long.
func (g *limiter) stray(ctx actor.Context) {
	if !g.d.Router.Owns(KindLimiter, g.id) {
		ctx.Poison(ctx.Self())
	}
}

func decisionReply(d limit.Decision) *msg.LimitReply {
	return &msg.LimitReply{
		Allowed: d.Allowed, Remaining: int32(min(d.Remaining, 1<<30)),
		RetryAfterS: d.RetryAfter.Seconds(), ResetS: d.Reset.Seconds(),
	}
}

// Decision returns a reply as a limit.Decision.
func Decision(r *msg.LimitReply) limit.Decision {
	return limit.Decision{
		Allowed: r.Allowed, Remaining: int(r.Remaining),
		RetryAfter: time.Duration(r.RetryAfterS * float64(time.Second)),
		Reset:      time.Duration(r.ResetS * float64(time.Second)),
	}
}

// rateLimitedError is the client-facing refusal, with the wait.
func rateLimitedError(wait time.Duration) *msg.Error {
	e := NewError(CodeRateLimited, "You're going a bit fast. Please wait a moment and try again.")
	e.RetryAfterS = max(wait.Seconds(), 0.001)
	return e
}

// TakeAddress spends one event of action a from the address budget of the
// Limiter grain key (clientip.Key); with lease set, it also takes a socket
// lease under the address's cap. One grain request.
//
// A limiter that cannot be reached within LimitConfig.Timeout fails OPEN:
// the event is allowed, counted in spinmatch_rate_limiter_unavailable_total
// and logged (at most once a second). Per-user limits still hold in the
// UserSession and the socket cap per user in it too, so an attacker gains
// little while a limiter's node is lost; failing closed would refuse every
// client whose address hashed to the lost node, for as long as the cluster
// takes to notice (about a second), which is worse for everyone else.
//
// capped reports a refusal by the socket cap (the budget allowed it).
func (s *System) TakeAddress(ctx context.Context, key string, a limit.Action, lease string) (d limit.Decision, capped bool) {
	if s.d.Config.Limits.Address[a].Unlimited() && (lease == "" || s.d.Config.Limits.SocketsPerAddress <= 0) {
		return limit.Decision{Allowed: true, Remaining: 1 << 30}, false
	}
	owner := s.d.Router.Owner(KindLimiter, key)
	if s.limiterDown(owner) {
		s.failOpen(a, errLimiterDown)
		return limit.Decision{Allowed: true}, false
	}
	t := s.d.Config.Limits.timeout()
	c, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	r, err := ask[*msg.LimitReply](c, s.d, key, KindLimiter, &msg.LimitTake{Action: a.String(), LeaseId: lease}, t)
	if err != nil {
		if ctx.Err() == nil { // not the caller giving up
			s.markLimiterDown(owner)
		}
		s.failOpen(a, err)
		return limit.Decision{Allowed: true}, false
	}
	if !r.Allowed {
		counted := a
		if r.LeaseRefused {
			counted = limit.Sockets
		}
		s.d.Metrics.RateLimited.WithLabelValues(limit.Address.String(), counted.String()).Inc()
	}
	return Decision(r), r.LeaseRefused
}

// RenewLease extends a socket's per-address lease; it reports false only
// when the grain answered that the lease cannot be held (a fault answers
// true: fail open, as TakeAddress).
func (s *System) RenewLease(ctx context.Context, key, lease string) bool {
	t := s.d.Config.Limits.timeout()
	c, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	r, err := ask[*msg.LimitReply](c, s.d, key, KindLimiter, &msg.LeaseRenew{LeaseId: lease}, t)
	if err != nil {
		s.failOpen(limit.Upgrade, err)
		return true
	}
	return r.Allowed
}

// ReleaseLease drops a socket's lease (delivered by the Router, resent
// until acknowledged; an undeliverable one expires with its TTL).
func (s *System) ReleaseLease(key, lease string) {
	s.d.Router.Send(KindLimiter, key, &msg.LeaseRelease{LeaseId: lease})
}

// TakeUser spends one event of action a from userID's per-user budget in
// their UserSession. The session is the user's own state: a session that
// cannot be reached fails the caller's request anyway, so an error here is
// returned (the caller answers unavailable).
func (s *System) TakeUser(ctx context.Context, userID string, a limit.Action) (limit.Decision, error) {
	if s.d.Config.Limits.User[a].Unlimited() {
		return limit.Decision{Allowed: true, Remaining: 1 << 30}, nil
	}
	r, err := ask[*msg.LimitReply](ctx, s.d, userID, KindUserSession, &msg.LimitTake{Action: a.String()}, s.d.Config.RequestTimeout)
	if err != nil {
		return limit.Decision{}, err
	}
	return Decision(r), nil
}

// Limits returns the configured limits.
func (s *System) Limits() LimitConfig { return s.d.Config.Limits }

// CountRejected counts a refusal decided outside the grains (a full
// per-connection queue, a per-address cap on this node).
func (s *System) CountRejected(scope limit.Scope, a limit.Action) {
	s.d.Metrics.RateLimited.WithLabelValues(scope.String(), a.String()).Inc()
}

// limiterBackoff is how long the checks whose Limiter grains live on a
// node that just failed one fail open at once, without waiting: the node
// is probably lost, and a socket's reader must not wait out the timeout on
// every frame until the cluster declares it dead.
const limiterBackoff = time.Second

var errLimiterDown = errors.New("limiter node failed a check less than a second ago")

// limiterDown reports whether a check to a Limiter grain on owner failed
// within limiterBackoff.
func (s *System) limiterDown(owner string) bool {
	s.downMu.Lock()
	defer s.downMu.Unlock()
	at, ok := s.limiterFailed[owner]
	if ok && time.Since(at) >= limiterBackoff {
		delete(s.limiterFailed, owner)
		return false
	}
	return ok
}

func (s *System) markLimiterDown(owner string) {
	s.downMu.Lock()
	defer s.downMu.Unlock()
	if s.limiterFailed == nil || len(s.limiterFailed) > 1024 {
		s.limiterFailed = map[string]time.Time{} // bounded by the members; reset if not
	}
	s.limiterFailed[owner] = time.Now()
}

func (s *System) failOpen(a limit.Action, err error) {
	s.d.Metrics.LimiterUnavailable.WithLabelValues(a.String()).Inc()
	now := time.Now().UnixNano()
	last := s.limiterWarned.Load()
	if now-last > int64(time.Second) && s.limiterWarned.CompareAndSwap(last, now) {
		s.d.Logger.Warn("limiter unreachable; allowing (fail open)", "action", a.String(), "err", err)
	}
}

// The bounded work queues that user input can fill (QueueFull's labels).
const (
	// QueueSocketCommands: a socket's commands sent to its session and
	// not yet processed (transport/ws).
	QueueSocketCommands = "socket_commands"
	// QueueRESTAddress: one address's REST requests in flight on a node
	// (transport/api).
	QueueRESTAddress = "rest_address"
	// QueueRESTUser: one user's REST requests in flight on a node.
	QueueRESTUser = "rest_user"
)

// CountQueueFull counts a request refused because a bounded per-user or
// per-address work queue was full.
func (s *System) CountQueueFull(queue string) {
	s.d.Metrics.QueueFull.WithLabelValues(queue).Inc()
}
