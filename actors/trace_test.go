package actors

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// failingStore fails every PutQueueEntry.
type failingStore struct{ Store }

func (failingStore) PutQueueEntry(context.Context, persistence.QueueEntry) error {
	return errors.New("down")
}

func TestTraceStore(t *testing.T) {
	tr := &sentry.MockTransport{}
	client, err := sentry.NewClient(sentry.ClientOptions{Dsn: "http://k@127.0.0.1:1/1", Transport: tr, EnableTracing: true, TracesSampleRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	hub := sentry.NewHub(client, sentry.NewScope())
	st := TraceStore(memory.New())
	bad := TraceStore(failingStore{memory.New()})
	e := persistence.QueueEntry{UserID: "u1", Pool: "eu", EnqueuedAt: time.Now()}

	// Without a span: straight through, nothing sent.
	if err := st.PutQueueEntry(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	tx := sentry.StartTransaction(sentry.SetHubOnContext(context.Background(), hub), "test")
	if err := st.PutQueueEntry(tx.Context(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Profile(tx.Context(), "nobody"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("profile of nobody: %v", err)
	}
	if err := bad.PutQueueEntry(tx.Context(), e); err == nil {
		t.Fatal("failing store did not fail")
	}
	router := NewRouter(TestConfig(), slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry())) // never attached
	if _, err := Ask[*msg.EnqueueReply](tx.Context(), router, KindMatchPool, "eu", &msg.Enqueue{}, time.Millisecond); err == nil {
		t.Fatal("ask without a router answered")
	}
	tx.Finish()
	evs := tr.Events()
	if len(evs) != 1 {
		t.Fatalf("%d transactions, want 1", len(evs))
	}
	type want struct {
		op, desc string
		status   sentry.SpanStatus
	}
	var got []want
	for _, sp := range evs[0].Spans {
		got = append(got, want{sp.Op, sp.Description, sp.Status})
	}
	exp := []want{
		{"db", "PutQueueEntry", sentry.SpanStatusOK},
		{"db", "Profile", sentry.SpanStatusOK}, // not found is an answer
		{"db", "PutQueueEntry", sentry.SpanStatusInternalError},
		{"grain.request", "MatchPool Enqueue", sentry.SpanStatusUndefined},
	}
	if len(got) != len(exp) {
		t.Fatalf("spans %v, want %v", got, exp)
	}
	for i := range exp {
		if got[i] != exp[i] {
			t.Errorf("span %d: %v, want %v", i, got[i], exp[i])
		}
	}
}

// TestTracingOffCostsNothing: without a span in the context, the grain
// request and store hooks and a session's breadcrumbs allocate nothing.
func TestTracingOffCostsNothing(t *testing.T) {
	ctx := context.Background()
	m := &msg.Command{Kind: &msg.Command_Spin{Spin: &msg.SpinCmd{}}}
	s := &session{}
	if n := testing.AllocsPerRun(100, func() {
		if grainSpan(ctx, KindUserSession, m) != nil {
			t.Fatal("span without a transaction")
		}
		_, span := dbSpan(ctx, "Profile")
		endSpan(span, nil)
		s.crumb("queued", "pool", "eu")
		_ = s.base()
	}); n != 0 {
		t.Fatalf("%v allocations with tracing off", n)
	}
	if m.Trace != "" {
		t.Fatal("trace set without a span")
	}
}
