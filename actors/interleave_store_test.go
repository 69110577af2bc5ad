package actors

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// faultStore: the interleaving test's slow, failing store (see
// interleave_test.go), with a reference model of the match claims.

// faultStore is a Store over the in-memory store that delays every call by
// a random 0..maxDelay (a slow store) and fails a random share of them with
// persistence.ErrUnavailable before they touch the data, so a failed write
// never happens. It keeps a reference model of the matches it let through
// (which user is claimed by which unsettled match), so the test can tell a
// store that admitted a double pairing from grains that announced one.
// Safe for concurrent use.
type faultStore struct {
	*memory.Store
	trace *traceLog // static after construction

	mu       sync.Mutex // guards the fields below it
	rng      *rand.Rand
	failP    float64
	maxDelay time.Duration
	calls    map[string]int
	failed   map[string]int

	// model serializes CreateMatch and RecordResult with the reference
	// model below, so the model sees them in the store's order.
	model     sync.Mutex
	matches   map[string]*modelMatch // guarded by model: every created match
	claims    map[string]string      // guarded by model: user -> unsettled match
	conflicts int                    // guarded by model: CreateMatch refusals
	problems  []string               // guarded by model: the store broke its contract
}

// modelMatch is the reference model's view of one created match.
type modelMatch struct {
	rec       persistence.Match
	createdAt time.Time // wall clock when CreateMatch returned
	result    string    // "" while unsettled
	implicit  bool      // settled as no_match by a later CreateMatch
	settledAt time.Time
}

var _ Store = (*faultStore)(nil)

func newFaultStore(seed int64, trace *traceLog) *faultStore {
	return &faultStore{
		Store:   memory.New(),
		trace:   trace,
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		calls:   map[string]int{},
		failed:  map[string]int{},
		matches: map[string]*modelMatch{},
		claims:  map[string]string{},
	}
}

// setFaults changes the failure probability and the longest delay.
func (f *faultStore) setFaults(failP float64, maxDelay time.Duration) {
	f.mu.Lock()
	f.failP, f.maxDelay = failP, maxDelay
	f.mu.Unlock()
}

// fault delays the call and decides whether it fails (before touching data).
func (f *faultStore) fault(ctx context.Context, op, what string) error {
	f.mu.Lock()
	f.calls[op]++
	var d time.Duration
	if f.maxDelay > 0 {
		d = time.Duration(f.rng.Int64N(int64(f.maxDelay) + 1))
	}
	p := f.failP
	if op == "create_match" {
		p *= 3 // pairings stay pending longer, across pool restarts
	}
	fail := f.rng.Float64() < p
	if fail {
		f.failed[op]++
	}
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.trace.add("store %s %s: ctx done after delay", op, what)
			return fmt.Errorf("faultstore: %s: %w", op, ctx.Err())
		}
	}
	if fail {
		f.trace.add("store %s %s: INJECTED FAILURE", op, what)
		return fmt.Errorf("faultstore: %s: injected: %w", op, persistence.ErrUnavailable)
	}
	return nil
}

func (f *faultStore) counts() (calls, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.calls {
		calls += n
	}
	for _, n := range f.failed {
		failed += n
	}
	return calls, failed
}

func (f *faultStore) Ping(ctx context.Context) error {
	if err := f.fault(ctx, "ping", ""); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f *faultStore) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	if err := f.fault(ctx, "profile", userID); err != nil {
		return persistence.Profile{}, err
	}
	return f.Store.Profile(ctx, userID)
}

func (f *faultStore) PutProfile(ctx context.Context, p persistence.Profile) error {
	if err := f.fault(ctx, "put_profile", p.UserID); err != nil {
		return err
	}
	return f.Store.PutProfile(ctx, p)
}

func (f *faultStore) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	what := fmt.Sprintf("%s (%s+%s)", m.ID, m.A.UserID, m.B.UserID)
	if err := f.fault(ctx, "create_match", what); err != nil {
		return false, err
	}
	f.model.Lock()
	defer f.model.Unlock()
	created, err := f.Store.CreateMatch(ctx, m)
	switch {
	case err == nil:
		f.noteCreated(m)
		f.trace.add("store create_match %s: ok", what)
	case errors.Is(err, persistence.ErrConflict):
		f.conflicts++
		f.noteConflict(m)
		f.trace.add("store create_match %s: CONFLICT %v", what, err)
	default:
		f.trace.add("store create_match %s: err %v", what, err)
	}
	return created, err
}

// noteCreated moves the model on after a successful CreateMatch. f.model
// must be held.
func (f *faultStore) noteCreated(m persistence.Match) {
	if old, ok := f.matches[m.ID]; ok {
		if old.rec.A.UserID != m.A.UserID || old.rec.B.UserID != m.B.UserID {
			f.problems = append(f.problems, fmt.Sprintf("match %s created again with other partners", m.ID))
		}
		return
	}
	now := time.Now()
	for _, u := range []string{m.A.UserID, m.B.UserID} {
		prev, ok := f.claims[u]
		if !ok {
			continue
		}
		pm := f.matches[prev]
		if pm.rec.VoteDeadline.After(m.CreatedAt) {
			f.problems = append(f.problems, fmt.Sprintf("store let %s into %s while in unsettled %s (deadline %s after %s)",
				u, m.ID, prev, pm.rec.VoteDeadline.Format(time.StampMilli), m.CreatedAt.Format(time.StampMilli)))
		}
		// The store settles a stale match from its votes.
		result := persistence.ResultNoMatch
		if v, err := f.Store.Votes(context.Background(), prev); err == nil &&
			v[pm.rec.A.UserID] == persistence.ChoiceYes && v[pm.rec.B.UserID] == persistence.ChoiceYes {
			result = persistence.ResultMutual
		}
		f.settleModel(pm, result, true, now)
	}
	f.matches[m.ID] = &modelMatch{rec: m, createdAt: now}
	f.claims[m.A.UserID], f.claims[m.B.UserID] = m.ID, m.ID
}

// noteConflict checks that a refusal had a reason: a partner in an
// unsettled match, or no longer holding the place the pairing was made
// from. f.model must be held.
func (f *faultStore) noteConflict(m persistence.Match) {
	for _, u := range []string{m.A.UserID, m.B.UserID} {
		if prev, ok := f.claims[u]; ok && f.matches[prev].rec.VoteDeadline.After(m.CreatedAt) {
			return
		}
	}
	for _, p := range []struct {
		user  string
		place time.Time
	}{{m.A.UserID, m.PlaceA}, {m.B.UserID, m.PlaceB}} {
		e, err := f.Store.QueueEntry(context.Background(), p.user)
		if !p.place.IsZero() && (err != nil || e.EnqueuedAt.UnixMilli() != p.place.UnixMilli()) {
			return
		}
	}
	f.problems = append(f.problems, fmt.Sprintf("store refused %s (%s+%s) with neither partner in an unsettled match", m.ID, m.A.UserID, m.B.UserID))
}

// settleModel records a result in the model. f.model must be held.
func (f *faultStore) settleModel(mm *modelMatch, result string, implicit bool, now time.Time) {
	if mm.result == "" {
		mm.result, mm.implicit, mm.settledAt = result, implicit, now
	} else if mm.result != result && !implicit {
		f.problems = append(f.problems, fmt.Sprintf("match %s: store returned result %s after %s", mm.rec.ID, result, mm.result))
	}
	for _, u := range []string{mm.rec.A.UserID, mm.rec.B.UserID} {
		if f.claims[u] == mm.rec.ID {
			delete(f.claims, u)
		}
	}
}

func (f *faultStore) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	if err := f.fault(ctx, "active_match", userID); err != nil {
		return persistence.Match{}, err
	}
	return f.Store.ActiveMatch(ctx, userID, since)
}

func (f *faultStore) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	if err := f.fault(ctx, "record_vote", matchID+" "+voter); err != nil {
		return "", err
	}
	stored, err := f.Store.RecordVote(ctx, matchID, voter, choice)
	f.trace.add("store record_vote %s %s %s: %s %v", matchID, voter, choice, stored, err)
	return stored, err
}

func (f *faultStore) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	if err := f.fault(ctx, "votes", matchID); err != nil {
		return nil, err
	}
	return f.Store.Votes(ctx, matchID)
}

func (f *faultStore) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	if err := f.fault(ctx, "record_result", matchID); err != nil {
		return "", err
	}
	f.model.Lock()
	defer f.model.Unlock()
	stored, err := f.Store.RecordResult(ctx, matchID, result)
	if err == nil {
		if mm := f.matches[matchID]; mm != nil {
			if mm.result != "" && mm.result != stored {
				f.problems = append(f.problems, fmt.Sprintf("match %s: RecordResult returned %s, model has %s", matchID, stored, mm.result))
			}
			f.settleModel(mm, stored, false, time.Now())
		} else {
			f.problems = append(f.problems, fmt.Sprintf("match %s: result recorded for a match the store never created", matchID))
		}
	}
	f.trace.add("store record_result %s %s: stored %s %v", matchID, result, stored, err)
	return stored, err
}

func (f *faultStore) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	if err := f.fault(ctx, "match_history", userID); err != nil {
		return nil, err
	}
	return f.Store.MatchHistory(ctx, userID, limit)
}

func (f *faultStore) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	if err := f.fault(ctx, "recent_partners", userID); err != nil {
		return nil, err
	}
	return f.Store.RecentPartners(ctx, userID, since)
}

func (f *faultStore) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	what := fmt.Sprintf("%s %s@%d", e.UserID, e.Pool, e.EnqueuedAt.UnixMilli())
	if err := f.fault(ctx, "put_queue_entry", what); err != nil {
		return err
	}
	err := f.Store.PutQueueEntry(ctx, e)
	f.trace.add("store put_queue_entry %s: %v", what, err)
	return err
}

func (f *faultStore) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	what := fmt.Sprintf("%s @%d", userID, enqueuedAt.UnixMilli())
	if err := f.fault(ctx, "delete_queue_entry", what); err != nil {
		return err
	}
	err := f.Store.DeleteQueueEntry(ctx, userID, enqueuedAt)
	f.trace.add("store delete_queue_entry %s: %v", what, err)
	return err
}

func (f *faultStore) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	if err := f.fault(ctx, "queue_entry", userID); err != nil {
		return persistence.QueueEntry{}, err
	}
	return f.Store.QueueEntry(ctx, userID)
}

func (f *faultStore) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	if err := f.fault(ctx, "queue_entries", pool); err != nil {
		return nil, err
	}
	es, err := f.Store.QueueEntries(ctx, pool, since)
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.UserID
	}
	f.trace.add("store queue_entries %s: %v %v", pool, ids, err)
	return es, err
}

func (f *faultStore) RecordWaitSample(ctx context.Context, s persistence.WaitSample) error {
	if err := f.fault(ctx, "record_wait_sample", s.Pool); err != nil {
		return err
	}
	return f.Store.RecordWaitSample(ctx, s)
}

func (f *faultStore) Audit(ctx context.Context, e persistence.AuditEntry) error {
	if err := f.fault(ctx, "audit", e.Actor); err != nil {
		return err
	}
	return f.Store.Audit(ctx, e)
}
