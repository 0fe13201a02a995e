// Package admin serves Veil's administration API: registering, reading,
// changing and deleting OAuth2 clients, the resource servers (APIs) that
// tokens are issued for, and the users who sign in; rotating client
// secrets; listing and revoking the consents users gave; and listing and
// rotating Veil's own keys; reading the audit log; and, when enabled, Go's
// runtime profiles of the running process.
//
// Every change is written to the audit log (package audit) in the same
// transaction as the change itself: if its event cannot be written, the
// change is not made and the request fails, so that the log holds every
// change the store does. The memory backend of development mode has no
// transactions, so there a change can be kept without its event.
//
// Every route needs the admin bearer token. Bodies are JSON, read strictly:
// an unknown member, a member given twice, a second JSON value, or a body
// over 64 KiB is refused, and nothing is written until the whole request has
// been checked. Member names follow RFC 7591 where it has one.
//
// Client secrets are 256 random bits shown once, in the response that
// creates or rotates them; only their keyed hash is stored (see package
// secret) and no other response or log line carries them. User passwords
// are chosen by people, so they are hashed with argon2id (see package
// password); neither a password nor its hash is ever in a response, an
// error description or a log line.
//
// A resource identifier (RFC 8707) is accepted in one spelling only: a
// lowercase scheme and host, no default or empty port, no needless
// percent-encoding and no "." or ".." segments, so that one API cannot be
// registered twice as two audiences. Identifiers are then compared as
// strings, so https://api.example and https://api.example/ are two
// resources. Deleting a resource or changing its identifier revokes the
// tokens and consents given for the old identifier (see
// storage.Store.DeleteResource).
//
// A resource server may register public encryption keys (a JWK Set), so
// that its tokens are encrypted to it and no one else can read them (see
// parseEncryptionKeys for what is accepted, and why). The keys listed by
// GET /admin/keys are Veil's own: the listing names them and their dates,
// and holds no key material, public or private.
//
// BUG: scopes removed from a resource stay in the scope lists of the
// clients that had them; whoever issues tokens must grant only scopes the
// resource still offers.
package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// Config holds what the admin API needs.
type Config struct {
	// Store holds clients, resources, users and consents. Required.
	Store storage.Store
	// Hasher hashes the client secrets the API issues. Required.
	Hasher *secret.Hasher
	// Token is the admin bearer token callers must present; it should hold
	// at least 256 random bits. If it is empty every request is refused, so
	// a missing setting never opens the API.
	Token string
	// Logger receives one line per change and one per internal error. If
	// nil, nothing is logged.
	Logger *slog.Logger
	// Password holds the argon2id parameters that passwords set through
	// the API are hashed with. The zero value means password.Default. The
	// login page should use the same, so that it rehashes no password the
	// API just set.
	Password password.Params
	// Keys rotates Veil's own keys for POST /admin/keys/rotate. If nil,
	// that route answers 503; GET /admin/keys works without it.
	Keys KeyAdmin
	// SigningAlgorithms are the JWS algorithms a resource may ask its
	// tokens be signed with: those Veil keeps signing keys for. Nil means
	// every algorithm Veil can sign with (ES256, RS256, PS256 and EdDSA).
	SigningAlgorithms []string
	// Changed, if set, is called after every request that may have changed
	// a client, resource, user or key (every method but GET and HEAD,
	// whatever its outcome), so that caches of those records can drop them.
	Changed func()
	// Profiling serves Go's runtime profiles under /admin/debug/pprof/
	// (see routeProfiles). Default false.
	Profiling bool
	// Now is the clock that dates resources' encryption keys and tells the
	// state of Veil's keys. If nil, it is Keys.Now when Keys is set, and
	// time.Now otherwise.
	Now func() time.Time
	// Audit records every change. If nil, a Recorder over Store, Logger
	// and Now.
	Audit *audit.Recorder
}

// handler serves the admin API.
type handler struct {
	store  storage.Store
	hasher *secret.Hasher
	log    *slog.Logger
	// tokenSum is the SHA-256 of the admin token; nil if there is none.
	tokenSum    []byte
	pages       pager
	passwords   password.Params
	keys        KeyAdmin
	signingAlgs []string
	changed     func()
	now         func() time.Time
	audit       *audit.Recorder
}

// New returns the admin API handler, serving paths under /admin/. It panics
// if cfg has no Store or no Hasher, Password parameters out of bounds, or
// a signing algorithm Veil cannot sign with.
func New(cfg Config) http.Handler {
	h := newHandler(cfg)

	mux := http.NewServeMux()
	h.route(mux, "/admin/resources", routes{
		http.MethodGet: h.listResources, http.MethodPost: h.createResource,
	})
	h.route(mux, "/admin/resources/{id}", routes{
		http.MethodGet: h.getResource, http.MethodPut: h.updateResource,
		http.MethodDelete: h.deleteResource,
	})
	h.route(mux, "/admin/resources/{id}/secret", routes{http.MethodPost: h.rotateResourceSecret})
	h.route(mux, "/admin/clients", routes{
		http.MethodGet: h.listClients, http.MethodPost: h.createClient,
	})
	h.route(mux, "/admin/clients/{id}", routes{
		http.MethodGet: h.getClient, http.MethodPut: h.updateClient,
		http.MethodDelete: h.deleteClient,
	})
	h.route(mux, "/admin/clients/{id}/secret", routes{http.MethodPost: h.rotateClientSecret})
	h.routeUsers(mux)
	h.route(mux, "/admin/keys", routes{http.MethodGet: h.listKeys})
	h.route(mux, "/admin/keys/rotate", routes{http.MethodPost: h.rotateKeys})
	h.route(mux, "/admin/audit", routes{http.MethodGet: h.listAudit})
	if cfg.Profiling {
		h.routeProfiles(mux)
	}
	mux.Handle("/", h.serve(func(http.ResponseWriter, *http.Request) error {
		return errNoRoute
	}))
	return h.headers(h.authenticate(mux))
}

// newHandler checks cfg and fills in its defaults.
func newHandler(cfg Config) *handler {
	if cfg.Store == nil || cfg.Hasher == nil {
		panic("admin: Config needs a Store and a Hasher")
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default
	}
	if err := cfg.Password.Validate(); err != nil {
		panic("admin: Config.Password: " + err.Error())
	}
	if cfg.SigningAlgorithms == nil {
		cfg.SigningAlgorithms = signingAlgorithms
	}
	for _, alg := range cfg.SigningAlgorithms {
		if !slices.Contains(signingAlgorithms, alg) {
			panic("admin: Config.SigningAlgorithms: Veil cannot sign with " + alg)
		}
	}

	h := &handler{
		store:       cfg.Store,
		hasher:      cfg.Hasher,
		log:         cfg.Logger,
		pages:       newPager(cfg.Token),
		passwords:   cfg.Password,
		keys:        cfg.Keys,
		signingAlgs: cfg.SigningAlgorithms,
		changed:     cfg.Changed,
		now:         cfg.Now,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil && h.keys != nil {
		h.now = h.keys.Now
	}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		h.tokenSum = sum[:]
	}
	h.audit = cfg.Audit
	if h.audit == nil {
		h.audit = audit.New(audit.Config{Store: h.store, Logger: h.log, Now: h.now})
	}
	return h
}

// routeUsers registers the routes of users and their consents.
func (h *handler) routeUsers(mux *http.ServeMux) {
	h.route(mux, "/admin/users", routes{
		http.MethodGet: h.listUsers, http.MethodPost: h.createUser,
	})
	h.route(mux, "/admin/users/{id}", routes{
		http.MethodGet: h.getUser, http.MethodPut: h.updateUser,
		http.MethodDelete: h.deleteUser,
	})
	h.route(mux, "/admin/users/{id}/disable", routes{http.MethodPost: h.setDisabled(true)})
	h.route(mux, "/admin/users/{id}/enable", routes{http.MethodPost: h.setDisabled(false)})
	h.route(mux, "/admin/users/{id}/consents", routes{http.MethodGet: h.listConsents})
	h.route(mux, "/admin/users/{id}/consents/{consent_id}", routes{
		http.MethodDelete: h.deleteConsent,
	})
}

// routes maps methods to the functions serving them on one path.
type routes map[string]func(http.ResponseWriter, *http.Request) error

// route registers each method of rs on path, and a catch-all for the path
// that answers any other method with 405 and an Allow header.
func (h *handler) route(mux *http.ServeMux, path string, rs routes) {
	allow := make([]string, 0, len(rs)+1)
	for method, fn := range rs {
		mux.Handle(method+" "+path, h.serve(fn))
		allow = append(allow, method)
		if method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)

	allowed := strings.Join(allow, ", ")
	mux.Handle(path, h.serve(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Allow", allowed)
		return errMethod
	}))
}

// headers sets the headers every response carries. Admin responses hold
// secrets, so no cache may keep them.
func (h *handler) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// authenticate lets through only requests bearing the admin token, before
// any routing, so that an unauthenticated caller learns nothing, not even
// which paths exist.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}

		h.log.InfoContext(r.Context(), "admin authentication failed",
			"remote_addr", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="veil-admin"`)
		reqlog.SetError(r.Context(), errUnauthorized.code)
		writeError(w, errUnauthorized)
	})
}

// authorized compares the presented token with the admin token in constant
// time. Both sides are hashed first so that neither the comparison's
// duration nor its early exit on a length difference tells anything about
// the real token.
func (h *handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || h.tokenSum == nil {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum) == 1
}

// newPager returns the pager whose key is derived from the admin token, so
// that every replica sharing the token accepts the page tokens of the
// others without another setting. Changing the admin token invalidates
// outstanding page tokens, which only restarts a listing.
func newPager(token string) pager {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("veil admin page token key"))
	return pager{key: m.Sum(nil)}
}
