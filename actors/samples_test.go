package actors

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// blockingStore holds every RecordWaitSample until release is closed.
type blockingStore struct {
	*memory.Store
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (b *blockingStore) RecordWaitSample(ctx context.Context, s persistence.WaitSample) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return nil
}

func TestSampleWriterNeverBlocksAndDropsWhenFull(t *testing.T) {
	st := &blockingStore{Store: memory.New(), release: make(chan struct{})}
	m := NewMetrics(nil)
	w := NewSampleWriter(st, 4, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sample := persistence.WaitSample{Pool: "p", Gender: "male", Wait: time.Second, Outcome: "matched", At: time.Now()}
	w.Add(sample)
	for deadline := time.Now().Add(5 * time.Second); len(w.queue) > 0; { // the writer takes it and blocks
		if time.Now().After(deadline) {
			t.Fatal("writer never took the first sample")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for i := 0; i < 19; i++ {
		w.Add(sample)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Add blocked for %v", d)
	}
	// One sample is in flight, four are queued, the rest were dropped.
	if got := counterValue(t, m.SamplesDropped); got != 15 {
		t.Fatalf("dropped %v, want 15", got)
	}
	close(st.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st.n != 5 {
		t.Fatalf("written %d, want 5", st.n)
	}
	if err := w.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("second shutdown: %v", err)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
