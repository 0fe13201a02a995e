package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
)

// TestRefreshTokenExpiresWhenUnused checks RFC 9700 §4.14.2: a refresh
// token expires when the client has not used it for a while (here 2 s), and
// every rotation starts that time afresh, so an active client keeps its
// grant and an idle one loses it.
func TestRefreshTokenExpiresWhenUnused(t *testing.T) {
	const lifespan = 2 * time.Second
	e := newFuzzEnvWith(t, func(c *config.Config) { c.RefreshTokenLifespan = lifespan })
	web := e.byName["web"]
	refresh := func(rt string) response {
		return e.postForm("/oauth2/token", web.id+":"+web.secret,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), nil)
	}

	rt := e.exchange(t)["refresh_token"].(string)
	for i := range 2 {
		// Each step waits more than half the lifetime, so two steps
		// outlast the first token: only the rotation keeps the grant.
		time.Sleep(lifespan * 6 / 10)
		r := refresh(rt)
		m := r.json(t)
		if r.status != http.StatusOK || m["refresh_token"] == nil {
			t.Fatalf("refresh %d, %v after the last one = %d %s, want 200 with a new refresh token",
				i+1, lifespan*6/10, r.status, r.body)
		}
		rt = m["refresh_token"].(string)
	}

	time.Sleep(lifespan + 500*time.Millisecond)
	r := refresh(rt)
	checkOAuthError(t, r, nil, nil)
	if got := r.json(t)["error"]; got != "invalid_grant" {
		t.Errorf("refresh with a token unused for %v = %v, want invalid_grant",
			lifespan+500*time.Millisecond, got)
	}
}

// TestRefreshTokenBoundToGrant checks RFC 9700 §4.14.2 and RFC 6749 §6:
// a refresh token works only for the client it was issued to, and only for
// the scope and resource the user consented to; it may narrow the scope,
// never widen it or change the resource.
func TestRefreshTokenBoundToGrant(t *testing.T) {
	e := newFuzzEnv(t)
	web, spa := e.byName["web"], e.byName["spa"]
	m := e.adminJSON(t, "/admin/clients", map[string]any{
		"client_name":   "other web app",
		"grant_types":   []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{webRedirect}, "scope": "read write offline_access",
		"token_endpoint_auth_method": "client_secret_basic", "resources": []string{apiA},
	})
	other := m["client_id"].(string) + ":" + m["client_secret"].(string)

	own := web.id + ":" + web.secret
	tests := []struct {
		name   string
		basic  string
		form   url.Values
		status int
		code   string
		scope  string
	}{
		{name: "same client", basic: own, status: 200, scope: "offline_access read"},
		{name: "narrower scope", basic: own, form: url.Values{"scope": {"offline_access"}},
			status: 200, scope: "offline_access"},
		{name: "wider scope", basic: own, form: url.Values{"scope": {"read write"}},
			status: 400, code: "invalid_scope"},
		{name: "other resource", basic: own, form: url.Values{"resource": {apiB}},
			status: 400, code: "invalid_target"},
		{name: "another confidential client", basic: other, status: 400, code: "invalid_grant"},
		{name: "a public client", form: url.Values{"client_id": {spa.id}},
			status: 400, code: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := e.exchange(t)["refresh_token"].(string)
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			for k, v := range tt.form {
				form[k] = v
			}
			r := e.postForm("/oauth2/token", tt.basic, form.Encode(), nil)
			if r.status != tt.status {
				t.Fatalf("refresh = %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != http.StatusOK {
				checkOAuthError(t, r, nil, nil)
				if got := r.json(t)["error"]; got != tt.code {
					t.Errorf("refresh error = %v, want %s", got, tt.code)
				}
				return
			}
			claims := e.readAccessToken(t, r.json(t)["access_token"].(string))
			if claims.Scope != tt.scope || claims.ClientID != web.id {
				t.Errorf("refreshed token scope %q client %s, want %q for %s",
					claims.Scope, claims.ClientID, tt.scope, web.id)
			}
		})
	}
}

// TestPublicClientRefreshRotates checks RFC 9700 §2.2.2 and §4.14.2 for a
// public client, whose refresh token no secret protects: each use returns a
// new refresh token, and presenting a used one ends the whole family, the
// newest refresh token and the access tokens included.
func TestPublicClientRefreshRotates(t *testing.T) {
	e := newFuzzEnv(t)
	spa := e.byName["spa"]
	token := func(form url.Values) response {
		form.Set("client_id", spa.id)
		return e.postForm("/oauth2/token", "", form.Encode(), nil)
	}
	r := token(url.Values{
		"grant_type": {"authorization_code"}, "code": {e.code(t, spa, "read offline_access")},
		"redirect_uri": {loopRedirect}, "code_verifier": {e.verifier},
	})
	first := r.json(t)
	rt1, _ := first["refresh_token"].(string)
	if r.status != http.StatusOK || rt1 == "" {
		t.Fatalf("code exchange = %d %s, want tokens with a refresh token", r.status, r.body)
	}

	r = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
	second := r.json(t)
	rt2, _ := second["refresh_token"].(string)
	if r.status != http.StatusOK || rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh = %d %s, want a new refresh token", r.status, r.body)
	}
	at2 := second["access_token"].(string)
	if !e.live(t, "access", at2) {
		t.Fatal("access token from the refresh is not active")
	}

	for _, rt := range []string{rt1, rt2} {
		r := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		checkOAuthError(t, r, nil, nil)
		if got := r.json(t)["error"]; got != "invalid_grant" {
			t.Errorf("refresh after reuse = %v, want invalid_grant", got)
		}
	}
	for _, at := range []string{first["access_token"].(string), at2} {
		if e.live(t, "access", at) {
			t.Error("an access token of the family is still active after reuse")
		}
	}
}

// TestTokenEndpointReadsTheBodyOnly checks RFC 6749 §2.3.1 and §3.2:
// credentials and parameters in the token endpoint's query string are not
// read, so a client secret put in a URL (and so in logs and histories)
// authenticates nothing.
func TestTokenEndpointReadsTheBodyOnly(t *testing.T) {
	e := newFuzzEnv(t)
	post := e.byName["post"]
	query := url.Values{"client_secret": {post.secret}, "grant_type": {"client_credentials"}}
	body := url.Values{"client_id": {post.id}, "grant_type": {"client_credentials"}}
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token?"+query.Encode(),
		strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.serve(e.srv.Public(), req, nil)
	checkOAuthError(t, r, []string{post.secret}, nil)
	if got := r.json(t)["error"]; got != "invalid_client" {
		t.Errorf("secret in the query = %v, want invalid_client", got)
	}
}

// TestNoCORSAtAuthorizationEndpoint checks RFC 9700 §2.6: browser code on
// another origin may call the token and revocation endpoints, but the
// authorization endpoint, which only ever sees top-level navigations, and
// introspection, which is for resource servers, answer no CORS request,
// and no endpoint allows credentialed cross-origin calls.
func TestNoCORSAtAuthorizationEndpoint(t *testing.T) {
	e := newFuzzEnv(t)
	const origin = "https://spa.example.test"
	tests := []struct {
		name, method, path string
		allowed            bool
	}{
		{"authorization endpoint", http.MethodGet, e.authorizePath(e.byName["spa"], "read"), false},
		{"authorization endpoint preflight", http.MethodOptions, "/oauth2/authorize", false},
		{"login page", http.MethodGet, "/login", false},
		{"introspection endpoint", http.MethodPost, "/oauth2/introspect", false},
		{"token endpoint preflight", http.MethodOptions, "/oauth2/token", true},
		{"token endpoint", http.MethodPost, "/oauth2/token", true},
		{"revocation endpoint", http.MethodPost, "/oauth2/revoke", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			r := e.serve(e.srv.Public(), req, nil)
			got := r.header.Get("Access-Control-Allow-Origin")
			if (got != "") != tt.allowed {
				t.Errorf("%s %s: Access-Control-Allow-Origin = %q, want it set: %v",
					tt.method, tt.path, got, tt.allowed)
			}
			if c := r.header.Get("Access-Control-Allow-Credentials"); c != "" {
				t.Errorf("%s %s: Access-Control-Allow-Credentials = %q, want none",
					tt.method, tt.path, c)
			}
		})
	}
}

// TestEmptyParametersAreOmitted: RFC 6749 §3.1 and §3.2 require a
// parameter sent without a value to be treated as if it were absent.
func TestEmptyParametersAreOmitted(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	c := in.createClient("read", apiA)

	r := in.post("/oauth2/token", c.ID, c.Secret, url.Values{
		"grant_type": {"client_credentials"}, "resource": {""}, "scope": {""}, "client_secret": {""},
	})
	if r.status != http.StatusOK {
		t.Fatalf("token with empty resource, scope and client_secret = %d %s, want 200", r.status, r.body)
	}
	if got := in.introspect(rs, r.json(t)["access_token"].(string)).json(t); got["active"] != true || got["scope"] != "read" {
		t.Errorf("introspect = %v, want active with the default scope", got)
	}
}
