package loadgen

import (
	"math/bits"
	"time"
)

// A histogram counts latencies, in microseconds, in buckets whose width
// grows with the value: values below 256 µs have a bucket each, and above
// that every power of two is split into 128 buckets. So a quantile read
// back is within 0.4% of a recorded value (half a bucket), in a fixed
// 25 KiB whatever the length of the run, and histograms add up exactly:
// each worker keeps its own, and the report merges them.
type histogram struct {
	counts [histBuckets]int64
	n      int64
	sum    int64 // µs
	max    int64 // µs, exact
}

const (
	// subBits sets the precision: 1<<subBits buckets per power of two.
	subBits = 7
	subHalf = 1 << subBits
	// histMaxMicros is the largest latency told apart from larger ones
	// (about 36 minutes); longer ones are counted in the last bucket.
	histMaxMicros = 1<<31 - 1
	histBuckets   = (31-subBits-1)*subHalf + 2*subHalf
)

// bucket returns the index of the bucket holding v µs.
func bucket(v int64) int {
	if v < 2*subHalf {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return shift*subHalf + int(v>>shift)
}

// bucketMid returns the middle of bucket i, the value a quantile in it is
// reported as.
func bucketMid(i int) int64 {
	if i < 2*subHalf {
		return int64(i)
	}
	shift := i/subHalf - 1
	low := int64(i-shift*subHalf) << shift
	return low + (int64(1)<<shift)/2
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := d.Microseconds()
	v = min(max(v, 0), histMaxMicros)
	h.counts[bucket(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// merge adds every latency counted by o.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the recorded
// ones lie (the nearest-rank definition), or 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	if rank == h.n {
		return time.Duration(h.max) * time.Microsecond
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

// mean returns the average latency, or 0 for an empty histogram.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}
