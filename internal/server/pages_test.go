package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestRevocationOfRefreshTokens covers case 10: revoking a refresh token
// makes the access tokens issued from it inactive, whatever the hint.
func TestRevocationOfRefreshTokens(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	rs := in.createResource(apiA, "read")
	web := in.createApp(true, "read offline_access", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()

	for _, hint := range []string{"refresh_token", "access_token", "", "bogus"} {
		t.Run("hint "+hint, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			u := b.authorize(web.authURL("state-12345", v, "read", "offline_access"), userName, userPassword, true)
			tok, err := web.cfg.Exchange(context.Background(), codeFrom(t, u, webRedirect, "state-12345", in.issuer), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"token": {tok.RefreshToken}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			if r := in.post("/oauth2/revoke", web.creds.ID, web.creds.Secret, form); r.status != http.StatusOK {
				t.Fatalf("revoke refresh token = %d %s", r.status, r.body)
			}
			assertInactive(t, in.introspect(rs, tok.AccessToken))
			r := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		})
	}
}

// TestConsentIsBoundToTheBrowser covers case 12: an attacker who starts a
// flow, or learns the victim's request ID, cannot complete it from another
// browser; the POSTs need the right cookies and CSRF token and answer 303.
func TestConsentIsBoundToTheBrowser(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	in.createUser("mallory", "mallory's own password")

	victim, attacker := in.newBrowser(), in.newBrowser()
	authURL := web.authURL("state-12345", oauth2.GenerateVerifier(), "read")

	// The attacker starts a flow and hands the login link to the victim.
	attackerLogin := attacker.location(attacker.get(authURL))
	assertErrorPage(t, victim.get(attackerLogin))

	// The victim's own flow: the attacker learns its request ID.
	loginLoc := victim.location(victim.get(authURL))
	assertErrorPage(t, attacker.get(loginLoc))
	consentLoc := victim.login(loginLoc, userName, userPassword)
	if !strings.HasPrefix(consentLoc, "/consent") {
		t.Fatalf("after login went to %s, want the consent page", consentLoc)
	}
	victimForm := formFields(t, victim.get(consentLoc))

	t.Run("attacker's browser, victim's form", func(t *testing.T) {
		form := url.Values{"request": {victimForm.Get("request")}, "csrf": {victimForm.Get("csrf")}, "decision": {"allow"}}
		assertErrorPage(t, attacker.postForm("/consent", form))
	})
	t.Run("attacker signed in as himself, victim's request", func(t *testing.T) {
		own := attacker.location(attacker.get(authURL))
		attacker.login(own, "mallory", "mallory's own password")
		form := url.Values{"request": {victimForm.Get("request")}, "csrf": {victimForm.Get("csrf")}, "decision": {"allow"}}
		assertErrorPage(t, attacker.postForm("/consent", form))
	})
	t.Run("victim's browser without the CSRF token", func(t *testing.T) {
		form := url.Values{"request": {victimForm.Get("request")}, "decision": {"allow"}}
		assertErrorPage(t, victim.postForm("/consent", form))
		form.Set("csrf", "forged")
		assertErrorPage(t, victim.postForm("/consent", form))
	})
	t.Run("the real consent still works once, with 303", func(t *testing.T) {
		form := url.Values{"request": {victimForm.Get("request")}, "csrf": {victimForm.Get("csrf")}, "decision": {"allow"}}
		r := victim.postForm("/consent", form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), webRedirect+"?") {
			t.Fatalf("consent = %d %s, want 303 to the client", r.status, r.header.Get("Location"))
		}
		assertErrorPage(t, victim.postForm("/consent", form))
	})
}

// TestLoginPage covers the login rules: generic failure message, 303 after
// every POST, throttling, prompt=none and prompt=login, page headers.
func TestLoginPage(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()
	authURL := web.authURL("xyz-state", oauth2.GenerateVerifier(), "read")

	loginLoc := b.location(b.get(authURL))
	page := b.get(loginLoc)
	for header, want := range map[string]string{
		"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if !strings.Contains(page.header.Get(header), want) {
			t.Errorf("login page %s = %q, want %q", header, page.header.Get(header), want)
		}
	}

	wrong := b.login(loginLoc, userName, "wrong password")
	unknown := b.login(loginLoc, "nobody-by-that-name", "wrong password")
	if wrong != unknown || !strings.HasPrefix(wrong, "/login") {
		t.Errorf("wrong password went to %s, unknown user to %s; want the same login page", wrong, unknown)
	}
	body := string(b.get(wrong).body)
	if !strings.Contains(body, "incorrect") || strings.Contains(body, "nobody-by-that-name") {
		t.Errorf("failure page must say the credentials are incorrect and not echo the username")
	}

	t.Run("prompt=none without a session", func(t *testing.T) {
		q := validQuery(web.creds.ID, webRedirect)
		q.Set("prompt", "none")
		assertErrorRedirect(t, in.newBrowser().get(in.rawAuthURL(q)), webRedirect, "login_required")
	})

	t.Run("throttling per account", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			b.login(loginLoc, userName, "wrong again")
		}
		loc := b.login(loginLoc, userName, userPassword)
		if !strings.Contains(loc, "e=throttled") {
			t.Errorf("after repeated failures a correct password went to %s, want the throttled page", loc)
		}
	})

	t.Run("prompt=none with a session but no consent", func(t *testing.T) {
		other := in.newBrowser()
		in.createUser("bob", "bob's long password")
		other.login(other.location(other.get(authURL)), "bob", "bob's long password")
		q := validQuery(web.creds.ID, webRedirect)
		q.Set("prompt", "none")
		assertErrorRedirect(t, other.get(in.rawAuthURL(q)), webRedirect, "consent_required")

		q.Set("prompt", "login")
		if loc := other.location(other.get(in.rawAuthURL(q))); !strings.HasPrefix(loc, "/login") {
			t.Errorf("prompt=login with a session went to %s, want the login page", loc)
		}
	})

	t.Run("deny", func(t *testing.T) {
		other := in.newBrowser()
		in.createUser("carol", "carol's long password")
		consent := other.login(other.location(other.get(authURL)), "carol", "carol's long password")
		loc := other.decide(consent, "deny", false)
		u, _ := url.Parse(loc)
		if u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "xyz-state" {
			t.Errorf("deny redirected to %s, want access_denied with the state", loc)
		}
	})
}

// TestLoginThrottleKeepsNoUsername checks that failed sign-ins are counted
// in storage under a keyed hash of the username, never the username
// itself (which may be a password typed in the wrong field), that the
// hash still counts one account whatever the case it is typed in, and
// that no log line holds the username of an unknown user.
func TestLoginThrottleKeepsNoUsername(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	in.createResource(apiA, "read")
	web := in.createApp(true, "read", webRedirect)
	in.createUser(userName, userPassword)
	b := in.newBrowser()
	loginLoc := b.location(b.get(web.authURL("xyz-state", oauth2.GenerateVerifier(), "read")))

	const typedPassword = "Correct-Horse-Battery-9"
	b.login(loginLoc, typedPassword, "")
	for _, u := range []string{strings.ToUpper(userName), userName, strings.ToUpper(userName), userName, "aLiCe"} {
		b.login(loginLoc, u, "wrong password")
	}
	for _, s := range []string{typedPassword, userName} {
		q := `SELECT count(*) FROM login_failures WHERE strpos(lower(key), lower('` + s + `')) > 0`
		if n := countRows(t, in.dsn, q); n != 0 {
			t.Errorf("%d login_failures rows hold %q, want none", n, s)
		}
	}
	if strings.Contains(strings.ToLower(in.logs.String()), strings.ToLower(typedPassword)) {
		t.Errorf("Veil's log holds the typed username %q", typedPassword)
	}
	if n := countRows(t, in.dsn, `SELECT count(DISTINCT key) FROM login_failures WHERE key LIKE 'account:_%'`); n != 2 {
		t.Errorf("login_failures hold %d account keys, want 2 (the unknown name and %s in any case)", n, userName)
	}

	if loc := b.login(loginLoc, strings.ToUpper(userName), userPassword); !strings.Contains(loc, "e=throttled") {
		t.Errorf("after five failures in mixed case a correct password went to %s, want the throttled page", loc)
	}
}
