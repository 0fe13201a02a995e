// Package authorize serves the browser side of the authorization code
// flow: the authorization endpoint (RFC 6749 §4.1.1) and Veil's own login
// and consent pages.
//
// A pending request is kept in storage, not in the process, so any replica
// can continue it. It is bound to the browser that started it by a cookie:
// another browser that learns the request ID cannot sign in or consent for
// it. Every form carries a CSRF token that is an HMAC of the cookie it is
// bound to (the browser cookie on the login page, the session cookie on the
// consent page), so a form cannot be submitted from elsewhere. Every POST
// answers with a 303, so a reload never resubmits it.
//
// BUG: a password rehash at sign-in writes back the user record read at the
// start of the sign-in; an administrator's change to the same user in that
// instant (such as disabling them) can be undone. Storage needs an update
// that sets only the password hash.
package authorize

import (
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/ratelimit"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/web"
)

// Config configures the handler.
type Config struct {
	// Provider runs the OAuth side of the flow.
	Provider *provider.Provider
	// Store keeps users, sessions, pending requests and consents.
	Store storage.Store
	// Logger receives security events (failed logins, throttling).
	Logger *slog.Logger
	// SecureCookies marks cookies Secure and gives them the __Host-
	// prefix. It must be true unless the issuer is plain-http loopback.
	SecureCookies bool
	// SessionLifetime is how long a sign-in lasts. Default 12 hours.
	SessionLifetime time.Duration
	// RequestLifetime is how long a pending authorization request waits
	// for the user. Default 10 minutes.
	RequestLifetime time.Duration
	// Password are the parameters new password hashes use; a login with
	// a hash made under other parameters rehashes it. Default
	// password.Default.
	Password password.Params
	// Throttle limits failed logins. Zero fields take the defaults of
	// Throttle.
	Throttle Throttle
	// AddressRateLimit bounds the sign-in attempts from each client
	// address, in this process, before any is counted in storage. The
	// zero Limit turns it off.
	AddressRateLimit ratelimit.Limit
	// AccountRateLimit bounds the sign-in attempts for each username, in
	// this process. The zero Limit turns it off.
	AccountRateLimit ratelimit.Limit
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Audit records failed sign-ins and consents given and withdrawn.
	// Default a Recorder over Store, Logger and Now.
	Audit *audit.Recorder
}

// Throttle bounds failed sign-ins. Once a limit is reached within Window,
// further attempts for that account or from that address are refused
// without checking the password, until older failures leave the window.
type Throttle struct {
	// PerAccount is the failures allowed per username. Default 5.
	PerAccount int
	// PerAddress is the failures allowed per client address. Default 20.
	PerAddress int
	// Window is how long a failure counts. Default 15 minutes.
	Window time.Duration
}

// Handler serves the authorization endpoint and the pages.
type Handler struct {
	cfg    Config
	p      *provider.Provider
	store  storage.Store
	log    *slog.Logger
	pages  map[string]*template.Template
	static http.Handler
	csrf   []byte
	// accountHash keys the HMAC that failed sign-ins are counted under
	// (see accountKey).
	accountHash []byte
	// hashing bounds the password hashes computed at once.
	hashing chan struct{}
	// addresses and accounts are the sign-in rate limits; nil when off.
	addresses *ratelimit.Set
	accounts  *ratelimit.Set
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.RequestLifetime <= 0 {
		cfg.RequestLifetime = 10 * time.Minute
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default
	}
	if cfg.Throttle.PerAccount <= 0 {
		cfg.Throttle.PerAccount = 5
	}
	if cfg.Throttle.PerAddress <= 0 {
		cfg.Throttle.PerAddress = 20
	}
	if cfg.Throttle.Window <= 0 {
		cfg.Throttle.Window = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.New(audit.Config{Store: cfg.Store, Logger: cfg.Logger, Now: cfg.Now})
	}

	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(web.Static, "static")
	if err != nil {
		return nil, fmt.Errorf("open static files: %w", err)
	}
	return &Handler{
		cfg: cfg, p: cfg.Provider, store: cfg.Store, log: cfg.Logger, pages: pages,
		static:      http.StripPrefix("/static/", http.FileServerFS(static)),
		csrf:        cfg.Provider.Key("csrf"),
		accountHash: cfg.Provider.Key("login-account"),
		hashing:     make(chan struct{}, 4),
		addresses:   ratelimit.New(cfg.AddressRateLimit, cfg.Now),
		accounts:    ratelimit.New(cfg.AccountRateLimit, cfg.Now),
	}, nil
}

// Register adds the endpoint and pages to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth2/authorize", h.authorize)
	mux.HandleFunc("GET /login", h.loginPage)
	mux.HandleFunc("POST /login", h.login)
	mux.HandleFunc("GET /consent", h.consentPage)
	mux.HandleFunc("POST /consent", h.consent)
	mux.HandleFunc("GET /static/", h.serveStatic)
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.static.ServeHTTP(w, r)
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"login", "consent", "error"} {
		t, err := template.ParseFS(web.Templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s page: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
