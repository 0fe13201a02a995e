package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// defaultJWKSAge is how long a JWKS served without a Cache-Control
// max-age is used.
const defaultJWKSAge = 5 * time.Minute

// signingKey is one of Veil's public signing keys with the one algorithm
// it may verify.
type signingKey struct {
	alg jose.SignatureAlgorithm
	key any
}

// keySource supplies Veil's signing keys by kid. It returns
// ErrInvalidToken for a kid it does not know.
type keySource interface {
	key(ctx context.Context, kid string) (signingKey, error)
}

// staticKeys are signing keys given in the configuration.
type staticKeys map[string]signingKey

func (s staticKeys) key(_ context.Context, kid string) (signingKey, error) {
	k, ok := s[kid]
	if !ok {
		return signingKey{}, ErrInvalidToken
	}
	return k, nil
}

// minJWKSAge is the shortest time a fetched JWKS is kept, whatever its
// Cache-Control says. It is kept short so that the cache follows Veil's
// max-age: Veil pre-publishes a new signing key for one max-age, and a
// longer floor would meet the key's first tokens before the key.
const minJWKSAge = time.Second

// jwksCache fetches Veil's JWKS and keeps it for as long as its
// Cache-Control max-age allows, within [minJWKSAge, maxAge]. It fetches again
// when the set expires, and earlier when a token names a kid the set lacks,
// but then at most once per refresh interval: anyone can make a token with
// a made-up kid, since the JWE is encrypted to a public key, and each such
// token must not cost a request to Veil. Concurrent callers share one
// fetch.
//
// Keys are never used past their expiry, even when Veil cannot be reached:
// a key Veil stops publishing must stop being trusted within the max-age,
// and whoever can cut a resource server off from Veil must not be able to
// extend that. A resource server rides out an outage of Veil for at most
// the max-age Veil serves.
type jwksCache struct {
	url     func(context.Context) (string, error)
	web     *fetcher
	allowed []jose.SignatureAlgorithm
	now     func() time.Time
	refresh time.Duration
	maxAge  time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	keys     map[string]signingKey // nil before the first successful fetch
	expires  time.Time
	tried    time.Time // when the last fetch started
	failed   error     // why the last fetch failed; nil if it did not
	fetching *call[struct{}]
}

func (s *jwksCache) key(ctx context.Context, kid string) (signingKey, error) {
	s.mu.Lock()
	now := s.now()
	fresh := s.keys != nil && now.Before(s.expires)
	if k, ok := s.keys[kid]; ok && fresh {
		s.mu.Unlock()
		return k, nil
	}
	c := s.fetching
	if c == nil {
		since := now.Sub(s.tried)
		switch {
		case fresh && since < s.refresh:
			s.mu.Unlock()
			return signingKey{}, ErrInvalidToken
		case !fresh && s.failed != nil && since < retryInterval:
			s.mu.Unlock()
			return signingKey{}, &UnavailableError{Err: s.failed}
		}
		s.tried = now
		c = startCall(ctx, s.fetch)
		s.fetching = c
	}
	s.mu.Unlock()

	if _, err := c.wait(ctx); err != nil {
		return signingKey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[kid]; ok && s.now().Before(s.expires) {
		return k, nil
	}
	return signingKey{}, ErrInvalidToken
}

// fetch downloads the JWKS and installs it. A failure leaves the keys in
// place, for the time they have left.
func (s *jwksCache) fetch(ctx context.Context) (struct{}, error) {
	keys, ttl, err := s.download(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetching = nil
	s.failed = err
	if err != nil {
		return struct{}{}, &UnavailableError{Err: err}
	}
	s.keys = keys
	s.expires = s.now().Add(ttl)
	s.log.Debug("jwks fetched", "keys", len(keys), "ttl", ttl)
	return struct{}{}, nil
}

func (s *jwksCache) download(ctx context.Context) (map[string]signingKey, time.Duration, error) {
	u, err := s.url(ctx)
	if err != nil {
		return nil, 0, err
	}
	hdr, body, err := s.web.get(ctx, u, maxJWKSBytes)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch jwks: %w", err)
	}
	keys, err := parseJWKS(body, s.allowed)
	if err != nil {
		return nil, 0, err
	}
	return keys, cacheLifetime(hdr, minJWKSAge, s.maxAge), nil
}

// parseJWKS reads the signing keys of a JWK set. Keys the Verifier cannot
// use (another type or algorithm, encryption keys, no kid) are skipped, so
// that Veil can publish new kinds of key without breaking older resource
// servers; two keys with one kid make the whole set unusable.
func parseJWKS(body []byte, allowed []jose.SignatureAlgorithm) (map[string]signingKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Keys == nil {
		return nil, errors.New("decode jwks: not a JWK set")
	}

	keys := make(map[string]signingKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		pub, ok := verificationKey(k, allowed)
		if !ok {
			continue
		}
		if _, dup := keys[k.KeyID]; dup {
			return nil, errors.New("decode jwks: two keys share a kid")
		}
		keys[k.KeyID] = signingKey{alg: jose.SignatureAlgorithm(k.Algorithm), key: pub}
	}
	return keys, nil
}

// cacheLifetime reads max-age from Cache-Control (RFC 9111 §5.2.2.1),
// no-store and no-cache counting as zero, and bounds it to [floor, ceiling].
// The floor keeps a max-age of zero from turning every request into a
// fetch.
func cacheLifetime(h http.Header, floor, ceiling time.Duration) time.Duration {
	ttl := defaultJWKSAge
	noStore := false
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				noStore = true
			case "max-age":
				secs, err := strconv.ParseUint(strings.Trim(value, `"`), 10, 32)
				if err == nil {
					ttl = time.Duration(secs) * time.Second
				}
			}
		}
	}
	if noStore {
		ttl = 0
	}
	return min(max(ttl, floor), ceiling)
}
