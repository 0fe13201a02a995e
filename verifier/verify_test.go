package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/veil-auth/veil/verifier"
)

// kind sorts Verify's errors into the classes callers act on.
// ErrInvalidToken must come back as itself, never wrapped, so that it
// carries no cause.
func kind(err error) string {
	var expired *verifier.ExpiredError
	var notYet *verifier.NotYetValidError
	var aud *verifier.AudienceError
	var scope *verifier.ScopeError
	var unavailable *verifier.UnavailableError
	switch {
	case err == nil:
		return "ok"
	case err == verifier.ErrInvalidToken:
		return "invalid"
	case errors.As(err, &expired):
		return "expired"
	case errors.As(err, &notYet):
		return "not yet valid"
	case errors.As(err, &aud):
		return "audience"
	case errors.As(err, &scope):
		return "scope"
	case errors.As(err, &unavailable):
		return "unavailable"
	}
	return "unexpected " + describe(err)
}

var ignoreRaw = cmpopts.IgnoreFields(verifier.Claims{}, "Raw")

func TestVerifyAlgorithms(t *testing.T) {
	signing := []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}
	for _, enc := range []string{"ec", "rsa"} {
		for _, alg := range signing {
			t.Run(enc+"/"+string(alg), func(t *testing.T) {
				veil := newFakeVeil(t)
				veil.set(func(v *fakeVeil) {
					v.signer = newSigningKey(alg)
					v.published = []jose.JSONWebKey{v.signer.Public()}
				})
				rs := newResource(enc)
				v := newVerifier(t, localConfig(veil, rs, newClock()))

				got, err := v.Verify(context.Background(), veil.tokenFor(rs, "read write"))
				if err != nil {
					t.Fatalf("Verify(%s/%s token) = %v, want claims", enc, alg, err)
				}
				want := &verifier.Claims{
					Issuer: veil.URL, Subject: "user-1", Audience: []string{rs.audience},
					ExpiresAt: t0.Add(15 * time.Minute), IssuedAt: t0, ID: "jti-1",
					ClientID: "client-1", Scopes: []string{"read", "write"},
				}
				if diff := cmp.Diff(want, got, ignoreRaw); diff != "" {
					t.Errorf("Verify() claims (-want +got):\n%s", diff)
				}
				if !strings.Contains(string(got.Raw), `"jti":"jti-1"`) {
					t.Errorf("Verify() Raw = %s, want the signed payload", got.Raw)
				}
			})
		}
	}
}

func TestVerifyClaims(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	exp := t0.Add(15 * time.Minute)
	at := func(d time.Duration) int64 { return t0.Add(d).Unix() }
	set := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	tests := []struct {
		name     string
		change   map[string]any // claims to set; nil values delete
		typ      string         // inner typ, default at+jwt; "-" for none
		required []string
		advance  time.Duration
		want     string
	}{
		{name: "valid", want: "ok"},
		{name: "typ in capitals", typ: "AT+JWT", want: "ok"},
		{name: "typ as media type", typ: "application/at+jwt", want: "ok"},
		{name: "typ JWT", typ: "JWT", want: "invalid"},
		{name: "typ missing", typ: "-", want: "invalid"},
		{name: "expired within leeway", advance: 15*time.Minute + 29*time.Second, want: "ok"},
		{name: "expired beyond leeway", advance: 15*time.Minute + 30*time.Second, want: "expired"},
		{name: "fractional exp", change: set("exp", float64(exp.Unix())+0.5), want: "ok"},
		{name: "nbf within leeway", change: set("nbf", at(30*time.Second)), want: "ok"},
		{name: "nbf beyond leeway", change: set("nbf", at(31*time.Second)), want: "not yet valid"},
		{name: "iat beyond leeway", change: set("iat", at(time.Minute)), want: "not yet valid"},
		{name: "other audience", change: set("aud", "https://other.example.test"), want: "audience"},
		{name: "audience list", change: set("aud", []string{"https://x.test", rs.audience}), want: "ok"},
		{name: "audience wrong type", change: set("aud", 7), want: "invalid"},
		{name: "other issuer", change: set("iss", "https://evil.example.test"), want: "invalid"},
		{name: "issuer with trailing slash", change: set("iss", veil.URL+"/"), want: "invalid"},
		{name: "issuer as ISS", change: set("iss", nil, "ISS", veil.URL), want: "invalid"},
		{name: "no sub", change: set("sub", nil), want: "invalid"},
		{name: "no jti", change: set("jti", nil), want: "invalid"},
		{name: "no client_id", change: set("client_id", nil), want: "invalid"},
		{name: "no iat", change: set("iat", nil), want: "invalid"},
		{name: "no exp", change: set("exp", nil), want: "invalid"},
		{name: "exp as string", change: set("exp", "1893553445"), want: "invalid"},
		{name: "exp negative", change: set("exp", -1), want: "invalid"},
		{name: "exp huge", change: set("exp", 1e300), want: "invalid"},
		{name: "no aud", change: set("aud", nil), want: "invalid"},
		{name: "no scope", change: set("scope", nil), want: "ok"},
		{name: "scope wrong type", change: set("scope", []string{"read"}), want: "invalid"},
		{name: "required scope present", required: []string{"read"}, want: "ok"},
		{name: "required scope missing", required: []string{"read", "admin"}, want: "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := veil.claims(rs.audience, "read write")
			for k, val := range tt.change {
				if val == nil {
					delete(claims, k)
				} else {
					claims[k] = val
				}
			}
			headers := map[jose.HeaderKey]any{jose.HeaderType: "at+jwt"}
			switch tt.typ {
			case "":
			case "-":
				delete(headers, jose.HeaderType)
			default:
				headers[jose.HeaderType] = tt.typ
			}
			clk := newClock()
			clk.Advance(tt.advance)
			cfg := localConfig(veil, rs, clk)
			cfg.RequiredScopes = tt.required
			v := newVerifier(t, cfg)

			tok := encrypt(rs.keys[0], signJWS(veil.signer, claims, headers))
			if _, err := v.Verify(context.Background(), tok); kind(err) != tt.want {
				t.Errorf("Verify(%s) = %s, want %s", tt.name, kind(err), tt.want)
			}
		})
	}
}

func TestVerifyErrorDetails(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	clk := newClock()
	cfg := localConfig(veil, rs, clk)
	cfg.RequiredScopes = []string{"read", "admin"}
	v := newVerifier(t, cfg)
	ctx := context.Background()

	_, err := v.Verify(ctx, veil.tokenFor(rs, "read"))
	var scopeErr *verifier.ScopeError
	if !errors.As(err, &scopeErr) {
		t.Fatalf("Verify(token without admin) = %s, want *ScopeError", describe(err))
	}
	want := &verifier.ScopeError{Required: []string{"read", "admin"}, Missing: []string{"admin"}}
	if diff := cmp.Diff(want, scopeErr); diff != "" {
		t.Errorf("Verify() ScopeError (-want +got):\n%s", diff)
	}

	other := []string{"https://other.test"}
	_, err = v.Verify(ctx, veil.token(rs.keys[0], veil.claims(other[0], "read admin")))
	var audErr *verifier.AudienceError
	if !errors.As(err, &audErr) || audErr.Want != rs.audience || !cmp.Equal(audErr.Got, other) {
		t.Errorf("Verify(other audience) = %s, want AudienceError{%s, %v}", describe(err), rs.audience, other)
	}
	if strings.Contains(err.Error(), "other.test") {
		t.Errorf("AudienceError text %q repeats the token's claims", err)
	}

	clk.Advance(time.Hour)
	_, err = v.Verify(ctx, veil.tokenFor(rs, "read admin"))
	var expired *verifier.ExpiredError
	if exp := t0.Add(15 * time.Minute); !errors.As(err, &expired) || !expired.ExpiresAt.Equal(exp) {
		t.Errorf("Verify(expired) = %s, want ExpiredError at %v", describe(err), exp)
	}
}

func TestLeeway(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	tok := veil.tokenFor(rs, "read")
	const exp = 15 * time.Minute

	tests := []struct {
		name    string
		leeway  time.Duration
		advance time.Duration
		want    string
	}{
		{name: "default, inside", advance: exp + 20*time.Second, want: "ok"},
		{name: "negative means none", leeway: -1, advance: exp, want: "expired"},
		{name: "negative, just before exp", leeway: -1, advance: exp - time.Second, want: "ok"},
		{name: "five minutes", leeway: 5 * time.Minute, advance: exp + 4*time.Minute, want: "ok"},
		{name: "slow clock", leeway: time.Minute, advance: -59 * time.Second, want: "ok"},
		{name: "very slow clock", leeway: time.Minute, advance: -61 * time.Second, want: "not yet valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			clk.Advance(tt.advance)
			cfg := localConfig(veil, rs, clk)
			cfg.Leeway = tt.leeway
			_, err := newVerifier(t, cfg).Verify(context.Background(), tok)
			if got := kind(err); got != tt.want {
				t.Errorf("Verify() at t0%+v, leeway %v = %s, want %s", tt.advance, tt.leeway, got, tt.want)
			}
		})
	}
}

func TestDecryptionKeyChoice(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec", "rsa")
	ecKey, rsaKey, other := rs.keys[0], rs.keys[1], newEncryptionKey("ec")
	v := newVerifier(t, localConfig(veil, rs, newClock()))
	inner := signJWS(veil.signer, veil.claims(rs.audience, "read"), nil)
	to := func(alg jose.KeyAlgorithm, key jose.JSONWebKey, kid string) string {
		return encryptWith(alg, publicOf(key), kid, inner, (&jose.EncrypterOptions{}).WithContentType("JWT"))
	}

	tests := []struct {
		name string
		tok  string
		want string
	}{
		{name: "first key", tok: encrypt(ecKey, inner), want: "ok"},
		{name: "second key (rotation overlap)", tok: encrypt(rsaKey, inner), want: "ok"},
		{name: "unknown kid", tok: encrypt(other, inner), want: "invalid"},
		{name: "no kid: no key is tried", tok: to(jose.ECDH_ES_A256KW, ecKey, ""), want: "invalid"},
		{name: "encrypted to another key", tok: to(jose.ECDH_ES_A256KW, other, ecKey.KeyID), want: "invalid"},
		{name: "EC key's kid, RSA-OAEP-256", tok: to(jose.RSA_OAEP_256, rsaKey, ecKey.KeyID), want: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tt.tok); kind(err) != tt.want {
				t.Errorf("Verify(%s) = %s, want %s", tt.name, kind(err), tt.want)
			}
		})
	}
}

func TestAlgorithmSubsets(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("rsa")
	cfg := localConfig(veil, rs, newClock())
	cfg.SignatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256}
	v := newVerifier(t, cfg)

	if _, err := v.Verify(context.Background(), veil.tokenFor(rs, "read")); kind(err) != "invalid" {
		t.Errorf("Verify(ES256 token) with only RS256 allowed = %s, want invalid", kind(err))
	}

	cfg = localConfig(veil, rs, newClock())
	cfg.KeyAlgorithms = []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}
	if _, err := verifier.New(cfg); err == nil || !strings.Contains(err.Error(), "RSA-OAEP-256") {
		t.Errorf("New(RSA key, only ECDH-ES+A256KW) = %v, want an error naming RSA-OAEP-256", err)
	}
}

func TestUnencrypted(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	bare := signJWS(veil.signer, veil.claims(rs.audience, "read"), nil)
	ctx := context.Background()

	strict := newVerifier(t, localConfig(veil, rs, newClock()))
	if _, err := strict.Verify(ctx, bare); kind(err) != "invalid" {
		t.Errorf("Verify(bare JWS) by default = %s, want invalid", kind(err))
	}

	lax := newVerifier(t, verifier.Config{Issuer: veil.URL, Audience: rs.audience,
		AllowUnencrypted: true, Now: newClock().Now})
	if _, err := lax.Verify(ctx, bare); err != nil {
		t.Errorf("Verify(bare JWS) with AllowUnencrypted = %v, want nil", err)
	}
	if _, err := lax.Verify(ctx, veil.tokenFor(rs, "read")); kind(err) != "invalid" {
		t.Errorf("Verify(JWE) with no decryption key = %s, want invalid", kind(err))
	}
}

func TestStaticSigningKeys(t *testing.T) {
	veil := newFakeVeil(t)
	rs := newResource("ec")
	cfg := localConfig(veil, rs, newClock())
	cfg.SigningKeys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{veil.signer.Public()}}
	v := newVerifier(t, cfg)

	if _, err := v.Verify(context.Background(), veil.tokenFor(rs, "read")); err != nil {
		t.Errorf("Verify() with static keys = %v, want nil", err)
	}
	if n := veil.metadataHits.Load() + veil.jwksHits.Load(); n != 0 {
		t.Errorf("Verify() with static keys made %d requests, want 0", n)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	ec := newEncryptionKey("ec")
	p384 := jose.JSONWebKey{Key: must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)), KeyID: "p"}
	good := verifier.Config{Issuer: "https://veil.example.test", Audience: "https://api.example.test",
		DecryptionKeys: []jose.JSONWebKey{ec}}
	keys := func(k ...jose.JSONWebKey) func(*verifier.Config) {
		return func(c *verifier.Config) { c.DecryptionKeys = k }
	}
	sigAlg := func(alg jose.SignatureAlgorithm) func(*verifier.Config) {
		return func(c *verifier.Config) { c.SignatureAlgorithms = []jose.SignatureAlgorithm{alg} }
	}

	tests := []struct {
		name   string
		change func(*verifier.Config)
		want   []string
	}{
		{name: "good", change: func(*verifier.Config) {}},
		{name: "no issuer", change: func(c *verifier.Config) { c.Issuer = "" }, want: []string{"Issuer"}},
		{name: "plain http issuer", want: []string{"Issuer", "https"},
			change: func(c *verifier.Config) { c.Issuer = "http://veil.example.test" }},
		{name: "loopback http issuer", change: func(c *verifier.Config) { c.Issuer = "http://127.0.0.1:8080" }},
		{name: "issuer with query", want: []string{"query"}, change: func(c *verifier.Config) { c.Issuer += "?x=1" }},
		{name: "no audience", want: []string{"Audience"}, change: func(c *verifier.Config) { c.Audience = "" }},
		{name: "no way to check", change: keys(), want: []string{"DecryptionKeys", "ClientID"}},
		{name: "both ways", want: []string{"not both"},
			change: func(c *verifier.Config) { c.ClientID, c.ClientSecret = "id", "s" }},
		{name: "unencrypted with introspection", want: []string{"AllowUnencrypted"},
			change: func(c *verifier.Config) { c.DecryptionKeys, c.AllowUnencrypted, c.ClientID = nil, true, "id" }},
		{name: "client without secret", want: []string{"ClientSecret"},
			change: func(c *verifier.Config) { c.DecryptionKeys, c.ClientID = nil, "id" }},
		{name: "none algorithm", change: sigAlg("none"), want: []string{`"none" is not allowed`}},
		{name: "HS256", change: sigAlg(jose.HS256), want: []string{`"HS256" is not allowed`}},
		{name: "A256KW", want: []string{`"A256KW" is not allowed`},
			change: func(c *verifier.Config) { c.KeyAlgorithms = []jose.KeyAlgorithm{jose.A256KW} }},
		{name: "public key", change: keys(jose.JSONWebKey{Key: publicOf(ec), KeyID: "pub"}),
			want: []string{"DecryptionKeys[0]", "private key"}},
		{name: "P-384", change: keys(p384), want: []string{"P-256"}},
		{name: "symmetric key", change: keys(jose.JSONWebKey{Key: make([]byte, 32), KeyID: "k"}),
			want: []string{"private key"}},
		{name: "no kid", change: keys(jose.JSONWebKey{Key: ec.Key}), want: []string{"KeyID"}},
		{name: "repeated kid", change: keys(ec, ec), want: []string{"DecryptionKeys[1]", "repeats"}},
		{name: "wrong alg on key", want: []string{"alg"},
			change: keys(jose.JSONWebKey{Key: ec.Key, KeyID: "k", Algorithm: "RSA-OAEP-256"})},
		{name: "signing key", change: keys(jose.JSONWebKey{Key: ec.Key, KeyID: "k", Use: "sig"}),
			want: []string{"use"}},
		{name: "JWKS URL off loopback over http", want: []string{"JWKSURL"},
			change: func(c *verifier.Config) { c.JWKSURL = "http://keys.example.test/jwks" }},
		{name: "every problem at once", want: []string{"Issuer", "Audience"},
			change: func(c *verifier.Config) { c.Issuer, c.Audience = "", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := verifier.New(cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("New(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New(%s) = nil, want an error mentioning %q", tt.name, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New(%s) = %q, want it to mention %q", tt.name, err, w)
				}
			}
		})
	}
}
