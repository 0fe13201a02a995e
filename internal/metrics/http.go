package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veil-auth/veil/internal/reqlog"
)

// Unrouted is the endpoint of requests answered before routing, such as
// those refused for want of a free slot.
const Unrouted = "unrouted"

// Middleware counts and times every request next answers on the named
// listener, by endpoint and outcome. It must sit inside reqlog.Middleware,
// whose error code it reads, and the ServeMux that next routes with must
// be wrapped in Route, which names the endpoint.
//
// Per request it allocates one small response recorder; the labelled
// series are looked up once per endpoint and outcome and kept.
func (m *Metrics) Middleware(listener string, next http.Handler) http.Handler {
	s := &listenerSeries{listener: listener, m: m, known: make(map[seriesKey]series)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, endpoint: Unrouted}
		next.ServeHTTP(rec, r)

		ser := s.get(rec.endpoint, outcome(reqlog.ErrorCode(r.Context()), rec.status))
		ser.requests.Inc()
		ser.duration.Observe(time.Since(start).Seconds())
	})
}

// Route wraps a ServeMux so that Middleware learns which of its patterns
// matched a request: that pattern, such as "POST /oauth2/token", is the
// endpoint label. A mux routing again inside (the admin API's) overwrites
// the pattern with its own, more precise one, as long as it is handed the
// same request.
func Route(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if rec := findRecorder(w); rec != nil && r.Pattern != "" {
			rec.endpoint = r.Pattern
		}
	})
}

// outcome names how a request ended: the error code its handler recorded
// with reqlog.SetError, else ok for a success or redirect, else the status
// class.
func outcome(code string, status int) string {
	switch {
	case code != "":
		return code
	case status < 400:
		return "ok"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// recorder notes the status of a response and the endpoint Route found.
type recorder struct {
	http.ResponseWriter
	status   int
	endpoint string
}

// WriteHeader records the final status; informational ones (1xx) are
// followed by another.
func (rec *recorder) WriteHeader(code int) {
	if code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController, and findRecorder, reach the
// writer underneath.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// findRecorder returns the recorder w is or wraps, or nil.
func findRecorder(w http.ResponseWriter) *recorder {
	for {
		if rec, ok := w.(*recorder); ok {
			return rec
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
}

// seriesKey names the series of one endpoint and outcome on a listener.
type seriesKey struct{ endpoint, outcome string }

// series are the resolved metrics of one endpoint and outcome.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// listenerSeries keeps the series of one listener once resolved, so that
// a request costs a map lookup under a read lock rather than hashing its
// label values (and allocating for them) in both vectors.
type listenerSeries struct {
	listener string
	m        *Metrics
	mu       sync.RWMutex
	known    map[seriesKey]series
}

func (s *listenerSeries) get(endpoint, outcome string) series {
	k := seriesKey{endpoint, outcome}
	s.mu.RLock()
	ser, ok := s.known[k]
	s.mu.RUnlock()
	if ok {
		return ser
	}

	ser = series{
		requests: s.m.requests.WithLabelValues(s.listener, endpoint, outcome),
		duration: s.m.duration.WithLabelValues(s.listener, endpoint, outcome),
	}
	s.mu.Lock()
	s.known[k] = ser
	s.mu.Unlock()
	return ser
}
