// Package reqlog writes one log line per HTTP request with its outcome:
// a request ID, endpoint, status, duration, the client's address (as
// package clientip found it) and, once a handler has identified it, the
// client_id and the OAuth error code. It never logs request bodies,
// headers, query strings or anything else that could hold a secret.
//
// The request ID is random, assigned here, and available to handlers (see
// ID) so that other records of the request, such as its audit events, can
// name it.
package reqlog

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/clientip"
)

type key struct{}

// info is what handlers add to a request's log line.
type info struct {
	id        string
	clientID  string
	errorCode string
}

// ID returns the ID Middleware gave the request ctx belongs to, or "" for
// a context outside one.
func ID(ctx context.Context) string {
	if in, ok := ctx.Value(key{}).(*info); ok {
		return in.id
	}
	return ""
}

// Client returns the client SetClient recorded for the request ctx
// belongs to, or "" if none was.
func Client(ctx context.Context) string {
	if in, ok := ctx.Value(key{}).(*info); ok {
		return in.clientID
	}
	return ""
}

// SetClient records the client a request was made by.
func SetClient(ctx context.Context, clientID string) {
	if in, ok := ctx.Value(key{}).(*info); ok {
		in.clientID = clientID
	}
}

// SetError records the error code a request was answered with: an OAuth
// error code, or Veil's own for a failure answered with a redirect (such
// as login_failed). The code must come from a fixed set, never from the
// request: metrics label requests with it, and each code makes new series.
func SetError(ctx context.Context, code string) {
	if in, ok := ctx.Value(key{}).(*info); ok {
		in.errorCode = code
	}
}

// ErrorCode returns the OAuth error code SetError recorded for the request,
// or "" if there is none. Package metrics counts requests by it.
func ErrorCode(ctx context.Context) string {
	if in, ok := ctx.Value(key{}).(*info); ok {
		return in.errorCode
	}
	return ""
}

// Middleware logs each request served by next. listener names the
// listener ("public", "admin") in every line.
func Middleware(log *slog.Logger, listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		in := &info{id: newID()}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), key{}, in)))

		attrs := []slog.Attr{
			slog.String("listener", listener),
			slog.String("request_id", in.id),
			slog.String("method", r.Method),
			slog.String("endpoint", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote_addr", clientip.FromRequest(r)),
		}
		if in.clientID != "" {
			attrs = append(attrs, slog.String("client_id", in.clientID))
		}
		if in.errorCode != "" {
			attrs = append(attrs, slog.String("error_code", in.errorCode))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// newID returns a random request ID: 96 bits, so IDs drawn by every
// replica over years do not collide.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
