package pool

import (
	"math"
	"testing"
)

func TestStageSumsMatchDirectSums(t *testing.T) {
	for _, tc := range []struct {
		k                    int
		lambda, gamma, shift float64
	}{
		{1, 1, 0.02, 0}, {65, 0.3, 0.02, 1}, {1000, 1, 1.0 / 45, 0}, {100000, 0.01, 1e-4, 1},
		{5000, 50, 1e-6, 0}, {300, 1e-3, 10, 1},
	} {
		var w1, w2 float64
		for j := range tc.k {
			r := tc.lambda + (float64(j)+tc.shift)*tc.gamma
			w1 += 1 / r
			w2 += 1 / (r * r)
		}
		s1, s2 := stageSums(tc.k, tc.lambda, tc.gamma, tc.shift)
		if math.Abs(s1-w1) > 1e-9*w1 || math.Abs(s2-w2) > 1e-9*w2 {
			t.Errorf("stageSums%+v = %g, %g; direct %g, %g", tc, s1, s2, w1, w2)
		}
	}
	if s1, s2 := stageSums(10, 2, 0, 0); s1 != 5 || s2 != 2.5 {
		t.Errorf("no leaving: %g, %g; want 5, 2.5", s1, s2)
	}
}

func TestGammaQuantile(t *testing.T) {
	for _, k := range []int{1, 2, 5, 30, 400} {
		for _, p := range []float64{0.5, 0.9} {
			want := erlangQuantile(k, p)
			got := gammaQuantile(float64(k), float64(k), p) // Gamma(k, 1)
			if math.Abs(got-want) > 0.015*want {
				t.Errorf("k=%d p=%v: Wilson-Hilferty %g, exact %g", k, p, got, want)
			}
		}
	}
}
