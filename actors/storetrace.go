package actors

import (
	"context"
	"errors"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/spinmatch/spinmatch/persistence"
)

// TraceStore wraps s so that every call made with a context that carries a
// sampled Sentry span (a traced command, see traceCommand) becomes a child span of
// op "db" named for the call. Calls without a span go straight through at
// the cost of one context lookup. Methods a later Store gains pass through
// untraced (the interface is embedded). Wrap the grains' store with it only
// when Sentry is on.
func TraceStore(s Store) Store { return tracedStore{s} }

// tracedStore is the Store decorator of TraceStore. Stateless.
type tracedStore struct{ Store }

// dbSpan starts the child span of a store call, or returns nil when ctx
// carries no span.
func dbSpan(ctx context.Context, call string) (context.Context, *sentry.Span) {
	if !sampled(ctx) {
		return ctx, nil
	}
	span := sentry.StartSpan(ctx, "db", sentry.WithDescription(call))
	return span.Context(), span
}

// endSpan finishes a store call's span with its outcome.
func endSpan(span *sentry.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.Status = sentry.SpanStatusInternalError
		span.SetData("error", err.Error())
	} else {
		span.Status = sentry.SpanStatusOK
	}
	span.Finish()
}

func (t tracedStore) Ping(ctx context.Context) error {
	ctx, span := dbSpan(ctx, "Ping")
	err := t.Store.Ping(ctx)
	endSpan(span, err)
	return err
}

func (t tracedStore) Profile(ctx context.Context, userID string) (persistence.Profile, error) {
	ctx, span := dbSpan(ctx, "Profile")
	p, err := t.Store.Profile(ctx, userID)
	endSpan(span, notFoundOK(err))
	return p, err
}

func (t tracedStore) PutProfile(ctx context.Context, p persistence.Profile) error {
	ctx, span := dbSpan(ctx, "PutProfile")
	err := t.Store.PutProfile(ctx, p)
	endSpan(span, err)
	return err
}

func (t tracedStore) CreateMatch(ctx context.Context, m persistence.Match) (bool, error) {
	ctx, span := dbSpan(ctx, "CreateMatch")
	created, err := t.Store.CreateMatch(ctx, m)
	endSpan(span, err)
	return created, err
}

func (t tracedStore) ActiveMatch(ctx context.Context, userID string, since time.Time) (persistence.Match, error) {
	ctx, span := dbSpan(ctx, "ActiveMatch")
	m, err := t.Store.ActiveMatch(ctx, userID, since)
	endSpan(span, notFoundOK(err))
	return m, err
}

func (t tracedStore) RecordVote(ctx context.Context, matchID, voter, choice string) (string, error) {
	ctx, span := dbSpan(ctx, "RecordVote")
	c, err := t.Store.RecordVote(ctx, matchID, voter, choice)
	endSpan(span, err)
	return c, err
}

func (t tracedStore) Votes(ctx context.Context, matchID string) (map[string]string, error) {
	ctx, span := dbSpan(ctx, "Votes")
	v, err := t.Store.Votes(ctx, matchID)
	endSpan(span, notFoundOK(err))
	return v, err
}

func (t tracedStore) RecordResult(ctx context.Context, matchID, result string) (string, error) {
	ctx, span := dbSpan(ctx, "RecordResult")
	r, err := t.Store.RecordResult(ctx, matchID, result)
	endSpan(span, err)
	return r, err
}

func (t tracedStore) MatchHistory(ctx context.Context, userID string, limit int) ([]persistence.HistoryEntry, error) {
	ctx, span := dbSpan(ctx, "MatchHistory")
	h, err := t.Store.MatchHistory(ctx, userID, limit)
	endSpan(span, err)
	return h, err
}

func (t tracedStore) RecentPartners(ctx context.Context, userID string, since time.Time) ([]string, error) {
	ctx, span := dbSpan(ctx, "RecentPartners")
	p, err := t.Store.RecentPartners(ctx, userID, since)
	endSpan(span, err)
	return p, err
}

func (t tracedStore) PutQueueEntry(ctx context.Context, e persistence.QueueEntry) error {
	ctx, span := dbSpan(ctx, "PutQueueEntry")
	err := t.Store.PutQueueEntry(ctx, e)
	endSpan(span, err)
	return err
}

func (t tracedStore) DeleteQueueEntry(ctx context.Context, userID string, enqueuedAt time.Time) error {
	ctx, span := dbSpan(ctx, "DeleteQueueEntry")
	err := t.Store.DeleteQueueEntry(ctx, userID, enqueuedAt)
	endSpan(span, err)
	return err
}

func (t tracedStore) QueueEntry(ctx context.Context, userID string) (persistence.QueueEntry, error) {
	ctx, span := dbSpan(ctx, "QueueEntry")
	e, err := t.Store.QueueEntry(ctx, userID)
	endSpan(span, notFoundOK(err))
	return e, err
}

func (t tracedStore) QueueEntries(ctx context.Context, pool string, since time.Time) ([]persistence.QueueEntry, error) {
	ctx, span := dbSpan(ctx, "QueueEntries")
	e, err := t.Store.QueueEntries(ctx, pool, since)
	endSpan(span, err)
	return e, err
}

func (t tracedStore) RecordWaitSample(ctx context.Context, s persistence.WaitSample) error {
	ctx, span := dbSpan(ctx, "RecordWaitSample")
	err := t.Store.RecordWaitSample(ctx, s)
	endSpan(span, err)
	return err
}

func (t tracedStore) Audit(ctx context.Context, e persistence.AuditEntry) error {
	ctx, span := dbSpan(ctx, "Audit")
	err := t.Store.Audit(ctx, e)
	endSpan(span, err)
	return err
}

func (t tracedStore) SummarizePeriod(ctx context.Context, start, end, asOf time.Time) (persistence.PeriodSummary, error) {
	ctx, span := dbSpan(ctx, "SummarizePeriod")
	s, err := t.Store.SummarizePeriod(ctx, start, end, asOf)
	endSpan(span, err)
	return s, err
}

func (t tracedStore) PutReport(ctx context.Context, r persistence.Report) (persistence.Report, error) {
	ctx, span := dbSpan(ctx, "PutReport")
	out, err := t.Store.PutReport(ctx, r)
	endSpan(span, err)
	return out, err
}

func (t tracedStore) Reports(ctx context.Context, period string, since time.Time, limit int) ([]persistence.Report, error) {
	ctx, span := dbSpan(ctx, "Reports")
	out, err := t.Store.Reports(ctx, period, since, limit)
	endSpan(span, err)
	return out, err
}

// notFoundOK is err, except that a missing record is an answer, not a
// failed call.
func notFoundOK(err error) error {
	if errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	return err
}
