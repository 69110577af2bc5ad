package pool

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// lineRecord is one man of a simulated line who was matched: his place in
// line at his spin, the predecessor's estimate then (the mean matched wait
// of the last 5 minutes) and his real wait, in seconds.
type lineRecord struct {
	pos        int
	pred, wait float64
}

// simulateLine runs a steady two-sided line on its own, apart from the pool:
// men spin at lm a second and wait first come, first served, each leaving
// after an exponential patience of mean patience seconds; women spin at lw
// and take the man at the head at once. It returns the men who spun after
// warm seconds and were matched before the end.
func simulateLine(seed uint64, lm, lw, patience, warm, end float64) []lineRecord {
	rng := rand.New(rand.NewPCG(seed, 7))
	type man struct {
		spun, leaves, pred float64
		pos                int
	}
	type done struct{ at, wait float64 }
	var line []man
	var past []done // matched waits, oldest first
	var out []lineRecord
	nextM, nextW := rng.ExpFloat64()/lm, rng.ExpFloat64()/lw
	for t := 0.0; t < end; {
		leave, who := math.Inf(1), -1
		for i, m := range line {
			if m.leaves < leave {
				leave, who = m.leaves, i
			}
		}
		switch {
		case nextM <= nextW && nextM <= leave:
			t = nextM
			nextM += rng.ExpFloat64() / lm
			var sum float64
			n := 0
			for i := len(past) - 1; i >= 0 && past[i].at > t-300; i-- {
				sum += past[i].wait
				n++
			}
			pred := 0.0
			if n > 0 {
				pred = sum / float64(n)
			}
			line = append(line, man{spun: t, leaves: t + patience*rng.ExpFloat64(), pred: pred, pos: len(line) + 1})
		case nextW <= leave:
			t = nextW
			nextW += rng.ExpFloat64() / lw
			if len(line) == 0 {
				continue
			}
			m := line[0]
			line = line[1:]
			past = append(past, done{t, t - m.spun})
			if m.spun > warm {
				out = append(out, lineRecord{m.pos, m.pred, t - m.spun})
			}
		default:
			t = leave
			line = slices.Delete(line, who, who+1)
		}
	}
	return out
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestOracleIsTheBestThereIs checks the claim of docs/DESIGN.md ("Wait
// estimates") that in a steady Poisson line with exponential patience the
// oracle (OracleP50: the model given the true rates) is the best estimate
// there is, and that even it stays above 0.7x the predecessor's error: the
// error left is the future's (the arrivals and departures over the wait),
// not the model's. The yardstick needs no model: the median real wait of
// every place in line, learned from a separate 12-hour run (a line with
// exponential patience and Poisson arrivals is Markov in the place, so no
// other knowledge of the line's state can do better).
func TestOracleIsTheBestThereIs(t *testing.T) {
	for _, tc := range []struct {
		name             string
		lm, lw, patience float64
	}{
		{"3to1-20s", 3, 1, 20},
		{"3to1-45s", 3, 1, 45},
	} {
		train := simulateLine(99, tc.lm, tc.lw, tc.patience, 600, 12*3600)
		byPos := map[int][]float64{}
		for _, r := range train {
			byPos[r.pos] = append(byPos[r.pos], r.wait)
		}
		test := simulateLine(1, tc.lm, tc.lw, tc.patience, 600, 3600+600)
		var oracle, empirical, pred []float64
		for _, r := range test {
			o := OracleP50(r.pos, tc.lw, 1/tc.patience).Seconds()
			e := o
			if ws := byPos[r.pos]; len(ws) >= 20 {
				e = medianOf(ws)
			}
			oracle = append(oracle, math.Abs(r.wait-o))
			empirical = append(empirical, math.Abs(r.wait-e))
			pred = append(pred, math.Abs(r.wait-r.pred))
		}
		o, e, p := medianOf(oracle), medianOf(empirical), medianOf(pred)
		t.Logf("%s: %d men, median error: oracle %.2fs, median wait by place %.2fs, predecessor %.2fs (oracle %.2fx)", tc.name, len(test), o, e, p, o/p)
		if len(test) < 3000 {
			t.Fatalf("%s: only %d matched men", tc.name, len(test))
		}
		if o > 1.03*e {
			t.Errorf("%s: the oracle's median error %.2fs is above the median wait by place's %.2fs: the model is not the best estimate", tc.name, o, e)
		}
		if o >= p || o < 0.7*p {
			t.Errorf("%s: the oracle's median error %.2fs is not between 0.7x and 1x the predecessor's %.2fs", tc.name, o, p)
		}
	}
}
