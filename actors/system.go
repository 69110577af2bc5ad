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

	mu    sync.Mutex
	pools map[string]string // pool names seen on this node -> owner address last seen; guarded by mu

	// statsMu serializes pool-stats refreshes, so a burst of public
	// /api/queue/status calls costs one round of grain requests.
	statsMu sync.Mutex
	stats   []*msg.PoolStats // last answer; guarded by statsMu
	statsAt time.Time        // when stats was fetched; guarded by statsMu

	// limiterWarned is when the last fail-open warning was logged (unix ns).
	limiterWarned atomic.Int64
	downMu        sync.Mutex
	limiterFailed map[string]time.Time // node address -> last failed check; guarded by downMu
}

// statsTTL is how long a pool-stats answer is reused.
const statsTTL = time.Second

// NewSystem returns the facade over a started cluster whose kinds came from
// Kinds(d). It attaches d.Router to the cluster (creating it if nil).
func NewSystem(cl *cluster.Cluster, d *Deps) *System {
	if d.Router == nil {
		d.Router = NewRouter(d.Config, d.Logger, d.Metrics)
	}
	d.Router.Attach(cl)
	s := &System{cl: cl, d: d, pools: map[string]string{DefaultPool: ""}}
	d.Router.OnChange(s.wakePools)
	s.wakePools()
	return s
}

// wakePools activates, on its new owner, every pool this node knows whose
// owner changed, so that it rebuilds its queue from the store at once
// rather than at the waiters' next re-announcement.
func (s *System) wakePools() {
	s.mu.Lock()
	var moved []string
	for name, was := range s.pools {
		if now := s.d.Router.Owner(KindMatchPool, name); now != was {
			s.pools[name] = now
			if was != "" || now != "" {
				moved = append(moved, name)
			}
		}
	}
	s.mu.Unlock()
	for _, name := range moved {
		s.d.Router.Send(KindMatchPool, name, &msg.Wake{})
	}
}

// Router returns the node's grain router.
func (s *System) Router() *Router { return s.d.Router }

// SessionOwner returns the address of the node that owns userID's session.
func (s *System) SessionOwner(userID string) string {
	return s.d.Router.Owner(KindUserSession, userID)
}

// ActorSystem returns the node's actor system (for spawning connection actors).
func (s *System) ActorSystem() *actor.ActorSystem { return s.cl.ActorSystem }

// Config returns the grains' configuration.
func (s *System) Config() Config { return s.d.Config }

// Deliver sends m to a user's session without waiting (connections use it
// for Attach, Detach and Commands that carry the connection); failed, when
// set, is called if it cannot be delivered (see Router).
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
	s.mu.Lock()
	if _, ok := s.pools[name]; !ok {
		s.pools[name] = s.d.Router.Owner(KindMatchPool, name)
	}
	s.mu.Unlock()
}

// Pools returns the names of the cluster's pools, sorted: those the
// PoolDirectory grain lists plus those this node saw in profiles. When the
// directory cannot answer, the local names alone.
func (s *System) Pools(ctx context.Context) []string {
	s.mu.Lock()
	names := make([]string, 0, len(s.pools))
	for n := range s.pools {
		names = append(names, n)
	}
	s.mu.Unlock()
	if l, err := ask[*msg.PoolList](ctx, s.d, DirectoryID, KindPoolDirectory, &msg.ListPools{}, s.d.Config.RequestTimeout); err == nil {
		names = append(names, l.Pools...)
	} else {
		s.d.Logger.Warn("pool directory unavailable; listing local pools", "err", err)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// PoolStats returns every pool's statistics, at most statsTTL old. The
// answer is shared between callers: read it, never modify it.
func (s *System) PoolStats(ctx context.Context) ([]*msg.PoolStats, error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.stats != nil && s.d.now().Sub(s.statsAt) < statsTTL {
		return s.stats, nil
	}
	out, err := s.fetchPoolStats(ctx)
	if err != nil {
		return nil, err
	}
	s.stats, s.statsAt = out, s.d.now()
	return out, nil
}

func (s *System) fetchPoolStats(ctx context.Context) ([]*msg.PoolStats, error) {
	var out []*msg.PoolStats
	for _, name := range s.Pools(ctx) {
		st, err := ask[*msg.PoolStats](ctx, s.d, name, KindMatchPool, &msg.PoolStatsRequest{}, s.d.Config.RequestTimeout)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
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
