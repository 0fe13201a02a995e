// Package health answers liveness and readiness probes: /health/live says
// the process serves HTTP, /health/ready says it can serve OAuth requests
// (the database answers and holds the schema this build expects, and keys
// are loaded). Both are on both listeners, need no credentials and reveal
// nothing but up or down.
package health

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/reqlog"
)

// Paths of the probes.
const (
	PathLive  = "/health/live"
	PathReady = "/health/ready"
)

// pingTimeout bounds the database check of a readiness probe, so that a
// probe never hangs on a database that does not answer.
const pingTimeout = time.Second

// Pinger reports whether the database answers and is ready for use.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Probe reports whether path is one of the probes. The listeners let
// probes past their bound on requests in flight: a busy replica is still
// alive, and an orchestrator that read a refusal as death would restart
// healthy replicas just when they are needed most.
func Probe(path string) bool {
	return path == PathLive || path == PathReady
}

// Register adds the probes to mux.
func Register(mux *http.ServeMux, db Pinger, km *keys.Manager) {
	mux.HandleFunc("GET "+PathLive, func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, `{"status":"live"}`)
	})
	// The method-less patterns lose to the GET ones, so only other
	// methods arrive here.
	mux.Handle(PathLive, MethodNotAllowed("GET, HEAD"))
	mux.Handle(PathReady, MethodNotAllowed("GET, HEAD"))

	// Probes are not bounded in number (see Probe), so concurrent
	// readiness probes share one database check rather than each taking
	// a connection from the pool.
	var checks singleflight.Group
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, r *http.Request) {
		if km.Current() == nil {
			write(w, http.StatusServiceUnavailable, `{"status":"unavailable","reason":"keys not loaded"}`)
			return
		}
		_, err, _ := checks.Do("", func() (any, error) {
			// Not cut short when the probe that started it goes away:
			// others may be waiting for the answer.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), pingTimeout)
			defer cancel()
			return nil, db.Ping(ctx)
		})
		if err != nil {
			write(w, http.StatusServiceUnavailable, `{"status":"unavailable","reason":"database not ready"}`)
			return
		}
		write(w, http.StatusOK, `{"status":"ready"}`)
	})
}

// MethodNotAllowed answers 405 with allow as the Allow header, in the
// JSON error shape of Veil's other endpoints. The admin listener uses it
// for the metrics too.
func MethodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqlog.SetError(r.Context(), "invalid_request")
		w.Header().Set("Allow", allow)
		write(w, http.StatusMethodNotAllowed,
			`{"error":"invalid_request","error_description":"The HTTP method is not allowed here."}`)
	})
}

func write(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
