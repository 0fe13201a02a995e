package metrics_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/veil-auth/veil/internal/metrics"
	"github.com/veil-auth/veil/internal/metrics/metricstest"
	"github.com/veil-auth/veil/internal/reqlog"
)

const testToken = "metrics-test-token-0123456789abcdef"

// serve starts a real HTTP server whose handler is built as Veil's
// listeners build theirs, and one that serves the metrics.
func serve(t *testing.T, m *metrics.Metrics, inner func(http.Handler) http.Handler, mux http.Handler) (app, scrape string) {
	t.Helper()
	next := inner(metrics.Route(mux))
	next = m.Middleware("public", next)
	next = reqlog.Middleware(slog.New(slog.DiscardHandler), "public", next)
	a := httptest.NewServer(next)
	t.Cleanup(a.Close)
	s := httptest.NewServer(m.Handler(testToken))
	t.Cleanup(s.Close)
	return a.URL, s.URL
}

func get(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// noRedirects is a client that shows redirects rather than follows them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// TestMiddlewareLabels drives requests of every kind of outcome through
// real HTTP and checks the series they land in.
func TestMiddlewareLabels(t *testing.T) {
	m := metrics.New(metrics.Config{})
	inner := http.NewServeMux()
	inner.HandleFunc("GET /admin/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetError(r.Context(), "invalid_client")
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("fine"))
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	mux.Handle("/admin/", inner)
	// A gate in front of routing, as the bound on requests in flight is:
	// what it refuses never reaches the mux.
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/busy" {
				reqlog.SetError(r.Context(), "temporarily_unavailable")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	app, scrape := serve(t, m, gate, mux)

	requests := []struct {
		method, path string
		times        int
	}{
		{"POST", "/token", 3}, {"GET", "/ok", 2}, {"GET", "/redirect", 1}, {"GET", "/broken", 1},
		{"GET", "/admin/things/42", 1}, {"GET", "/admin/things/43", 1}, {"GET", "/busy", 1},
		{"GET", "/no/such/path/x1", 1}, {"GET", "/no/such/path/x2", 1}, {"DELETE", "/ok", 1},
	}
	sent := 0.0
	for _, r := range requests {
		for range r.times {
			get(t, r.method, app+r.path)
			sent++
		}
	}

	fams := metricstest.Scrape(t, scrape, testToken)
	tests := []struct {
		endpoint, outcome string
		want              float64
	}{
		{"POST /token", "invalid_client", 3},
		{"GET /ok", "ok", 2},
		{"GET /redirect", "ok", 1},
		{"GET /broken", "5xx", 1},
		{"GET /admin/things/{id}", "ok", 2},
		{metrics.Unrouted, "temporarily_unavailable", 1},
		// The mux's own 404 and 405 match no pattern.
		{metrics.Unrouted, "4xx", 3},
	}
	total := 0.0
	for _, tt := range tests {
		labels := map[string]string{"listener": "public", "endpoint": tt.endpoint, "outcome": tt.outcome}
		for _, name := range []string{"veil_http_requests_total", "veil_http_request_duration_seconds"} {
			if got, _ := fams.Value(name, labels); got != tt.want {
				t.Errorf("%s%v = %v, want %v", name, labels, got, tt.want)
			}
		}
		total += tt.want
	}
	if n := len(fams["veil_http_requests_total"].GetMetric()); n != len(tests) {
		t.Errorf("veil_http_requests_total has %d series, want %d: no raw path may become a label", n, len(tests))
	}
	if total != sent {
		t.Errorf("the table counts %v requests, the test sent %v", total, sent)
	}
}

// TestHandlerNeedsToken checks that the exposition is served only to
// bearers of one of the configured tokens.
func TestHandlerNeedsToken(t *testing.T) {
	const other = "another-accepted-token-0123456789abcdef"
	m := metrics.New(metrics.Config{})
	srv := httptest.NewServer(m.Handler(testToken, "", other))
	defer srv.Close()
	closed := httptest.NewServer(m.Handler("", ""))
	defer closed.Close()

	tests := []struct {
		name   string
		url    string
		header string
		want   int
	}{
		{"no credential", srv.URL, "", http.StatusUnauthorized},
		{"wrong token", srv.URL, "Bearer " + testToken + "x", http.StatusUnauthorized},
		{"prefix of the token", srv.URL, "Bearer " + testToken[:10], http.StatusUnauthorized},
		{"basic scheme", srv.URL, "Basic " + testToken, http.StatusUnauthorized},
		{"empty bearer", srv.URL, "Bearer ", http.StatusUnauthorized},
		{"first token", srv.URL, "Bearer " + testToken, http.StatusOK},
		{"second token", srv.URL, "bearer " + other, http.StatusOK},
		{"no token configured", closed.URL, "Bearer " + testToken, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET with %q = %d, want %d", tt.header, resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// BenchmarkMiddleware measures what counting adds to a request: run with
// -benchmem to see its allocations.
func BenchmarkMiddleware(b *testing.B) {
	m := metrics.New(metrics.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetError(r.Context(), "invalid_grant")
		w.WriteHeader(http.StatusBadRequest)
	})
	h := m.Middleware("public", metrics.Route(mux))
	req := httptest.NewRequest(http.MethodPost, "/token", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
