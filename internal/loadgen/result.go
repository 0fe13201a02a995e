package loadgen

import "time"

// Result is what a run measured, after its warm-up.
type Result struct {
	// Mode and Concurrency are the run's settings.
	Mode        Mode `json:"mode"`
	Concurrency int  `json:"concurrency"`
	// Seconds is the measured time: from the end of the warm-up until the
	// last request in flight at the end was answered.
	Seconds float64 `json:"duration_seconds"`
	// Counts are of every request measured.
	Counts
	// Operations splits the counts by operation: client_credentials and
	// introspect (only those the mode sends).
	Operations map[string]Counts `json:"operations"`
	// Server is what Veil's /metrics said at the end, if it has them.
	Server *ServerStats `json:"server,omitempty"`
}

// Counts are the requests of a run, or of one of its operations. Requests
// is always Successes plus Failures.
type Counts struct {
	Requests  int64   `json:"requests"`
	Successes int64   `json:"successes"`
	Failures  int64   `json:"errors"`
	RPS       float64 `json:"requests_per_second"`
	// Latency is of every request, failed or not.
	Latency Latency `json:"latency_ms"`
	// Errors counts failures by kind: "HTTP <status> [<OAuth error>]",
	// "transport: <what>" for a request that got no answer, or
	// "answer: <what>" for a 200 that was not what was asked for (an
	// introspected token found inactive, a token that is not a JWE).
	Errors map[string]int64 `json:"errors_by_kind"`
}

// Latency summarises a latency histogram, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// ServerStats are read from Veil's /metrics on the admin listener.
// A value is -1 when the metrics do not have it.
type ServerStats struct {
	Goroutines int64 `json:"goroutines"`
	RSSBytes   int64 `json:"resident_memory_bytes"`
}

// collect adds up the workers' counts over the measured time.
func collect(c *Config, workers []*worker, measured time.Duration) *Result {
	secs := measured.Seconds()
	res := &Result{Mode: c.Mode, Concurrency: c.Concurrency, Seconds: secs,
		Operations: map[string]Counts{}}
	var all opStats
	all.errors = map[string]int64{}
	for o := range numOps {
		var sum opStats
		sum.errors = map[string]int64{}
		for _, w := range workers {
			sum.add(&w.stats[o])
		}
		if sum.hist.n == 0 && !c.sends(o) {
			continue
		}
		res.Operations[opNames[o]] = sum.counts(secs)
		all.add(&sum)
	}
	res.Counts = all.counts(secs)
	return res
}

// sends reports whether a run of c's mode sends operation o.
func (c *Config) sends(o op) bool {
	switch c.Mode {
	case ModeToken:
		return o == opToken
	case ModeIntrospect:
		return o == opIntrospect
	}
	return true
}

func (s *opStats) add(o *opStats) {
	s.hist.merge(&o.hist)
	s.successes += o.successes
	for k, v := range o.errors {
		s.errors[k] += v
	}
}

func (s *opStats) counts(secs float64) Counts {
	c := Counts{Requests: s.hist.n, Successes: s.successes, Errors: s.errors,
		Latency: Latency{
			P50: ms(s.hist.quantile(0.50)), P90: ms(s.hist.quantile(0.90)),
			P99: ms(s.hist.quantile(0.99)), Max: ms(time.Duration(s.hist.max) * time.Microsecond),
			Mean: ms(s.hist.mean()),
		}}
	for _, v := range s.errors {
		c.Failures += v
	}
	if secs > 0 {
		c.RPS = float64(c.Requests) / secs
	}
	return c
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
