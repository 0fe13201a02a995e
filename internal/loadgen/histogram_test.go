package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestHistogramQuantiles checks quantiles against the exact ones of the
// same samples: within half a bucket, 1/256 of the value.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h, a, b histogram
	var exact []int64
	for i := range 100000 {
		// Log-normal around a millisecond, with a long tail, as
		// latencies are.
		v := int64(math.Exp(rng.NormFloat64()*1.2 + 7))
		exact = append(exact, v)
		h.record(time.Duration(v) * time.Microsecond)
		if i%2 == 0 {
			a.record(time.Duration(v) * time.Microsecond)
		} else {
			b.record(time.Duration(v) * time.Microsecond)
		}
	}
	slices.Sort(exact)
	a.merge(&b)

	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := exact[int(math.Ceil(q*float64(len(exact))))-1]
		got := h.quantile(q).Microseconds()
		if diff := math.Abs(float64(got - want)); diff > float64(want)/256+1 {
			t.Errorf("quantile(%v) = %d µs, want %d µs within 1/256", q, got, want)
		}
		if merged := a.quantile(q); merged != h.quantile(q) {
			t.Errorf("merged quantile(%v) = %v, want %v as recorded in one", q, merged, h.quantile(q))
		}
	}
	if h.max != exact[len(exact)-1] || h.n != int64(len(exact)) {
		t.Errorf("max, n = %d, %d, want %d, %d", h.max, h.n, exact[len(exact)-1], len(exact))
	}
}

// TestHistogramBuckets checks that buckets follow the values' order, that
// the exact range ends where it should, and that each bucket holds the
// value it is reported as.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, histMaxMicros} {
		i := bucket(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("bucket(%d) = %d, want at least %d and below %d", v, i, prev, histBuckets)
		}
		if v < 256 && int64(i) != v {
			t.Errorf("bucket(%d) = %d, want the value itself", v, i)
		}
		if bucket(bucketMid(i)) != i {
			t.Errorf("bucketMid(%d) = %d, which lies in bucket %d", i, bucketMid(i), bucket(bucketMid(i)))
		}
		prev = i
	}
	if bucket(256) != bucket(257) || bucket(257) == bucket(258) {
		t.Error("above 256 µs buckets are not 2 µs wide")
	}
	var h histogram
	h.record(time.Hour)
	if h.quantile(1) != time.Duration(histMaxMicros)*time.Microsecond {
		t.Errorf("a latency past the range reads %v, want the range's end", h.quantile(1))
	}
	if (&histogram{}).quantile(0.5) != 0 {
		t.Error("an empty histogram's median is not 0")
	}
}

func TestParseMetrics(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *ServerStats
	}{
		{"both", "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\n" +
			"process_resident_memory_bytes 1.2345e+07\n", &ServerStats{Goroutines: 42, RSSBytes: 12345000}},
		{"one, with a timestamp", "go_goroutines 7 1700000000000\n", &ServerStats{Goroutines: 7, RSSBytes: -1}},
		{"neither", "http_requests_total{code=\"200\"} 3\ngo_goroutines \n", nil},
		{"not metrics", "<html>not found</html>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseMetrics([]byte(tt.in))
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("parseMetrics(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
