// Package endpoint serves Veil's public OAuth2 endpoints over HTTP: token
// (RFC 6749 §3.2), introspection (RFC 7662), revocation (RFC 7009),
// authorization server metadata (RFC 8414) and the JWKS.
//
// Every error answer has one shape, RFC 6749 §5.2 JSON with Cache-Control:
// no-store. Descriptions are fixed texts: nothing from the request is echoed,
// and internal causes go to the log only.
package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/ratelimit"
	"github.com/veil-auth/veil/internal/reqlog"
)

// DefaultTimeout is the default of Config.Timeout.
const DefaultTimeout = time.Second

// MaxBodyBytes bounds the body of every form request. The largest
// legitimate request, a token exchange, is well under 4 KiB.
const MaxBodyBytes = 64 << 10

// Paths of the public endpoints, relative to the issuer.
const (
	PathToken      = "/oauth2/token"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathMetadata   = "/.well-known/oauth-authorization-server"
	PathJWKS       = "/.well-known/jwks.json"
)

// Config configures the public endpoints.
type Config struct {
	// Provider runs the flows.
	Provider *provider.Provider
	// Keys supplies the JWKS.
	Keys *keys.Manager
	// JWKSMaxAge is the Cache-Control max-age of the JWKS. Default 10
	// minutes. A new signing key must be published at least this long
	// before it signs anything.
	JWKSMaxAge time.Duration
	// Logger receives one line per failed request cause. Required.
	Logger *slog.Logger
	// Timeout bounds each token, introspection and revocation request,
	// whose time goes almost all to storage. One that runs out is answered
	// 503 temporarily_unavailable, so that while the database does not
	// answer (a hung server, a network that drops packets) clients and
	// resource servers learn it at once and requests do not pile up.
	// Default DefaultTimeout, a hundred times what these requests take
	// on a healthy database.
	Timeout time.Duration
	// Issued is called with the grant type of each token response the
	// token endpoint sends, for the metrics. Default: nothing is called.
	Issued func(grantType string)
}

// Handler serves the public endpoints.
type Handler struct {
	p          *provider.Provider
	keys       *keys.Manager
	log        *slog.Logger
	metadata   []byte
	jwksMaxAge string
	timeout    time.Duration
	issued     func(grantType string)
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 10 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Issued == nil {
		cfg.Issued = func(string) {}
	}
	meta, err := metadata(cfg.Provider.Issuer())
	if err != nil {
		return nil, err
	}
	return &Handler{
		p:          cfg.Provider,
		keys:       cfg.Keys,
		log:        cfg.Logger,
		metadata:   meta,
		jwksMaxAge: fmt.Sprintf("public, max-age=%d", int(cfg.JWKSMaxAge.Seconds())),
		timeout:    cfg.Timeout,
		issued:     cfg.Issued,
	}, nil
}

// Register adds the endpoints to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathToken, cors(h.bounded("token", h.token)))
	mux.HandleFunc("POST "+PathIntrospect, h.bounded("introspect", h.introspect))
	mux.HandleFunc("POST "+PathRevoke, cors(h.bounded("revoke", h.revoke)))
	mux.HandleFunc("GET "+PathMetadata, cors(h.serveMetadata))
	mux.HandleFunc("GET "+PathJWKS, cors(h.jwks))
	for _, path := range []string{PathToken, PathRevoke, PathMetadata, PathJWKS} {
		mux.HandleFunc("OPTIONS "+path, preflight)
	}
	for path, method := range map[string]string{
		PathToken: "POST", PathIntrospect: "POST", PathRevoke: "POST", PathMetadata: "GET", PathJWKS: "GET",
	} {
		mux.HandleFunc(path, h.methodNotAllowed(method))
	}
	mux.HandleFunc("/", h.notFound)
}

// cors lets browser code on any origin call an endpoint, as a single-page
// app (a public client) must for the token and revocation endpoints. It is
// safe because these endpoints use no cookies or other ambient
// credentials: a page can only send what it already holds (a code and its
// PKCE verifier, a token), and no credentialed request is allowed.
// Introspection is not opened: it is for resource servers.
func cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		}
		next(w, r)
	}
}

// bounded reads the form of a request to the endpoint named name, then
// gives next the deadline Config.Timeout sets. Storage reports a call cut
// short by it as unavailable, which is answered 503. The clock starts
// once the body is read: a slow upload is the client's time, bounded by
// the listener's read timeout, not a sign that storage is down.
func (h *Handler) bounded(name string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := parseForm(w, r); err != nil {
			h.writeError(w, r, name, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
		defer cancel()
		next(w, r.WithContext(ctx))
	}
}

// preflight answers a CORS preflight for the endpoints cors opens.
func preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Allow-Methods", "GET, POST")
	hdr.Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
	hdr.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// methodNotAllowed answers a known path asked with the wrong method. The
// method-less pattern loses to the method-specific one, so only wrong
// methods arrive here.
func (h *Handler) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		h.writeError(w, r, r.URL.Path, &provider.Error{Code: "invalid_request",
			Status: http.StatusMethodNotAllowed, Description: "The HTTP method is not allowed here."})
	}
}

// notFound answers paths Veil does not serve, in the same JSON shape.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.writeError(w, r, "not_found", &provider.Error{Code: "not_found",
		Status: http.StatusNotFound, Description: "There is nothing here."})
}

// writeError answers with the OAuth error shape and logs the cause of
// server-side failures once.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	code, status, desc := provider.Describe(err)
	reqlog.SetError(r.Context(), code)
	// TODO(#6): a client that hung up surfaces here as server_error
	// (context canceled) and is logged as an error an operator must act on.
	if status >= 500 {
		h.log.Error("request failed", "endpoint", endpoint, "error_code", code, "err", provider.Cause(err))
	} else {
		h.log.Debug("request refused", "endpoint", endpoint, "error_code", code, "err", provider.Cause(err))
	}

	hdr := w.Header()
	if status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", `Basic realm="veil"`)
	}
	if status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", "1")
	}
	var ve *provider.Error
	if errors.As(err, &ve) && ve.RetryAfter > 0 {
		hdr.Set("Retry-After", ratelimit.RetryAfter(ve.RetryAfter))
	}
	writeJSON(w, status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
}

// writeJSON writes v as a JSON response that no cache may keep.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error"}`)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
