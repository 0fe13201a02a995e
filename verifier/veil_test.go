package verifier_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/server"
	"github.com/veil-auth/veil/internal/token/tokentest"
	"github.com/veil-auth/veil/verifier"
)

// These tests run a real Veil in-process, on a PostgreSQL database of
// their own (internal/pgtest; skipped when no server answers, failed in
// CI), and check its tokens with the verifier the way a resource server
// in another module would.

const (
	veilAdminToken = "verifier-test-admin-token-0123456789abcdef"
	apiA           = "https://api-a.example.test"
	apiB           = "https://api-b.example.test"
)

// realVeil is a running Veil.
type realVeil struct {
	t        *testing.T
	srv      *server.Server
	issuer   string
	adminURL string
}

// creds are a client_id and client_secret.
type creds struct{ ID, Secret string }

func startRealVeil(t *testing.T) *realVeil {
	t.Helper()
	dsn := pgtest.DSN(t)
	pub, adm := listenLoopback(t), listenLoopback(t)
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	// Veil's own loader, so that every setting not named here keeps the
	// default an operator would get.
	env := map[string]string{
		"VEIL_DATABASE_URL": dsn, "VEIL_ISSUER": "http://" + pub.Addr().String(),
		"VEIL_PUBLIC_ADDR": pub.Addr().String(), "VEIL_ADMIN_ADDR": adm.Addr().String(),
		"VEIL_ADMIN_TOKEN": veilAdminToken, "VEIL_MASTER_KEY": base64.StdEncoding.EncodeToString(master),
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatalf("test config invalid: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("server.New() = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pub, adm) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
		srv.Close()
	})
	return &realVeil{t: t, srv: srv, issuer: cfg.Issuer, adminURL: "http://" + adm.Addr().String()}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// admin calls the admin API and decodes its JSON answer into out.
func (rv *realVeil) admin(method, path string, body, out any) int {
	rv.t.Helper()
	req, err := http.NewRequest(method, rv.adminURL+path, bytes.NewReader(bytesOf(body)))
	if err != nil {
		rv.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+veilAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rv.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			rv.t.Fatalf("decode %s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// createResource registers a resource server and returns its id and
// introspection credentials.
func (rv *realVeil) createResource(identifier string, scopes ...string) (string, creds) {
	rv.t.Helper()
	var r struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if s := rv.admin(http.MethodPost, "/admin/resources", map[string]any{
		"identifier": identifier, "name": "API", "scopes": scopes,
	}, &r); s != http.StatusCreated {
		rv.t.Fatalf("POST /admin/resources = %d, want 201", s)
	}
	return r.ID, creds{r.ClientID, r.ClientSecret}
}

// createClient registers a client credentials client.
func (rv *realVeil) createClient(scope string, resources ...string) creds {
	rv.t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if s := rv.admin(http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "job", "grant_types": []string{"client_credentials"}, "scope": scope,
		"token_endpoint_auth_method": "client_secret_basic", "resources": resources,
	}, &c); s != http.StatusCreated {
		rv.t.Fatalf("POST /admin/clients = %d, want 201", s)
	}
	return creds{c.ID, c.Secret}
}

// token gets a token with golang.org/x/oauth2, as a client would.
func (rv *realVeil) token(c creds, resource string, scopes ...string) string {
	rv.t.Helper()
	cfg := clientcredentials.Config{
		ClientID: c.ID, ClientSecret: c.Secret, TokenURL: rv.issuer + "/oauth2/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader,
		EndpointParams: url.Values{"resource": {resource}},
	}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		rv.t.Fatalf("client credentials token: %v", err)
	}
	return tok.AccessToken
}

func (rv *realVeil) revoke(c creds, tok string) {
	rv.t.Helper()
	form := strings.NewReader(url.Values{"token": {tok}}.Encode())
	req, _ := http.NewRequest(http.MethodPost, rv.issuer+"/oauth2/revoke", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, c.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		rv.t.Fatalf("revoke = %v %v, want 200", resp, err)
	}
	resp.Body.Close()
}

// innerJWS opens a token with Veil's own key, which only a test can
// reach, and returns the JWS inside.
func (rv *realVeil) innerJWS(tok string) string {
	rv.t.Helper()
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.A256KW},
		[]jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		rv.t.Fatalf("parse Veil's token: %v", err)
	}
	key, ok := rv.srv.Keys().Current().DecryptionKey(jwe.Header.KeyID)
	if !ok {
		rv.t.Fatal("Veil's token names an unknown key")
	}
	inner, err := jwe.Decrypt(key)
	if err != nil {
		rv.t.Fatalf("decrypt Veil's token: %v", err)
	}
	return string(inner)
}

// countingTransport counts requests by path.
type countingTransport struct {
	jwks, metadata, introspect atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/jwks.json"):
		c.jwks.Add(1)
	case strings.Contains(r.URL.Path, "oauth-authorization-server"):
		c.metadata.Add(1)
	case strings.HasSuffix(r.URL.Path, "/introspect"):
		c.introspect.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// introspectionConfig configures introspection as the resource server rs
// of rv, for the API audience.
func (rv *realVeil) introspectionConfig(audience string, rs creds) verifier.Config {
	return verifier.Config{Issuer: rv.issuer, Audience: audience, ClientID: rs.ID, ClientSecret: rs.Secret}
}

func TestRealVeilIntrospection(t *testing.T) {
	rv := startRealVeil(t)
	_, rsA := rv.createResource(apiA, "read", "write")
	_, rsB := rv.createResource(apiB, "read")
	client := rv.createClient("read write", apiA, apiB)
	tok := rv.token(client, apiA, "read")
	ctx := context.Background()

	clk := &clock{now: time.Now()}
	counts := &countingTransport{}
	cfgA := rv.introspectionConfig(apiA, rsA)
	cfgA.Now, cfgA.HTTPClient = clk.Now, &http.Client{Transport: counts}
	vA := newVerifier(t, cfgA)

	got, err := vA.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify(Veil's token) by its audience = %v, want claims", err)
	}
	want := &verifier.Claims{Issuer: rv.issuer, Subject: client.ID, Audience: []string{apiA},
		ClientID: client.ID, Scopes: []string{"read"}}
	ignore := cmpopts.IgnoreFields(verifier.Claims{}, "Raw", "ExpiresAt", "IssuedAt", "ID")
	if diff := cmp.Diff(want, got, ignore); diff != "" || got.ID == "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
	if _, err := vA.Verify(ctx, tok); err != nil {
		t.Errorf("Verify() again = %v, want nil", err)
	}
	if n := counts.introspect.Load(); n != 1 {
		t.Errorf("introspection requests for two checks = %d, want 1 (cached)", n)
	}

	t.Run("another resource server", func(t *testing.T) {
		vB := newVerifier(t, rv.introspectionConfig(apiB, rsB))
		if _, err := vB.Verify(ctx, tok); kind(err) != "invalid" {
			t.Errorf("Verify(token for A) by B = %s, want invalid", kind(err))
		}
	})
	t.Run("scope", func(t *testing.T) {
		cfg := cfgA
		cfg.RequiredScopes = []string{"write"}
		if _, err := newVerifier(t, cfg).Verify(ctx, tok); kind(err) != "scope" {
			t.Errorf("Verify(read token) requiring write = %s, want scope", kind(err))
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		cfg := cfgA
		cfg.ClientSecret = "not-the-secret"
		_, err := newVerifier(t, cfg).Verify(ctx, tok)
		if kind(err) != "unavailable" || strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("Verify() with a wrong secret = %s, want unavailable without the secret", describe(err))
		}
	})
	t.Run("forgeries", func(t *testing.T) {
		claims := tokentest.Claims(rv.issuer, client.ID, apiA)
		for _, f := range tokentest.Forgeries(t, rv.srv.Keys().Current(), tok, claims) {
			if _, err := vA.Verify(ctx, f.Token); kind(err) != "invalid" {
				t.Errorf("Verify(%s) = %s, want invalid", f.Name, describe(err))
			}
		}
	})
	t.Run("middleware", func(t *testing.T) {
		testRealMiddleware(t, vA, client.ID, tok, rv.token(client, apiB, "read"))
	})
	t.Run("revocation is seen once the cache TTL has passed", func(t *testing.T) {
		rv.revoke(client, tok)
		fresh := newVerifier(t, rv.introspectionConfig(apiA, rsA))
		if _, err := fresh.Verify(ctx, tok); kind(err) != "invalid" {
			t.Errorf("Verify(revoked) by a new verifier = %s, want invalid", kind(err))
		}
		if _, err := vA.Verify(ctx, tok); err != nil {
			t.Errorf("Verify(revoked) from the cache = %v, want nil until the TTL passes", err)
		}
		clk.Advance(verifier.DefaultIntrospectionCacheTTL)
		if _, err := vA.Verify(ctx, tok); kind(err) != "invalid" {
			t.Errorf("Verify(revoked) after the TTL = %s, want invalid", kind(err))
		}
	})
}

// testRealMiddleware calls an API guarded by v over HTTP with a token for
// it, a token for another API, and none.
func testRealMiddleware(t *testing.T, v *verifier.Verifier, subject, tok, otherTok string) {
	api := httptest.NewServer(verifier.Middleware(v, "read")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			c, _ := verifier.ClaimsFromContext(r.Context())
			_, _ = io.WriteString(w, c.Subject)
		})))
	defer api.Close()

	for _, tc := range []struct {
		tok    string
		status int
	}{{tok, http.StatusOK}, {otherTok, http.StatusUnauthorized}, {"", http.StatusUnauthorized}} {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || tc.status == http.StatusOK && string(body) != subject {
			t.Errorf("GET API with token %.12s = %d %q, want %d", tc.tok, resp.StatusCode, body, tc.status)
		}
	}
}

func TestRealVeilSignatures(t *testing.T) {
	rv := startRealVeil(t)
	rv.createResource(apiA, "read")
	client := rv.createClient("read", apiA)
	tok := rv.token(client, apiA, "read")
	inner := rv.innerJWS(tok)
	ctx := context.Background()

	// A resource server that accepts bare JWS verifies Veil's signature
	// against the JWKS it finds through Veil's real metadata.
	counts := &countingTransport{}
	lax := newVerifier(t, verifier.Config{Issuer: rv.issuer, Audience: apiA, AllowUnencrypted: true,
		HTTPClient: &http.Client{Transport: counts}})
	for i := 0; i < 3; i++ {
		claims, err := lax.Verify(ctx, inner)
		if err != nil {
			t.Fatalf("Verify(Veil's inner JWS) = %v, want claims", err)
		}
		if claims.Subject != client.ID || claims.ID == "" {
			t.Errorf("Verify() claims = %+v, want sub %s and a jti", claims, client.ID)
		}
	}
	if j, m := counts.jwks.Load(), counts.metadata.Load(); j != 1 || m != 1 {
		t.Errorf("requests for three checks: jwks %d, metadata %d; want 1 and 1", j, m)
	}

	// The default refuses the same JWS bare (case 19), and Veil's own
	// A256KW tokens, which no resource server can open.
	strict := newVerifier(t, verifier.Config{Issuer: rv.issuer, Audience: apiA,
		DecryptionKeys: []jose.JSONWebKey{newEncryptionKey("ec")}})
	for name, tk := range map[string]string{"case 19: inner JWS bare": inner, "A256KW token": tok} {
		if _, err := strict.Verify(ctx, tk); kind(err) != "invalid" {
			t.Errorf("Verify(%s) = %s, want invalid", name, kind(err))
		}
	}

	// Another audience, once the signature holds.
	other := newVerifier(t, verifier.Config{Issuer: rv.issuer, Audience: apiB,
		AllowUnencrypted: true})
	if _, err := other.Verify(ctx, inner); kind(err) != "audience" {
		t.Errorf("Verify(token for A) as B = %s, want audience", kind(err))
	}
}

// TestRealVeilResourceKeys registers encryption keys for resource servers
// and checks the tokens Veil then encrypts to them, locally. It needs key
// management (issue #4) and skips until Veil takes resource keys.
func TestRealVeilResourceKeys(t *testing.T) {
	rv := startRealVeil(t)
	for _, tc := range []struct{ kind, api, alg string }{
		{"ec", apiA, "ECDH-ES+A256KW"}, {"rsa", apiB, "RSA-OAEP-256"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			id, _ := rv.createResource(tc.api, "read")
			rs := newResource(tc.kind)
			rs.audience = tc.api
			public, err := verifier.PublicJWKS(rs.keys)
			if err != nil {
				t.Fatal(err)
			}
			status := rv.admin(http.MethodPut, "/admin/resources/"+id, map[string]any{
				"identifier": tc.api, "name": "API", "scopes": []string{"read"}, "encryption_keys": public,
			}, nil)
			if status != http.StatusOK {
				t.Skipf("PUT /admin/resources with encryption_keys = %d: no resource keys yet (#4)", status)
			}
			tok := rv.token(rv.createClient("read", tc.api), tc.api, "read")
			checkResourceToken(t, rv, rs, tok, tc.alg)
		})
	}
}

// checkResourceToken checks that tok is encrypted to rs's key with alg,
// that rs verifies it locally against Veil's real JWKS, and that another
// key under the same kid cannot open it.
func checkResourceToken(t *testing.T, rv *realVeil, rs *resource, tok, alg string) {
	t.Helper()
	algs := []jose.KeyAlgorithm{jose.A256KW, jose.ECDH_ES_A256KW, jose.RSA_OAEP_256}
	jwe, err := jose.ParseEncryptedCompact(tok, algs, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("parse Veil's token: %v", err)
	}
	if jwe.Header.Algorithm != alg || jwe.Header.KeyID != rs.keys[0].KeyID {
		t.Skipf("Veil took the key but encrypts with %s to %q (#4 in progress)", jwe.Header.Algorithm, jwe.Header.KeyID)
	}

	v := newVerifier(t, verifier.Config{Issuer: rv.issuer, Audience: rs.audience, DecryptionKeys: rs.keys})
	claims, err := v.Verify(context.Background(), tok)
	if err != nil || !claims.HasScope("read") {
		t.Errorf("Verify(token encrypted to the resource's key) = %v, %v, want claims with read", claims, err)
	}
	impostor := jose.JSONWebKey{Key: newEncryptionKey("ec").Key, KeyID: rs.keys[0].KeyID}
	if _, ok := rs.keys[0].Key.(*ecdsa.PrivateKey); !ok {
		impostor.Key = rsaKeys()[0]
	}
	other := newVerifier(t, verifier.Config{Issuer: rv.issuer, Audience: rs.audience,
		DecryptionKeys: []jose.JSONWebKey{impostor}})
	if _, err := other.Verify(context.Background(), tok); kind(err) != "invalid" {
		t.Errorf("Verify() with another key under the same kid = %s, want invalid", kind(err))
	}
}
