package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/pgtest"
)

const (
	webRedirect  = "https://app.example.test/cb"
	loopRedirect = "http://127.0.0.1/cb"
	userName     = "alice"
	userPassword = "correct horse battery staple"
)

// app is a registered authorization-code client with golang.org/x/oauth2.
type app struct {
	creds credentials
	cfg   oauth2.Config
}

// createApp registers a client for the authorization code grant; secret
// false makes it public (token_endpoint_auth_method none).
func (in *instance) createApp(confidential bool, scope string, redirects ...string) app {
	in.t.Helper()
	method := "none"
	if confidential {
		method = "client_secret_basic"
	}
	r := in.admin(http.MethodPost, "/admin/clients", map[string]any{
		"client_name": "Example App", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": redirects, "scope": scope, "token_endpoint_auth_method": method,
		"resources": []string{apiA},
	})
	if r.status != http.StatusCreated {
		in.t.Fatalf("create app = %d %s", r.status, r.body)
	}
	m := r.json(in.t)
	c := credentials{ID: m["client_id"].(string)}
	if s, ok := m["client_secret"].(string); ok {
		c.Secret = s
	}
	style := oauth2.AuthStyleInHeader
	if !confidential {
		style = oauth2.AuthStyleInParams
	}
	return app{creds: c, cfg: oauth2.Config{
		ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: redirects[0],
		Endpoint: oauth2.Endpoint{AuthURL: in.base + "/oauth2/authorize", TokenURL: in.base + "/oauth2/token", AuthStyle: style},
	}}
}

// createUser registers a user and returns its ID.
func (in *instance) createUser(username, password string) string {
	in.t.Helper()
	r := in.admin(http.MethodPost, "/admin/users", map[string]any{"username": username, "password": password})
	if r.status != http.StatusCreated {
		in.t.Fatalf("create user = %d %s", r.status, r.body)
	}
	return r.json(in.t)["id"].(string)
}

// authURL builds an authorization URL with PKCE S256 for the resource.
func (a app) authURL(state, verifier string, scopes ...string) string {
	cfg := a.cfg
	cfg.Scopes = scopes
	return cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", apiA))
}

// codeFrom checks a redirect to the client and returns its code.
func codeFrom(t *testing.T, u *url.URL, redirect, state, issuer string) string {
	t.Helper()
	q := u.Query()
	base := *u
	base.RawQuery = ""
	if base.String() != redirect || q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("redirect %s, want %s with code, state %q and iss %q", u, redirect, state, issuer)
	}
	return q.Get("code")
}

// TestAuthorizationCodeFlow is the whole journey over real HTTP: login,
// consent, code, token with PKCE, refresh with rotation and reuse
// detection, remembered consent, and consent revocation.
func TestAuthorizationCodeFlow(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read", "write")
	web := in.createApp(true, "read write offline_access", webRedirect)
	userID := in.createUser(userName, userPassword)
	ctx := context.Background()

	b := in.newBrowser()
	verifier := oauth2.GenerateVerifier()
	u := b.authorize(web.authURL("state-no-1", verifier, "read", "offline_access"), userName, userPassword, true)
	code := codeFrom(t, u, webRedirect, "state-no-1", in.issuer)

	tok, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() = %v", err)
	}
	claims := in.readToken(t, tok.AccessToken)
	if claims["sub"] != userID || claims["client_id"] != web.creds.ID || claims["aud"] != apiA || claims["scope"] != "offline_access read" {
		t.Errorf("claims = %v, want sub %s (the user's id), aud %s, scope 'offline_access read'", claims, userID, apiA)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token although offline_access was granted")
	}
	if got := in.introspect(rs, tok.AccessToken).json(t); got["active"] != true || got["sub"] != userID {
		t.Errorf("introspect = %v, want active for the user", got)
	}

	t.Run("case 8: refresh rotates and reuse revokes the family", func(t *testing.T) {
		rt1 := tok.RefreshToken
		r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
		if r.status != http.StatusOK {
			t.Fatalf("refresh = %d %s", r.status, r.body)
		}
		m := r.json(t)
		at2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
		if rt2 == "" || rt2 == rt1 {
			t.Fatalf("refresh returned refresh token %q, want a new one", rt2)
		}
		if got := in.introspect(rs, at2).json(t); got["active"] != true {
			t.Fatalf("AT2 = %v, want active", got)
		}
		r = in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}})
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		r = in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}})
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		assertInactive(t, in.introspect(rs, at2))
		assertInactive(t, in.introspect(rs, tok.AccessToken))
	})

	t.Run("remembered consent skips the page", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		loc := b.location(b.get(web.authURL("state-no-2", v, "read")))
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		code := codeFrom(t, u, webRedirect, "state-no-2", in.issuer)
		if _, err := web.cfg.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("Exchange() = %v", err)
		}
	})

	t.Run("a wider request asks again", func(t *testing.T) {
		loc := b.location(b.get(web.authURL("state-no-3", oauth2.GenerateVerifier(), "read", "write")))
		if loc[:8] != "/consent" {
			t.Errorf("request for more scopes went to %s, want the consent page", loc)
		}
	})

	t.Run("consent revocation kills tokens", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		u := b.authorize(web.authURL("state-no-4", v, "read", "offline_access"), userName, userPassword, true)
		tk, err := web.cfg.Exchange(ctx, codeFrom(t, u, webRedirect, "state-no-4", in.issuer), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		list := in.admin(http.MethodGet, "/admin/users/"+userID+"/consents", nil).json(t)
		items, _ := list["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("consents = %v, want one", list)
		}
		id := items[0].(map[string]any)["id"].(string)
		if r := in.admin(http.MethodDelete, "/admin/users/"+userID+"/consents/"+id, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE consent = %d %s", r.status, r.body)
		}
		assertInactive(t, in.introspect(rs, tk.AccessToken))
		_, err = web.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tk.RefreshToken}).Token()
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("refresh after consent revocation = %v, want invalid_grant", err)
		}
		// With the consent gone, the page is shown again.
		loc := b.location(b.get(web.authURL("state-no-5", oauth2.GenerateVerifier(), "read")))
		if loc[:8] != "/consent" {
			t.Errorf("after revocation went to %s, want the consent page", loc)
		}
	})
}

// TestPublicClientFlow runs a single-page app: public client, loopback
// redirect with any port, PKCE, no secret.
func TestPublicClientFlow(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	spa := in.createApp(false, "read", loopRedirect)
	in.createUser(userName, userPassword)

	spa.cfg.RedirectURL = "http://127.0.0.1:53123/cb"
	v := oauth2.GenerateVerifier()
	u := in.newBrowser().authorize(spa.authURL("state-12345", v, "read"), userName, userPassword, false)
	code := codeFrom(t, u, "http://127.0.0.1:53123/cb", "state-12345", in.issuer)
	tok, err := spa.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange() for a public client = %v", err)
	}
	if got := in.introspect(rs, tok.AccessToken).json(t); got["active"] != true {
		t.Errorf("introspect = %v, want active", got)
	}
	r := in.post("/oauth2/token", "", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {spa.creds.ID}})
	if r.status == http.StatusOK {
		t.Error("public client obtained a client credentials token")
	}
}
