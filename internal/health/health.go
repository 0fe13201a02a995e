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

	"github.com/veil-auth/veil/internal/keys"
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

// Register adds the probes to mux.
func Register(mux *http.ServeMux, db Pinger, km *keys.Manager) {
	mux.HandleFunc("GET "+PathLive, func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, `{"status":"live"}`)
	})
	mux.HandleFunc("GET "+PathReady, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
		defer cancel()
		switch {
		case km.Current() == nil:
			write(w, http.StatusServiceUnavailable, `{"status":"unavailable","reason":"keys not loaded"}`)
		case db.Ping(ctx) != nil:
			write(w, http.StatusServiceUnavailable, `{"status":"unavailable","reason":"database not ready"}`)
		default:
			write(w, http.StatusOK, `{"status":"ready"}`)
		}
	})
}

func write(w http.ResponseWriter, status int, body string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
