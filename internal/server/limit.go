package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/health"
	"github.com/veil-auth/veil/internal/metrics"
	"github.com/veil-auth/veil/internal/reqlog"
)

// httpSettings are what the listeners share: HTTP limits, with defaults in
// place of the zeros of the configuration, and the trusted proxies.
type httpSettings struct {
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	concurrent        int
	trustedProxies    []netip.Prefix
}

func httpSettingsOf(cfg *config.Config) httpSettings {
	return httpSettings{
		readHeaderTimeout: orDefault(cfg.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
		readTimeout:       orDefault(cfg.ReadTimeout, config.DefaultReadTimeout),
		writeTimeout:      orDefault(cfg.WriteTimeout, config.DefaultWriteTimeout),
		idleTimeout:       orDefault(cfg.IdleTimeout, config.DefaultIdleTimeout),
		concurrent:        orDefault(cfg.MaxConcurrentRequests, config.DefaultMaxConcurrentRequests),
		trustedProxies:    cfg.TrustedProxies,
	}
}

// wrap puts mux behind what every listener does first: find the client's
// address, log the request, count it, and bound the requests in flight.
// The bound is inside the log and the metrics so that refused requests are
// logged and counted too; the metrics sit inside the log, whose error code
// they read, and learn the endpoint from the mux itself. The health probes
// are exempt from the bound (see health.Probe).
func (l httpSettings) wrap(log *slog.Logger, m *metrics.Metrics, listener string, mux http.Handler) http.Handler {
	routed := withDeadline(RequestDeadline, metrics.Route(mux))
	next := exemptProbes(routed, limitConcurrency(l.concurrent, bodyFirst(routed)))
	next = m.Middleware(listener, next)
	next = reqlog.Middleware(log, listener, next)
	return clientip.Middleware(l.trustedProxies, next)
}

// RequestDeadline bounds the work of any one request, database calls
// included, so a database that stops answering turns into quick errors
// (503 and error pages) rather than requests that hang and pile up. The
// OAuth endpoints set a shorter deadline of their own.
const RequestDeadline = 5 * time.Second

// maxPrereadBytes is how much of a body bodyFirst reads: the largest body
// any handler accepts (the OAuth endpoints' and the admin API's 64 KiB).
const maxPrereadBytes = 64 << 10

// withDeadline gives each request the deadline d.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bodyFirst reads the body before next, which starts the deadline, so
// that the time a client takes to upload is its own, bounded by the
// listener's read timeout: were it counted, a slow upload would find the
// deadline spent and be answered as a database outage. A body over
// maxPrereadBytes, or one whose read fails, reaches the handler as it
// came, failure included, for the handler to refuse in its own words.
// The health probes skip it: they read no body, and being exempt from the
// bound on requests in flight they must hold no buffer.
func bodyFirst(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = preread(r.Body)
		}
		next.ServeHTTP(w, r)
	})
}

// preread reads body up to maxPrereadBytes and returns a body that gives
// what was read, then the rest of body, or the error the read met.
func preread(body io.ReadCloser) io.ReadCloser {
	buf, err := io.ReadAll(io.LimitReader(body, maxPrereadBytes))
	var rest io.Reader
	switch {
	case err != nil:
		rest = failedReader{err}
	case len(buf) < maxPrereadBytes:
		rest = http.NoBody
	default:
		rest = body
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), rest), body}
}

// failedReader returns err from every Read.
type failedReader struct{ err error }

func (f failedReader) Read([]byte) (int, error) { return 0, f.err }

// exemptProbes sends the health probes to direct and every other request
// to limited.
func exemptProbes(direct, limited http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if health.Probe(r.URL.Path) {
			direct.ServeHTTP(w, r)
			return
		}
		limited.ServeHTTP(w, r)
	})
}

// limitConcurrency lets at most n requests into next at once and answers
// the others 503 at once. It never queues: under overload a queue only
// adds latency and memory, while a quick 503 with Retry-After lets a
// client or load balancer try again or elsewhere.
func limitConcurrency(n int, next http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			busy(w, r)
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}

// busyJSON is the answer to an API caller when every slot is taken, in
// the shape of RFC 6749 §5.2.
const busyJSON = `{"error":"temporarily_unavailable",` +
	`"error_description":"The service is temporarily unavailable. Try again later."}`

// busy answers a request refused for want of a slot: JSON on the OAuth
// endpoints and the admin API, plain text on the pages people see.
func busy(w http.ResponseWriter, r *http.Request) {
	reqlog.SetError(r.Context(), "temporarily_unavailable")
	hdr := w.Header()
	hdr.Set("Retry-After", "1")
	hdr.Set("Cache-Control", "no-store")

	if apiPath(r.URL.Path) {
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(busyJSON))
		return
	}
	http.Error(w, "Veil is busy. Try again in a moment.", http.StatusServiceUnavailable)
}

// apiPath reports whether path is one whose callers expect JSON.
func apiPath(path string) bool {
	for _, prefix := range []string{"/oauth2/", "/.well-known/", "/admin/"} {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
