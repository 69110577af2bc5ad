package actors

import (
	"context"
	"reflect"
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

// TestMeasureStoreMeasuresEveryMethod calls every Store method once
// through the wrapper: each must add one observation (a method a later
// Store gains passes through unmeasured until it is added here).
func TestMeasureStoreMeasuresEveryMethod(t *testing.T) {
	m := NewMetrics(nil)
	s := reflect.ValueOf(MeasureStore(memory.New(), m))
	iface := reflect.TypeFor[Store]()
	total := func() int {
		n := 0
		for _, op := range storeOpNames {
			n += histogramCount(t, m.StoreLatency.WithLabelValues(op).(prometheus.Histogram))
		}
		return n
	}
	for i := range iface.NumMethod() {
		name := iface.Method(i).Name
		fn := s.MethodByName(name)
		args := make([]reflect.Value, fn.Type().NumIn())
		args[0] = reflect.ValueOf(context.Background())
		for j := 1; j < len(args); j++ {
			args[j] = reflect.Zero(fn.Type().In(j))
		}
		before := total()
		fn.Call(args)
		if got := total() - before; got != 1 {
			t.Errorf("Store.%s: %d observations; want 1 (add it to MeasureStore)", name, got)
		}
	}
}
