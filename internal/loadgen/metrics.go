package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// metricsPath is where Veil's admin listener may serve Prometheus
// metrics. Veil without them is measured all the same.
const metricsPath = "/metrics"

// metricsSource reads the server's goroutines and memory from its
// /metrics, which a run uses only when the first read finds them.
type metricsSource struct {
	r *runner
}

// probeMetrics returns a source if the admin listener serves /metrics
// with one of the values a run reports, or nil.
func (r *runner) probeMetrics(ctx context.Context) *metricsSource {
	m := &metricsSource{r: r}
	if m.read(ctx) == nil {
		return nil
	}
	return m
}

// read returns the current values, or nil when they cannot be read.
func (m *metricsSource) read(ctx context.Context) *ServerStats {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.r.admin+metricsPath, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Authorization", "Bearer "+m.r.cfg.AdminToken)
	resp, err := m.r.client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseMetrics(data)
}

// parseMetrics reads go_goroutines and process_resident_memory_bytes from
// the Prometheus text format, or returns nil if it has neither.
func parseMetrics(data []byte) *ServerStats {
	s := &ServerStats{Goroutines: -1, RSSBytes: -1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		var into *int64
		switch name {
		case "go_goroutines":
			into = &s.Goroutines
		case "process_resident_memory_bytes":
			into = &s.RSSBytes
		default:
			continue
		}
		// The value may be followed by a timestamp, and be written as a
		// float ("1.2345e+07").
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		if f, err := strconv.ParseFloat(fields[0], 64); err == nil {
			*into = int64(f)
		}
	}
	if s.Goroutines < 0 && s.RSSBytes < 0 {
		return nil
	}
	return s
}

// progress calls the configured Progress every Interval until the
// returned function is called, which waits for the last call to end.
func (r *runner) progress(ctx context.Context, m *metricsSource, start, from time.Time, live *liveCounts) func() {
	if r.cfg.Interval <= 0 || r.cfg.Progress == nil {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		prev, prevAt := int64(0), start
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				n := live.done.Load()
				p := Progress{Elapsed: now.Sub(start), Warmup: now.Before(from),
					RPS: float64(n-prev) / now.Sub(prevAt).Seconds(), Errors: live.failed.Load()}
				if m != nil {
					p.Server = m.read(ctx)
				}
				prev, prevAt = n, now
				r.cfg.Progress(p)
			}
		}
	}()
	return func() { close(stop); <-done }
}
