package actors

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
)

// System is the facade the transport layer calls: it routes requests to the
// right grains. Safe for concurrent use.
type System struct {
	cl *cluster.Cluster // static after construction
	d  *Deps            // static after construction

	mu sync.Mutex
	// pools are the pool names this node knows (SPIN_POOLS, the default
	// pool, and names seen in profiles lately, at most maxLocalPools),
	// for waking pools after a topology change and as the listing when
	// the directory cannot answer; guarded by mu.
	pools map[string]*poolNote

	// statsMu serializes pool-stats refreshes, so a burst of public
	// /api/queue/status calls costs one round of grain requests.
	statsMu sync.Mutex
	stats   PoolStatsAnswer // last answer; guarded by statsMu
	statsAt time.Time       // when stats was fetched; guarded by statsMu

	// snapMu guards snap, the last snapshot (snapshot.go), shared by every
	// caller, and snapFlight, the computation under way (at most one).
	snapMu     sync.Mutex
	snap       *Snapshot
	snapFlight *snapFlight

	// conns counts the node's open user sockets (SetConnections); nil: 0.
	conns atomic.Pointer[func() int]
	// names remembers the node name each member gave last (address ->
	// name), for a member that does not answer; pruned to the current
	// members; guarded by namesMu.
	namesMu sync.Mutex
	names   map[string]string

	// limiterWarned is when the last fail-open warning was logged (unix ns).
	limiterWarned atomic.Int64
	downMu        sync.Mutex
	limiterFailed map[string]time.Time // node address -> last failed check; guarded by downMu

	alerts atomic.Pointer[alertReporter] // set by StartAlerts
}

// poolNote is what System knows of one pool.
type poolNote struct {
	owner string    // owner address last seen
	seen  time.Time // last seen in a profile; zero: always kept
}

// statsTTL is how long a pool-stats answer is reused.
const statsTTL = time.Second

// maxLocalPools bounds the pool names a node remembers from profiles; the
// least recently seen goes first.
const maxLocalPools = 1024

// Pool statistics are asked of at most poolStatsWorkers pools at once,
// each within poolStatsTimeout (or RequestTimeout when shorter).
const (
	poolStatsWorkers = 16
	poolStatsTimeout = 2 * time.Second
)

// NewSystem returns the facade over a started cluster whose kinds came from
// Kinds(d). It attaches d.Router to the cluster (creating it if nil).
func NewSystem(cl *cluster.Cluster, d *Deps) *System {
	if d.Router == nil {
		d.Router = NewRouter(d.Config, d.Logger, d.Metrics)
	}
	d.Router.Attach(cl)
	s := &System{cl: cl, d: d, pools: map[string]*poolNote{defaultPoolIn(d.Config.Pools): {}}, names: map[string]string{}}
	for _, name := range d.Config.Pools {
		s.pools[name] = &poolNote{}
	}
	d.Router.OnChange(s.wakePools)
	s.wakePools()
	d.Router.OnChange(s.wakeReports)
	s.wakeReports()
	s.spawnNodeStats()
	return s
}

// wakePools activates, on its new owner, every pool this node knows whose
// owner changed, so that it rebuilds its queue from the store at once
// rather than at the waiters' next re-announcement.
func (s *System) wakePools() {
	s.mu.Lock()
	s.prunePoolsLocked()
	var moved []string
	for name, n := range s.pools {
		if now := s.d.Router.Owner(KindMatchPool, name); now != n.owner {
			was := n.owner
			n.owner = now
			if was != "" || now != "" {
				moved = append(moved, name)
			}
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range moved {
		wg.Add(1)
		s.d.Router.SendThen(KindMatchPool, name, &msg.Wake{}, func(bool) { wg.Done() })
	}
	// Waited for (NewSystem returns with its pools active, as when a Send
	// waited for its lookup; the topology hooks run in goroutines).
	wg.Wait()
}

// Router returns the node's grain router.
func (s *System) Router() *Router { return s.d.Router }

// SessionOwner returns the address of the node that owns userID's session.
func (s *System) SessionOwner(userID string) string {
	return s.d.Router.Owner(KindUserSession, userID)
}

// SessionOwnerMember returns the member id of the node that owns
// userID's session: it changes when the session's node is lost, when the
// session moves to a node that joined, and when its node restarts.
func (s *System) SessionOwnerMember(userID string) string {
	return s.d.Router.OwnerMember(KindUserSession, userID)
}

// ActorSystem returns the node's actor system (for spawning connection actors).
func (s *System) ActorSystem() *actor.ActorSystem { return s.cl.ActorSystem }

// Config returns the grains' configuration.
func (s *System) Config() Config { return s.d.Config }

// Deliver sends m to a user's session without waiting (connections use it
// for Attach and Detach); failed, when set, is called if it cannot be
// delivered (see Router).
func (s *System) Deliver(userID string, m proto.Message, failed func()) {
	s.d.Router.SendOr(KindUserSession, userID, m, failed)
}

// DeliverThen is Deliver, and calls done once m was processed by the
// session (true) or given up (false).
func (s *System) DeliverThen(userID string, m proto.Message, done func(delivered bool)) {
	s.d.Router.SendThen(KindUserSession, userID, m, done)
}

// Command runs one request for a REST caller and returns the session's answer.
func (s *System) Command(ctx context.Context, userID string, cmd *msg.Command) (*msg.Event, error) {
	cmd.Conn = nil
	return ask[*msg.Event](ctx, s.d, userID, KindUserSession, cmd, s.d.Config.RequestTimeout)
}

// Profile returns the user's profile (from the session's cache).
func (s *System) Profile(ctx context.Context, userID string) (*msg.ProfileReply, error) {
	r, err := ask[*msg.ProfileReply](ctx, s.d, userID, KindUserSession, &msg.GetProfile{}, s.d.Config.RequestTimeout)
	if err == nil && r.Profile != nil {
		s.notePool(r.Profile.Pool)
	}
	return r, err
}

// PutProfile replaces the user's profile; the reply carries a busy or
// bad_request error when it is refused.
func (s *System) PutProfile(ctx context.Context, userID string, p *msg.ProfileData) (*msg.ProfileReply, error) {
	r, err := ask[*msg.ProfileReply](ctx, s.d, userID, KindUserSession, &msg.PutProfile{Profile: p}, s.d.Config.RequestTimeout)
	if err == nil && r.Profile != nil {
		s.notePool(r.Profile.Pool)
	}
	return r, err
}

func (s *System) notePool(name string) {
	if !poolAllowed(name, s.d.Config.Pools) {
		return // a withdrawn pool: its stored waiters drain through the store
	}
	now := s.d.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.pools[name]; ok {
		if !n.seen.IsZero() {
			n.seen = now
		}
		return
	}
	s.pools[name] = &poolNote{owner: s.d.Router.Owner(KindMatchPool, name), seen: now}
	if len(s.pools) > maxLocalPools {
		s.prunePoolsLocked()
	}
	if len(s.pools) > maxLocalPools {
		var oldest string
		var at time.Time
		for n, p := range s.pools {
			if !p.seen.IsZero() && (oldest == "" || p.seen.Before(at)) {
				oldest, at = n, p.seen
			}
		}
		delete(s.pools, oldest)
	}
}

// prunePoolsLocked forgets the pool names not seen in a profile for the
// directory's TTL (the fixed ones stay).
func (s *System) prunePoolsLocked() {
	now, ttl := s.d.now(), directoryTTL(s.d.Config)
	for name, n := range s.pools {
		if !n.seen.IsZero() && now.Sub(n.seen) > ttl {
			delete(s.pools, name)
		}
	}
}

// Spins returns how many spins this node's sessions have taken since it
// started (refused ones included): the node's matchmaking load.
func (s *System) Spins() int64 { return s.d.spins.Load() }

// Pools returns the names of the cluster's pools, sorted: those the
// PoolDirectory grain lists (the pools somebody was in lately, the
// default pool and SPIN_POOLS). When the directory cannot answer, the
// names this node knows.
func (s *System) Pools(ctx context.Context) []string {
	timeout := min(poolStatsTimeout, s.d.Config.RequestTimeout)
	c, cancel := context.WithTimeout(ctx, timeout)
	l, err := ask[*msg.PoolList](c, s.d, DirectoryID, KindPoolDirectory, &msg.ListPools{}, timeout)
	cancel()
	if err == nil {
		return l.Pools
	}
	s.d.Logger.Warn("pool directory unavailable; listing local pools", "err", err)
	s.mu.Lock()
	s.prunePoolsLocked()
	names := make([]string, 0, len(s.pools))
	for n := range s.pools {
		names = append(names, n)
	}
	s.mu.Unlock()
	slices.Sort(names)
	return names
}

// PoolStatsAnswer is the statistics of every listed pool, as far as the
// pools answered.
type PoolStatsAnswer struct {
	Stats       []*msg.PoolStats // the pools that answered, sorted by name
	Unavailable []string         // the pools that did not answer in time, sorted
}

// PoolStatsAnswers asks every listed pool for its statistics, at most
// poolStatsWorkers at a time, each within poolStatsTimeout; a pool that
// does not answer is left out and named in Unavailable, so one failing
// pool never takes the others' answers with it. The answer is reused for
// statsTTL and shared between callers: read it, never modify it. The fetch
// does not run on ctx: a caller that hangs up must not turn the answer
// every caller shares into "nothing answered".
func (s *System) PoolStatsAnswers(ctx context.Context) PoolStatsAnswer {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if !s.statsAt.IsZero() && s.d.now().Sub(s.statsAt) < statsTTL {
		return s.stats
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.d.Config.RequestTimeout+poolStatsTimeout)
	defer cancel()
	s.stats, s.statsAt = s.fetchPoolStats(c), s.d.now()
	return s.stats
}

func (s *System) fetchPoolStats(ctx context.Context) PoolStatsAnswer {
	return fetchPoolStatsOf(ctx, s.d, s.Pools(ctx))
}

// fetchPoolStatsOf asks the named pools for their statistics (see
// PoolStatsAnswers).
func fetchPoolStatsOf(ctx context.Context, d *Deps, names []string) PoolStatsAnswer {
	timeout := min(poolStatsTimeout, d.Config.RequestTimeout)
	got := make([]*msg.PoolStats, len(names))
	sem := make(chan struct{}, poolStatsWorkers)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			st, err := ask[*msg.PoolStats](c, d, name, KindMatchPool, &msg.PoolStatsRequest{}, timeout)
			if err != nil {
				d.Logger.Warn("pool stats unavailable", "pool", name, "err", err)
				return
			}
			got[i] = st
		}()
	}
	wg.Wait()
	var a PoolStatsAnswer
	for i, st := range got {
		if st == nil {
			a.Unavailable = append(a.Unavailable, names[i])
			continue
		}
		a.Stats = append(a.Stats, st)
	}
	return a
}

// History returns the user's mutual matches, newest first.
func (s *System) History(ctx context.Context, userID string) ([]persistence.HistoryEntry, error) {
	return s.d.Store.MatchHistory(ctx, userID, s.d.Config.HistoryLimit)
}

// Audit appends to the audit log.
func (s *System) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.d.now()
	}
	return s.d.Store.Audit(ctx, e)
}

// StoreReady reports whether the store answers.
func (s *System) StoreReady(ctx context.Context) error { return s.d.Store.Ping(ctx) }

// AuditLog returns the newest audit lines, newest first, at most limit.
func (s *System) AuditLog(ctx context.Context, limit int) ([]persistence.AuditEntry, error) {
	return s.d.Store.AuditLog(ctx, limit)
}
