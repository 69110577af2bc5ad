package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
	"github.com/spinmatch/spinmatch/persistence"
)

// The invariants of the interleaving test, checked after a run settled.

// finding is one broken invariant, with the users and matches to grep the
// trace for.
type finding struct {
	text string
	keys []string
}

// findings groups findings by invariant.
type findings map[string][]finding

func (f findings) add(rule, text string, keys ...string) {
	f[rule] = append(f[rule], finding{text: text, keys: keys})
}

// settleTimeout bounds the wait for the end state: the last matches run
// out (date, vote window, and the sessions' backstop two seconds after the
// deadline) and queued users re-announce themselves.
const settleTimeout = 30 * time.Second // generous: under -race the whole suite shares two cores

// settle stops the faults and waits until no match past its vote deadline
// is unsettled and every user is idle, queued (with a stored place that
// the pool lists) or matched (in the store's one active match).
func (h *interleave) settle() {
	h.store.setFaults(0, 0)
	var last findings
	defer func() {
		if h.t.Failed() && last != nil {
			h.report(last, h.t.Errorf)
		}
	}()
	clustertest.Eventually(h.t, settleTimeout, "every user idle, queued or matched, consistently", func() bool {
		last = h.endState(false)
		return len(last) == 0
	})
	// No one spins any more: the last matches run out, and then everyone
	// is idle or queued.
	clustertest.Eventually(h.t, settleTimeout, "every match settled, every user idle or queued, consistently", func() bool {
		last = h.endState(true)
		return len(last) == 0
	})
}

// endView is one user's state as the session, the store and the pool see it.
type endView struct {
	state, match string
	queuePool    string // the session's pool while queued
	active       string // the store's active match
	entry        *persistence.QueueEntry
	position     int32 // in the pool; 0: not held
}

// endState checks the end state once; with all, every match must have
// its result too.
func (h *interleave) endState(all bool) findings {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := findings{}
	now := time.Now()

	h.store.model.Lock()
	for id, m := range h.store.matches {
		if m.result == "" && (all || !m.rec.VoteDeadline.After(now)) {
			out.add("liveness: every match settles", fmt.Sprintf("match %s (%s+%s) unsettled, vote deadline %v ago",
				id, m.rec.A.UserID, m.rec.B.UserID, now.Sub(m.rec.VoteDeadline).Round(time.Millisecond)), id, m.rec.A.UserID, m.rec.B.UserID)
		}
	}
	h.store.model.Unlock()

	views := map[string]*endView{}
	for _, u := range h.users {
		v := &endView{}
		views[u.id] = v
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := h.probe.state(sctx, u.id)
		scancel()
		if err != nil {
			out.add("liveness: session answers", fmt.Sprintf("%s: %v", u.id, err), u.id)
			continue
		}
		v.state, v.match, v.queuePool = st.State, st.GetMatch().GetMatchId(), st.GetQueue().GetPool()
		if m, err := h.store.Store.ActiveMatch(ctx, u.id, now); err == nil {
			v.active = m.ID
		}
		if e, err := h.store.Store.QueueEntry(ctx, u.id); err == nil {
			v.entry = &e
		}
		r, err := Ask[*msg.EnqueueReply](ctx, h.deps.Router, KindMatchPool, u.pool, &msg.QueueStatus{UserId: u.id}, h.cfg.RequestTimeout)
		if err != nil {
			out.add("liveness: pool answers", fmt.Sprintf("%s: pool %s: %v", u.id, u.pool, err), u.id, u.pool)
			continue
		}
		v.position = r.GetQueue().GetPosition()
		h.checkView(out, u, v)
	}

	queued := map[string]map[string][]string{} // pool -> gender -> users
	for _, u := range h.users {
		v := views[u.id]
		if v.state == StateMatched && v.match != "" {
			m := h.matchRecord(v.match)
			partner := m.A.UserID
			if partner == u.id {
				partner = m.B.UserID
			}
			if pv := views[partner]; pv != nil && pv.state != "" && (pv.state != StateMatched || pv.match != v.match) {
				out.add("end state: partners agree", fmt.Sprintf("%s is matched in %s, its partner %s is %s %s", u.id, v.match, partner, pv.state, pv.match), u.id, partner, v.match)
			}
		}
		if v.state == StateQueued {
			if queued[u.pool] == nil {
				queued[u.pool] = map[string][]string{}
			}
			queued[u.pool][u.gender] = append(queued[u.pool][u.gender], u.id)
		}
	}
	for _, p := range h.pools {
		f, m := queued[p]["female"], queued[p]["male"]
		if len(f) > 0 && len(m) > 0 {
			out.add("liveness: compatible waiters pair", fmt.Sprintf("pool %s holds compatible waiters %v and %v", p, f, m), append(slices.Clone(f), m...)...)
		}
		st, err := Ask[*msg.PoolStats](ctx, h.deps.Router, KindMatchPool, p, &msg.PoolStatsRequest{}, h.cfg.RequestTimeout)
		if err != nil {
			out.add("liveness: pool answers", fmt.Sprintf("pool %s stats: %v", p, err), p)
			continue
		}
		var n int32
		for _, c := range st.Waiting {
			n += c
		}
		if want := int32(len(f) + len(m)); n != want {
			out.add("end state: pool counts its waiters", fmt.Sprintf("pool %s counts %d waiting, sessions say %d (%v %v)", p, n, want, f, m), p)
		}
	}
	return out
}

// checkView compares a user's session, store and pool.
func (h *interleave) checkView(out findings, u *probeUser, v *endView) {
	const rule = "end state: idle, queued or matched"
	switch v.state {
	case StateIdle:
		if v.active != "" {
			out.add(rule, fmt.Sprintf("%s: session idle, store has active match %s", u.id, v.active), u.id, v.active)
		}
		if v.position > 0 {
			out.add(rule, fmt.Sprintf("%s: session idle, pool %s holds them at %d", u.id, u.pool, v.position), u.id)
		}
	case StateQueued:
		if v.entry == nil || v.entry.Pool != u.pool {
			out.add(rule, fmt.Sprintf("%s: session queued, store entry %+v", u.id, v.entry), u.id)
		}
		if v.position <= 0 {
			out.add(rule, fmt.Sprintf("%s: session queued in %s, pool %s does not list them", u.id, v.queuePool, u.pool), u.id)
		}
		if v.active != "" {
			out.add(rule, fmt.Sprintf("%s: session queued, store has active match %s", u.id, v.active), u.id, v.active)
		}
	case StateMatched:
		if v.active != v.match {
			out.add(rule, fmt.Sprintf("%s: session matched in %s, store's active match is %q", u.id, v.match, v.active), u.id, v.match)
		}
		if v.position > 0 {
			out.add(rule, fmt.Sprintf("%s: session matched, pool %s still holds them at %d", u.id, u.pool, v.position), u.id)
		}
	default:
		out.add(rule, fmt.Sprintf("%s: unknown state %q", u.id, v.state), u.id)
	}
}

func (h *interleave) matchRecord(id string) persistence.Match {
	h.store.model.Lock()
	defer h.store.model.Unlock()
	if m := h.store.matches[id]; m != nil {
		return m.rec
	}
	return persistence.Match{}
}

// check runs the invariants over what every connection recorded and over
// the store, and fails the test on a violation. Anomalies the brief does not
// forbid are logged as notes.
func (h *interleave) check() {
	bad, notes := findings{}, findings{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	h.acts.mu.Lock()
	for _, o := range h.acts.overlaps {
		bad.add("grains: one activation per identity", o.text, o.keys...)
	}
	h.acts.mu.Unlock()

	h.store.model.Lock()
	for _, p := range h.store.problems {
		bad.add("store: one unsettled match per user", p)
	}
	matches := make(map[string]modelMatch, len(h.store.matches))
	for id, m := range h.store.matches {
		matches[id] = *m
	}
	claims := make(map[string]string, len(h.store.claims))
	for u, id := range h.store.claims {
		claims[u] = id
	}
	h.store.model.Unlock()

	// The store itself: every user in at most one match without a result,
	// and the model agrees with the store's claims.
	for _, u := range h.users {
		m, err := h.store.Store.ActiveMatch(ctx, u.id, time.Time{})
		got := ""
		if err == nil {
			got = m.ID
		} else if !errors.Is(err, persistence.ErrNotFound) {
			bad.add("store: scan", fmt.Sprintf("%s: active match: %v", u.id, err), u.id)
		}
		if got != claims[u.id] {
			bad.add("store: one unsettled match per user", fmt.Sprintf("%s: store claims %q, model %q", u.id, got, claims[u.id]), u.id, got, claims[u.id])
		}
	}
	for id, m := range matches {
		if m.result != "" {
			// RecordResult on a settled match only returns the stored result.
			stored, err := h.store.Store.RecordResult(ctx, id, persistence.ResultNoMatch)
			if err != nil || stored != m.result {
				bad.add("store: one result per match", fmt.Sprintf("match %s: model result %s, store %s %v", id, m.result, stored, err), id)
			}
			continue
		}
		a, b := claims[m.rec.A.UserID] == id, claims[m.rec.B.UserID] == id
		if a != b {
			bad.add("store: one unsettled match per user", fmt.Sprintf("unsettled match %s claims only one partner (%s %v, %s %v)", id, m.rec.A.UserID, a, m.rec.B.UserID, b), id)
		}
	}

	// What the sockets were sent.
	results := map[string]map[string]bool{} // match -> results announced
	for _, u := range h.users {
		u.mu.Lock()
		conns := slices.Clone(u.all)
		rest := slices.Clone(u.rest)
		u.mu.Unlock()
		for _, c := range conns {
			h.checkConn(c, matches, results, bad, notes)
		}
		for _, e := range rest {
			if info := e.ev.GetState().GetMatch(); info != nil {
				h.checkInfo(u.id, "REST", info, e.at, matches, bad)
			}
			if e.ev.GetMatchFound() != nil {
				bad.add("protocol: spin is answered by queued", fmt.Sprintf("%s: REST reply is match_found %s", u.id, e.ev.GetMatchFound().GetMatch().GetMatchId()), u.id)
			}
		}
	}
	for id, rs := range results {
		if len(rs) > 1 {
			bad.add("results: one result per match", fmt.Sprintf("match %s announced with results %v", id, keys(rs)), id)
		}
		m, ok := matches[id]
		switch {
		case !ok:
			bad.add("results: one result per match", fmt.Sprintf("match_result for %s, which the store never created", id), id)
		case m.result == "":
			bad.add("results: one result per match", fmt.Sprintf("match_result %v for %s, which has no result in the store", keys(rs), id), id)
		case !rs[m.result] || len(rs) > 1:
			bad.add("results: one result per match", fmt.Sprintf("match %s announced %v, stored %s", id, keys(rs), m.result), id)
		}
	}

	h.report(bad, h.t.Errorf)
	h.report(notes, h.t.Logf)
}

// checkConn walks one socket's events in order.
func (h *interleave) checkConn(c *probeConn, matches map[string]modelMatch, results map[string]map[string]bool, bad, notes findings) {
	open, openedBy := "", ""
	closed := map[string]bool{}
	believed := "" // what the socket was last told: idle, queued or matched
	seen := map[string]int{}
	for _, e := range c.snapshot() {
		switch k := e.ev.Kind.(type) {
		case *msg.Event_State:
			st := k.State
			if st.State == StateMatched {
				id := st.GetMatch().GetMatchId()
				h.checkInfo(c.user, c.name(), st.GetMatch(), e.at, matches, bad)
				if open != "" && open != id {
					h.secondMatch(c, e.at, "state matched", id, open, openedBy, matches, bad, notes)
				}
				open, openedBy = id, "state"
			} else if open != "" {
				notes.add("sockets: a match ends with match_result", fmt.Sprintf("%s: told %s while %s had no match_result", c.name(), st.State, open), c.user, open)
				open = ""
			}
			believed = st.State
		case *msg.Event_MatchFound:
			info := k.MatchFound.GetMatch()
			id := info.GetMatchId()
			h.checkInfo(c.user, c.name(), info, e.at, matches, bad)
			if open != "" && open != id {
				h.secondMatch(c, e.at, "match_found", id, open, openedBy, matches, bad, notes)
			}
			if closed[id] {
				notes.add("sockets: match_found after its match_result", fmt.Sprintf("%s: match_found %s after its match_result", c.name(), id), c.user, id)
			}
			if seen[id]++; seen[id] == 2 {
				notes.add("sockets: one match_found per match", fmt.Sprintf("%s: match_found %s more than once", c.name(), id), c.user, id)
			}
			if believed == StateIdle {
				notes.add("sockets: match_found only after a spin", fmt.Sprintf("%s: match_found %s while the socket was told idle", c.name(), id), c.user, id)
			}
			open, openedBy, believed = id, "match_found", StateMatched
		case *msg.Event_MatchResult:
			id := k.MatchResult.MatchId
			if results[id] == nil {
				results[id] = map[string]bool{}
			}
			results[id][k.MatchResult.Result] = true
			if open == id {
				open = ""
			}
			closed[id] = true
			believed = StateIdle
		case *msg.Event_Queued:
			if open != "" {
				notes.add("sockets: a match ends with match_result", fmt.Sprintf("%s: queued while %s had no match_result", c.name(), open), c.user, open)
				open = ""
			}
			believed = StateQueued
		case *msg.Event_Cancelled:
			believed = StateIdle
		case *msg.Event_VoteRecorded:
			id := k.VoteRecorded.MatchId
			if m, ok := matches[id]; !ok || (m.rec.A.UserID != c.user && m.rec.B.UserID != c.user) {
				bad.add("votes: only on one's own stored match", fmt.Sprintf("%s: vote_recorded on %s", c.name(), id), c.user, id)
			}
		}
	}
}

// secondMatch classifies a socket shown match id while it was last shown
// open (by openedBy) without a match_result: a violation when open had no
// result in the store yet (the user was in two active matches), else a
// lost match_result.
func (h *interleave) secondMatch(c *probeConn, at time.Time, how, id, open, openedBy string, matches map[string]modelMatch, bad, notes findings) {
	m1, ok := matches[open]
	text := fmt.Sprintf("%s: %s %s while %s (%s) had no match_result", c.name(), how, id, open, openedBy)
	switch {
	case !ok || m1.result == "" || m1.settledAt.After(at):
		bad.add("sockets: never two active matches", text+" and no result in the store", c.user, id, open)
	case m1.implicit:
		notes.add("sockets: a match ends with match_result", text+"; the store settled it only when the next match was created", c.user, id, open)
	default:
		notes.add("sockets: a match ends with match_result", text+"; it had its result in the store", c.user, id, open)
	}
}

// checkInfo checks a match shown to user: it is stored, was stored before
// it was shown, and has the stored partners, one of them user.
func (h *interleave) checkInfo(user, where string, info *msg.MatchInfo, at time.Time, matches map[string]modelMatch, bad findings) {
	id := info.GetMatchId()
	m, ok := matches[id]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := h.store.Store.Votes(ctx, id)
		cancel()
		bad.add("announce: only durable matches", fmt.Sprintf("%s: shown match %s, not created in the store (votes: %v)", where, id, err), user, id)
		return
	}
	if at.Before(m.createdAt) {
		bad.add("announce: only durable matches", fmt.Sprintf("%s: shown match %s %v before the store created it", where, id, m.createdAt.Sub(at)), user, id)
	}
	if info.GetA().GetUserId() != m.rec.A.UserID || info.GetB().GetUserId() != m.rec.B.UserID {
		bad.add("announce: partners agree", fmt.Sprintf("%s: match %s shown as %s+%s, stored as %s+%s", where, id,
			info.GetA().GetUserId(), info.GetB().GetUserId(), m.rec.A.UserID, m.rec.B.UserID), user, id)
	}
	if user != m.rec.A.UserID && user != m.rec.B.UserID {
		bad.add("announce: partners agree", fmt.Sprintf("%s: shown match %s of %s+%s", where, id, m.rec.A.UserID, m.rec.B.UserID), user, id)
	}
}

// report prints the findings by rule, a few examples each, and the trace
// of the first example.
func (h *interleave) report(f findings, logf func(string, ...any)) {
	rules := make([]string, 0, len(f))
	for r := range f {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	for _, r := range rules {
		list := f[r]
		var b strings.Builder
		fmt.Fprintf(&b, "seed %d: %s: %d times", h.seed, r, len(list))
		for i, x := range list {
			if i == 5 {
				fmt.Fprintf(&b, "\n    ...")
				break
			}
			fmt.Fprintf(&b, "\n    %s", x.text)
		}
		if len(list[0].keys) > 0 {
			fmt.Fprintf(&b, "\n  trace of %v:\n    %s", list[0].keys, strings.Join(h.trace.grep(80, list[0].keys...), "\n    "))
		}
		logf("%s", b.String())
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
