// Package config loads Veil's configuration from the environment, flags
// and files named by *_FILE variables. It is the only package that reads the
// environment. Secrets are held as values but never printed: String and the
// errors of Validate name a secret's variable, not its content.
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/ratelimit"
)

// Config is Veil's configuration. The zero value plus defaults is a safe
// development setup on loopback.
type Config struct {
	// DatabaseURL is the PostgreSQL URL (VEIL_DATABASE_URL or
	// VEIL_DATABASE_URL_FILE; it may hold a password). Empty means
	// development mode: in-memory storage, nothing kept.
	DatabaseURL string
	// Issuer is the issuer URL put in tokens and metadata (VEIL_ISSUER).
	// Default: http://<PublicAddr> when PublicAddr is a loopback address;
	// required otherwise.
	Issuer string
	// PublicAddr is the listen address of the OAuth endpoints
	// (VEIL_PUBLIC_ADDR). Default 127.0.0.1:8080.
	PublicAddr string
	// AdminAddr is the listen address of the admin API (VEIL_ADMIN_ADDR).
	// Default 127.0.0.1:8081: the admin API is reachable from this machine
	// only unless an operator decides otherwise.
	AdminAddr string
	// AdminToken is the bearer credential of the admin API
	// (VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE). Required with a
	// database; generated in development mode when unset.
	AdminToken string
	// MetricsToken is a bearer credential that opens GET /metrics on the
	// admin listener and nothing else (VEIL_METRICS_TOKEN or
	// VEIL_METRICS_TOKEN_FILE), for a Prometheus server. Default: unset,
	// and only the admin token opens the metrics.
	MetricsToken string
	// MasterKeys encrypt private key material at rest (VEIL_MASTER_KEY or
	// VEIL_MASTER_KEY_FILE: base64 of 32 random bytes). The first seals
	// new material; further ones, comma-separated, are accepted for
	// opening during a master-key rotation. Required with a database;
	// generated in development mode.
	MasterKeys [][]byte
	// AccessTokenLifespan is the lifetime of access tokens
	// (VEIL_ACCESS_TOKEN_LIFESPAN). Default 15m.
	AccessTokenLifespan time.Duration
	// AuthorizeCodeLifespan is how long an authorization code may be
	// redeemed (VEIL_AUTHORIZE_CODE_LIFESPAN). Default 2m.
	AuthorizeCodeLifespan time.Duration
	// RefreshTokenLifespan is the lifetime of refresh tokens
	// (VEIL_REFRESH_TOKEN_LIFESPAN). Default 720h (30 days).
	RefreshTokenLifespan time.Duration
	// SessionLifetime is how long a sign-in on Veil's pages lasts
	// (VEIL_SESSION_LIFETIME). Default 12h.
	SessionLifetime time.Duration
	// SigningAlgorithms are the algorithms Veil keeps signing keys for
	// (VEIL_SIGNING_ALGORITHMS, comma-separated). The first signs tokens
	// unless a resource asks for another. Default ES256,RS256.
	SigningAlgorithms []string
	// KeyRotationInterval is how long a signing key signs before the next
	// takes over (VEIL_KEY_ROTATION_INTERVAL). Default 720h (30 days).
	KeyRotationInterval time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the JWKS
	// (VEIL_JWKS_MAX_AGE). New keys are published this long (plus
	// KeyRefreshInterval) before they sign. Default 10m.
	JWKSMaxAge time.Duration
	// KeyRefreshInterval is how often each replica checks for key changes
	// and due rotations (VEIL_KEY_REFRESH_INTERVAL). Default 5s.
	KeyRefreshInterval time.Duration
	// ClientCacheTTL is how long each replica keeps a client or resource
	// registration in memory between database reads
	// (VEIL_CLIENT_CACHE_TTL). A change made through one replica's admin
	// API takes effect there at once and on the others within this time.
	// Default 5s; 0 reads the database on every request.
	ClientCacheTTL time.Duration
	// GCPercent is the garbage collector's target that `veil serve` sets:
	// DefaultGCPercent, or 0 when the GOGC variable is set, which Go's
	// runtime then reads itself.
	GCPercent int
	// JanitorInterval is the time from the end of one run of the janitor,
	// which deletes expired items, to the start of the next
	// (VEIL_JANITOR_INTERVAL); the first runs at start. With several
	// replicas, one runs at a time and the others skip their turn.
	// Default 1h; zero turns it off.
	JanitorInterval time.Duration
	// LogFormat is "json" or "text" (VEIL_LOG_FORMAT). Default: json with
	// a database, text in development mode.
	LogFormat string
	// LogLevel is debug, info, warn or error (VEIL_LOG_LEVEL). Default info.
	LogLevel string
	// Profiling serves Go's runtime profiles (CPU, heap, goroutines) on
	// the admin listener under /admin/debug/pprof/, behind the admin token
	// (VEIL_PROFILING=true). Default false: they are for measuring, and a
	// CPU profile slows the server a little while it is taken.
	Profiling bool

	// TLSCertFile is a PEM file holding the certificate chain both
	// listeners serve HTTPS with (VEIL_TLS_CERT_FILE), leaf first. Set it
	// and TLSKeyFile together, or neither. Default: unset, plain HTTP,
	// which is allowed only as PlainHTTPAllowed says. The files are read
	// once, at start.
	TLSCertFile string
	// TLSKeyFile is the PEM file of the certificate's private key
	// (VEIL_TLS_KEY_FILE). Default: unset.
	TLSKeyFile string
	// BehindTLSProxy declares that a TLS-terminating proxy stands in front
	// of every listener, so plain HTTP on a non-loopback address is
	// intended (VEIL_BEHIND_TLS_PROXY=true). Default false.
	BehindTLSProxy bool
	// TrustedProxies are the peers whose X-Forwarded-For header is
	// believed when finding a client's address for login throttling and
	// the request log (VEIL_TRUSTED_PROXIES, comma-separated CIDR prefixes
	// or single addresses). Default none: the TCP peer is the client.
	TrustedProxies []netip.Prefix

	// ReadHeaderTimeout bounds reading a request's headers
	// (VEIL_HTTP_READ_HEADER_TIMEOUT). Default 5s; zero means the default.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included
	// (VEIL_HTTP_READ_TIMEOUT). Default 10s; zero means the default.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response (VEIL_HTTP_WRITE_TIMEOUT). Default 15s;
	// zero means the default.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request (VEIL_HTTP_IDLE_TIMEOUT). Default 60s; zero means the
	// default.
	IdleTimeout time.Duration
	// MaxConcurrentRequests bounds the requests each listener serves at
	// once (VEIL_MAX_CONCURRENT_REQUESTS); past it a request is answered
	// 503 at once rather than queued. Default 512; zero means the default.
	MaxConcurrentRequests int

	// TokenClientRateLimit bounds the token requests of each client, in
	// each replica, counted once the client has authenticated (a public
	// client's per client and address): VEIL_RATE_LIMIT_TOKEN_PER_CLIENT
	// per second, VEIL_RATE_LIMIT_TOKEN_PER_CLIENT_BURST at once. Load's
	// default is DefaultTokenClientRateLimit, 100 per second with a burst
	// of 200; a zero rate turns the limit off.
	TokenClientRateLimit ratelimit.Limit
	// TokenFailureRateLimit bounds the failed client authentications at
	// the token endpoint from each client address, in each replica; past
	// it every token request from there is refused until the budget
	// refills (VEIL_RATE_LIMIT_TOKEN_FAILURES_PER_ADDRESS and _BURST).
	// Default 5 per second, burst 50; a zero rate turns it off.
	TokenFailureRateLimit ratelimit.Limit
	// LoginAddressRateLimit bounds the sign-in attempts from each client
	// address, in each replica (VEIL_RATE_LIMIT_LOGIN_PER_ADDRESS and
	// _BURST). Default 5 per second, burst 50; a zero rate turns it off.
	LoginAddressRateLimit ratelimit.Limit
	// LoginAccountRateLimit bounds the sign-in attempts for each
	// username, in each replica (VEIL_RATE_LIMIT_LOGIN_PER_ACCOUNT and
	// _BURST). Default 1 per second, burst 10; a zero rate turns it off.
	LoginAccountRateLimit ratelimit.Limit

	// problems collects errors found while loading, reported by Validate.
	problems []error
	// unreadable names the secrets whose file could not be read, so that
	// Validate does not also call them missing.
	unreadable []string
}

// Defaults of the HTTP limits, which also apply when a field is zero.
const (
	DefaultReadHeaderTimeout     = 5 * time.Second
	DefaultReadTimeout           = 10 * time.Second
	DefaultWriteTimeout          = 15 * time.Second
	DefaultIdleTimeout           = 60 * time.Second
	DefaultMaxConcurrentRequests = 512
)

// KeyPolicy returns the signing-key rotation policy the configuration
// implies. A new key is published for the JWKS max-age plus two refresh
// intervals (the longest any replica or resource server can go without
// seeing it, with room for the commit) before it signs; a retired key
// stays published for keys.MaxRetain, whatever this process's own token
// lifetime, since another replica's may be longer.
func (c *Config) KeyPolicy() keys.Policy {
	algs := make([]jose.SignatureAlgorithm, 0, len(c.SigningAlgorithms))
	for _, a := range c.SigningAlgorithms {
		algs = append(algs, jose.SignatureAlgorithm(a))
	}
	return keys.Policy{
		Algorithms:       algs,
		RotationInterval: c.KeyRotationInterval,
		// The second refresh interval covers the time between planning a
		// key and its commit becoming visible to every replica.
		PrePublish: c.JWKSMaxAge + 2*c.KeyRefreshInterval,
		Retain:     keys.MaxRetain,
	}
}

// SecureCookies reports whether cookies must be Secure: always, except
// when the issuer is plain http on a loopback address (development).
func (c *Config) SecureCookies() bool {
	u, err := url.Parse(c.Issuer)
	return err != nil || u.Scheme != "http" || !isLoopback(u.Host)
}

// Dev reports whether Veil runs in development mode (no database).
func (c *Config) Dev() bool { return c.DatabaseURL == "" }

// TLS reports whether the listeners serve HTTPS themselves.
func (c *Config) TLS() bool { return c.TLSCertFile != "" || c.TLSKeyFile != "" }

// PlainHTTPAllowed reports whether a listener on addr may serve plain
// HTTP: when it is a loopback address, which nothing off this machine can
// reach, in development mode, or behind a TLS-terminating proxy the
// operator vouches for. Anywhere else credentials, codes and tokens would
// cross the network in clear (RFC 6749 §1.6, §3.1, §3.2 require TLS).
func (c *Config) PlainHTTPAllowed(addr string) bool {
	return isLoopback(addr) || c.Dev() || c.BehindTLSProxy
}

// Load reads the configuration from getenv and the flags in args (flags
// win). It does not validate; call Validate.
func Load(args []string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	c.DatabaseURL = c.secret(getenv, "VEIL_DATABASE_URL")
	c.Issuer = getenv("VEIL_ISSUER")
	c.PublicAddr = orDefault(getenv("VEIL_PUBLIC_ADDR"), "127.0.0.1:8080")
	c.AdminAddr = orDefault(getenv("VEIL_ADMIN_ADDR"), "127.0.0.1:8081")
	c.AdminToken = c.secret(getenv, "VEIL_ADMIN_TOKEN")
	c.MetricsToken = c.secret(getenv, "VEIL_METRICS_TOKEN")
	c.LogLevel = orDefault(getenv("VEIL_LOG_LEVEL"), "info")
	c.LogFormat = getenv("VEIL_LOG_FORMAT")
	c.Profiling = c.boolean(getenv, "VEIL_PROFILING")
	c.AccessTokenLifespan = c.duration(getenv, "VEIL_ACCESS_TOKEN_LIFESPAN", 15*time.Minute)
	c.AuthorizeCodeLifespan = c.duration(getenv, "VEIL_AUTHORIZE_CODE_LIFESPAN", 2*time.Minute)
	c.RefreshTokenLifespan = c.duration(getenv, "VEIL_REFRESH_TOKEN_LIFESPAN", 30*24*time.Hour)
	c.SessionLifetime = c.duration(getenv, "VEIL_SESSION_LIFETIME", 12*time.Hour)
	c.KeyRotationInterval = c.duration(getenv, "VEIL_KEY_ROTATION_INTERVAL", 30*24*time.Hour)
	c.JWKSMaxAge = c.duration(getenv, "VEIL_JWKS_MAX_AGE", 10*time.Minute)
	c.KeyRefreshInterval = c.duration(getenv, "VEIL_KEY_REFRESH_INTERVAL", 5*time.Second)
	c.ClientCacheTTL = c.duration(getenv, "VEIL_CLIENT_CACHE_TTL", 5*time.Second)
	if getenv("GOGC") == "" {
		c.GCPercent = DefaultGCPercent
	}
	c.JanitorInterval = c.duration(getenv, "VEIL_JANITOR_INTERVAL", time.Hour)
	algorithms := orDefault(getenv("VEIL_SIGNING_ALGORITHMS"), "ES256,RS256")
	if mk := c.secret(getenv, "VEIL_MASTER_KEY"); mk != "" {
		c.MasterKeys = c.masterKeys(mk)
	}
	trusted := c.loadTransport(getenv)
	c.loadRateLimits(getenv)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.Issuer, "issuer", c.Issuer, "issuer URL (VEIL_ISSUER)")
	fs.StringVar(&c.PublicAddr, "public-addr", c.PublicAddr, "OAuth listener address (VEIL_PUBLIC_ADDR)")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "admin listener address (VEIL_ADMIN_ADDR)")
	fs.DurationVar(&c.AccessTokenLifespan, "access-token-lifespan", c.AccessTokenLifespan, "access token lifetime (VEIL_ACCESS_TOKEN_LIFESPAN)")
	fs.DurationVar(&c.AuthorizeCodeLifespan, "authorize-code-lifespan", c.AuthorizeCodeLifespan, "authorization code lifetime (VEIL_AUTHORIZE_CODE_LIFESPAN)")
	fs.DurationVar(&c.RefreshTokenLifespan, "refresh-token-lifespan", c.RefreshTokenLifespan, "refresh token lifetime (VEIL_REFRESH_TOKEN_LIFESPAN)")
	fs.DurationVar(&c.SessionLifetime, "session-lifetime", c.SessionLifetime, "sign-in session lifetime (VEIL_SESSION_LIFETIME)")
	fs.DurationVar(&c.JanitorInterval, "janitor-interval", c.JanitorInterval, "time between runs of the janitor; 0 turns it off (VEIL_JANITOR_INTERVAL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or text (VEIL_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (VEIL_LOG_LEVEL)")
	fs.BoolVar(&c.Profiling, "profiling", c.Profiling, "serve runtime profiles on the admin listener (VEIL_PROFILING)")
	c.keyFlags(fs, &algorithms)
	c.transportFlags(fs, &trusted)
	c.rateLimitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.TrustedProxies = c.prefixes(trusted)
	c.SigningAlgorithms = strings.Split(strings.ReplaceAll(algorithms, " ", ""), ",")

	if c.LogFormat == "" {
		c.LogFormat = "json"
		if c.Dev() {
			c.LogFormat = "text"
		}
	}
	if _, port, _ := net.SplitHostPort(c.PublicAddr); c.Issuer == "" && isLoopback(c.PublicAddr) && port != "0" {
		c.Issuer = "http://" + c.PublicAddr
		if c.TLS() {
			c.Issuer = "https://" + c.PublicAddr
		}
	}
	return c, nil
}

// keyFlags adds the flags that mirror the key and cache variables.
// VEIL_SIGNING_ALGORITHMS is passed unsplit in algorithms, for the flag
// to override.
func (c *Config) keyFlags(fs *flag.FlagSet, algorithms *string) {
	fs.StringVar(algorithms, "signing-algorithms", *algorithms,
		"comma-separated signing algorithms; the first signs (VEIL_SIGNING_ALGORITHMS)")
	fs.DurationVar(&c.KeyRotationInterval, "key-rotation-interval", c.KeyRotationInterval,
		"time a signing key signs before the next takes over (VEIL_KEY_ROTATION_INTERVAL)")
	fs.DurationVar(&c.JWKSMaxAge, "jwks-max-age", c.JWKSMaxAge,
		"Cache-Control max-age of the JWKS (VEIL_JWKS_MAX_AGE)")
	fs.DurationVar(&c.KeyRefreshInterval, "key-refresh-interval", c.KeyRefreshInterval,
		"time between checks for key changes and due rotations (VEIL_KEY_REFRESH_INTERVAL)")
	fs.DurationVar(&c.ClientCacheTTL, "client-cache-ttl", c.ClientCacheTTL,
		"time a client or resource stays cached; 0 turns the cache off (VEIL_CLIENT_CACHE_TTL)")
}

// DefaultGCPercent is the GOGC of `veil serve` unless the GOGC variable
// sets one. Veil's live heap is small (tens of MB) and almost everything a
// request allocates dies with it, so at Go's default of 100 the collector
// runs very often; at 400 it takes about 7% less CPU per token request
// (BENCHMARKS.md) for a heap that peaks at five times the live one instead
// of twice.
const DefaultGCPercent = 400

// LoadAdminToken reads the admin token alone (VEIL_ADMIN_TOKEN or
// VEIL_ADMIN_TOKEN_FILE), for commands that call a running Veil's admin
// API rather than run one.
func LoadAdminToken(getenv func(string) string) (string, error) {
	c := &Config{}
	token := c.secret(getenv, "VEIL_ADMIN_TOKEN")
	if len(c.problems) > 0 {
		return "", &InvalidError{Problems: c.problems}
	}
	if token == "" {
		return "", &InvalidError{Problems: []error{errors.New("VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE is required")}}
	}
	return token, nil
}

// Validate reports every problem with the configuration at once.
func (c *Config) Validate() error {
	errs := append([]error(nil), c.problems...)
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if !c.Dev() {
		if _, err := url.Parse(c.DatabaseURL); err != nil || !strings.HasPrefix(c.DatabaseURL, "postgres") {
			add("VEIL_DATABASE_URL must be a postgres:// or postgresql:// URL")
		}
		if c.AdminToken == "" && !slices.Contains(c.unreadable, "VEIL_ADMIN_TOKEN") {
			add("VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE is required with a database")
		}
		if len(c.MasterKeys) == 0 && !slices.Contains(c.unreadable, "VEIL_MASTER_KEY") {
			add("VEIL_MASTER_KEY or VEIL_MASTER_KEY_FILE is required with a database")
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < 32 {
		add("VEIL_ADMIN_TOKEN must be at least 32 characters")
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 32 {
		add("VEIL_METRICS_TOKEN must be at least 32 characters")
	}
	if c.MetricsToken != "" && c.MetricsToken == c.AdminToken {
		// A scraper holding the admin token could change everything.
		add("VEIL_METRICS_TOKEN must differ from VEIL_ADMIN_TOKEN")
	}
	if err := checkIssuer(c.Issuer); err != nil {
		errs = append(errs, err)
	}
	for name, addr := range map[string]string{"VEIL_PUBLIC_ADDR": c.PublicAddr, "VEIL_ADMIN_ADDR": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			add("%s must be host:port", name)
		}
	}
	if c.PublicAddr == c.AdminAddr {
		add("VEIL_PUBLIC_ADDR and VEIL_ADMIN_ADDR must differ")
	}
	if c.AccessTokenLifespan < time.Minute || c.AccessTokenLifespan > 24*time.Hour {
		add("VEIL_ACCESS_TOKEN_LIFESPAN must be between 1m and 24h")
	}
	if c.AuthorizeCodeLifespan < time.Second || c.AuthorizeCodeLifespan > 10*time.Minute {
		// RFC 6749 §4.1.2 recommends at most ten minutes.
		add("VEIL_AUTHORIZE_CODE_LIFESPAN must be between 1s and 10m")
	}
	if c.RefreshTokenLifespan < time.Minute {
		add("VEIL_REFRESH_TOKEN_LIFESPAN must be at least 1m")
	}
	if c.SessionLifetime < time.Minute {
		add("VEIL_SESSION_LIFETIME must be at least 1m")
	}
	for _, alg := range c.SigningAlgorithms {
		if alg != "ES256" && alg != "RS256" && alg != "PS256" && alg != "EdDSA" {
			add("VEIL_SIGNING_ALGORITHMS may list only ES256, RS256, PS256 and EdDSA")
			break
		}
	}
	if len(c.SigningAlgorithms) == 0 {
		add("VEIL_SIGNING_ALGORITHMS must list at least one algorithm")
	}
	if c.JWKSMaxAge < time.Second || c.JWKSMaxAge > 24*time.Hour {
		add("VEIL_JWKS_MAX_AGE must be between 1s and 24h")
	}
	if c.KeyRefreshInterval < 100*time.Millisecond || c.KeyRefreshInterval > time.Minute {
		add("VEIL_KEY_REFRESH_INTERVAL must be between 100ms and 1m")
	}
	if c.KeyRotationInterval < 2*(c.JWKSMaxAge+c.KeyRefreshInterval) {
		add("VEIL_KEY_ROTATION_INTERVAL must be at least twice VEIL_JWKS_MAX_AGE plus VEIL_KEY_REFRESH_INTERVAL")
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > time.Minute {
		add("VEIL_CLIENT_CACHE_TTL must be between 0 and 1m")
	}
	if c.JanitorInterval < 0 || (c.JanitorInterval > 0 && c.JanitorInterval < time.Second) {
		add("VEIL_JANITOR_INTERVAL must be 0 (off) or at least 1s")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		add("VEIL_LOG_FORMAT must be json or text")
	}
	if _, ok := levels[c.LogLevel]; !ok {
		add("VEIL_LOG_LEVEL must be debug, info, warn or error")
	}
	errs = append(errs, c.checkTransport()...)
	errs = append(errs, c.checkLimits()...)
	errs = append(errs, c.checkRateLimits()...)
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs}
}

// ValidateDatabase reports the problems that concern the database URL
// alone, for commands that need nothing else (veil migrate).
func (c *Config) ValidateDatabase() error {
	var errs []error
	for _, p := range c.problems {
		if strings.Contains(p.Error(), "VEIL_DATABASE_URL") {
			errs = append(errs, p)
		}
	}
	if len(errs) == 0 && c.Dev() {
		errs = append(errs, errors.New("VEIL_DATABASE_URL or VEIL_DATABASE_URL_FILE is required"))
	}
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Problems: errs}
}

// InvalidError lists every problem found by Validate.
type InvalidError struct {
	Problems []error
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("VEIL_ISSUER is required when VEIL_PUBLIC_ADDR is not a loopback address with a fixed port")
	}
	u, err := url.Parse(issuer)
	// RFC 8414 §2: an https URL with no query or fragment. Plain http is
	// allowed for loopback hosts only.
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("VEIL_ISSUER must be an absolute URL without query, fragment or user info")
	case u.Scheme == "http" && !isLoopback(u.Host):
		return errors.New("VEIL_ISSUER must use https unless its host is a loopback address")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("VEIL_ISSUER must be an http or https URL")
	case strings.HasSuffix(u.Path, "/"):
		return errors.New("VEIL_ISSUER must not end with a slash")
	}
	return nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// secret reads NAME or the file named by NAME_FILE; setting both is a
// problem. File contents are trimmed of surrounding white space.
func (c *Config) secret(getenv func(string) string, name string) string {
	val, file := getenv(name), getenv(name+"_FILE")
	switch {
	case val != "" && file != "":
		c.problems = append(c.problems, fmt.Errorf("set %s or %s_FILE, not both", name, name))
		return ""
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The path is not secret; the error says why (missing,
			// permission denied).
			c.problems = append(c.problems, fmt.Errorf("%s_FILE cannot be read: %w", name, err))
			c.unreadable = append(c.unreadable, name)
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	return val
}

func (c *Config) masterKeys(s string) [][]byte {
	var out [][]byte
	for i, part := range strings.Split(s, ",") {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(part))
		if err != nil || len(k) != 32 {
			c.problems = append(c.problems, fmt.Errorf("VEIL_MASTER_KEY entry %d must be base64 of exactly 32 bytes", i+1))
			continue
		}
		out = append(out, k)
	}
	return out
}

func (c *Config) duration(getenv func(string) string, name string, def time.Duration) time.Duration {
	s := getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		c.problems = append(c.problems, fmt.Errorf("%s must be a duration such as 15m", name))
		return def
	}
	return d
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
