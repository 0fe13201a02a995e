// Package server assembles a running Veil from its configuration: storage
// (PostgreSQL, or memory in development mode), keys, the OAuth provider, and
// the two HTTP listeners, public and admin. It owns start-up order and
// graceful shutdown, and what the listeners do before any handler runs:
// TLS, timeouts, header size, the bound on requests in flight, and finding
// the client's address. The parts themselves live in their own packages.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/authorize"
	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/endpoint"
	"github.com/veil-auth/veil/internal/health"
	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/metrics"
	"github.com/veil-auth/veil/internal/provider"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// ShutdownTimeout bounds how long in-flight requests may take to finish
// after shutdown begins.
const ShutdownTimeout = 15 * time.Second

// Server is an assembled Veil, ready to serve.
type Server struct {
	log         *slog.Logger
	keyInterval time.Duration
	store       storage.Store
	keys        *keys.Manager
	public      http.Handler
	admin       http.Handler
	// settings are the HTTP limits both listeners share.
	settings httpSettings
	// tls is the listeners' TLS configuration; nil serves plain HTTP.
	tls *tls.Config

	// janitor deletes expired items every janitorInterval; zero runs none.
	janitor         *janitor.Janitor
	janitorInterval time.Duration
}

// New opens storage (applying pending migrations), loads or creates the
// keys and builds both listeners' handlers. In development mode it
// generates the master key and, if none is configured, the admin token,
// which it writes once to notice.
//
// With TLS configured, the certificate is read first, so that a bad one
// stops start-up before storage is touched.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, notice io.Writer) (*Server, error) {
	tc, err := newTLSConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return nil, err
	}
	srv, err := assemble(ctx, cfg, log, notice, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	srv.tls = tc
	return srv, nil
}

// openStore opens storage. With migrate, pending migrations are applied
// first, as `veil serve` does; without, a schema other than the one this
// build expects is refused (postgres.CheckSchema says why).
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, migrate bool) (storage.Store, error) {
	if cfg.Dev() {
		log.Warn("DEVELOPMENT MODE: no database configured; storage is in memory and NOTHING IS KEPT across restarts. Set VEIL_DATABASE_URL for real use.")
		return memory.New(), nil
	}
	if migrate {
		if err := postgres.MigrateUp(ctx, cfg.DatabaseURL); err != nil {
			return nil, fmt.Errorf("apply migrations: %w", err)
		}
	} else if err := postgres.CheckSchema(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	store, err := postgres.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return store, nil
}

// OpenJanitor opens storage and a janitor over it alone, for `veil
// janitor`. It applies no migration: run from cron, a newer binary would
// otherwise migrate a live database under the replicas serving it. The
// returned function closes storage.
func OpenJanitor(ctx context.Context, cfg *config.Config, log *slog.Logger) (*janitor.Janitor, func(), error) {
	store, err := openStore(ctx, cfg, log, false)
	if err != nil {
		return nil, nil, err
	}
	return janitor.New(store, janitor.Config{Logger: log}), store.Close, nil
}

// OpenKeys opens storage and the key manager alone, for the key
// administration commands. Like OpenJanitor, it applies no migration. The
// returned function closes storage.
func OpenKeys(ctx context.Context, cfg *config.Config, log *slog.Logger) (*keys.Manager, func(), error) {
	store, err := openStore(ctx, cfg, log, false)
	if err != nil {
		return nil, nil, err
	}
	sealer, err := keys.NewSealer(cfg.MasterKeys)
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("create sealer: %w", err)
	}
	return keys.NewManager(store, sealer, cfg.KeyPolicy(), nil, log), store.Close, nil
}

func assemble(ctx context.Context, cfg *config.Config, log *slog.Logger, notice io.Writer, store storage.Store) (*Server, error) {
	masterKeys, adminToken := cfg.MasterKeys, cfg.AdminToken
	if cfg.Dev() {
		if len(masterKeys) == 0 {
			masterKeys = [][]byte{randomBytes(keys.MasterKeySize)}
		}
		if adminToken == "" {
			adminToken = base64.RawURLEncoding.EncodeToString(randomBytes(32))
			fmt.Fprintf(notice, "development admin token (shown once): %s\n", adminToken)
		}
	}
	sealer, err := keys.NewSealer(masterKeys)
	if err != nil {
		return nil, fmt.Errorf("create sealer: %w", err)
	}
	km := keys.NewManager(store, sealer, cfg.KeyPolicy(), nil, log)
	if err := km.Init(ctx); err != nil {
		if errors.Is(err, keys.ErrOpen) {
			return nil, fmt.Errorf("%w (is VEIL_MASTER_KEY the key this database was set up with?)", err)
		}
		return nil, err
	}

	// One Recorder for the public and admin sides, so that its throttling
	// of failed authentications counts each key once.
	rec := audit.New(audit.Config{Store: store, Logger: log})
	p, err := provider.New(provider.Config{
		Issuer:                cfg.Issuer,
		AccessTokenLifespan:   cfg.AccessTokenLifespan,
		AuthorizeCodeLifespan: cfg.AuthorizeCodeLifespan,
		RefreshTokenLifespan:  cfg.RefreshTokenLifespan,
		CatalogTTL:            catalogTTL(cfg.ClientCacheTTL),
		Logger:                log,
		Audit:                 rec,
		ClientRateLimit:       cfg.TokenClientRateLimit,
		AuthFailureRateLimit:  cfg.TokenFailureRateLimit,
	}, store, km)
	if err != nil {
		return nil, err
	}
	m := newMetrics(km, store, log)
	pub, err := endpoint.New(endpoint.Config{Provider: p, Keys: km, Logger: log, JWKSMaxAge: cfg.JWKSMaxAge,
		Issued: m.TokenIssued})
	if err != nil {
		return nil, err
	}
	pages, err := authorize.New(authorize.Config{
		Provider: p, Store: store, Logger: log, Audit: rec,
		SecureCookies: cfg.SecureCookies(), SessionLifetime: cfg.SessionLifetime,
		AddressRateLimit: cfg.LoginAddressRateLimit, AccountRateLimit: cfg.LoginAccountRateLimit,
	})
	if err != nil {
		return nil, err
	}
	publicMux := http.NewServeMux()
	pub.Register(publicMux)
	pages.Register(publicMux)
	health.Register(publicMux, store, km)

	adminMux := http.NewServeMux()
	adminMux.Handle("/", admin.New(admin.Config{
		Store: store, Hasher: p.Hasher(), Token: adminToken, Logger: log,
		Keys: km, SigningAlgorithms: cfg.SigningAlgorithms, Changed: p.Forget, Audit: rec,
		Profiling: cfg.Profiling,
	}))
	// The probes need no admin token: orchestrators call them.
	health.Register(adminMux, store, km)
	adminMux.Handle("GET "+metrics.Path, m.Handler(adminToken, cfg.MetricsToken))
	adminMux.Handle(metrics.Path, health.MethodNotAllowed("GET, HEAD"))
	settings := httpSettingsOf(cfg)
	return &Server{
		log:         log,
		keyInterval: cfg.KeyRefreshInterval,
		store:       store,
		keys:        km,
		public:      settings.wrap(log, m, "public", publicMux),
		admin:       settings.wrap(log, m, "admin", adminMux),
		settings:    settings,

		janitor:         janitor.New(store, janitor.Config{Logger: log, OnRun: m.ObserveJanitor}),
		janitorInterval: cfg.JanitorInterval,
	}, nil
}

// newMetrics returns the server's metrics, with the pool statistics of
// the PostgreSQL store (the memory store has no pool).
func newMetrics(km *keys.Manager, store storage.Store, log *slog.Logger) *metrics.Metrics {
	cfg := metrics.Config{Keys: km, Logger: log}
	if pool, ok := store.(metrics.PoolSource); ok {
		cfg.Pool = pool
	}
	return metrics.New(cfg)
}

// Public returns the handler of the public (OAuth) listener.
func (s *Server) Public() http.Handler { return s.public }

// Admin returns the handler of the admin listener.
func (s *Server) Admin() http.Handler { return s.admin }

// Keys returns the key manager; tests use it to read tokens the way a
// resource server holding the key would.
func (s *Server) Keys() *keys.Manager { return s.keys }

// Close releases storage.
func (s *Server) Close() { s.store.Close() }

// Serve serves both listeners until ctx is done, then shuts down
// gracefully: both listeners stop accepting at once, idle connections are
// closed, and requests in flight may finish within ShutdownTimeout. It
// returns once they have, with an error if some had to be cut off. The
// caller then releases storage with Close.
func (s *Server) Serve(ctx context.Context, public, adminLn net.Listener) error {
	servers := []*http.Server{s.newHTTPServer(s.public), s.newHTTPServer(s.admin)}
	listeners := []net.Listener{public, adminLn}
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- s.serveOne(hs, listeners[i]) }()
	}
	s.log.Info("veil serving", "public_addr", public.Addr().String(), "admin_addr", adminLn.Addr().String(),
		"tls", s.tls != nil)
	bctx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	background.Go(func() { s.keys.Run(bctx, s.keyInterval) })
	if s.janitorInterval > 0 {
		background.Go(func() { s.janitor.Run(bctx, s.janitorInterval) })
	}
	defer func() { stopBackground(); background.Wait() }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}

	s.log.Info("veil shutting down")
	errs := shutdown(servers)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve: %w", serveErr))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.log.Info("veil shut down")
	return nil
}

// shutdown shuts the servers down together, so that neither accepts new
// requests while the other drains, and within one ShutdownTimeout.
func shutdown(servers []*http.Server) []error {
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()

	errc := make(chan error, len(servers))
	for _, hs := range servers {
		go func() { errc <- hs.Shutdown(sctx) }()
	}
	var errs []error
	for range servers {
		if err := <-errc; err != nil {
			errs = append(errs, fmt.Errorf("shut down listener: %w", err))
		}
	}
	return errs
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// catalogTTL maps the configured cache lifetime, where 0 turns the cache
// off, onto the provider's, where 0 means its default.
func catalogTTL(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
