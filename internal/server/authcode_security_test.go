package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
)

// rawAuthURL builds an authorization URL by hand, for requests x/oauth2
// would not make.
func (in *instance) rawAuthURL(q url.Values) string {
	return in.base + "/oauth2/authorize?" + q.Encode()
}

func validQuery(clientID, redirect string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"read"}, "state": {"xyz-state"}, "resource": {apiA},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
}

// assertErrorPage checks an answer that must not redirect.
func assertErrorPage(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Errorf("status %d Location %q, want 400 error page and no Location", r.status, r.header.Get("Location"))
	}
	if !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type = %q, want an HTML error page", r.header.Get("Content-Type"))
	}
}

// assertErrorRedirect checks a 303 to the registered URI with an error and
// the original state.
func assertErrorRedirect(t *testing.T, r response, redirect, code string) {
	t.Helper()
	if r.status != http.StatusSeeOther {
		t.Fatalf("status %d (%s), want 303", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	u.RawQuery = ""
	if u.String() != redirect || q.Get("error") != code || q.Get("state") != "xyz-state" || q.Get("code") != "" {
		t.Errorf("redirect %s?%s, want %s with error=%s and the state", u, q.Encode(), redirect, code)
	}
}

// TestRedirectURIRules covers cases 1 and 2.
func TestRedirectURIRules(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	a := in.createApp(true, "read", "https://c.example/cb", loopRedirect)
	b := in.newBrowser()

	for _, bad := range []string{
		"https://c.example/CB", "https://C.example/cb", "https://c.example/cb/", "https://c.example/cb?x=1",
		"https://c.example/cb#f", "https://evil.example/cb", "http://c.example/cb", "http://127.0.0.1/cb/",
		"http://localhost/cb", "http://127.0.0.1:8080/CB",
	} {
		t.Run("case 1: "+bad, func(t *testing.T) {
			assertErrorPage(t, b.get(in.rawAuthURL(validQuery(a.creds.ID, bad))))
		})
	}
	t.Run("case 1: loopback may change its port", func(t *testing.T) {
		r := b.get(in.rawAuthURL(validQuery(a.creds.ID, "http://127.0.0.1:61234/cb")))
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
			t.Errorf("loopback with a port = %d %s, want 303 to the login page", r.status, r.header.Get("Location"))
		}
	})
	t.Run("case 2: unknown client", func(t *testing.T) {
		assertErrorPage(t, b.get(in.rawAuthURL(validQuery("no-such-client", "https://c.example/cb"))))
	})
	t.Run("case 2: bad scope redirects with invalid_scope and state", func(t *testing.T) {
		q := validQuery(a.creds.ID, "https://c.example/cb")
		q.Set("scope", "read admin")
		assertErrorRedirect(t, b.get(in.rawAuthURL(q)), "https://c.example/cb", "invalid_scope")
	})
}

// TestPKCERules covers cases 4 and 5 at the authorization endpoint and
// the verifier rules at the token endpoint.
func TestPKCERules(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	spa := in.createApp(false, "read", loopRedirect)
	web := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()

	for _, tt := range []struct {
		name  string
		app   app
		set   map[string]string
		unset []string
	}{
		{name: "case 4: public client without challenge", app: spa, unset: []string{"code_challenge", "code_challenge_method"}},
		{name: "confidential client without challenge", app: web, unset: []string{"code_challenge", "code_challenge_method"}},
		{name: "case 5: plain", app: web, set: map[string]string{"code_challenge_method": "plain"}},
		{name: "case 5: challenge without method", app: web, unset: []string{"code_challenge_method"}},
		{name: "case 5: short challenge", app: web, set: map[string]string{"code_challenge": "abc"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := validQuery(tt.app.creds.ID, tt.app.cfg.RedirectURL)
			for k, v := range tt.set {
				q.Set(k, v)
			}
			for _, k := range tt.unset {
				q.Del(k)
			}
			assertErrorRedirect(t, b.get(in.rawAuthURL(q)), tt.app.cfg.RedirectURL, "invalid_request")
		})
	}

	verifier := strings.Repeat("a", 43)
	for _, tt := range []struct{ name, verifier string }{
		{"too short", strings.Repeat("a", 42)},
		{"too long", strings.Repeat("a", 129)},
		{"bad characters", strings.Repeat("a", 42) + "+"},
		{"wrong verifier", strings.Repeat("b", 43)},
		{"no verifier", ""},
	} {
		t.Run("case 5: verifier "+tt.name, func(t *testing.T) {
			u := b.authorize(web.authURL("xyz-state", verifier, "read"), userName, userPassword, true)
			code := codeFrom(t, u, webRedirect, "xyz-state", in.issuer)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {webRedirect}}
			if tt.verifier != "" {
				form.Set("code_verifier", tt.verifier)
			}
			r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, form)
			if r.status != http.StatusBadRequest {
				t.Errorf("token with verifier %s = %d %s, want 400", tt.name, r.status, r.body)
			}
		})
	}
}

// TestCodeIsSingleUse covers cases 6 and 7.
func TestCodeIsSingleUse(t *testing.T) {
	dsn := pgtest.DSN(t)
	in := startVeil(t, dsn, newMasterKey(t))
	rs := in.createResource(apiA, "read")
	web := in.createApp(true, "read offline_access", webRedirect, "https://app.example.test/other")
	other := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()

	newCode := func(t *testing.T) (code, verifier string) {
		verifier = oauth2.GenerateVerifier()
		u := b.authorize(web.authURL("xyz-state", verifier, "read", "offline_access"), userName, userPassword, true)
		return codeFrom(t, u, webRedirect, "xyz-state", in.issuer), verifier
	}
	exchange := func(a app, code, verifier, redirect string) response {
		return in.post("/oauth2/token", a.creds.ID, a.creds.Secret, url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier},
		})
	}

	t.Run("case 6: 20 concurrent redemptions", func(t *testing.T) {
		code, verifier := newCode(t)
		var wg sync.WaitGroup
		results := make([]response, 20)
		for i := range results {
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = exchange(web, code, verifier, webRedirect) }()
		}
		wg.Wait()
		ok := 0
		for _, r := range results {
			switch {
			case r.status == http.StatusOK:
				ok++
			case r.status == http.StatusBadRequest && strings.Contains(string(r.body), `"invalid_grant"`):
			default:
				t.Errorf("concurrent redemption = %d %s, want 200 or invalid_grant", r.status, r.body)
			}
		}
		if ok != 1 {
			t.Errorf("%d of 20 concurrent redemptions succeeded, want exactly 1", ok)
		}
	})

	for _, wait := range []time.Duration{time.Second, 30 * time.Second} {
		t.Run("case 7: replay after "+wait.String()+" revokes", func(t *testing.T) {
			t.Parallel()
			code, verifier := newCode(t)
			first := exchange(web, code, verifier, webRedirect)
			if first.status != http.StatusOK {
				t.Fatalf("first redemption = %d %s", first.status, first.body)
			}
			m := first.json(t)
			time.Sleep(wait)
			assertOAuthError(t, exchange(web, code, verifier, webRedirect), http.StatusBadRequest, "invalid_grant")
			assertInactive(t, in.introspect(rs, m["access_token"].(string)))
			r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
			assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		})
	}
	t.Run("case 7: another client's credentials", func(t *testing.T) {
		code, verifier := newCode(t)
		assertOAuthError(t, exchange(other, code, verifier, webRedirect), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("case 7: another redirect_uri", func(t *testing.T) {
		code, verifier := newCode(t)
		assertOAuthError(t, exchange(web, code, verifier, "https://app.example.test/other"), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("case 7: random code", func(t *testing.T) {
		r := exchange(web, "not-a-code.at-all", oauth2.GenerateVerifier(), webRedirect)
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		assertNoLeak(t, r, "not-a-code")
	})
}

// TestCodeExpires covers the expired half of case 7 with a one-second code
// lifespan.
func TestCodeExpires(t *testing.T) {
	in := startVeilWith(t, pgtest.DSN(t), newMasterKey(t), "", func(c *config.Config) { c.AuthorizeCodeLifespan = time.Second })
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	v := oauth2.GenerateVerifier()
	u := in.newBrowser().authorize(web.authURL("xyz-state", v, "read"), userName, userPassword, false)
	code := codeFrom(t, u, webRedirect, "xyz-state", in.issuer)
	time.Sleep(1500 * time.Millisecond)
	_, err := web.cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("Exchange(expired code) = %v, want invalid_grant", err)
	}
}
