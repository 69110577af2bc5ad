package pool

import (
	"math"
	"testing"
)

func TestErlangQuantile(t *testing.T) {
	// References: exact exponential quantiles for k=1; for k=5 and k=10 the
	// chi-square table (Gamma(k,1) = chi2(2k)/2): chi2(10) median 9.341818,
	// 90% 15.987179; chi2(20) median 19.337429, 90% 28.411981.
	tests := []struct {
		name string
		k    int
		p    float64
		want float64
	}{
		{"k=1 p50 ln2", 1, 0.5, math.Ln2},
		{"k=1 p90 ln10", 1, 0.9, math.Ln10},
		{"k=5 p50", 5, 0.5, 9.341818 / 2},
		{"k=5 p90", 5, 0.9, 15.987179 / 2},
		{"k=10 p50", 10, 0.5, 19.337429 / 2},
		{"k=10 p90", 10, 0.9, 28.411981 / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := erlangQuantile(tt.k, tt.p); math.Abs(got-tt.want) > 1e-5*tt.want {
				t.Errorf("erlangQuantile = %.7f, want %.7f", got, tt.want)
			}
			if got := wilsonHilferty(tt.k, tt.p); math.Abs(got-tt.want) > 0.02*tt.want {
				t.Errorf("wilsonHilferty = %.7f, not within 2%% of %.7f", got, tt.want)
			}
		})
	}
}

func TestErlangQuantileLargeK(t *testing.T) {
	// Above maxExactK only the approximation is used: it must meet the
	// exact value at the boundary and grow like k.
	exact := erlangQuantile(maxExactK, 0.9)
	approx := wilsonHilferty(maxExactK, 0.9)
	if math.Abs(exact-approx) > 1e-4*exact {
		t.Errorf("k=%d: exact %.6f vs Wilson-Hilferty %.6f", maxExactK, exact, approx)
	}
	if q := erlangQuantile(5000, 0.5); q < 4990 || q > 5010 {
		t.Errorf("k=5000 median = %f", q)
	}
}
