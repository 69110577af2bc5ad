package pool

import (
	"math"
	"time"
)

// The remaining wait of someone k-th in line, when partners arrive at rate
// lambda and each of the people ahead leaves at rate gamma, is a sum of k
// independent exponential stages: at position j the line moves when a
// partner arrives or one of the j-1 ahead leaves, at rate lambda+(j-1)gamma.
// Its moments have closed forms through the digamma and trigamma functions,
// so an estimate costs the same at position 3 as at position 100,000.

// stageSums returns S1 = sum 1/r_j and S2 = sum 1/r_j^2 over the k rates
// r_j = lambda + (j-1+shift)*gamma, j = 1..k: the mean and the variance of
// the sum of the stages. lambda > 0, gamma >= 0, shift >= 0, k >= 1.
func stageSums(k int, lambda, gamma, shift float64) (s1, s2 float64) {
	if k < 1 || lambda <= 0 {
		return 0, 0
	}
	// No leaving: the closed form; few stages: sum directly.
	if gamma <= 0 {
		return float64(k) / lambda, float64(k) / (lambda * lambda)
	}
	if k <= 64 {
		for j := range k {
			r := lambda + (float64(j)+shift)*gamma
			s1 += 1 / r
			s2 += 1 / (r * r)
		}
		return s1, s2
	}
	// sum_{j=0}^{k-1} 1/(gamma (a+j)) = (psi(a+k) - psi(a)) / gamma, and
	// sum 1/(gamma (a+j))^2 = (psi1(a) - psi1(a+k)) / gamma^2, a = lambda/gamma + shift.
	a := lambda/gamma + shift
	return digammaDiff(a, k) / gamma, trigammaDiff(a, k) / (gamma * gamma)
}

// asymptoticFrom is where the asymptotic series of digamma and trigamma are
// used; smaller arguments are stepped up with the recurrences.
const asymptoticFrom = 8

// digammaDiff returns psi(a+k) - psi(a) = sum_{j<k} 1/(a+j), a > 0.
func digammaDiff(a float64, k int) float64 {
	var d float64
	for k > 0 && a < asymptoticFrom {
		d += 1 / a
		a++
		k--
	}
	if k == 0 {
		return d
	}
	b := a + float64(k)
	// psi(x) ~ ln x - 1/(2x) - 1/(12x^2) + 1/(120x^4) - 1/(252x^6); the
	// logarithms are taken as one log1p so that a large a loses nothing.
	return d + math.Log1p(float64(k)/a) - psiTail(b) + psiTail(a)
}

// psiTail is ln x - psi(x) by the asymptotic series.
func psiTail(x float64) float64 {
	x2 := 1 / (x * x)
	return 1/(2*x) + x2*(1.0/12-x2*(1.0/120-x2/252))
}

// trigammaDiff returns psi1(a) - psi1(a+k) = sum_{j<k} 1/(a+j)^2, a > 0.
func trigammaDiff(a float64, k int) float64 {
	var d float64
	for k > 0 && a < asymptoticFrom {
		d += 1 / (a * a)
		a++
		k--
	}
	if k == 0 {
		return d
	}
	return d + trigammaAsym(a) - trigammaAsym(a+float64(k))
}

// trigammaAsym is psi1(x) by its asymptotic series, x >= asymptoticFrom.
func trigammaAsym(x float64) float64 {
	x2 := 1 / (x * x)
	return 1/x + x2*(0.5+(1/x)*(1.0/6-x2*(1.0/30-x2/42)))
}

// gammaQuantile returns the p-quantile of the Gamma distribution with the
// given mean and variance (shape mean^2/var), by the Wilson-Hilferty cube
// root approximation; within about 1.5% for shapes from 1 up, which is
// where sums of exponential stages fall (a lone exponential has shape 1).
// Below that (rates so uncertain that the spread exceeds the mean) it is
// rough, and a quantile the approximation puts at zero is floored at a
// hundredth of the mean, so that nobody is told "0 s" for want of data.
func gammaQuantile(mean, variance, p float64) float64 {
	if mean <= 0 {
		return 0
	}
	if variance <= 0 {
		return mean
	}
	shape := mean * mean / variance
	scale := variance / mean
	z := math.Sqrt2 * math.Erfinv(2*p-1)
	c := 1 - 1/(9*shape) + z/(3*math.Sqrt(shape))
	return max(shape*scale*c*c*c, mean/100, 0)
}

// OracleP50 is the model's median remaining wait of someone k-th in line
// when partners arrive at rate lambda and every waiter leaves at rate gamma
// (per second), both known exactly: the simulator's oracle, which shows
// how much of an estimate's error is the future's and not the estimator's.
func OracleP50(k int, lambda, gamma float64) time.Duration {
	s1, s2 := stageSums(max(k, 1), lambda+gamma, gamma, 0)
	return seconds(gammaQuantile(s1, s2, 0.5))
}
