package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/veil-auth/veil/internal/pgtest"
)

const (
	apiA = "https://api-a.example.test"
	apiB = "https://api-b.example.test"
)

func newMasterKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// fetchToken runs the client credentials grant with golang.org/x/oauth2.
func (in *instance) fetchToken(c credentials, resource string, scopes ...string) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		TokenURL:     in.base + "/oauth2/token",
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	if resource != "" {
		cfg.EndpointParams = url.Values{"resource": {resource}}
	}
	return cfg.Token(context.Background())
}

func (in *instance) mustToken(c credentials, resource string, scopes ...string) string {
	in.t.Helper()
	tok, err := in.fetchToken(c, resource, scopes...)
	if err != nil {
		in.t.Fatalf("client credentials token: %v", err)
	}
	return tok.AccessToken
}

// TestWalkthrough is the README walkthrough on PostgreSQL: register two
// resources and two clients, get a token, read it as a resource server
// would, introspect it as each party, revoke it.
func TestWalkthrough(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rsA := in.createResource(apiA, "read", "write")
	rsB := in.createResource(apiB, "read")
	c1 := in.createClient("read write", apiA)
	c2 := in.createClient("read", apiA, apiB)

	tok, err := in.fetchToken(c1, apiA, "read")
	if err != nil {
		t.Fatalf("Token() error = %v", err)
	}
	if tok.TokenType != "bearer" && tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token type %q expiry %v, want bearer with an expiry", tok.TokenType, tok.Expiry)
	}
	claims := in.readToken(t, tok.AccessToken)
	want := map[string]any{
		"iss": in.issuer, "sub": c1.ID, "aud": apiA, "client_id": c1.ID, "scope": "read",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}

	t.Run("introspection by the audience", func(t *testing.T) {
		got := in.introspect(rsA, tok.AccessToken).json(t)
		if got["active"] != true || got["client_id"] != c1.ID || got["scope"] != "read" ||
			got["sub"] != c1.ID || got["iss"] != in.issuer || got["jti"] != claims["jti"] ||
			got["token_type"] != "Bearer" || got["exp"] != claims["exp"] || got["iat"] != claims["iat"] ||
			!cmp.Equal(got["aud"], []any{apiA}) {
			t.Errorf("introspect(RS-A) = %v, want the token's claims", got)
		}
	})
	t.Run("case 11: another resource learns nothing", func(t *testing.T) {
		assertInactive(t, in.introspect(rsB, tok.AccessToken))
	})
	t.Run("the owning client may introspect, another may not", func(t *testing.T) {
		if got := in.introspect(c1, tok.AccessToken).json(t); got["active"] != true {
			t.Errorf("introspect(C1, own token) = %v, want active", got)
		}
		assertInactive(t, in.introspect(c2, tok.AccessToken))
	})
	t.Run("case 9: only the owner revokes", func(t *testing.T) {
		r := in.post("/oauth2/revoke", c2.ID, c2.Secret, url.Values{"token": {tok.AccessToken}})
		assertOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		r = in.post("/oauth2/revoke", "", "", url.Values{"token": {tok.AccessToken}})
		assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if got := in.introspect(rsA, tok.AccessToken).json(t); got["active"] != true {
			t.Fatalf("after refused revocations introspect = %v, want active", got)
		}
	})
	t.Run("revocation", func(t *testing.T) {
		r := in.post("/oauth2/revoke", c1.ID, c1.Secret, url.Values{"token": {tok.AccessToken}})
		if r.status != http.StatusOK {
			t.Fatalf("revoke by owner = %d %s, want 200", r.status, r.body)
		}
		assertInactive(t, in.introspect(rsA, tok.AccessToken))
		// Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
		for _, tk := range []string{tok.AccessToken, "garbage"} {
			if r := in.post("/oauth2/revoke", c1.ID, c1.Secret, url.Values{"token": {tk}}); r.status != http.StatusOK {
				t.Errorf("revoke(%.10s...) = %d, want 200", tk, r.status)
			}
		}
	})
	t.Run("request log", func(t *testing.T) {
		logs := in.logs.String()
		for _, secret := range []string{tok.AccessToken, c1.Secret, c2.Secret, rsA.Secret, rsB.Secret, testAdminToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("log contains a token or secret (%.8s...)", secret)
			}
		}
		for _, endpoint := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			line := `"endpoint":"` + endpoint + `","status":200`
			if !strings.Contains(logs, line) || !strings.Contains(logs, `"client_id":"`+c1.ID+`"`) {
				t.Errorf("log lacks a request line for %s with client_id", endpoint)
			}
		}
	})
	t.Run("a token for the second resource", func(t *testing.T) {
		tk := in.mustToken(c2, apiB)
		if got := in.introspect(rsB, tk).json(t); got["active"] != true || got["scope"] != "read" {
			t.Errorf("introspect(RS-B, token for B) = %v, want active with scope read", got)
		}
		assertInactive(t, in.introspect(rsA, tk))
	})
}

// readToken reads a token as a resource server holding the decryption key
// does: JWE header, decrypt, inner JWS header, verify against the JWKS
// fetched over HTTP, claims.
func (in *instance) readToken(t *testing.T, tok string) map[string]any {
	t.Helper()
	jwe, err := jose.ParseEncryptedCompact(tok, []jose.KeyAlgorithm{jose.A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("ParseEncryptedCompact() = %v", err)
	}
	if cty := jwe.Header.ExtraHeaders[jose.HeaderContentType]; cty != "JWT" || jwe.Header.KeyID == "" {
		t.Errorf("JWE header cty=%v kid=%q, want JWT and a kid", cty, jwe.Header.KeyID)
	}
	key, ok := in.srv.Keys().Current().DecryptionKey(jwe.Header.KeyID)
	if !ok {
		t.Fatalf("JWE kid %q is not Veil's encryption key", jwe.Header.KeyID)
	}
	inner, err := jwe.Decrypt(key)
	if err != nil {
		t.Fatalf("Decrypt() = %v", err)
	}

	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("ParseSignedCompact() = %v", err)
	}
	h := jws.Signatures[0].Header
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("JWS typ = %v, want at+jwt", typ)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(in.get("/.well-known/jwks.json").body, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys with kid %q, want 1", len(keys), h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("Verify() against JWKS = %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	exp, iat := claims["exp"].(float64), claims["iat"].(float64)
	if exp <= iat || time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Errorf("exp %v iat %v, want a live token", exp, iat)
	}
	return claims
}

// assertInactive checks the exact inactive answer: {"active": false} and
// not one member more (case 11).
func assertInactive(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || string(r.body) != `{"active":false}` {
		t.Errorf("introspect = %d %s, want 200 {\"active\":false}", r.status, r.body)
	}
}

// assertOAuthError checks an RFC 6749 §5.2 error answer.
func assertOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d (%s), want %d", r.status, r.body, status)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %q is not flat JSON: %v", r.body, err)
	}
	if body["error"] != code || body["error_description"] == "" || len(body) != 2 {
		t.Errorf("error body = %v, want error %q with a description and nothing else", body, code)
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read", "write")
	in.createResource(apiB, "read")
	c1 := in.createClient("read write", apiA)
	c2 := in.createClient("read", apiA, apiB)

	tests := []struct {
		name     string
		client   credentials
		resource string
		scopes   []string
		status   int
		code     string
	}{
		{name: "wrong secret", client: credentials{c1.ID, c1.Secret + "x"}, resource: apiA, status: 401, code: "invalid_client"},
		{name: "unknown client", client: credentials{"nobody", c1.Secret}, resource: apiA, status: 401, code: "invalid_client"},
		{name: "scope the client lacks", client: c2, resource: apiA, scopes: []string{"write"}, status: 400, code: "invalid_scope"},
		{name: "scope the resource lacks", client: c2, resource: apiB, scopes: []string{"write"}, status: 400, code: "invalid_scope"},
		{name: "resource not allowed", client: c1, resource: apiB, status: 400, code: "invalid_target"},
		{name: "unknown resource", client: c1, resource: "https://nowhere.example.test", status: 400, code: "invalid_target"},
		{name: "no resource with two allowed", client: c2, status: 400, code: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := in.fetchToken(tt.client, tt.resource, tt.scopes...)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) {
				t.Fatalf("Token() error = %v, want a RetrieveError", err)
			}
			if re.Response.StatusCode != tt.status || re.ErrorCode != tt.code {
				t.Errorf("Token() = %d %q, want %d %q", re.Response.StatusCode, re.ErrorCode, tt.status, tt.code)
			}
		})
	}

	t.Run("form-level errors", func(t *testing.T) {
		forms := []struct {
			name   string
			form   url.Values
			status int
			code   string
		}{
			{"no grant type", url.Values{"scope": {"read"}}, 400, "invalid_request"},
			{"unsupported grant type", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
			{"grant type not registered for the client", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, 400, "unauthorized_client"},
			{"repeated grant type", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
			{"audience instead of resource", url.Values{"grant_type": {"client_credentials"}, "audience": {apiA}}, 400, "invalid_request"},
			{"two resources", url.Values{"grant_type": {"client_credentials"}, "resource": {apiA, apiB}}, 400, "invalid_target"},
		}
		for _, f := range forms {
			t.Run(f.name, func(t *testing.T) {
				assertOAuthError(t, in.post("/oauth2/token", c2.ID, c2.Secret, f.form), f.status, f.code)
			})
		}
	})

	t.Run("secret in the body (client_secret_basic client)", func(t *testing.T) {
		r := in.post("/oauth2/token", "", "", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {c1.ID}, "client_secret": {c1.Secret},
		})
		assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})
}

// TestClientSecretPost checks the client_secret_post method end to end.
func TestClientSecretPost(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	r := in.admin(http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "post client", "grant_types": []string{"client_credentials"}, "scope": "read",
		"token_endpoint_auth_method": "client_secret_post", "resources": []string{apiA},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create client = %d %s", r.status, r.body)
	}
	m := r.json(t)
	cfg := clientcredentials.Config{
		ClientID: m["client_id"].(string), ClientSecret: m["client_secret"].(string),
		TokenURL: in.base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatalf("Token() with client_secret_post = %v", err)
	}
	if got := in.introspect(rs, tok.AccessToken).json(t); got["active"] != true {
		t.Errorf("introspect = %v, want active", got)
	}
	cfg.AuthStyle = oauth2.AuthStyleInHeader
	if _, err := cfg.Token(context.Background()); err == nil {
		t.Error("Token() with basic auth for a client_secret_post client succeeded, want invalid_client")
	}
}

func TestDevelopmentModeServes(t *testing.T) {
	in := startVeil(t, "", newMasterKey(t))
	rs := in.createResource(apiA, "read")
	c := in.createClient("read", apiA)
	tok := in.mustToken(c, "")
	if got := in.introspect(rs, tok).json(t); got["active"] != true {
		t.Errorf("introspect in development mode = %v, want active", got)
	}
	if !strings.Contains(in.logs.String(), "NOTHING IS KEPT") {
		t.Error("development mode did not log that nothing is kept")
	}
}
