// Package provider puts fosite together with Veil's storage, keys and token
// format. It owns the fosite configuration, the access-token strategy that
// emits Veil's nested tokens, client authentication, and the adapter that
// lets fosite's handlers read and write Veil's records.
//
// HTTP handlers (package endpoint) drive the flows through the Provider;
// nothing else imports fosite's handler packages.
package provider

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	enigma "github.com/ory/fosite/token/hmac"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/ratelimit"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// Config configures a Provider.
type Config struct {
	// Issuer is the iss of every token and the issuer in metadata.
	Issuer string
	// AccessTokenLifespan is how long access tokens live. Default 15
	// minutes: a resource server that validates tokens locally cannot see
	// a revocation, so the lifetime bounds how long a revoked token works
	// there.
	AccessTokenLifespan time.Duration
	// AuthorizeCodeLifespan is how long an authorization code may be
	// redeemed. Default 2 minutes: codes are redeemed at once by the
	// client's back end, and a short life limits a leaked code.
	AuthorizeCodeLifespan time.Duration
	// RefreshTokenLifespan is how long a refresh token lives. Default 30
	// days; each rotation issues a new one.
	RefreshTokenLifespan time.Duration
	// CatalogTTL is how long client and resource records are kept in
	// memory between database reads. Default 5 seconds; negative keeps
	// nothing. A change made through another replica's admin API takes
	// effect here within this time; one made through this process's, at
	// once (see Forget).
	CatalogTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the provider's log lines. Default slog.Default().
	Logger *slog.Logger
	// Audit records failed client authentications, replayed codes,
	// reused refresh tokens and revocations. Default a Recorder over the
	// store, Logger and Now.
	Audit *audit.Recorder
	// ClientRateLimit bounds the token requests of each client, counted
	// once it has authenticated. The zero Limit turns it off.
	ClientRateLimit ratelimit.Limit
	// AuthFailureRateLimit bounds the failed client authentications at
	// the token endpoint from each client address. The zero Limit turns
	// it off.
	AuthFailureRateLimit ratelimit.Limit
}

// Provider runs the OAuth2 flows.
type Provider struct {
	cfg    Config
	fosite *fosite.Fosite
	store  storage.Store
	keys   *keys.Manager
	hasher *secret.Hasher
	now    func() time.Time
	logger *slog.Logger
	audit  *audit.Recorder
	// encrypters caches encrypters to resource servers' keys.
	encrypters encrypters
	// catalog caches client and resource records.
	catalog *catalog
	// verified remembers the token strings introspection has verified.
	verified verifiedTokens
	// clientTokens and authFailures are the token endpoint's rate limits
	// (see limitedAuthentication); nil when off.
	clientTokens *ratelimit.Set
	authFailures *ratelimit.Set
}

// New composes fosite with Veil's parts. The key manager must be
// initialised: the secret-hashing key comes from it.
func New(cfg Config, store storage.Store, km *keys.Manager) (*Provider, error) {
	if cfg.AccessTokenLifespan <= 0 {
		cfg.AccessTokenLifespan = 15 * time.Minute
	}
	if cfg.AuthorizeCodeLifespan <= 0 {
		cfg.AuthorizeCodeLifespan = 2 * time.Minute
	}
	if cfg.RefreshTokenLifespan <= 0 {
		cfg.RefreshTokenLifespan = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CatalogTTL == 0 {
		cfg.CatalogTTL = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.New(audit.Config{Store: store, Logger: cfg.Logger, Now: cfg.Now})
	}
	set := km.Current()
	if set == nil {
		return nil, fmt.Errorf("provider: keys not loaded")
	}
	hasher, err := secret.NewHasher(set.HashKey())
	if err != nil {
		return nil, fmt.Errorf("create secret hasher: %w", err)
	}
	p := &Provider{
		cfg: cfg, store: store, keys: km, hasher: hasher, now: cfg.Now, logger: cfg.Logger,
		clientTokens: ratelimit.New(cfg.ClientRateLimit, cfg.Now),
		authFailures: ratelimit.New(cfg.AuthFailureRateLimit, cfg.Now),
		catalog:      newCatalog(cfg.CatalogTTL, cfg.Now),
		audit:        cfg.Audit,
	}

	fc := &fosite.Config{
		AccessTokenLifespan:   cfg.AccessTokenLifespan,
		AuthorizeCodeLifespan: cfg.AuthorizeCodeLifespan,
		RefreshTokenLifespan:  cfg.RefreshTokenLifespan,
		RefreshTokenScopes:    []string{OfflineAccess},
		EnforcePKCE:           true,
		// What is kept of an authorization request's form with its code:
		// the redirect URI (checked again at the token endpoint) and the
		// PKCE challenge, which the PKCE handler reads from the code.
		SanitationWhiteList:          []string{"redirect_uri", "code_challenge", "code_challenge_method"},
		TokenURL:                     cfg.Issuer + "/oauth2/token",
		ScopeStrategy:                fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:     fosite.ExactAudienceMatchingStrategy,
		ClientSecretsHasher:          hasher,
		ClientAuthenticationStrategy: p.limitedAuthentication,
		SendDebugMessagesToClients:   false,
		GlobalSecret:                 derive(set.HashKey(), "fosite hmac strategy"),
	}
	at := accessTokens{p}
	opaque := oauth2.NewHMACSHAStrategyUnPrefixed(&enigma.HMACStrategy{Config: fc}, fc)
	fs := fositeStore{p}

	explicit := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy:    at,
		RefreshTokenStrategy:   opaque,
		AuthorizeCodeStrategy:  opaque,
		CoreStorage:            fs,
		TokenRevocationStorage: fs,
		Config:                 fc,
	}
	pkceHandler := &pkce.Handler{AuthorizeCodeStrategy: opaque, Storage: fs, Config: fc}
	fc.AuthorizeEndpointHandlers.Append(explicit)
	fc.AuthorizeEndpointHandlers.Append(pkceHandler)
	fc.TokenEndpointHandlers.Append(explicit)
	fc.TokenEndpointHandlers.Append(pkceHandler)
	fc.TokenEndpointHandlers.Append(&oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy:    at,
		RefreshTokenStrategy:   opaque,
		TokenRevocationStorage: fs,
		Config:                 fc,
	})
	fc.TokenEndpointHandlers.Append(&oauth2.ClientCredentialsGrantHandler{
		HandleHelper: &oauth2.HandleHelper{AccessTokenStrategy: at, AccessTokenStorage: fs, Config: fc},
		Config:       fc,
	})
	fc.RevocationHandlers.Append(&oauth2.TokenRevocationHandler{
		TokenRevocationStorage: revocationStore{fs},
		AccessTokenStrategy:    at,
		RefreshTokenStrategy:   opaque,
	})
	p.fosite = fosite.NewOAuth2Provider(fs, fc)
	return p, nil
}

// derive returns a key for one purpose from a Veil-held secret, so that
// one stored secret can serve several purposes without reuse.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("veil " + purpose))
	return m.Sum(nil)
}

// Fosite returns the composed fosite provider.
func (p *Provider) Fosite() *fosite.Fosite { return p.fosite }

// Hasher returns the client-secret hasher.
func (p *Provider) Hasher() *secret.Hasher { return p.hasher }

// Issuer returns the configured issuer.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Now returns the provider's clock reading.
func (p *Provider) Now() time.Time { return p.now() }

// Key returns a key for one purpose (such as "csrf"), derived from the
// Veil-held secret, the same on every replica.
func (p *Provider) Key(purpose string) []byte {
	return derive(p.keys.Current().HashKey(), purpose)
}
