package api

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/actors"
	"github.com/spinmatch/spinmatch/actors/limit"
	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/transport/clientip"
	"github.com/spinmatch/spinmatch/transport/wire"
)

// Route classes: every limited route spends one address budget, chosen by
// Class. Routes of a signed-in user also spend the user's rest_user budget
// (API.user), and their commands the user's budget of the command's action
// in the session.

// Class returns the budget a request spends from its address, and false
// for what is not limited per request: the pages and static files, the
// probes (/healthz, /readyz, /metrics: health checkers must never be
// refused) and /ws (its handler checks upgrades and holds leases itself).
func Class(r *http.Request) (limit.Action, bool) {
	p := r.URL.Path
	switch {
	case p == "/api/spin" && r.Method == http.MethodPost:
		return limit.Spin, true
	case p == "/api/vote":
		return limit.Vote, true
	case p == "/api/me" && r.Method == http.MethodPut:
		return limit.Profile, true
	case p == "/api/dev/token":
		return limit.RestToken, true
	case p == "/api/client-errors":
		return limit.RestReport, true
	case strings.HasPrefix(p, "/api/admin/"), strings.HasPrefix(p, "/api/test/"),
		p == "/admin/ws", strings.HasPrefix(p, "/debug/"):
		return limit.RestAdmin, true
	case p == "/api/spin", p == "/api/match/status", p == "/api/matches", p == "/api/me":
		return limit.RestUser, true
	case strings.HasPrefix(p, "/api/"), p == "/status/ws":
		return limit.RestPublic, true
	}
	return 0, false
}

// maxInFlightPer bounds the REST requests one address, and one user, may
// have in flight on one node; maxInFlightKeys bounds each table. Beyond
// either, a request is refused (429 or 503) before it queues work in any
// grain; nothing accepted is dropped.
const (
	maxInFlightPer  = 64
	maxInFlightKeys = 1 << 16
)

// inFlight counts requests in flight per key, in a bounded table. Safe for
// concurrent use.
type inFlight struct {
	mu sync.Mutex
	n  map[string]int // guarded by mu
}

func newInFlight() *inFlight { return &inFlight{n: map[string]int{}} }

const (
	entered = iota
	enterFull
	enterTableFull
)

func (f *inFlight) enter(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.n[key]
	switch {
	case !ok && len(f.n) >= maxInFlightKeys:
		return enterTableFull
	case n >= maxInFlightPer:
		return enterFull
	}
	f.n[key] = n + 1
	return entered
}

func (f *inFlight) leave(key string) {
	f.mu.Lock()
	if f.n[key] <= 1 {
		delete(f.n, key)
	} else {
		f.n[key]--
	}
	f.mu.Unlock()
}

// refuseBusy answers a request refused by a full in-flight bound.
func refuseBusy(w http.ResponseWriter, sys *actors.System, how int, scope limit.Scope, a limit.Action, queue string) {
	sys.CountQueueFull(queue)
	if how == enterTableFull {
		WriteError(w, actors.CodeUnavailable, "We're very busy right now. Please try again in a moment.")
		return
	}
	sys.CountRejected(scope, a)
	rates := sys.Limits().Address
	if scope == limit.User {
		rates = sys.Limits().User
	}
	writeLimited(w, scope, a, rates[a], limit.Decision{RetryAfter: time.Second})
}

// Limits is the edge's per-address limiting of HTTP routes. Static after
// NewLimits, safe for concurrent use.
type Limits struct {
	sys *actors.System
	ips *clientip.Resolver

	inFlight *inFlight // per address key
}

// NewLimits returns the limits middleware's state.
func NewLimits(sys *actors.System, ips *clientip.Resolver) *Limits {
	if ips == nil {
		ips = clientip.New(nil, nil)
	}
	return &Limits{sys: sys, ips: ips, inFlight: newInFlight()}
}

// Resolver returns the client address resolver.
func (l *Limits) Resolver() *clientip.Resolver { return l.ips }

// Wrap puts the client address in every request's context and spends the
// address budget of the request's class (one Limiter grain request) before
// next runs; an address in SPIN_LIMIT_EXEMPT skips that.
func (l *Limits) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := l.ips.Addr(r)
		r = r.WithContext(clientip.WithAddr(r.Context(), addr))
		a, limited := Class(r)
		if !limited || l.ips.Exempt(addr) {
			next.ServeHTTP(w, r)
			return
		}
		key := clientip.Key(addr)
		if how := l.inFlight.enter(key); how != entered {
			refuseBusy(w, l.sys, how, limit.Address, a, actors.QueueRESTAddress)
			return
		}
		defer l.inFlight.leave(key)
		if d, _ := l.sys.TakeAddress(r.Context(), key, a, ""); !d.Allowed {
			writeLimited(w, limit.Address, a, l.sys.Limits().Address[a], d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeLimited answers 429 rate_limited with the rate-limit headers.
func writeLimited(w http.ResponseWriter, scope limit.Scope, a limit.Action, r limit.Rate, d limit.Decision) {
	wire.SetRateLimitHeaders(w.Header(), scope, a, r, d)
	WriteError(w, actors.CodeRateLimited, "You're going a bit fast. Please wait a moment and try again.")
}

// writeUserError writes a session's error; a per-user refusal of action a
// gets the rate-limit headers of the user's budget.
func (a *API) writeUserError(w http.ResponseWriter, e *msg.Error, act limit.Action) {
	if e.Code == actors.CodeRateLimited {
		d := limit.Decision{RetryAfter: secondsDur(e.RetryAfterS)}
		wire.SetRateLimitHeaders(w.Header(), limit.User, act, a.sys.Limits().User[act], d)
	}
	WriteError(w, e.Code, e.Message)
}

// takeUser enters the user's in-flight bound and spends their rest_user
// budget; false means the answer (429, or 503 when the session is
// unreachable) was written. Otherwise call the returned leave when done.
func (a *API) takeUser(w http.ResponseWriter, r *http.Request, userID string) (leave func(), ok bool) {
	key := "u:" + userID
	if how := a.users.enter(key); how != entered {
		refuseBusy(w, a.sys, how, limit.User, limit.RestUser, actors.QueueRESTUser)
		return nil, false
	}
	leave = func() { a.users.leave(key) }
	if !a.spendUser(w, r, userID) {
		leave()
		return nil, false
	}
	return leave, true
}

func (a *API) spendUser(w http.ResponseWriter, r *http.Request, userID string) bool {
	d, err := a.sys.TakeUser(r.Context(), userID, limit.RestUser)
	if err != nil {
		a.log.Error("api: session unreachable", "err", err)
		WriteError(w, actors.CodeUnavailable, "We can't reach our servers right now. Please try again in a moment.")
		return false
	}
	if !d.Allowed {
		writeLimited(w, limit.User, limit.RestUser, a.sys.Limits().User[limit.RestUser], d)
		return false
	}
	return true
}
