package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in log-linear buckets, as HDR histograms do:
// every power of two of microseconds is split into 2^histSubBits equal
// buckets, so a percentile read from it is within about 1.6% of the true
// value, from 1 µs to over 19 hours, in a fixed 18 KiB. It is not safe for
// concurrent use; each worker goroutine that records owns its own, or
// guards it (Stats).
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMags    = 37 // 2^36 µs is 19 hours
	histBuckets = histSub * histMags
)

// bucket returns the bucket of d, in microseconds.
func bucket(d time.Duration) int {
	us := uint64(d / time.Microsecond)
	if us < histSub {
		return int(us)
	}
	mag := bits.Len64(us) - histSubBits // >= 1
	if mag >= histMags {
		return histBuckets - 1
	}
	sub := int(us>>(mag-1)) - histSub // 0..histSub-1
	return mag*histSub + sub
}

// lowest returns the smallest duration that falls in bucket i.
func lowest(i int) time.Duration {
	mag, sub := i/histSub, i%histSub
	if mag == 0 {
		return time.Duration(sub) * time.Microsecond
	}
	return time.Duration(uint64(histSub+sub)<<(mag-1)) * time.Microsecond
}

// Record counts one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(d)]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// Count is how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest duration recorded.
func (h *Histogram) Max() time.Duration { return h.max }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Quantile returns the q-quantile (0 < q <= 1): the middle of the bucket
// that holds it, never above the largest duration recorded. Zero when h is
// empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := lowest(i)
			hi := lowest(i + 1)
			if i+1 >= histBuckets {
				hi = lo
			}
			return min(lo+(hi-lo)/2, h.max)
		}
	}
	return h.max
}

// Sparse is a Histogram's non-zero buckets, as the workers send them to
// the coordinator: bucket index to count, plus the largest duration.
type Sparse struct {
	Counts map[int]uint64 `json:"c,omitempty"`
	MaxUS  int64          `json:"max_us,omitempty"`
}

// Sparse returns h's non-zero buckets.
func (h *Histogram) Sparse() Sparse {
	s := Sparse{MaxUS: int64(h.max / time.Microsecond)}
	for i, c := range h.counts {
		if c > 0 {
			if s.Counts == nil {
				s.Counts = map[int]uint64{}
			}
			s.Counts[i] = c
		}
	}
	return s
}

// AddSparse adds s's buckets to h; indices out of range are ignored.
func (h *Histogram) AddSparse(s Sparse) {
	for i, c := range s.Counts {
		if i < 0 || i >= histBuckets {
			continue
		}
		h.counts[i] += c
		h.n += c
	}
	h.max = max(h.max, time.Duration(s.MaxUS)*time.Microsecond)
}
