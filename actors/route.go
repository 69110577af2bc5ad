package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/msg"
)

// The Router is how every message reaches a grain. protoactor's own path
// (Cluster.Request and its PID cache) trusts a cached PID until a request
// to it times out, waits out the whole timeout on a dead node, grows its
// cache without bound, and offers nothing for one-way sends: a Send to a
// passivated grain is dropped without a word. The Router instead
//
//   - resolves a grain from its own rendezvous view of the topology, so a
//     PID whose node left, or whose identity moved to a node that joined,
//     is never used (the cache is bounded and checked against the owner);
//   - sends every one-way message as a request that the receiving grain
//     acknowledges after processing it (ackOneWay), and resends it through
//     a fresh lookup when it comes back as a dead letter (the grain
//     passivated or moved) or when the target node leaves the topology
//     while the message is unacknowledged; a message that cannot be
//     delivered by DeliveryTimeout is counted and logged, never dropped
//     silently;
//   - fails a request over in the same way, so a request to a dead node
//     waits only until the node is declared dead, then goes to the new
//     owner.
//
// Resends go to a fresh activation (the old one is gone, or never got the
// message), and every grain message is idempotent there: queue places
// carry their enqueue time, matches their id, votes are first-wins.
//
// Concurrency: safe for concurrent use. Topology state is guarded by mu;
// the cache has its own lock.
type Router struct {
	// Static after NewRouter.
	log     *slog.Logger
	metrics *Metrics
	// lookupTimeout bounds one activation request; deliver bounds a send.
	lookupTimeout time.Duration
	deliver       time.Duration
	cache         *pidCache
	// graceful, when set, tells whether a node that left the topology left
	// gracefully (see goneGrace); nil means assume it did.
	graceful func(addr string) bool

	// attached is closed by Attach; the fields below it are set once
	// before and read-only afterwards.
	attached chan struct{}
	sys      *actor.ActorSystem
	self     string
	sub      *eventstream.Subscription
	acks     *acks // set by Attach: every send's acknowledgement and every request's answer

	mu  sync.RWMutex
	rdv *cluster.Rendezvous // guarded by mu: owner of each identity
	// solo is set while the topology has one member: the address of that
	// member by each kind it hosts, the owner of every grain of the kind
	// (nil otherwise). protoactor's Rendezvous allocates a member list,
	// an address string and an identity for every owner it computes, and
	// the Router asks for the owner at every send. Guarded by mu.
	solo    map[string]string
	members map[string]string // guarded by mu: member address -> member id
	changed chan struct{}     // guarded by mu: closed at the next topology change
	hooks   []func()          // guarded by mu: run (in a goroutine) after each change
	// gotEvent is set by the first topology event; guarded by mu.
	gotEvent bool

	// pending holds, by kind/id, the sends waiting for a lookup that runs
	// in its own goroutine (SendThen), in the order they were made.
	pendMu  sync.Mutex
	pending map[string][]pendingSend // guarded by pendMu
}

// pendingSend is a send waiting for its target's lookup.
type pendingSend struct {
	m      proto.Message
	ctx    context.Context
	cancel context.CancelFunc
	done   func(bool)
}

// placementActor is the name of each node's activator (cluster/placement.go).
const placementActor = "partition-activator" // cluster.ActivatorName

// pidCacheSize bounds the Router's PID cache.
const pidCacheSize = 1 << 17

var (
	errNoOwner    = errors.New("no cluster member hosts this grain kind yet")
	errMemberGone = errors.New("the grain's node left the cluster")
)

// NewRouter returns a Router; Attach connects it to the started cluster.
func NewRouter(cfg Config, log *slog.Logger, m *Metrics) *Router {
	deliver := cfg.DeliveryTimeout
	if deliver <= 0 {
		deliver = DefaultConfig().DeliveryTimeout
	}
	return &Router{
		log:           log,
		metrics:       m,
		lookupTimeout: cfg.RequestTimeout,
		deliver:       deliver,
		cache:         newPIDCache(pidCacheSize),
		rdv:           cluster.NewRendezvous(),
		members:       map[string]string{},
		changed:       make(chan struct{}),
		attached:      make(chan struct{}),
	}
}

// Attach follows c's topology from now on. Call it once, right after the
// cluster member started and before any grain is asked for.
func (r *Router) Attach(c *cluster.Cluster) {
	r.sys = c.ActorSystem
	r.self = c.ActorSystem.Address()
	r.acks = newAcks(r)
	r.sub = c.ActorSystem.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*cluster.ClusterTopology); ok {
			r.setMembers(t.Members, true)
		}
	})
	// The view before the first event (a topology event that came in
	// meanwhile is newer and wins).
	if set := c.MemberList.Members(); set != nil {
		r.setMembers(set.Members(), false)
	}
	close(r.attached)
}

// ready waits for Attach (grains on this node may be asked for while the
// cluster member is still starting).
func (r *Router) ready(ctx context.Context) error {
	select {
	case <-r.attached:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("router not attached: %w", ctx.Err())
	}
}

// Detach stops following the topology.
func (r *Router) Detach() {
	if r.sys != nil && r.sub != nil {
		r.sys.EventStream.Unsubscribe(r.sub)
	}
}

// SetDepartures tells the Router how to learn whether a node that left
// did so gracefully (cluster.Node.LeftGracefully). Call before Attach.
func (r *Router) SetDepartures(graceful func(addr string) bool) { r.graceful = graceful }

// OnChange registers f to run (in its own goroutine) after every topology
// change.
func (r *Router) OnChange(f func()) {
	r.mu.Lock()
	r.hooks = append(r.hooks, f)
	r.mu.Unlock()
}

func (r *Router) setMembers(ms []*cluster.Member, fromEvent bool) {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(ms)
	set := make(map[string]string, len(ms))
	for _, m := range ms {
		set[m.Address()] = m.Id
	}
	var solo map[string]string
	if len(ms) == 1 {
		solo = make(map[string]string, len(ms[0].Kinds))
		for _, k := range ms[0].Kinds {
			solo[k] = ms[0].Address()
		}
	}
	r.mu.Lock()
	if !fromEvent && r.gotEvent {
		r.mu.Unlock()
		return
	}
	r.gotEvent = r.gotEvent || fromEvent
	// A member restarted at the same address has a new id: a change.
	same := len(set) == len(r.members)
	for a, id := range set {
		same = same && r.members[a] == id
	}
	if same {
		r.mu.Unlock()
		return
	}
	r.rdv, r.members, r.solo = rdv, set, solo
	close(r.changed)
	r.changed = make(chan struct{})
	hooks := r.hooks
	r.mu.Unlock()
	r.log.Info("router: topology changed", "members", len(set))
	if r.acks != nil {
		r.acks.topologyChanged()
	}
	for _, h := range hooks {
		go h()
	}
}

// Owner returns the address of the node that owns kind/id in the current
// topology ("" when no member hosts the kind).
func (r *Router) Owner(kind, id string) string {
	r.mu.RLock()
	rdv, solo := r.rdv, r.solo
	r.mu.RUnlock()
	return ownerIn(rdv, solo, kind, id)
}

// ownerIn is the owner of kind/id in one topology (rdv, and solo when it
// has one member).
func ownerIn(rdv *cluster.Rendezvous, solo map[string]string, kind, id string) string {
	if solo != nil {
		return solo[kind]
	}
	return rdv.GetByClusterIdentity(&cluster.ClusterIdentity{Identity: id, Kind: kind})
}

// OwnerMember returns the member id of the node that owns kind/id in the
// current topology ("" when no member hosts the kind). Unlike the
// address, it changes when the owner restarts at the same address.
func (r *Router) OwnerMember(kind, id string) string {
	r.mu.RLock()
	rdv, solo, members := r.rdv, r.solo, r.members
	r.mu.RUnlock()
	return members[ownerIn(rdv, solo, kind, id)]
}

// Owns reports whether this node owns kind/id in its current view. A grain
// that finds itself not owned (a lagging node activated it here, or its
// identity moved to a node that joined) stops: its owner restores from
// the store.
func (r *Router) Owns(kind, id string) bool {
	owner := r.Owner(kind, id)
	return owner == "" || owner == r.self
}

// Changed returns a channel that is closed at the next topology change.
func (r *Router) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}

// memberAt returns the id of the member at addr ("" when none).
func (r *Router) memberAt(addr string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.members[addr]
}

// lookup returns the live activation of kind/id, activating it on its
// owner if need be. It waits for a topology while there is none.
func (r *Router) lookup(ctx context.Context, kind, id string) (*actor.PID, error) {
	key := kind + "/" + id
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	for {
		changed := r.Changed()
		owner := r.Owner(kind, id)
		if owner == "" {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("lookup %s: %w (%w)", key, errNoOwner, ctx.Err())
			}
		}
		if pid := r.cache.get(key); pid != nil && pid.Address == owner {
			return pid, nil
		}
		req := &cluster.ActivationRequest{ClusterIdentity: cluster.NewClusterIdentity(id, kind)}
		f := r.sys.Root.RequestFuture(actor.NewPID(owner, placementActor), req, r.lookupTimeout)
		res, err := r.await(ctx, f, owner, goneGrace)
		if errors.Is(err, errMemberGone) || errors.Is(err, actor.ErrDeadLetter) {
			if werr := r.backoff(ctx, 0); werr != nil {
				return nil, fmt.Errorf("lookup %s: %w", key, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lookup %s: %w", key, err)
		}
		a, ok := res.(*cluster.ActivationResponse)
		if !ok || a.Pid == nil {
			return nil, fmt.Errorf("lookup %s: no activation (reply %T)", key, res)
		}
		r.cache.put(key, a.Pid)
		return a.Pid, nil
	}
}

// goneGrace is how long await still waits for an answer once the target's
// node has left the topology gracefully: such a node finishes what it was
// handling and answers (its stop lingers for longer than this), and
// resending something it already did would repeat it. A node declared
// dead, or seen back at its address as a new incarnation, gets no grace:
// the process asked is gone.
const goneGrace = 500 * time.Millisecond

// commandGrace is goneGrace for a client command, which must never run
// twice: a spin resent to the new owner while the leaving node still runs
// it is answered by both, and the second answer is already_queued or a
// second queued (TestRollingRestart's "two answers to request"). A leaving
// node runs grains until its cluster stop ends, which is bounded by 2.5 s
// from the start of its leave (cmd/spinmatch's clusterStop: the leave
// broadcast, leaveLinger, the grains' stop), and the others see it leave
// only after that start; so a command is resent only once the node that
// took it can no longer be running it. A command it did not take (lost as
// its grains stopped) waits this long for its resend, and one it took but
// whose answer its stop cut is repeated, as after a crash.
const commandGrace = 3 * time.Second

// graceFor returns the grace await gives a gracefully leaving node's
// answer to m.
func graceFor(m proto.Message) time.Duration {
	if _, ok := m.(*msg.Command); ok {
		return commandGrace
	}
	return goneGrace
}

// await waits for f, giving up early with errMemberGone when addr has left
// the topology for grace (at once when it was declared dead or restarted),
// or with ctx's error.
func (r *Router) await(ctx context.Context, f *actor.Future, addr string, grace time.Duration) (any, error) {
	if addr == r.self {
		return f.Result() // a local grain cannot vanish with its node
	}
	// The incarnation the message went to: a member restarted at the same
	// address (a new id) is a different one.
	id := r.memberAt(addr)
	type result struct {
		res any
		err error
	}
	ch := make(chan result, 1)
	go func() {
		res, err := f.Result()
		ch <- result{res, err}
	}()
	var graceOver <-chan time.Time // nil (never) while addr is in the topology
	for {
		changed := r.Changed()
		if now := r.memberAt(addr); now == "" || now != id {
			restarted := now != "" && now != id
			if restarted || (r.graceful != nil && !r.graceful(addr)) {
				return nil, errMemberGone
			}
			if graceOver == nil {
				t := time.NewTimer(grace)
				defer t.Stop()
				graceOver = t.C
			}
		}
		select {
		case x := <-ch:
			return x.res, x.err
		case <-graceOver:
			return nil, errMemberGone
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// backoff waits before retry attempt n (50 ms doubling to 400 ms), or
// until ctx is done.
func (r *Router) backoff(ctx context.Context, n int) error {
	d := 50 * time.Millisecond << min(n, 3)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryable reports whether err means the message never reached a live
// activation, so a fresh lookup and a resend are safe and needed.
func retryable(err error) bool {
	return errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, errMemberGone) || errors.Is(err, errNoOwner)
}

// sendAttempt bounds one attempt of a one-way message that may be
// repeated: an unacknowledged attempt is resent, because a message that
// reached a grain just as it stopped (queued behind its poison pill) is
// dropped without a dead letter. A client command is never repeated (a
// spin twice is an error): its one attempt gets the whole delivery time.
const sendAttempt = 3 * time.Second

// askAttempt bounds one attempt of a request: half of what is left, so a
// request that reached a grain as it stopped (dropped without a dead
// letter) is asked again in time. A client command gets all of it.
func (r *Router) askAttempt(ctx context.Context, m proto.Message) time.Duration {
	return askAttemptUntil(deadlineOf(ctx), m)
}

// askAttemptUntil is askAttempt for a request due by deadline.
func askAttemptUntil(deadline time.Time, m proto.Message) time.Duration {
	left := max(time.Until(deadline), time.Millisecond)
	if _, ok := m.(*msg.Command); ok {
		return left
	}
	return max(left/2, min(left, 500*time.Millisecond))
}

// resendable reports whether a failed send attempt may be repeated.
func resendable(err error, m proto.Message) bool {
	if retryable(err) {
		return true
	}
	_, command := m.(*msg.Command)
	return errors.Is(err, actor.ErrTimeout) && !command
}

// Send delivers m to kind/id without waiting (see the type's doc). Order:
// messages from one goroutine to one grain arrive in order unless one of
// them had to be resent.
func (r *Router) Send(kind, id string, m proto.Message) { r.SendOr(kind, id, m, nil) }

// SendOr is Send, and calls failed (from another goroutine) when m could
// not be delivered within the delivery timeout.
func (r *Router) SendOr(kind, id string, m proto.Message, failed func()) {
	r.SendThen(kind, id, m, func(delivered bool) {
		if !delivered && failed != nil {
			failed()
		}
	})
}

// SendThen is Send, and calls done (from another goroutine) once m was
// acknowledged (true) or given up after the delivery timeout (false). done
// must return quickly: an acknowledgement runs it on the goroutine that
// delivered the acknowledgement (the grain's, or the remote reader's).
//
// It never blocks on the network. A target whose live activation is cached
// at its owner is sent to at once, from the caller's goroutine; otherwise
// (a grain not looked up yet, such as a new match) the lookup runs in a
// goroutine of its own, and every later send to that target waits behind
// it, so that sends from one goroutine to one grain keep their order.
func (r *Router) SendThen(kind, id string, m proto.Message, done func(delivered bool)) {
	deadline := time.Now().Add(r.deliver)
	key := kind + "/" + id
	r.pendMu.Lock()
	if q, waiting := r.pending[key]; waiting {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		r.pending[key] = append(q, pendingSend{m: m, ctx: ctx, cancel: cancel, done: done})
		r.pendMu.Unlock()
		return
	}
	if pid := r.cachedAt(kind, id, key); pid != nil {
		r.pendMu.Unlock()
		r.acks.send(kind, id, m, pid, deadline, done, nil)
		return
	}
	if r.pending == nil {
		r.pending = map[string][]pendingSend{}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	r.pending[key] = []pendingSend{{m: m, ctx: ctx, cancel: cancel, done: done}}
	r.pendMu.Unlock()
	go r.sendPending(kind, id, key)
}

// cached returns the cached activation of kind/id when it is at the
// grain's current owner, without waiting for anything; nil otherwise.
func (r *Router) cached(kind, id string) *actor.PID {
	return r.cachedAt(kind, id, kind+"/"+id)
}

// cachedAt is cached for the cache key of kind/id (kind + "/" + id),
// which SendThen has made already.
func (r *Router) cachedAt(kind, id, key string) *actor.PID {
	select {
	case <-r.attached:
	default:
		return nil
	}
	owner := r.Owner(kind, id)
	if owner == "" {
		return nil
	}
	if pid := r.cache.get(key); pid != nil && pid.Address == owner {
		return pid
	}
	return nil
}

// Learn caches pid as the live activation of kind/id, as a lookup would,
// when pid is at the grain's current owner (a grain that told this node
// its PID, such as a Match grain in its MatchFound): the sends and
// requests that follow need no activation round trip. A PID that turns
// out stale fails as a cached one does (a dead letter) and is looked up
// afresh.
func (r *Router) Learn(kind, id string, pid *actor.PID) {
	if pid == nil || pid.Id == "" || pid.Address == "" {
		return
	}
	select {
	case <-r.attached:
	default:
		return
	}
	if r.Owner(kind, id) != pid.Address {
		return
	}
	r.cache.put(kind+"/"+id, pid)
}

// Forget drops this node's cached activation of kind/id: a grain that
// will not be sent to from here again (a Match whose result this node's
// session has), whose PID would otherwise sit in the cache until it ages
// out. A later send looks the grain up again.
func (r *Router) Forget(kind, id string) { r.cache.forget(kind + "/" + id) }

// sendPending sends what waits for kind/id's lookup, in order, until
// nothing does. The lookup is made once, within the first send's ctx; while
// it fails, each send looks up again within its own (as each Send did
// when lookups blocked the caller), and confirm retries as for any send.
func (r *Router) sendPending(kind, id, key string) {
	var pid *actor.PID
	for {
		r.pendMu.Lock()
		q := r.pending[key]
		if len(q) == 0 {
			delete(r.pending, key)
			r.pendMu.Unlock()
			return
		}
		r.pending[key] = q[:0:0]
		r.pendMu.Unlock()
		for _, ps := range q {
			var err error
			if pid == nil {
				pid, err = r.lookup(ps.ctx, kind, id)
			}
			if err == nil {
				r.acks.send(kind, id, ps.m, pid, deadlineOf(ps.ctx), ps.done, ps.cancel)
				continue
			}
			go r.confirm(ps.ctx, kind, id, ps.m, err, ps.done, ps.cancel, 0)
		}
	}
}

// confirm goes on with a send whose attempt failed with err (attempt
// numbers the failed one, for the backoff): while err allows a resend, it
// waits its backoff and looks the grain up again, and the acks process
// takes the new attempt (and cancel with it); otherwise the send is given
// up, counted and logged, and done(false) called.
func (r *Router) confirm(ctx context.Context, kind, id string, m proto.Message, err error, done func(bool), cancel context.CancelFunc, attempt int) {
	for ; ; attempt++ {
		if !resendable(err, m) || r.backoff(ctx, attempt) != nil {
			break
		}
		r.metrics.Resent.WithLabelValues(kind).Inc()
		var pid *actor.PID
		if pid, err = r.lookup(ctx, kind, id); err == nil {
			r.acks.resend(kind, id, m, pid, deadlineOf(ctx), done, cancel, attempt+1)
			return
		}
	}
	if cancel != nil {
		cancel()
	}
	r.metrics.Undeliverable.WithLabelValues(kind).Inc()
	r.log.Error("router: message undeliverable", "kind", kind, "id", id, "type", fmt.Sprintf("%T", m), "err", err)
	if done != nil {
		done(false)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline()
	return dl
}

// Ask sends m to kind/id and waits for its reply of type R, failing over
// to the new owner when the grain's node leaves or the grain passivated.
// ctx bounds the whole call; without a deadline, timeout does.
func Ask[R proto.Message](ctx context.Context, r *Router, kind, id string, m proto.Message, timeout time.Duration) (R, error) {
	var zero R
	t0 := time.Now()
	defer r.metrics.observeGrain(kind, t0)
	if span := grainSpan(ctx, kind, m); span != nil {
		ctx = span.Context()
		defer span.Finish()
	}
	key := kind + "/" + id
	if _, ok := ctx.Deadline(); !ok {
		// Without a deadline on ctx, the first attempt to a cached
		// activation needs no context timer: the acks process bounds it
		// (its due time), and only a failed attempt, or a lookup that may
		// wait, gets a context with the deadline. A timer per request was
		// a fifth of a node's allocated bytes at 3,000 spins/s.
		deadline := t0.Add(timeout)
		pid := r.cachedAt(kind, id, key)
		var err error
		if pid != nil {
			var res any
			if res, err = r.acks.ask(ctx, m, pid, askAttemptUntil(deadline, m)); err == nil {
				return reply[R](key, res)
			}
			r.cache.drop(key, pid)
			if !resendable(err, m) || ctx.Err() != nil {
				return zero, fmt.Errorf("ask %s: %w", key, err)
			}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
		if pid != nil {
			// The failed first attempt, as the loop below would retry it.
			if werr := r.backoff(ctx, 0); werr != nil {
				return zero, fmt.Errorf("ask %s: %w", key, err)
			}
			r.metrics.Resent.WithLabelValues(kind).Inc()
			return askLoop[R](ctx, r, kind, id, key, m, 1)
		}
	}
	return askLoop[R](ctx, r, kind, id, key, m, 0)
}

// askLoop is Ask's attempts from number first on, within ctx's deadline.
func askLoop[R proto.Message](ctx context.Context, r *Router, kind, id, key string, m proto.Message, first int) (R, error) {
	var zero R
	for attempt := first; ; attempt++ {
		pid, err := r.lookup(ctx, kind, id)
		if err != nil {
			return zero, fmt.Errorf("ask %s: %w", key, err)
		}
		res, err := r.acks.ask(ctx, m, pid, r.askAttempt(ctx, m))
		if err == nil {
			return reply[R](key, res)
		}
		r.cache.drop(key, pid)
		if !resendable(err, m) || ctx.Err() != nil {
			return zero, fmt.Errorf("ask %s: %w", key, err)
		}
		if werr := r.backoff(ctx, attempt); werr != nil {
			return zero, fmt.Errorf("ask %s: %w", key, err)
		}
		r.metrics.Resent.WithLabelValues(kind).Inc()
	}
}

// reply is Ask's answer res as an R.
func reply[R proto.Message](key string, res any) (R, error) {
	out, ok := res.(R)
	if !ok {
		var zero R
		return zero, fmt.Errorf("ask %s: unexpected reply %T", key, res)
	}
	return out, nil
}

// oneWay reports whether m is a message its grain does not answer, so
// ackOneWay acknowledges it for the Router.
func oneWay(m any) bool {
	switch m := m.(type) {
	case *msg.Command:
		return m.Conn != nil // a REST command is answered with its Event
	case *msg.Attach, *msg.Detach, *msg.MatchFound, *msg.MatchResult, *msg.MatchAborted,
		*msg.RelaySignal, *msg.Finalize, *msg.MatchOutcome, *msg.PoolAlive, *msg.WaitUpdate,
		*msg.Resume, *msg.Wake, *msg.LeaseRelease:
		return true
	}
	return false
}

// ack is every acknowledgement (never modified).
var ack = &msg.Ack{}

// ackOneWay acknowledges a one-way message to its sender after the grain
// processed it (a panic leaves it unacknowledged).
func ackOneWay(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		next(c, env)
		// The acknowledgement is the last use of env: the Router recycles
		// an acknowledged send's envelope (ackWaits).
		if env.Sender != nil && oneWay(env.Message) {
			sendTo(c.ActorSystem(), env.Sender, ack)
		}
	}
}

// pidCache is a bounded map of grain PIDs in two generations: when the
// young one fills half the capacity, it becomes the old one and the old
// one is dropped. Lookups promote from old to young. Safe for concurrent use.
//
// It keeps bare copies (address and id only) and hands out the copy it
// keeps, which every send to the grain shares: a PID that has been sent
// to with Root.Send caches its process, which holds the whole actor, so a
// cached PID of a grain that passivated would keep that grain's state
// alive for as long as the entry lasts. The Router therefore sends only
// through sendTo, which never caches the process in the PID; what a PID
// from the cache must never be given to is Root.Send, Request or a
// context's Send. A copy per get was 5% of the hot path's bytes.
type pidCache struct {
	mu         sync.Mutex
	half       int
	young, old map[string]*actor.PID // guarded by mu
}

func newPIDCache(size int) *pidCache {
	return &pidCache{half: max(size/2, 1), young: map[string]*actor.PID{}, old: map[string]*actor.PID{}}
}

func (c *pidCache) get(key string) *actor.PID {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.young[key]; ok {
		return p
	}
	p, ok := c.old[key]
	if !ok {
		return nil
	}
	delete(c.old, key)
	c.putLocked(key, p)
	return p
}

func (c *pidCache) put(key string, p *actor.PID) {
	c.mu.Lock()
	c.putLocked(key, actor.NewPID(p.Address, p.Id))
	c.mu.Unlock()
}

func (c *pidCache) putLocked(key string, p *actor.PID) {
	if len(c.young) >= c.half {
		c.old, c.young = c.young, make(map[string]*actor.PID, c.half)
	}
	c.young[key] = p
}

// drop forgets key if it still maps to p.
func (c *pidCache) drop(key string, p *actor.PID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range []map[string]*actor.PID{c.young, c.old} {
		if q, ok := m[key]; ok && q.Equal(p) {
			delete(m, key)
		}
	}
}

// forget drops key.
func (c *pidCache) forget(key string) {
	c.mu.Lock()
	delete(c.young, key)
	delete(c.old, key)
	c.mu.Unlock()
}

func (c *pidCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.young) + len(c.old)
}
