package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/provider"
)

// The fuzz targets below send the fuzzer's input through Veil's public
// handlers, assembled by server.New in development mode. Their seed
// corpora live in testdata/fuzz/<target>; `make fuzz` runs each target
// for a while, and `go test` runs the seeds.

// FuzzTokenEndpoint posts arbitrary form bodies, with arbitrary Basic
// credentials, to the token endpoint. The answer is a token only for a
// registered client that authenticated by its own method and presented a
// grant it holds (its own fresh code with the right PKCE verifier, its own
// refresh token); every other answer is a 400 or 401 in the RFC 6749 §5.2
// shape, never a server error, repeating no input; and no secret, code or
// token reaches the log.
func FuzzTokenEndpoint(f *testing.F) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, basic, body string) {
		dyn := minted(map[string]func() string{
			"code":     func() string { return e.code(t, e.byName["web"], "read offline_access") },
			"spa_code": func() string { return e.code(t, e.byName["spa"], "read") },
			"refresh":  func() string { return e.exchange(t)["refresh_token"].(string) },
		}, basic, body)
		basic, body = e.expand(basic, dyn), e.expand(body, dyn)
		secrets := e.secrets(dyn)

		r := e.postForm("/oauth2/token", basic, body, nil)
		form, err := url.ParseQuery(body)
		// Veil treats parameters without a value as omitted (RFC 6749 §3.1).
		provider.DropEmpty(form)
		if r.status == http.StatusOK {
			if err != nil {
				t.Fatalf("token endpoint accepted the malformed body %q", body)
			}
			e.checkIssued(t, r, basic, form, dyn)
		} else {
			checkOAuthError(t, r, secrets, append(formValues(form), basic))
		}
		e.checkLog(t, append(secrets, presented(basic, form)...)...)
	})
}

// checkIssued checks a token response against the request it answered.
func (e *fuzzEnv) checkIssued(t *testing.T, r response, basic string, form url.Values,
	dyn map[string]string) {
	t.Helper()
	var m struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		Scope        string `json:"scope"`
		RefreshToken string `json:"refresh_token"`
	}
	err := json.Unmarshal(r.body, &m)
	if err != nil || !strings.EqualFold(m.TokenType, "bearer") || m.ExpiresIn <= 0 {
		t.Fatalf("token response %s, want a bearer token with expires_in", r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
	claims := e.readAccessToken(t, m.AccessToken)
	c := e.clients[claims.ClientID]
	if c == nil || c.resource {
		t.Fatalf("token issued to %q, which is no registered client (form %v)",
			claims.ClientID, form)
	}

	id, secret, ok := basicCredentials(basic)
	switch c.method {
	case "client_secret_basic":
		ok = basic != "" && ok && id == c.id && secret == c.secret
	case "client_secret_post":
		ok = basic == "" && form.Get("client_id") == c.id && form.Get("client_secret") == c.secret
	default:
		ok = basic == "" && !form.Has("client_secret") && form.Get("client_id") == c.id
	}
	if !ok {
		t.Fatalf("token issued to %s, which did not authenticate by %s (basic %q, form %v)",
			c.name, c.method, basic, form)
	}

	grant := form.Get("grant_type")
	switch {
	case !slices.Contains(c.grants, grant):
		ok = false
	case grant == "client_credentials":
		ok = c.method != "none" && claims.Subject == c.id
	case grant == "authorization_code":
		code := map[string]string{"web": dyn["code"], "spa": dyn["spa_code"]}[c.name]
		ok = code != "" && form.Get("code") == code && form.Get("code_verifier") == e.verifier
	case grant == "refresh_token":
		ok = c.name == "web" && dyn["refresh"] != "" && form.Get("refresh_token") == dyn["refresh"]
	}
	if !ok {
		t.Fatalf("token issued to %s for a grant it does not hold (form %v)", c.name, form)
	}

	scopes := strings.Fields(claims.Scope)
	if shown := strings.Fields(m.Scope); !slices.Equal(slices.Sorted(slices.Values(shown)),
		slices.Sorted(slices.Values(scopes))) {
		t.Fatalf("token response scope %q, token scope %q, want the same", m.Scope, claims.Scope)
	}
	for _, s := range scopes {
		if !slices.Contains(c.scopes, s) {
			t.Fatalf("token for %s has scope %q beyond its registration", c.name, s)
		}
	}
	if !slices.Equal(claims.Audience, []string{apiA}) || claims.Issuer != fuzzIssuer {
		t.Fatalf("token aud %v iss %q, want [%s] and %s",
			claims.Audience, claims.Issuer, apiA, fuzzIssuer)
	}
	offline := slices.Contains(scopes, "offline_access")
	if m.RefreshToken != "" && (grant == "client_credentials" || !offline) {
		t.Fatalf("refresh token issued for grant %s and scope %q", grant, claims.Scope)
	}
}

// presented returns the values of a request that may hold a secret, for
// the log check: the Basic password and the form's secret-bearing members.
// Values shorter than 16 bytes are left out, so that no common word of a
// log line is taken for one.
func presented(basic string, form url.Values) []string {
	var out []string
	if _, secret, ok := strings.Cut(basic, ":"); ok {
		out = append(out, secret)
	}
	for _, k := range []string{
		"client_secret", "code", "code_verifier", "refresh_token", "token", "password", "csrf",
	} {
		out = append(out, form[k]...)
	}
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 16 })
}

// FuzzIntrospect posts arbitrary form bodies, with arbitrary Basic
// credentials, to the introspection endpoint, with a live access token of
// the basic client as {{access}}. The answer is active only for exactly
// that token, asked for by its resource server or its client with their
// own secrets, and then with the token's claims; anything else is
// {"active":false} or an RFC 6749 §5.2 error, never a server error.
func FuzzIntrospect(f *testing.F) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, basic, body string) {
		dyn := minted(map[string]func() string{
			"access": func() string { return e.clientToken(t, "basic") },
		}, basic, body)
		basic, body = e.expand(basic, dyn), e.expand(body, dyn)
		secrets := e.secrets(dyn)

		r := e.postForm("/oauth2/introspect", basic, body, nil)
		form, _ := url.ParseQuery(body)
		// Veil treats parameters without a value as omitted (RFC 6749 §3.1).
		provider.DropEmpty(form)
		switch {
		case r.status != http.StatusOK:
			checkOAuthError(t, r, secrets, append(formValues(form), basic))
		case string(r.body) == `{"active":false}`:
		default:
			e.checkActive(t, r, basic, form, dyn["access"])
		}
		if r.status == http.StatusOK && r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspection Cache-Control = %q, want no-store",
				r.header.Get("Cache-Control"))
		}
		e.checkLog(t, append(secrets, presented(basic, form)...)...)
	})
}

// checkActive checks an active introspection answer.
func (e *fuzzEnv) checkActive(t *testing.T, r response, basic string, form url.Values,
	access string) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil || got["active"] != true {
		t.Fatalf("introspection answer %s, want {\"active\":false} or an active token", r.body)
	}
	if access == "" || !slices.Equal(form["token"], []string{access}) {
		t.Fatalf("introspection of %v answered %s, want inactive", form["token"], r.body)
	}
	id, secret, ok := basicCredentials(basic)
	rs, owner := e.byName["rs"], e.byName["basic"]
	if !ok || !(id == rs.id && secret == rs.secret || id == owner.id && secret == owner.secret) {
		t.Fatalf("introspection by %q (basic %q) saw the token, "+
			"want only its resource server or client", id, basic)
	}
	claims := e.readAccessToken(t, access)
	want := map[string]any{
		"client_id": claims.ClientID, "scope": claims.Scope, "sub": claims.Subject,
		"iss": fuzzIssuer, "jti": claims.JTI, "token_type": "Bearer",
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("introspection %s = %v, want %v", k, got[k], v)
		}
	}
}

// FuzzRevoke posts arbitrary form bodies, with arbitrary Basic credentials,
// to the revocation endpoint, with fresh tokens of three clients as
// placeholders. A token ends only when its own client asked, with its own
// credentials; the answer is 200 only for an authenticated client, and
// otherwise an RFC 6749 §5.2 error, never a server error.
func FuzzRevoke(f *testing.F) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, basic, body string) {
		dyn := minted(map[string]func() string{
			"access":      func() string { return e.clientToken(t, "basic") },
			"post_access": func() string { return e.clientToken(t, "post") },
			"refresh":     func() string { return e.exchange(t)["refresh_token"].(string) },
		}, basic, body)
		basic, body = e.expand(basic, dyn), e.expand(body, dyn)
		secrets := e.secrets(dyn)

		r := e.postForm("/oauth2/revoke", basic, body, nil)
		form, _ := url.ParseQuery(body)
		// Veil treats parameters without a value as omitted (RFC 6749 §3.1).
		provider.DropEmpty(form)
		caller := e.authenticated(basic, form)
		switch {
		case r.status != http.StatusOK:
			checkOAuthError(t, r, secrets, append(formValues(form), basic))
		case caller == nil:
			t.Fatalf("revocation without valid credentials (basic %q, form %v) = 200, want 401",
				basic, form)
		}

		owners := map[string]string{"access": "basic", "post_access": "post", "refresh": "web"}
		for name, owner := range owners {
			tok := dyn[name]
			if tok == "" || e.live(t, name, tok) {
				continue
			}
			asked := slices.Equal(form["token"], []string{tok})
			if caller == nil || caller.name != owner || !asked {
				t.Fatalf("{{%s}} of %s ended by a request of %v (basic %q, form %v)",
					name, owner, caller, basic, form)
			}
		}
		e.checkLog(t, append(secrets, presented(basic, form)...)...)
	})
}

// authenticated returns the client whose valid credentials a request
// carries by its registered method, or nil.
func (e *fuzzEnv) authenticated(basic string, form url.Values) *fuzzClient {
	if basic != "" {
		id, secret, ok := basicCredentials(basic)
		c := e.clients[id]
		if ok && c != nil && c.method == "client_secret_basic" && secret == c.secret {
			return c
		}
		return nil
	}
	c := e.clients[form.Get("client_id")]
	switch {
	case c == nil:
		return nil
	case c.method == "client_secret_post" && form.Get("client_secret") == c.secret:
		return c
	case c.method == "none" && !form.Has("client_secret"):
		return c
	}
	return nil
}

// live reports whether a minted access or refresh token still works.
func (e *fuzzEnv) live(t *testing.T, name, tok string) bool {
	t.Helper()
	if name == "refresh" {
		web := e.byName["web"]
		r := e.postForm("/oauth2/token", web.id+":"+web.secret,
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}.Encode(), nil)
		return r.status == http.StatusOK
	}
	rs := e.byName["rs"]
	form := url.Values{"token": {tok}}
	r := e.postForm("/oauth2/introspect", rs.id+":"+rs.secret, form.Encode(), nil)
	return strings.Contains(string(r.body), `"active":true`)
}

// challengeFormat is what an accepted S256 code_challenge looks like.
var challengeFormat = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorizeErrors are the codes an authorization error redirect may carry
// (RFC 6749 §4.1.2.1, RFC 8707 §2, OpenID Connect's prompt=none codes).
var authorizeErrors = []string{
	"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
	"invalid_scope", "invalid_target", "login_required", "consent_required",
}

// FuzzAuthorize sends arbitrary query strings to the authorization
// endpoint, from a browser that is signed in (with remembered consent) or
// not. An unknown client or redirect URI gets the one fixed error page; a
// redirect goes to Veil's own pages or to a redirect URI registered for
// the named client, with the state given and the issuer; a code comes back
// only for a signed-in user's request with an S256 challenge; and nothing
// is a server error.
func FuzzAuthorize(f *testing.F) {
	e := newFuzzEnv(f)
	badClient := e.get("/oauth2/authorize?client_id=nobody", nil)
	if badClient.status != http.StatusBadRequest {
		f.Fatalf("authorize for an unknown client = %d, want 400", badClient.status)
	}
	f.Fuzz(func(t *testing.T, query string, signedIn bool) {
		query = e.expand(query, nil)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(
			"GET /oauth2/authorize?" + query + " HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")))
		if err != nil {
			return // no HTTP server would pass it on
		}
		var cookies []*http.Cookie
		if signedIn {
			cookies = e.browser
		}
		r := e.serve(e.srv.Public(), req, cookies)
		q := req.URL.Query()

		switch r.status {
		case http.StatusBadRequest:
			if r.header.Get("Location") != "" || string(r.body) != string(badClient.body) {
				t.Fatalf("authorize %q = 400 with Location %q and body %s, "+
					"want the fixed error page", query, r.header.Get("Location"), r.body)
			}
		case http.StatusSeeOther:
			e.checkAuthorizeRedirect(t, q, r.header.Get("Location"), signedIn)
		default:
			t.Fatalf("authorize %q = %d %s, want 303 or 400", query, r.status, r.body)
		}
		e.checkLog(t, e.secrets(nil)...)
	})
}

// loopbackAnswer is where the single-page app's answers may go: its
// registered loopback URI on any port (RFC 8252 §7.3).
var loopbackAnswer = regexp.MustCompile(`^http://127\.0\.0\.1(:[0-9]+)?/cb\?`)

// checkAuthorizeRedirect checks where an authorization request was sent.
func (e *fuzzEnv) checkAuthorizeRedirect(t *testing.T, q url.Values, loc string, signedIn bool) {
	t.Helper()
	prompt := strings.Fields(q.Get("prompt"))
	switch {
	case strings.HasPrefix(loc, "/login?request="):
		if signedIn && !slices.Contains(prompt, "login") {
			t.Fatalf("signed-in request %v sent to %s, want no login", q, loc)
		}
		return
	case strings.HasPrefix(loc, "/consent?request="):
		if !signedIn {
			t.Fatalf("request %v without a session sent to %s", q, loc)
		}
		return
	}

	c := e.clients[q.Get("client_id")]
	switch {
	case c == nil || len(q["client_id"]) != 1 || c.redirect == "":
		t.Fatalf("request %v redirected to %s, want the error page", q, loc)
	case c.name == "web" && !strings.HasPrefix(loc, c.redirect+"?"),
		c.name == "spa" && !loopbackAnswer.MatchString(loc):
		t.Fatalf("request %v for %s redirected to %s, not its redirect URI", q, c.name, loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("redirect %q does not parse: %v", loc, err)
	}
	a := u.Query()
	state := ""
	if len(q["state"]) == 1 {
		state = q.Get("state")
	}
	if a.Get("iss") != fuzzIssuer || a.Get("state") != state || len(a["state"]) > 1 {
		t.Fatalf("redirect %s for request %v, want iss %s and state %q", loc, q, fuzzIssuer, state)
	}

	switch {
	case a.Has("code") == a.Has("error"):
		t.Fatalf("redirect %s, want exactly one of code and error", loc)
	case a.Has("error"):
		if !slices.Contains(authorizeErrors, a.Get("error")) {
			t.Fatalf("redirect %s, want a standard error code", loc)
		}
		if s := echoed(a.Get("error_description"), formValues(q)); s != "" {
			t.Fatalf("error_description %q repeats the input %q", a.Get("error_description"), s)
		}
	case !signedIn || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || len(q["code_challenge"]) != 1 ||
		!challengeFormat.MatchString(q.Get("code_challenge")) ||
		slices.Contains(prompt, "login") || slices.Contains(prompt, "consent"):
		t.Fatalf("code issued for request %v (signed in %v)", q, signedIn)
	}
}

// FuzzLogin posts arbitrary forms to the login page, for a pending request
// of a fresh browser whose request ID and CSRF token are {{request}} and
// {{csrf}}. A session starts only with the right username and password,
// the browser's own request and CSRF token; no answer is a server error or
// repeats input; and no password reaches the log.
func FuzzLogin(f *testing.F) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := e.get(e.authorizePath(e.byName["web"], "read"), nil)
		cookies := r.cookies(nil)
		loc := r.header.Get("Location")
		fields := pageFields(t, e.get(loc, cookies))
		dyn := map[string]string{
			"request": fields.Get("request"), "csrf": fields.Get("csrf"), "password": userPassword,
		}
		body = e.expand(body, dyn)
		form, _ := url.ParseQuery(body)

		r = e.postForm("/login", "", body, cookies)
		session := r.setsCookie("veil_session")
		genuine := strings.EqualFold(form.Get("username"), userName) &&
			form.Get("password") == userPassword &&
			form.Get("request") == dyn["request"] && form.Get("csrf") == dyn["csrf"]
		back := "/login?request=" + dyn["request"] + "&e="
		switch {
		case r.status == http.StatusBadRequest:
			checkPage(t, r, form)
		case r.status != http.StatusSeeOther:
			t.Fatalf("login %q = %d %s, want 303 or 400", body, r.status, r.body)
		case session && !genuine:
			t.Fatalf("login %q started a session", body)
		case !session && !strings.HasPrefix(r.header.Get("Location"), back):
			t.Fatalf("failed login %q sent to %s, want back to the login page",
				body, r.header.Get("Location"))
		}
		secrets := append(e.secrets(nil), presented("", form)...)
		e.checkLog(t, append(secrets, cookieValues(r, cookies)...)...)
	})
}

// FuzzConsent posts arbitrary forms to the consent page of the signed-in
// browser, for a pending request asking for consent again, whose ID and
// CSRF token are {{request}} and {{csrf}}. The app gets a code only on
// "allow" with the browser's own request and CSRF token, and
// access_denied only on "deny" with them; no answer is a server error or
// repeats input.
func FuzzConsent(f *testing.F) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		web := e.byName["web"]
		r := e.get(e.authorizePath(web, "read", "prompt", "consent"), e.browser)
		fields := pageFields(t, e.get(r.header.Get("Location"), e.browser))
		dyn := map[string]string{"request": fields.Get("request"), "csrf": fields.Get("csrf")}
		body = e.expand(body, dyn)
		form, _ := url.ParseQuery(body)

		r = e.postForm("/consent", "", body, e.browser)
		loc := r.header.Get("Location")
		genuine := form.Get("request") == dyn["request"] && form.Get("csrf") == dyn["csrf"]
		decision := form.Get("decision")
		switch {
		case r.status == http.StatusBadRequest:
			checkPage(t, r, form)
		case r.status != http.StatusSeeOther:
			t.Fatalf("consent %q = %d %s, want 303 or 400", body, r.status, r.body)
		case !strings.HasPrefix(loc, web.redirect+"?"):
			t.Fatalf("consent %q sent the browser to %s, want the app", body, loc)
		case strings.Contains(loc, "code=") && !(genuine && decision == "allow"):
			t.Fatalf("consent %q issued a code", body)
		case strings.Contains(loc, "error=access_denied") && !(genuine && decision == "deny"):
			t.Fatalf("consent %q denied the request", body)
		}
		e.checkLog(t, append(e.secrets(nil), presented("", form)...)...)
	})
}

// checkPage checks a 400 page of the login and consent flow: no redirect,
// HTML, and no input repeated.
func checkPage(t *testing.T, r response, form url.Values) {
	t.Helper()
	html := strings.HasPrefix(r.header.Get("Content-Type"), "text/html")
	if r.header.Get("Location") != "" || !html {
		t.Fatalf("400 with Location %q, Content-Type %q, want an HTML error page",
			r.header.Get("Location"), r.header.Get("Content-Type"))
	}
	if s := echoed(string(r.body), formValues(form)); s != "" {
		t.Fatalf("error page repeats the input %q", s)
	}
}

// cookieValues returns the values of the cookies sent and set.
func cookieValues(r response, sent []*http.Cookie) []string {
	var out []string
	for _, c := range r.cookies(sent) {
		out = append(out, c.Value)
	}
	return out
}
