package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"sub-millisecond", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(1000)) * time.Microsecond }},
		{"log-uniform to 10s", func(r *rand.Rand) time.Duration {
			return time.Duration(float64(time.Microsecond) * math.Pow(10, r.Float64()*7))
		}},
		{"exponential 5ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(5*time.Millisecond)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			xs := make([]time.Duration, 50_000)
			for i := range xs {
				xs[i] = tc.gen(r)
				h.Record(xs[i])
			}
			slices.Sort(xs)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				exact := xs[int(q*float64(len(xs)))-1]
				got := h.Quantile(q)
				// Within one bucket (3%) or 1 µs of the exact order statistic.
				if diff := absDur(got - exact); diff > exact/32+time.Microsecond {
					t.Errorf("q%.3f: %v, exact %v", q, got, exact)
				}
			}
			if h.Max() != xs[len(xs)-1] || h.Count() != uint64(len(xs)) {
				t.Errorf("max %v count %d, want %v %d", h.Max(), h.Count(), xs[len(xs)-1], len(xs))
			}
		})
	}
}

func TestHistogramSparseRoundTrip(t *testing.T) {
	var a, b Histogram
	for _, d := range []time.Duration{0, 3 * time.Microsecond, time.Millisecond, 2 * time.Second, 100 * time.Hour, -time.Second} {
		a.Record(d)
	}
	b.AddSparse(a.Sparse())
	b.AddSparse(Sparse{Counts: map[int]uint64{-1: 5, histBuckets: 5}}) // out of range: ignored
	if b.Count() != a.Count() || b.Quantile(0.5) != a.Quantile(0.5) || b.Max() != a.Max() {
		t.Fatalf("round trip: %d %v %v, want %d %v %v", b.Count(), b.Quantile(0.5), b.Max(), a.Count(), a.Quantile(0.5), a.Max())
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
}

func TestBucketsAreOrdered(t *testing.T) {
	prev := -1
	for us := range 1 << 20 {
		b := bucket(time.Duration(us) * time.Microsecond)
		if b < prev || lowest(b) > time.Duration(us)*time.Microsecond {
			t.Fatalf("%d µs: bucket %d (lowest %v) after %d", us, b, lowest(b), prev)
		}
		prev = b
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
