package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
)

// resourceServer is a resource server that reads tokens itself: it holds
// its private encryption key and caches Veil's JWKS exactly as long as
// Cache-Control allows, never refetching early.
type resourceServer struct {
	t         *testing.T
	in        *instance
	key       any // private decryption key
	jwks      jose.JSONWebKeySet
	fetchedAt time.Time
	maxAge    time.Duration
	fetches   int
}

func (rs *resourceServer) refreshJWKS() {
	rs.t.Helper()
	if !rs.fetchedAt.IsZero() && time.Since(rs.fetchedAt) < rs.maxAge {
		return
	}
	r := rs.in.get("/.well-known/jwks.json")
	if err := json.Unmarshal(r.body, &rs.jwks); err != nil {
		rs.t.Fatalf("decode JWKS: %v", err)
	}
	var age int
	for _, part := range strings.Split(r.header.Get("Cache-Control"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "max-age="); ok {
			if err := json.Unmarshal([]byte(v), &age); err != nil {
				rs.t.Fatalf("bad max-age %q", v)
			}
		}
	}
	rs.maxAge = time.Duration(age) * time.Second
	rs.fetchedAt = time.Now()
	rs.fetches++
}

// read decrypts tok with the resource's own key and verifies it against
// the cached JWKS. It reports a failure instead of failing the test.
func (rs *resourceServer) read(tok string) (map[string]any, error) {
	rs.refreshJWKS()
	jwe, err := jose.ParseEncryptedCompact(tok,
		[]jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, err
	}
	inner, err := jwe.Decrypt(rs.key)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA})
	if err != nil {
		return nil, err
	}
	keys := rs.jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return nil, &unknownKID{jws.Signatures[0].Header.KeyID}
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	err = json.Unmarshal(payload, &claims)
	return claims, err
}

type unknownKID struct{ kid string }

func (e *unknownKID) Error() string { return "kid " + e.kid + " not in the cached JWKS" }

// publicJWK returns the public JWK of key with kid, as a JWKS member.
func publicJWK(t *testing.T, key any, kid string) map[string]any {
	t.Helper()
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	b, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Use: "enc"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// createEncryptedResource registers a resource with its own encryption
// key and returns a resource server that holds the private key.
func (in *instance) createEncryptedResource(identifier string, key any, extra map[string]any) (credentials, *resourceServer) {
	in.t.Helper()
	body := map[string]any{
		"identifier": identifier, "name": "Encrypted API", "scopes": []string{"read"},
		"encryption_keys":           map[string]any{"keys": []any{publicJWK(in.t, key, "rs-key-1")}},
		"token_encryption_required": true,
	}
	for k, v := range extra {
		body[k] = v
	}
	r := in.admin(http.MethodPost, "/admin/resources", body)
	if r.status != http.StatusCreated {
		in.t.Fatalf("create encrypted resource = %d %s", r.status, r.body)
	}
	m := r.json(in.t)
	return credentials{ID: m["client_id"].(string), Secret: m["client_secret"].(string)},
		&resourceServer{t: in.t, in: in, key: key}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestResourceServerReadsItsTokens: a token for a resource with its own key
// is encrypted to that key, the resource decrypts it and verifies the inner
// JWS via the JWKS, another resource's key cannot decrypt it, and
// introspection still works from Veil's record.
func TestResourceServerReadsItsTokens(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	credsA, rsA := in.createEncryptedResource(apiA, rsaKey(t), nil)
	credsB, rsB := in.createEncryptedResource(apiB, ecKey, map[string]any{"access_token_signing_alg": "RS256"})
	c := in.createClient("read", apiA, apiB)

	tokA := in.mustToken(c, apiA)
	claims, err := rsA.read(tokA)
	if err != nil {
		t.Fatalf("resource A reading its token: %v", err)
	}
	if claims["aud"] != apiA || claims["client_id"] != c.ID {
		t.Errorf("claims = %v, want aud %s", claims, apiA)
	}
	if _, err := rsB.read(tokA); err == nil {
		t.Error("resource B decrypted a token encrypted for A")
	}
	if got := in.introspect(credsA, tokA).json(t); got["active"] != true {
		t.Errorf("introspect(A's encrypted token) = %v, want active", got)
	}
	assertInactive(t, in.introspect(credsB, tokA))

	tokB := in.mustToken(c, apiB)
	if _, err := rsB.read(tokB); err != nil {
		t.Fatalf("resource B (EC key, RS256) reading its token: %v", err)
	}
	if h := jwsAlg(t, rsB, tokB); h != "RS256" {
		t.Errorf("B's token is signed %s, want the RS256 it asked for", h)
	}
}

func jwsAlg(t *testing.T, rs *resourceServer, tok string) string {
	t.Helper()
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := jwe.Decrypt(rs.key)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.Algorithm
}

// TestRequiredEncryptionRefusesIssuance: a resource that requires
// encryption but has no usable key gets no token at all, never a token in
// Veil's own encryption.
func TestRequiredEncryptionRefusesIssuance(t *testing.T) {
	dsn := pgtest.DSN(t)
	// The test changes the database behind Veil's back, so it must read it
	// on every request.
	in := startVeilWith(t, dsn, newMasterKey(t), "", func(c *config.Config) { c.ClientCacheTTL = 0 })
	in.createEncryptedResource(apiA, rsaKey(t), nil)
	c := in.createClient("read", apiA)
	in.mustToken(c, apiA)

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// An operator's mistake the admin API refuses: keys removed while
	// encryption stays required.
	if _, err := conn.Exec(context.Background(), `UPDATE resources SET encryption_keys = '[]'`); err != nil {
		t.Fatal(err)
	}
	r := in.post("/oauth2/token", c.ID, c.Secret, url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}})
	if r.status == http.StatusOK {
		t.Fatalf("token issued without the required encryption: %s", r.body)
	}
	assertOAuthError(t, r, http.StatusBadRequest, "invalid_target")
	if !strings.Contains(in.logs.String(), "requires encryption") {
		t.Error("no log line says why the token was refused")
	}
}

// TestKeyRotation: a resource server that caches the JWKS for its max-age
// validates every token across two rotations; a second replica serves the
// new JWKS and signs with the new key without restart.
func TestKeyRotation(t *testing.T) {
	dsn, mk := pgtest.DSN(t), newMasterKey(t)
	fast := func(c *config.Config) {
		c.JWKSMaxAge = time.Second
		c.KeyRefreshInterval = 200 * time.Millisecond
		c.SigningAlgorithms = []string{"ES256"}
	}
	const issuer = "https://veil.example.test"
	a := startVeilWith(t, dsn, mk, issuer, fast)
	b := startVeilWith(t, dsn, mk, issuer, fast)
	_, rs := a.createEncryptedResource(apiA, rsaKey(t), nil)
	c := a.createClient("read", apiA)

	// Issue tokens from both replicas in turn, rotating once at the start
	// and again once the first new key is in use, until the third key
	// signs. Every token must verify at the caching resource server.
	var order []string
	rotations := 0
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; len(seen) < 3 && time.Now().Before(deadline); i++ {
		if (i == 3 && rotations == 0) || (len(seen) == 2 && rotations == 1) {
			if r := a.admin(http.MethodPost, "/admin/keys/rotate", nil); r.status >= 300 {
				t.Fatalf("rotate = %d %s", r.status, r.body)
			}
			rotations++
			order = append(order, "rotated")
		}
		in := a
		if i%2 == 1 {
			in = b
		}
		tok := in.mustToken(c, apiA)
		if _, err := rs.read(tok); err != nil {
			t.Fatalf("token %d (from replica %d) failed at the caching resource server: %v", i, i%2, err)
		}
		if kid := kidOf(t, rs, tok); !seen[kid] {
			seen[kid] = true
			order = append(order, kid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(seen) != 3 {
		t.Errorf("saw %d signing keys (%v), want 3 across two rotations", len(seen), order)
	}
	if rs.fetches < 2 {
		t.Errorf("resource server fetched the JWKS %d times, want it to expire and refetch", rs.fetches)
	}
	if ja, jb := string(a.get("/.well-known/jwks.json").body), string(b.get("/.well-known/jwks.json").body); ja != jb {
		t.Errorf("replicas publish different JWKS:\n%s\n%s", ja, jb)
	}
}

func kidOf(t *testing.T, rs *resourceServer, tok string) string {
	t.Helper()
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := jwe.Decrypt(rs.key)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

// TestMasterKeyRewrap: with the old and new master keys together, rewrap
// seals every key under the new one; afterwards Veil starts with only the
// new key and everything issued before still works.
func TestMasterKeyRewrap(t *testing.T) {
	dsn, oldKey, newKey := pgtest.DSN(t), newMasterKey(t), newMasterKey(t)
	const issuer = "https://veil.example.test"
	first := startVeilAs(t, dsn, oldKey, issuer)
	rs := first.createResource(apiA, "read")
	c := first.createClient("read", apiA)
	tok := first.mustToken(c, apiA)
	first.stop()

	cfg := &config.Config{DatabaseURL: dsn, MasterKeys: [][]byte{newKey, oldKey}, SigningAlgorithms: []string{"ES256", "RS256"},
		KeyRotationInterval: 24 * time.Hour, JWKSMaxAge: time.Minute, KeyRefreshInterval: time.Second, AccessTokenLifespan: 15 * time.Minute}
	km, closeStore, err := server.OpenKeys(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	n, err := km.Rewrap(context.Background())
	closeStore()
	if err != nil || n == 0 {
		t.Fatalf("Rewrap() = %d, %v; want every key resealed", n, err)
	}

	if _, err := newServer(t, dsn, oldKey); err == nil {
		t.Error("Veil started with only the old master key after the rewrap")
	}
	second := startVeilAs(t, dsn, newKey, issuer)
	if got := second.introspect(rs, tok).json(t); got["active"] != true {
		t.Errorf("token from before the rewrap = %v, want active", got)
	}
	second.mustToken(c, apiA)
}
