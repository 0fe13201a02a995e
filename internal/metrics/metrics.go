// Package metrics exposes Veil's Prometheus metrics: requests and their
// latency by endpoint and outcome, tokens issued by grant type, the signing
// keys in force, the database pool, the janitor's runs, and the Go runtime
// and process.
//
// Each Metrics has a registry of its own, not the global one, so several
// Veils in one process (tests, replicas) never share or clash over series.
// Label values come from fixed sets only: endpoints are the patterns
// handlers were registered under, never a request's path, and outcomes are
// Veil's own error codes or a status class, so no request can create series.
//
// The exposition is served on the admin listener only, to bearers of the
// admin token or of the metrics token (see Handler). It tells request rates
// and error codes, key IDs (which the JWKS publishes anyway) and pool
// sizes; no token, secret, client ID or user appears in it.
package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/reqlog"
)

// Path is where the admin listener serves the metrics.
const Path = "/metrics"

// grantTypes are the grants the token endpoint issues tokens for.
var grantTypes = []string{"client_credentials", "authorization_code", "refresh_token"}

// durationBuckets bound request latencies, in seconds: from a JWKS answer
// served from memory to the 5 s deadline of the slowest requests.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// janitorBuckets bound the duration of a janitor run, in seconds.
var janitorBuckets = []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60}

// Config says what Metrics reads at scrape time.
type Config struct {
	// Keys supplies the signing keys in force; nil means no key metrics.
	Keys KeySource
	// Pool supplies the database pool's statistics; nil means no pool
	// metrics, as for the memory backend.
	Pool PoolSource
	// Logger receives errors met while gathering. If nil, nothing is
	// logged.
	Logger *slog.Logger
}

// Metrics holds one Veil's metrics and their registry. Its methods are
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// issued holds the counter of each grant type in grantTypes, resolved
	// once so that counting a token is one atomic add.
	issued map[string]prometheus.Counter

	janitorRuns     *prometheus.CounterVec
	janitorDeleted  *prometheus.CounterVec
	janitorDuration prometheus.Histogram
}

// New returns Metrics with a registry of their own, holding the Go runtime
// and process collectors and, as cfg says, the key and pool collectors.
func New(cfg Config) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		log: cfg.Logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_http_requests_total",
			Help: "HTTP requests answered, by listener, endpoint (route pattern) and outcome " +
				"(ok, an OAuth error code, or the status class).",
		}, []string{"listener", "endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "veil_http_request_duration_seconds",
			Help:    "Time taken to answer HTTP requests, by listener, endpoint and outcome.",
			Buckets: durationBuckets,
		}, []string{"listener", "endpoint", "outcome"}),
		issued: make(map[string]prometheus.Counter, len(grantTypes)),
		janitorRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_janitor_runs_total",
			Help: "Janitor runs of this replica, by outcome (ok, error, or skipped because another replica held the lock).",
		}, []string{"outcome"}),
		janitorDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "veil_janitor_deleted_rows_total",
			Help: "Expired records the janitor deleted, by kind.",
		}, []string{"kind"}),
		janitorDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "veil_janitor_run_duration_seconds",
			Help:    "Time taken by the janitor runs that were not skipped.",
			Buckets: janitorBuckets,
		}),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}

	issued := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "veil_tokens_issued_total",
		Help: "Token responses of the token endpoint, by grant type.",
	}, []string{"grant_type"})
	for _, gt := range grantTypes {
		m.issued[gt] = issued.WithLabelValues(gt)
	}

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, issued,
		m.janitorRuns, m.janitorDeleted, m.janitorDuration,
	)
	if cfg.Keys != nil {
		m.reg.MustRegister(newKeyCollector(cfg.Keys))
	}
	if cfg.Pool != nil {
		m.reg.MustRegister(newPoolCollector(cfg.Pool))
	}
	return m
}

// TokenIssued counts one token response of the token endpoint. Grant types
// other than Veil's three are not counted: the endpoint refuses them.
func (m *Metrics) TokenIssued(grantType string) {
	if c, ok := m.issued[grantType]; ok {
		c.Inc()
	}
}

// ObserveJanitor records one janitor run: its outcome, the items it
// deleted by kind (counted also when it failed part way), and how long it
// took unless it was skipped.
func (m *Metrics) ObserveJanitor(r janitor.Report) {
	outcome := "ok"
	switch {
	case r.Skipped:
		outcome = "skipped"
	case r.Err != nil:
		outcome = "error"
	}
	m.janitorRuns.WithLabelValues(outcome).Inc()
	for kind, n := range r.Deleted {
		m.janitorDeleted.WithLabelValues(string(kind)).Add(float64(max(n, 0)))
	}
	if !r.Skipped {
		m.janitorDuration.Observe(r.Duration.Seconds())
	}
}

// Handler serves the exposition to callers bearing one of tokens
// (Authorization: Bearer); empty tokens are ignored, so with none every
// request is refused. Others are answered 401 in the admin API's error
// shape.
//
// The metrics are not secret, but they tell an outsider how busy Veil is
// and which errors it answers; like the admin API they need a credential.
// The server passes the admin token and the metrics token, so that a
// Prometheus server can scrape with a credential that opens nothing else.
func (m *Metrics) Handler(tokens ...string) http.Handler {
	var sums [][]byte
	for _, t := range tokens {
		if t != "" {
			sum := sha256.Sum256([]byte(t))
			sums = append(sums, sum[:])
		}
	}
	expose := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError),
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bearerMatches(r, sums) {
			expose.ServeHTTP(w, r)
			return
		}
		m.log.InfoContext(r.Context(), "metrics authentication failed",
			"remote_addr", clientip.FromRequest(r))
		reqlog.SetError(r.Context(), "invalid_token")
		hdr := w.Header()
		hdr.Set("WWW-Authenticate", `Bearer realm="veil-metrics"`)
		hdr.Set("Content-Type", "application/json")
		hdr.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_token",` +
			`"error_description":"the metrics need a valid bearer token"}` + "\n"))
	})
}

// bearerMatches reports whether r bears a token whose SHA-256 is one of
// sums. Comparing hashes in constant time tells nothing of a token's
// length or of how much of it matched.
func bearerMatches(r *http.Request, sums [][]byte) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	match := 0
	for _, s := range sums {
		match |= subtle.ConstantTimeCompare(sum[:], s)
	}
	return match == 1
}
