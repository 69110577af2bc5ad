package actors

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/persistence"
)

// Store operations, the op label of spinmatch_store_call_seconds (the same
// names as spinmatch_store_errors_total's).
const (
	storePing = iota
	storeProfile
	storePutProfile
	storeCreateMatch
	storeActiveMatch
	storeRecordVote
	storeVotes
	storeRecordResult
	storeMatchHistory
	storeRecentPartners
	storePutQueueEntry
	storeDeleteQueueEntry
	storeQueueEntry
	storeQueueEntries
	storeRecordWaitSample
	storeAudit
	storeAuditLog
	storeSummarizePeriod
	storePutReport
	storeReports
	storeStats
	numStoreOps
)

// storeOpNames are the op label values, by store operation.
var storeOpNames = [numStoreOps]string{
	"ping", "profile", "put_profile", "create_match", "active_match", "record_vote", "votes",
	"record_result", "match_history", "recent_partners", "put_queue_entry", "delete_queue_entry",
	"queue_entry", "queue_entries", "record_wait_sample", "audit", "audit_log", "summarize_period",
	"put_report", "reports", "stats",
}

// MeasureStore wraps s so that every call's latency (errors included) is
// observed in m.StoreLatency by operation. It is always on: the observers
// are resolved once here, so a call costs two clock reads and one atomic
// histogram update, and allocates nothing. Methods a later Store gains pass
// through unmeasured (the interface is embedded).
func MeasureStore(s Store, m *Metrics) Store {
	ms := &measuredStore{Store: s}
	for op := range numStoreOps {
		ms.obs[op] = m.StoreLatency.WithLabelValues(storeOpNames[op])
	}
	return ms
}

// measuredStore is the Store decorator of MeasureStore. Static after
// MeasureStore.
type measuredStore struct {
	Store
	obs [numStoreOps]prometheus.Observer
}

func (s *measuredStore) since(op int, t0 time.Time) {
	s.obs[op].Observe(time.Since(t0).Seconds())
}

func (s *measuredStore) Ping(ctx context.Context) error {
	t0 := time.Now()
	err := s.Store.Ping(ctx)
	s.since(storePing, t0)
	return err
}

func (s *measuredStore) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	t0 := time.Now()
	p, err := s.Store.Profile(ctx, userID)
	s.since(storeProfile, t0)
	return p, err
}

func (s *measuredStore) PutProfile(ctx context.Context, p persistence.Profile) error {
	t0 := time.Now()
	err := s.Store.PutProfile(ctx, p)
	s.since(storePutProfile, t0)
	return err
}

func (s *measuredStore) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	t0 := time.Now()
	created, err := s.Store.CreateMatch(ctx, m)
	s.since(storeCreateMatch, t0)
	return created, err
}

func (s *measuredStore) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	t0 := time.Now()
	m, err := s.Store.ActiveMatch(ctx, userID, since)
	s.since(storeActiveMatch, t0)
	return m, err
}

func (s *measuredStore) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	t0 := time.Now()
	c, err := s.Store.RecordVote(ctx, matchID, voter, choice)
	s.since(storeRecordVote, t0)
	return c, err
}

func (s *measuredStore) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	t0 := time.Now()
	v, err := s.Store.Votes(ctx, matchID)
	s.since(storeVotes, t0)
	return v, err
}

func (s *measuredStore) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	t0 := time.Now()
	r, err := s.Store.RecordResult(ctx, matchID, result)
	s.since(storeRecordResult, t0)
	return r, err
}

func (s *measuredStore) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	t0 := time.Now()
	h, err := s.Store.MatchHistory(ctx, userID, limit)
	s.since(storeMatchHistory, t0)
	return h, err
}

func (s *measuredStore) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	t0 := time.Now()
	p, err := s.Store.RecentPartners(ctx, userID, since)
	s.since(storeRecentPartners, t0)
	return p, err
}

func (s *measuredStore) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	t0 := time.Now()
	err := s.Store.PutQueueEntry(ctx, e)
	s.since(storePutQueueEntry, t0)
	return err
}

func (s *measuredStore) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	t0 := time.Now()
	err := s.Store.DeleteQueueEntry(ctx, userID, enqueuedAt)
	s.since(storeDeleteQueueEntry, t0)
	return err
}

func (s *measuredStore) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	t0 := time.Now()
	e, err := s.Store.QueueEntry(ctx, userID)
	s.since(storeQueueEntry, t0)
	return e, err
}

func (s *measuredStore) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	t0 := time.Now()
	e, err := s.Store.QueueEntries(ctx, pool, since)
	s.since(storeQueueEntries, t0)
	return e, err
}

func (s *measuredStore) RecordWaitSample(ctx context.Context, ws persistence.WaitSample) error {
	t0 := time.Now()
	err := s.Store.RecordWaitSample(ctx, ws)
	s.since(storeRecordWaitSample, t0)
	return err
}

func (s *measuredStore) Audit(ctx context.Context, e persistence.AuditEntry) error {
	t0 := time.Now()
	err := s.Store.Audit(ctx, e)
	s.since(storeAudit, t0)
	return err
}

func (s *measuredStore) AuditLog(ctx context.Context, limit int) ([]persistence.AuditEntry, error) {
	t0 := time.Now()
	out, err := s.Store.AuditLog(ctx, limit)
	s.since(storeAuditLog, t0)
	return out, err
}

func (s *measuredStore) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	t0 := time.Now()
	sum, err := s.Store.SummarizePeriod(ctx, start, end, asOf)
	s.since(storeSummarizePeriod, t0)
	return sum, err
}

func (s *measuredStore) PutReport(ctx context.Context, r persistence.Report) (persistence.Report, error) {
	t0 := time.Now()
	out, err := s.Store.PutReport(ctx, r)
	s.since(storePutReport, t0)
	return out, err
}

func (s *measuredStore) Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error) {
	t0 := time.Now()
	out, err := s.Store.Reports(ctx, period, since, limit)
	s.since(storeReports, t0)
	return out, err
}

func (s *measuredStore) Stats(ctx context.Context) (persistence.StoreStats, error) {
	t0 := time.Now()
	st, err := s.Store.Stats(ctx)
	s.since(storeStats, t0)
	return st, err
}
