// Package verifier checks Veil access tokens where they are used: at a
// resource server, the API a client calls with a token. It is a public
// package, meant to be imported by other modules.
//
// A Veil access token is a JWS signed by Veil (RFC 9068, typ at+jwt)
// nested inside a compact JWE (cty JWT), so that nothing between the client
// and the API can read its claims. A Verifier checks such tokens in one of
// two ways:
//
//   - Local validation, for a resource server that registered encryption
//     keys with Veil: decrypt the JWE with the resource server's own private
//     key, chosen by the kid in its header, then verify the inner JWS
//     against Veil's published JWKS. Veil is asked for nothing but its JWKS,
//     which is cached.
//   - Introspection (RFC 7662), for a resource server without a key: Veil
//     is asked about each token, with the resource server's credentials,
//     and active answers are cached for a short, bounded time.
//
// Either way the claims are then checked: iss equals the configured
// issuer, aud contains the resource server's identifier, exp, nbf and iat
// hold at the Verifier's clock within a small leeway, and the token carries
// the required scopes.
//
// Every token is attacker input, so parsing is strict: compact serialisation
// only, explicit algorithm allow-lists, no compression, the JWE must say it
// holds a JWT and the JWS must be typed at+jwt. Every failure to parse,
// decrypt or verify returns ErrInvalidToken and nothing else. Only a token
// that passed every cryptographic check can earn the more specific
// ExpiredError, NotYetValidError, AudienceError or ScopeError.
//
// Middleware puts this in front of an http.Handler and answers failures as
// RFC 6750 §3 asks.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// MaxTokenSize bounds the length of a token the Verifier looks at. Veil's
// tokens stay near 1 KiB with EC keys and under 3 KiB with 4096-bit RSA
// keys for both signing and encryption.
const MaxTokenSize = 8 << 10

// Defaults of the Config fields that have one.
const (
	// DefaultLeeway is the default Config.Leeway.
	DefaultLeeway = 30 * time.Second
	// DefaultRefreshInterval is the default Config.RefreshInterval.
	DefaultRefreshInterval = time.Minute
	// DefaultMaxJWKSAge is the default Config.MaxJWKSAge.
	DefaultMaxJWKSAge = 24 * time.Hour
	// DefaultIntrospectionCacheTTL is the default
	// Config.IntrospectionCacheTTL.
	DefaultIntrospectionCacheTTL = 30 * time.Second
	// DefaultTimeout is the default Config.Timeout.
	DefaultTimeout = 10 * time.Second
)

// Config configures a Verifier. Issuer and Audience are required, and so is
// exactly one way of checking tokens: DecryptionKeys for local validation,
// or ClientID and ClientSecret for introspection. The zero value of every
// other field is a safe default.
type Config struct {
	// Issuer is Veil's issuer URL, exactly as in the iss claim and the
	// metadata. Veil's metadata is read from
	// {Issuer}/.well-known/oauth-authorization-server (RFC 8414 §3).
	// It must be https, or http on a loopback address.
	Issuer string
	// Audience is the resource server's identifier, as registered with
	// Veil; a token is accepted only if its aud contains it.
	Audience string
	// RequiredScopes are scopes every token must carry. Middleware can
	// require more per route. Default: none.
	RequiredScopes []string

	// DecryptionKeys are the resource server's private keys, RSA of at
	// least 2048 bits or EC P-256, each with the KeyID it was registered
	// with at Veil. Setting them selects local validation. The key for a
	// token is chosen by the kid of its JWE header; no other key is tried.
	// ParsePrivateKeys reads them from PEM or JWK.
	DecryptionKeys []jose.JSONWebKey
	// KeyAlgorithms are the JWE key-management algorithms accepted.
	// Default: RSA-OAEP-256 and ECDH-ES+A256KW, the only ones allowed. The
	// content encryption is always A256GCM.
	KeyAlgorithms []jose.KeyAlgorithm
	// SignatureAlgorithms are the JWS algorithms accepted for the inner
	// token. Default: ES256, RS256, PS256 and EdDSA, the only ones allowed.
	SignatureAlgorithms []jose.SignatureAlgorithm
	// AllowUnencrypted makes local validation accept a bare signed JWT
	// too. Default false: a resource server that registered a key should
	// never see its tokens travel in the clear, so a bare JWS is refused,
	// even one Veil signed (it may be the inner token of a JWE decrypted by
	// someone else). With it set, DecryptionKeys may be empty.
	AllowUnencrypted bool
	// JWKSURL is where Veil's signing keys are fetched. Default: the
	// jwks_uri of Veil's metadata, which must be on the issuer's origin.
	// A URL set here is trusted as given.
	JWKSURL string
	// SigningKeys, when set, are Veil's public signing keys, used as they
	// are: nothing is fetched. For tests and offline tools.
	SigningKeys *jose.JSONWebKeySet
	// RefreshInterval is the least time between two JWKS fetches made
	// because a token named an unknown kid. Default one minute. The cache
	// itself follows Veil's Cache-Control max-age (at least one second), so
	// keys Veil pre-publishes arrive in time however short the max-age.
	RefreshInterval time.Duration
	// MaxJWKSAge caps how long a fetched JWKS is used, whatever its
	// Cache-Control max-age says. Default 24 hours.
	MaxJWKSAge time.Duration

	// ClientID and ClientSecret are the resource server's introspection
	// credentials, from its registration at Veil. Setting them selects
	// introspection.
	ClientID     string
	ClientSecret string
	// IntrospectionURL is Veil's introspection endpoint. Default: the
	// introspection_endpoint of Veil's metadata, on the issuer's origin.
	IntrospectionURL string
	// IntrospectionCacheTTL bounds how long an active answer is reused;
	// an answer is never reused past the token's exp. A token revoked at
	// Veil may be accepted for this long. Default 30 seconds; negative
	// disables the cache. Inactive answers and errors are never cached.
	IntrospectionCacheTTL time.Duration

	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Default 30 seconds; negative means none.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// HTTPClient makes every request to Veil. Default: a client of its
	// own. Redirects are never followed, whichever client is used.
	HTTPClient *http.Client
	// Timeout bounds each request to Veil. Default 10 seconds.
	Timeout time.Duration
	// Logger receives JWKS refreshes and, from Middleware, failures to
	// reach Veil. Tokens are never logged. Default: discard.
	Logger *slog.Logger
	// Realm is the realm of the WWW-Authenticate challenges Middleware
	// sends. Default: Audience.
	Realm string
}

// Verifier checks access tokens. It is safe for concurrent use, and meant
// to be made once and shared: it holds the JWKS and introspection caches.
type Verifier struct {
	issuer   string
	audience string
	required []string
	leeway   time.Duration
	now      func() time.Time
	log      *slog.Logger
	realm    string
	checker  checker
}

// checker is one way of checking a token: it returns the claims of an
// authentic token, which Verify then validates.
type checker interface {
	check(ctx context.Context, tok string) (*Claims, error)
}

// New returns a Verifier for cfg. It does no I/O: Veil's metadata and JWKS
// are fetched when the first token needs them. It reports every problem of
// cfg at once.
func New(cfg Config) (*Verifier, error) {
	cfg.setDefaults()
	keys, keyErr := decryptionKeys(cfg.DecryptionKeys, cfg.KeyAlgorithms)
	if err := errors.Join(cfg.validate(), keyErr); err != nil {
		return nil, err
	}

	client := *cfg.HTTPClient
	client.CheckRedirect = refuseRedirect
	web := &fetcher{client: &client, timeout: cfg.Timeout}
	disc := newDiscovery(cfg.Issuer, web, cfg.Now)

	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		required: slices.Clone(cfg.RequiredScopes),
		leeway:   cfg.Leeway,
		now:      cfg.Now,
		log:      cfg.Logger,
		realm:    cfg.Realm,
	}
	if cfg.ClientID != "" {
		v.checker = newIntrospector(&cfg, web, disc)
		return v, nil
	}
	v.checker = newLocal(&cfg, keys, web, disc)
	return v, nil
}

func (cfg *Config) setDefaults() {
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	cfg.Leeway = max(cfg.Leeway, 0)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Realm == "" {
		cfg.Realm = cfg.Audience
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MaxJWKSAge <= 0 {
		cfg.MaxJWKSAge = DefaultMaxJWKSAge
	}
	if cfg.IntrospectionCacheTTL == 0 {
		cfg.IntrospectionCacheTTL = DefaultIntrospectionCacheTTL
	}
	if len(cfg.KeyAlgorithms) == 0 {
		cfg.KeyAlgorithms = slices.Clone(allowedKeyAlgorithms)
	}
	if len(cfg.SignatureAlgorithms) == 0 {
		cfg.SignatureAlgorithms = slices.Clone(allowedSignatureAlgorithms)
	}
}

func (cfg *Config) validate() error {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Errorf("verifier: "+format, args...))
	}

	if err := checkURL(cfg.Issuer); err != nil {
		bad("Issuer: %w", err)
	} else if u, _ := url.Parse(cfg.Issuer); u.RawQuery != "" || u.Fragment != "" {
		bad("Issuer must have no query or fragment")
	}
	if cfg.Audience == "" {
		bad("Audience is required")
	}
	local := len(cfg.DecryptionKeys) > 0 || cfg.AllowUnencrypted
	switch {
	case cfg.AllowUnencrypted && cfg.ClientID != "":
		bad("AllowUnencrypted is for local validation, not introspection")
	case local && cfg.ClientID != "":
		bad("set DecryptionKeys (local validation) or ClientID (introspection), not both")
	case !local && cfg.ClientID == "":
		bad("DecryptionKeys (local validation) or ClientID and ClientSecret (introspection) " +
			"are required")
	case cfg.ClientID != "" && cfg.ClientSecret == "":
		bad("ClientSecret is required with ClientID")
	}
	for _, alg := range cfg.KeyAlgorithms {
		if !slices.Contains(allowedKeyAlgorithms, alg) {
			bad("KeyAlgorithms: %q is not allowed (want RSA-OAEP-256 or ECDH-ES+A256KW)", alg)
		}
	}
	for _, alg := range cfg.SignatureAlgorithms {
		if !slices.Contains(allowedSignatureAlgorithms, alg) {
			bad("SignatureAlgorithms: %q is not allowed (want ES256, RS256, PS256 or EdDSA)", alg)
		}
	}
	if cfg.JWKSURL != "" && checkURL(cfg.JWKSURL) != nil {
		bad("JWKSURL: %w", checkURL(cfg.JWKSURL))
	}
	if cfg.IntrospectionURL != "" && checkURL(cfg.IntrospectionURL) != nil {
		bad("IntrospectionURL: %w", checkURL(cfg.IntrospectionURL))
	}
	return errors.Join(problems...)
}

// Verify checks tok, the bare token (without "Bearer "), and returns its
// claims. A nil error means the token is authentic, current, for this
// resource server and carries Config.RequiredScopes. ctx bounds any request
// to Veil the check needs.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Claims, error) {
	if len(tok) == 0 || len(tok) > MaxTokenSize {
		return nil, ErrInvalidToken
	}
	c, err := v.checker.check(ctx, tok)
	if err != nil {
		return nil, err
	}
	if err := v.validate(c); err != nil {
		return nil, err
	}
	return c, nil
}

// validate checks the claims of an authentic token against the
// configuration and the clock.
func (v *Verifier) validate(c *Claims) error {
	if c.Issuer != v.issuer {
		return ErrInvalidToken
	}
	if !slices.Contains(c.Audience, v.audience) {
		return &AudienceError{Want: v.audience, Got: slices.Clone(c.Audience)}
	}

	now := v.now()
	if !c.ExpiresAt.IsZero() && !now.Add(-v.leeway).Before(c.ExpiresAt) {
		return &ExpiredError{ExpiresAt: c.ExpiresAt}
	}
	from := c.NotBefore
	if c.IssuedAt.After(from) {
		from = c.IssuedAt
	}
	if from.After(now.Add(v.leeway)) {
		return &NotYetValidError{ValidFrom: from}
	}
	return c.RequireScopes(v.required...)
}
