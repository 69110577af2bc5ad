package actors

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/spinmatch/spinmatch/persistence"
	"github.com/spinmatch/spinmatch/persistence/memory"
)

// pingStore answers Ping without allocating (the rest is memory's).
type pingStore struct{ Store }

func (pingStore) Ping(context.Context) error { return nil }

func TestMeasureStoreObservesByOpWithoutAllocating(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := MeasureStore(pingStore{memory.New()}, m)
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = s.Ping(ctx) }); n != 0 {
		t.Errorf("a measured Ping allocates %v times; want 0", n)
	}
	if _, err := s.Profile(ctx, "nobody"); err == nil {
		t.Fatal("Profile of a missing user: no error")
	}
	if err := s.PutProfile(ctx, persistence.Profile{UserID: "u1", DisplayName: "A", Gender: "male", Seeking: []string{"female"}}); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]int{"ping": 101, "profile": 1, "put_profile": 1, "votes": 0} {
		h := m.StoreLatency.WithLabelValues(op).(prometheus.Histogram)
		if got := histogramCount(t, h); got != want {
			t.Errorf("op %s: %d observations; want %d", op, got, want)
		}
	}
	// Every op's series exists from the start.
	ch := make(chan prometheus.Metric, 2*numStoreOps)
	m.StoreLatency.Collect(ch)
	if n := len(ch); n != numStoreOps {
		t.Errorf("%d store latency series; want %d", n, numStoreOps)
	}
}

func histogramCount(t *testing.T, h prometheus.Histogram) int {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var out dto.Metric
	if err := (<-ch).Write(&out); err != nil {
		t.Fatal(err)
	}
	return int(out.GetHistogram().GetSampleCount())
}
