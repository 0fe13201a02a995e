package verifier_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/verifier"
)

func TestJWKSCacheLifetime(t *testing.T) {
	tests := []struct {
		name         string
		cacheControl string
		lifetime     time.Duration // the JWKS is used until then, fetched again at it
	}{
		{name: "max-age", cacheControl: "public, max-age=600", lifetime: 600 * time.Second},
		{name: "max-age quoted", cacheControl: `max-age="120"`, lifetime: 120 * time.Second},
		{name: "no header", cacheControl: "", lifetime: 5 * time.Minute},
		{name: "max-age zero is floored to a second", cacheControl: "max-age=0", lifetime: time.Second},
		{name: "no-store is floored to a second", cacheControl: "no-store, max-age=600", lifetime: time.Second},
		{name: "huge max-age is capped", cacheControl: "max-age=999999999", lifetime: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			veil := newFakeVeil(t)
			veil.set(func(v *fakeVeil) { v.cacheControl = tt.cacheControl })
			rs := newResource("ec")
			clk := newClock()
			v := newVerifier(t, localConfig(veil, rs, clk))
			tok := veil.token(rs.keys[0], veil.claims(rs.audience, "read"))
			ctx := context.Background()

			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify() = %v, want nil", err)
			}
			for i := 0; i < 5; i++ {
				_, _ = v.Verify(ctx, tok)
			}
			clk.Advance(tt.lifetime - time.Second)
			_, _ = v.Verify(ctx, tok)
			if got := veil.jwksHits.Load(); got != 1 {
				t.Errorf("JWKS fetches just before %v with %q = %d, want 1", tt.lifetime, tt.cacheControl, got)
			}
			clk.Advance(time.Second)
			_, _ = v.Verify(ctx, tok)
			if got := veil.jwksHits.Load(); got != 2 {
				t.Errorf("JWKS fetches at %v with %q = %d, want 2", tt.lifetime, tt.cacheControl, got)
			}
			if got := veil.metadataHits.Load(); got != 1 {
				t.Errorf("metadata fetches = %d, want 1: it is read once", got)
			}
		})
	}
}

func TestJWKSUnknownKIDRateLimited(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	clk := newClock()
	v := newVerifier(t, localConfig(veil, rs, clk))
	ctx := context.Background()
	verify := func(when string, want string) {
		t.Helper()
		_, err := v.Verify(ctx, veil.token(rs.keys[0], veil.claims(rs.audience, "read")))
		if kind(err) != want {
			t.Errorf("Verify() %s = %s, want %s", when, kind(err), want)
		}
	}
	hits := func(when string, want int64) {
		t.Helper()
		if got := veil.jwksHits.Load(); got != want {
			t.Errorf("JWKS fetches %s = %d, want %d", when, got, want)
		}
	}

	verify("with the first key", "ok")
	hits("after the first token", 1)

	// Veil signs with a key it has not published (as if it skipped
	// pre-publication): refused without a fetch inside the interval.
	veil.rotate(false)
	verify("with an unpublished key", "invalid")
	hits("after an unknown kid within the refresh interval", 1)

	// Forged tokens naming made-up kids cost nothing more.
	for i := 0; i < 20; i++ {
		forged := veil.signingKey()
		forged.KeyID = fmt.Sprintf("made-up-%d", i)
		_, _ = v.Verify(ctx, encrypt(rs.keys[0], signJWS(forged, veil.claims(rs.audience, "read"), nil)))
	}
	hits("after 20 made-up kids", 1)

	// Once the interval has passed, an unknown kid causes one refresh,
	// which finds the key now published.
	veil.set(func(v *fakeVeil) { v.published = append(v.published, v.signer.Public()) })
	clk.Advance(time.Minute)
	verify("after the key is published and the interval passed", "ok")
	hits("after the refresh", 2)
	verify("again", "ok")
	hits("after the refresh", 2)
}

func TestJWKSPrePublishedRotation(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("rsa")
	clk := newClock()
	v := newVerifier(t, localConfig(veil, rs, clk))
	ctx := context.Background()
	old := veil.signingKey()

	// Veil publishes its next key a max-age before using it (issue #4).
	next := newSigningKey(jose.ES256)
	veil.set(func(v *fakeVeil) { v.published = append(v.published, next.Public()) })
	clk.Advance(10 * time.Minute)
	veil.set(func(v *fakeVeil) { v.signer = next })
	for _, key := range []jose.JSONWebKey{old, next} {
		claims := veil.claims(rs.audience, "read")
		claims["iat"], claims["exp"] = clk.Now().Unix(), clk.Now().Add(time.Minute).Unix()
		if _, err := v.Verify(ctx, encrypt(rs.keys[0], signJWS(key, claims, nil))); err != nil {
			t.Errorf("Verify(token signed by %s) = %v, want nil", key.KeyID, err)
		}
	}
	if got := veil.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1: a pre-published key needs no refresh", got)
	}
}

func TestJWKSConcurrentCallersShareOneFetch(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	clk := newClock()
	hold := make(chan struct{})
	veil.set(func(v *fakeVeil) { v.hold = hold })
	v := newVerifier(t, localConfig(veil, rs, clk))
	tok := veil.token(rs.keys[0], veil.claims(rs.audience, "read"))

	const callers = 64
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	waitFor(t, func() bool { return veil.jwksHits.Load() == 1 })
	close(hold)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Verify() = %v, want nil", err)
		}
	}
	if got := veil.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches for %d concurrent callers = %d, want 1", callers, got)
	}
	if got := veil.metadataHits.Load(); got != 1 {
		t.Errorf("metadata fetches for %d concurrent callers = %d, want 1", callers, got)
	}

	// A storm of unknown kids once the interval has passed: one refresh.
	clk.Advance(time.Minute)
	veil.rotate(true)
	var storm sync.WaitGroup
	for i := 0; i < callers; i++ {
		storm.Add(1)
		go func() {
			defer storm.Done()
			if _, err := v.Verify(context.Background(), veil.tokenFor(rs, "read")); err != nil {
				t.Errorf("Verify(new kid) during a storm = %v, want nil", err)
			}
		}()
	}
	storm.Wait()
	if got := veil.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches after a storm of one new kid = %d, want 2", got)
	}
}

func TestJWKSCallerGivesUpAlone(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	hold := make(chan struct{})
	veil.set(func(v *fakeVeil) { v.hold = hold })
	v := newVerifier(t, localConfig(veil, rs, newClock()))
	tok := veil.token(rs.keys[0], veil.claims(rs.audience, "read"))

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, tok)
		first <- err
	}()
	waitFor(t, func() bool { return veil.jwksHits.Load() == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), tok)
		second <- err
	}()
	cancel()
	if err := <-first; kind(err) != "unavailable" {
		t.Errorf("Verify() whose context was cancelled = %s, want unavailable", kind(err))
	}
	close(hold)
	if err := <-second; err != nil {
		t.Errorf("Verify() sharing the fetch of a cancelled caller = %v, want nil", err)
	}
}

func TestJWKSFailures(t *testing.T) {
	var elsewhereHits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhereHits.Add(1)
		http.Error(w, "not here", http.StatusNotFound)
	}))
	t.Cleanup(elsewhere.Close)

	body := func(b string) func(*fakeVeil, *verifier.Config) {
		return func(v *fakeVeil, _ *verifier.Config) { v.jwksBody = []byte(b) }
	}
	meta := func(kv ...string) func(*fakeVeil, *verifier.Config) {
		return func(v *fakeVeil, _ *verifier.Config) { v.metadata = map[string]any{kv[0]: kv[1]} }
	}
	tests := []struct {
		name   string
		setup  func(v *fakeVeil, cfg *verifier.Config)
		within time.Duration
	}{
		{name: "JWKS status 500", setup: func(v *fakeVeil, _ *verifier.Config) { v.jwksStatus = 500 }},
		{name: "JWKS too large", setup: body(`{"keys":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`)},
		{name: "JWKS not JSON", setup: body("<html>")},
		{name: "JWKS without keys", setup: body(`{}`)},
		{name: "two keys share a kid", setup: func(v *fakeVeil, _ *verifier.Config) {
			other := newSigningKey(jose.ES256)
			other.KeyID = v.signer.KeyID
			v.published = append(v.published, other.Public())
		}},
		{name: "metadata names another issuer", setup: meta("issuer", elsewhere.URL)},
		{name: "jwks_uri on another port", setup: meta("jwks_uri", elsewhere.URL+"/.well-known/jwks.json")},
		{name: "jwks_uri on another host name",
			setup: meta("jwks_uri", strings.Replace(elsewhere.URL, "127.0.0.1", "localhost", 1))},
		{name: "no jwks_uri", setup: meta("jwks_uri", "")},
		{name: "redirect is not followed", setup: func(v *fakeVeil, cfg *verifier.Config) {
			redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/jwks", http.StatusFound))
			t.Cleanup(redirect.Close)
			cfg.JWKSURL = redirect.URL
		}},
		{name: "timeout", within: 2 * time.Second, setup: func(v *fakeVeil, cfg *verifier.Config) {
			hold := make(chan struct{})
			t.Cleanup(func() { close(hold) })
			v.hold = hold
			cfg.Timeout = 100 * time.Millisecond
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			veil := newFakeVeil(t)
			rs := newResource("ec")
			cfg := localConfig(veil, rs, newClock())
			veil.set(func(v *fakeVeil) { tt.setup(v, &cfg) })
			v := newVerifier(t, cfg)
			before := elsewhereHits.Load()

			start := time.Now()
			_, err := v.Verify(context.Background(), veil.tokenFor(rs, "read"))
			if kind(err) != "unavailable" {
				t.Errorf("Verify() with %s = %s, want unavailable", tt.name, describe(err))
			}
			if d := time.Since(start); tt.within > 0 && d > tt.within {
				t.Errorf("Verify() with %s took %v, want under %v", tt.name, d, tt.within)
			}
			if n := elsewhereHits.Load() - before; n != 0 {
				t.Errorf("Verify() with %s made %d requests elsewhere, want 0", tt.name, n)
			}
		})
	}
}

func TestJWKSNotUsedPastExpiry(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	clk := newClock()
	cfg := localConfig(veil, rs, clk)
	cfg.Leeway = time.Hour // keep the token itself valid throughout
	v := newVerifier(t, cfg)
	tok := veil.token(rs.keys[0], veil.claims(rs.audience, "read"))
	ctx := context.Background()
	check := func(when, want string, hits int64) {
		t.Helper()
		if _, err := v.Verify(ctx, tok); kind(err) != want {
			t.Errorf("Verify() %s = %s, want %s", when, kind(err), want)
		}
		if got := veil.jwksHits.Load(); got != hits {
			t.Errorf("JWKS fetches %s = %d, want %d", when, got, hits)
		}
	}

	check("at first", "ok", 1)
	veil.set(func(v *fakeVeil) { v.jwksStatus = http.StatusServiceUnavailable })

	// While the cache is fresh, a failing Veil does not matter, and an
	// unknown kid's refresh failing leaves the known keys usable.
	clk.Advance(2 * time.Minute)
	unknown := signJWS(newSigningKey(jose.ES256), veil.claims(rs.audience, "read"), nil)
	_, _ = v.Verify(ctx, encrypt(rs.keys[0], unknown))
	check("after a failed refresh, cache fresh", "ok", 2)

	clk.Advance(8 * time.Minute)
	check("after expiry, Veil down", "unavailable", 3)
	check("again at once: not asked again", "unavailable", 3)
	clk.Advance(time.Second)
	check("a second later", "unavailable", 4)

	veil.set(func(v *fakeVeil) { v.jwksStatus = 0 })
	clk.Advance(time.Second)
	check("once Veil is back", "ok", 5)
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	small := jose.JSONWebKey{Key: must(rsa.GenerateKey(rand.Reader, 1024)), KeyID: "s", Algorithm: "RS256"}
	noAlg := newSigningKey(jose.ES256)
	noAlg.Algorithm = ""
	wrongType := newSigningKey(jose.ES256)
	wrongType.Algorithm = "RS256"
	encKey := newSigningKey(jose.ES256)
	encKey.Use = "enc"

	keys := []any{
		map[string]any{"kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64(make([]byte, 32))},
		map[string]any{"kty": "XYZ", "kid": "future"},
		small.Public(), noAlg.Public(), wrongType.Public(), encKey.Public(), veil.signer.Public(),
	}
	veil.set(func(v *fakeVeil) { v.jwksBody = must(json.Marshal(map[string]any{"keys": keys})) })
	v := newVerifier(t, localConfig(veil, rs, newClock()))
	claims := veil.claims(rs.audience, "read")

	if _, err := v.Verify(context.Background(), veil.token(rs.keys[0], claims)); err != nil {
		t.Fatalf("Verify() with unusable keys beside the good one = %v, want nil", err)
	}
	for _, k := range []jose.JSONWebKey{small, noAlg, wrongType, encKey} {
		if k.Algorithm == "" || k.KeyID == wrongType.KeyID {
			k.Algorithm = "ES256"
		}
		_, err := v.Verify(context.Background(), encrypt(rs.keys[0], signJWS(k, claims, nil)))
		if kind(err) != "invalid" {
			t.Errorf("Verify(token by skipped key %s) = %s, want invalid", k.KeyID, kind(err))
		}
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
