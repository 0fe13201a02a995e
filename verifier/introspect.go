package verifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxCachedAnswers bounds the introspection cache. Only active answers are
// kept, so filling it takes that many live tokens for this resource server.
const maxCachedAnswers = 10000

// introspector checks tokens by asking Veil (RFC 7662).
//
// Active answers are cached under the SHA-256 of the token, never the token
// itself, until the earlier of the token's exp and the configured TTL: a
// token revoked at Veil is accepted at most that much longer. Inactive
// answers are not cached: they are what an attacker sending junk gets, and
// caching them would let junk crowd out live tokens; junk that does not
// even look like a JWE is refused before any request. Errors are not cached
// either, so a Veil that recovers is asked again.
type introspector struct {
	clientID string
	secret   string
	url      func(context.Context) (string, error)
	web      *fetcher
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	cache   map[tokenHash]cachedAnswer
	flights map[tokenHash]*call[*Claims]
}

// tokenHash is the SHA-256 of a token, the only form in which a token is
// kept.
type tokenHash [sha256.Size]byte

type cachedAnswer struct {
	claims *Claims
	until  time.Time
}

func newIntrospector(cfg *Config, web *fetcher, disc *discovery) *introspector {
	u := disc.introspectionURL
	if cfg.IntrospectionURL != "" {
		u = func(context.Context) (string, error) { return cfg.IntrospectionURL, nil }
	}
	return &introspector{
		clientID: cfg.ClientID, secret: cfg.ClientSecret, url: u, web: web,
		ttl: cfg.IntrospectionCacheTTL, now: cfg.Now,
		cache:   make(map[tokenHash]cachedAnswer),
		flights: make(map[tokenHash]*call[*Claims]),
	}
}

func (in *introspector) check(ctx context.Context, tok string) (*Claims, error) {
	if compactParts(tok) != 5 {
		return nil, ErrInvalidToken
	}
	sum := tokenHash(sha256.Sum256([]byte(tok)))

	in.mu.Lock()
	if a, ok := in.cache[sum]; ok {
		if in.now().Before(a.until) {
			in.mu.Unlock()
			return a.claims.clone(), nil
		}
		delete(in.cache, sum)
	}
	c := in.flights[sum]
	if c == nil {
		ask := func(ctx context.Context) (*Claims, error) { return in.ask(ctx, tok, sum) }
		c = startCall(ctx, ask)
		in.flights[sum] = c
	}
	in.mu.Unlock()

	claims, err := c.wait(ctx)
	if err != nil {
		return nil, err
	}
	return claims.clone(), nil
}

// ask introspects tok and caches an active answer.
func (in *introspector) ask(ctx context.Context, tok string, sum tokenHash) (*Claims, error) {
	claims, err := in.post(ctx, tok)

	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.flights, sum)
	if err == nil && in.ttl > 0 {
		in.store(sum, claims)
	}
	return claims, err
}

func (in *introspector) store(sum tokenHash, c *Claims) {
	now := in.now()
	until := now.Add(in.ttl)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(until) {
		until = c.ExpiresAt
	}
	if !now.Before(until) {
		return
	}
	if len(in.cache) >= maxCachedAnswers {
		for k, a := range in.cache {
			if !now.Before(a.until) {
				delete(in.cache, k)
			}
		}
	}
	if len(in.cache) < maxCachedAnswers {
		in.cache[sum] = cachedAnswer{claims: c, until: until}
	}
}

// post sends the introspection request. The credentials go in HTTP Basic,
// form-encoded first as RFC 6749 §2.3.1 asks; the token goes in the body,
// never the URL.
func (in *introspector) post(ctx context.Context, tok string) (*Claims, error) {
	u, err := in.url(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &UnavailableError{Err: fmt.Errorf("build introspection request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))

	_, body, err := in.web.do(ctx, req, maxIntrospectionBytes)
	if err != nil {
		return nil, &UnavailableError{Err: fmt.Errorf("introspect token: %w", err)}
	}
	return readAnswer(body)
}

// readAnswer reads an RFC 7662 §2.2 answer. Inactive is ErrInvalidToken; an
// answer that cannot be read says nothing about the token and is an
// UnavailableError.
func readAnswer(body []byte) (*Claims, error) {
	m, err := readMembers(body)
	if err != nil {
		return nil, &UnavailableError{Err: errors.New("decode introspection answer: not an object")}
	}
	var active bool
	if raw, ok := m["active"]; !ok || json.Unmarshal(raw, &active) != nil {
		return nil, &UnavailableError{Err: errors.New("decode introspection answer: no active")}
	}
	if !active {
		return nil, ErrInvalidToken
	}

	c, err := m.claims()
	var typ string
	if err == nil {
		err = m.text("token_type", &typ)
	}
	if err != nil {
		return nil, &UnavailableError{Err: fmt.Errorf("decode introspection answer: %w", err)}
	}
	if typ != "" && !strings.EqualFold(typ, "Bearer") {
		return nil, ErrInvalidToken
	}
	c.Raw = bytes.Clone(body)
	return c, nil
}

// clone returns a copy the caller may change without touching the cache.
func (c *Claims) clone() *Claims {
	d := *c
	d.Audience = slices.Clone(c.Audience)
	d.Scopes = slices.Clone(c.Scopes)
	d.Raw = bytes.Clone(c.Raw)
	return &d
}
