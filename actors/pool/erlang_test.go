package pool

import "math"

// Exact Erlang quantiles: the reference the tests hold gammaQuantile to.

// maxExactK is the largest shape for which erlangQuantile refines the
// Wilson-Hilferty start with Newton steps on the exact Erlang CDF; above it
// the approximation alone is already within 0.01%.
const maxExactK = 200

// erlangQuantile returns x such that P(X <= x) = p for X ~ Gamma(k, 1), k a
// positive integer (the time until the k-th event of a unit-rate Poisson
// process). Divide by the rate to get the quantile of Gamma(k, rate).
func erlangQuantile(k int, p float64) float64 {
	if k < 1 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return math.Inf(1)
	}
	if k == 1 {
		return -math.Log1p(-p) // exponential
	}
	x := wilsonHilferty(k, p)
	if k > maxExactK {
		return x
	}
	lgk, _ := math.Lgamma(float64(k))
	for range 20 {
		cdf, pdf := erlangCDF(k, x, lgk)
		if pdf <= 0 {
			break
		}
		step := (cdf - p) / pdf
		nx := x - step
		if nx <= 0 {
			nx = x / 2
		}
		if math.Abs(nx-x) <= 1e-10*x {
			return nx
		}
		x = nx
	}
	return x
}

// wilsonHilferty approximates the p-quantile of Gamma(k, 1):
// k * (1 - 1/(9k) + z/(3*sqrt(k)))^3 with z the standard normal p-quantile.
func wilsonHilferty(k int, p float64) float64 {
	kf := float64(k)
	z := math.Sqrt2 * math.Erfinv(2*p-1)
	c := 1 - 1/(9*kf) + z/(3*math.Sqrt(kf))
	if c <= 0 {
		return kf * 1e-3
	}
	return kf * c * c * c
}

// erlangCDF returns P(X <= x) and the density at x for X ~ Gamma(k, 1):
// CDF = 1 - exp(-x) * sum_{i<k} x^i/i!, density = x^(k-1) exp(-x) / (k-1)!.
// lgk is log((k-1)!).
func erlangCDF(k int, x, lgk float64) (cdf, pdf float64) {
	term := math.Exp(-x)
	sum := term
	for i := 1; i < k; i++ {
		term *= x / float64(i)
		sum += term
	}
	pdf = math.Exp(float64(k-1)*math.Log(x) - x - lgk)
	return 1 - sum, pdf
}
