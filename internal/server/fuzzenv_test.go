package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/server"
	"github.com/veil-auth/veil/internal/token"
)

// fuzzEnv is one development-mode Veil (memory storage) whose handlers the
// fuzz targets call in process, without a listener. Its fixtures are
// registered through the admin API, and a browser is signed in with
// remembered consent for both apps, so a target can mint fresh codes,
// refresh tokens and access tokens cheaply. The fuzzer's input names them
// through placeholders ({{code}}, {{web_secret}}, ...), which the
// seeds in testdata/fuzz use, since the real values change on every run.
type fuzzEnv struct {
	srv     *server.Server
	logs    *syncBuffer
	clients map[string]*fuzzClient
	byName  map[string]*fuzzClient
	// browser holds the cookies of the signed-in browser.
	browser  []*http.Cookie
	verifier string
	// static are the placeholders that stay fixed for the process.
	static map[string]string
	// peer numbers the client addresses, so that the login throttle per
	// address does not end the fuzzing of passwords.
	peer int
}

// fuzzClient is a registered client or resource server's credentials.
type fuzzClient struct {
	name, id, secret string
	method           string
	grants           []string
	scopes           []string
	redirect         string
	resource         bool
}

// The errors the token, introspection and revocation endpoints may answer
// with (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8707 §2).
var endpointErrors = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
	"unsupported_grant_type", "invalid_scope", "invalid_target", "unsupported_token_type",
}

const fuzzIssuer = "http://127.0.0.1:9"

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	return newFuzzEnvWith(tb, nil)
}

// newFuzzEnvWith is newFuzzEnv with a hook that adjusts the configuration
// after it was validated, for settings (such as lifetimes of seconds) that
// Validate refuses in production.
func newFuzzEnvWith(tb testing.TB, adjust func(*config.Config)) *fuzzEnv {
	tb.Helper()
	cfg := &config.Config{
		Issuer: fuzzIssuer, PublicAddr: "127.0.0.1:9", AdminAddr: "127.0.0.1:10",
		AdminToken: testAdminToken, MasterKeys: [][]byte{bytes.Repeat([]byte{7}, 32)},
		AccessTokenLifespan: 24 * time.Hour, AuthorizeCodeLifespan: 10 * time.Minute,
		RefreshTokenLifespan: 24 * time.Hour, SessionLifetime: 24 * time.Hour,
		SigningAlgorithms: []string{"ES256"}, KeyRotationInterval: 30 * 24 * time.Hour,
		JWKSMaxAge: 10 * time.Minute, KeyRefreshInterval: 5 * time.Second,
		LogFormat: "json", LogLevel: "debug",
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("fuzz config invalid: %v", err)
	}
	if adjust != nil {
		adjust(cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, log, io.Discard)
	if err != nil {
		tb.Fatalf("server.New() = %v", err)
	}
	tb.Cleanup(srv.Close)

	e := &fuzzEnv{
		srv: srv, logs: logs, verifier: oauth2.GenerateVerifier(),
		clients: map[string]*fuzzClient{}, byName: map[string]*fuzzClient{},
	}
	e.register(tb)
	e.signIn(tb)
	e.static = map[string]string{
		"verifier": e.verifier, "challenge": oauth2.S256ChallengeFromVerifier(e.verifier),
	}
	for name, c := range e.byName {
		e.static[name+"_id"] = c.id
		e.static[name+"_secret"] = c.secret
	}
	logs.drain()
	return e
}

// register creates two resources, their credentials, and one client of
// each kind.
func (e *fuzzEnv) register(tb testing.TB) {
	tb.Helper()
	for _, rs := range []struct{ name, identifier, scopes string }{
		{"rs", apiA, "read write"}, {"rsb", apiB, "read"},
	} {
		m := e.adminJSON(tb, "/admin/resources", map[string]any{
			"identifier": rs.identifier, "name": rs.name, "scopes": strings.Fields(rs.scopes),
		})
		e.add(&fuzzClient{
			name: rs.name, id: m["client_id"].(string), secret: m["client_secret"].(string),
			method: "client_secret_basic", resource: true,
		})
	}
	for _, c := range []*fuzzClient{
		{name: "basic", method: "client_secret_basic", grants: []string{"client_credentials"},
			scopes: []string{"read", "write"}},
		{name: "post", method: "client_secret_post", grants: []string{"client_credentials"},
			scopes: []string{"read"}},
		{name: "web", method: "client_secret_basic",
			grants: []string{"authorization_code", "refresh_token"},
			scopes: []string{"read", "write", "offline_access"}, redirect: webRedirect},
		{name: "spa", method: "none", grants: []string{"authorization_code", "refresh_token"},
			scopes: []string{"read", "offline_access"}, redirect: loopRedirect},
	} {
		body := map[string]any{
			"client_name": c.name, "grant_types": c.grants, "scope": strings.Join(c.scopes, " "),
			"token_endpoint_auth_method": c.method, "resources": []string{apiA},
		}
		if c.redirect != "" {
			body["redirect_uris"] = []string{c.redirect}
		}
		m := e.adminJSON(tb, "/admin/clients", body)
		c.id = m["client_id"].(string)
		c.secret, _ = m["client_secret"].(string)
		e.add(c)
	}
	user := map[string]any{"username": userName, "password": userPassword}
	if r := e.admin(http.MethodPost, "/admin/users", user); r.status != http.StatusCreated {
		tb.Fatalf("create user = %d %s", r.status, r.body)
	}
}

func (e *fuzzEnv) add(c *fuzzClient) {
	e.clients[c.id] = c
	e.byName[c.name] = c
}

// signIn signs the browser in and consents, remembering it, to "read
// offline_access" for both apps.
func (e *fuzzEnv) signIn(tb testing.TB) {
	tb.Helper()
	for i, name := range []string{"web", "spa"} {
		app := e.byName[name]
		r := e.get(e.authorizePath(app, "read offline_access"), e.browser)
		loc := r.header.Get("Location")
		if i == 0 {
			form := url.Values{"username": {userName}, "password": {userPassword}}
			loc, e.browser = e.fillLogin(tb, loc, r.cookies(nil), form)
		}
		fields := pageFields(tb, e.get(loc, e.browser))
		fields.Set("decision", "allow")
		fields.Set("remember", "yes")
		r = e.postForm("/consent", "", fields.Encode(), e.browser)
		loc = r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, app.redirect) {
			tb.Fatalf("consent for %s = %d %s, want 303 to the app", name, r.status, loc)
		}
	}
}

// fillLogin submits the login page at loc with form and returns where
// Veil sends the browser next, and the browser's cookies after.
func (e *fuzzEnv) fillLogin(tb testing.TB, loc string, cookies []*http.Cookie,
	form url.Values) (string, []*http.Cookie) {
	tb.Helper()
	fields := pageFields(tb, e.get(loc, cookies))
	for k, v := range form {
		fields[k] = v
	}
	r := e.postForm("/login", "", fields.Encode(), cookies)
	if r.status != http.StatusSeeOther {
		tb.Fatalf("login = %d %s, want 303", r.status, r.body)
	}
	return r.header.Get("Location"), r.cookies(cookies)
}

// pageFields returns the hidden request and csrf fields of a page.
func pageFields(tb testing.TB, r response) url.Values {
	tb.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(r.body), -1) {
		v.Set(m[1], m[2])
	}
	if r.status != http.StatusOK || v.Get("request") == "" || v.Get("csrf") == "" {
		tb.Fatalf("page = %d %s, want one with request and csrf fields", r.status, r.body)
	}
	return v
}

// authorizePath is an authorization request of app for scope, with the
// environment's PKCE challenge.
func (e *fuzzEnv) authorizePath(app *fuzzClient, scope string, extra ...string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {app.id}, "redirect_uri": {app.redirect},
		"scope": {scope}, "state": {"fuzz-state"}, "resource": {apiA},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(e.verifier)},
		"code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/oauth2/authorize?" + q.Encode()
}

// code mints a fresh authorization code for app, which the signed-in
// browser has consented to for scope.
func (e *fuzzEnv) code(tb testing.TB, app *fuzzClient, scope string) string {
	tb.Helper()
	r := e.get(e.authorizePath(app, scope), e.browser)
	u, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || err != nil || u.Query().Get("code") == "" {
		tb.Fatalf("authorize for a code = %d %s, want 303 with a code",
			r.status, r.header.Get("Location"))
	}
	return u.Query().Get("code")
}

// exchange redeems a fresh code of the web app and returns the token
// response.
func (e *fuzzEnv) exchange(tb testing.TB) map[string]any {
	tb.Helper()
	web := e.byName["web"]
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {e.code(tb, web, "read offline_access")},
		"redirect_uri": {web.redirect}, "code_verifier": {e.verifier},
	}
	r := e.postForm("/oauth2/token", web.id+":"+web.secret, form.Encode(), nil)
	var m map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &m) != nil {
		tb.Fatalf("code exchange = %d %s, want 200", r.status, r.body)
	}
	return m
}

// clientToken gets a fresh access token for a client credentials client.
func (e *fuzzEnv) clientToken(tb testing.TB, name string) string {
	tb.Helper()
	c := e.byName[name]
	form, basic := url.Values{"grant_type": {"client_credentials"}}, c.id+":"+c.secret
	if c.method == "client_secret_post" {
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
		basic = ""
	}
	r := e.postForm("/oauth2/token", basic, form.Encode(), nil)
	var m map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &m) != nil {
		tb.Fatalf("client credentials for %s = %d %s, want 200", name, r.status, r.body)
	}
	return m["access_token"].(string)
}

// minted returns the dynamic placeholders the inputs use, each a fresh
// value made by mint.
func minted(mint map[string]func() string, inputs ...string) map[string]string {
	out := map[string]string{}
	for name, fn := range mint {
		for _, in := range inputs {
			if strings.Contains(in, "{{"+name+"}}") {
				out[name] = fn()
				break
			}
		}
	}
	return out
}

// expand replaces the placeholders in s by the static values and dyn.
func (e *fuzzEnv) expand(s string, dyn map[string]string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var pairs []string
	for k, v := range e.static {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	for k, v := range dyn {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// secrets returns every secret the process knows: the fixtures' and the
// minted values. None may be in a log line or echoed in an answer.
func (e *fuzzEnv) secrets(dyn map[string]string) []string {
	out := []string{e.verifier, testAdminToken, userPassword}
	for _, c := range e.clients {
		if c.secret != "" {
			out = append(out, c.secret)
		}
	}
	for _, v := range dyn {
		out = append(out, v)
	}
	for _, c := range e.browser {
		out = append(out, c.Value)
	}
	return out
}

// checkLog fails if the log written since the last check holds one of
// secrets (of at least 8 bytes), and starts the next check afresh.
func (e *fuzzEnv) checkLog(t *testing.T, secrets ...string) {
	t.Helper()
	logs := e.logs.drain()
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(logs, s) {
			t.Fatalf("log holds the secret %q:\n%s", s, logs)
		}
	}
}

// drain returns what was written and empties the buffer.
func (b *syncBuffer) drain() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// serve runs one request through h in process, from a fresh address.
func (e *fuzzEnv) serve(h http.Handler, req *http.Request, cookies []*http.Cookie) response {
	e.peer++
	req.RemoteAddr = fmt.Sprintf("198.51.%d.%d:40000", e.peer/250%250, e.peer%250+1)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	return response{status: res.StatusCode, header: res.Header, body: rec.Body.Bytes()}
}

func (e *fuzzEnv) get(target string, cookies []*http.Cookie) response {
	return e.serve(e.srv.Public(), httptest.NewRequest(http.MethodGet, target, nil), cookies)
}

// postForm posts body as a form to a public path, with Basic credentials
// when basic ("id:secret", each part form-encoded) is not empty.
func (e *fuzzEnv) postForm(path, basic, body string, cookies []*http.Cookie) response {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	return e.serve(e.srv.Public(), req, cookies)
}

func (e *fuzzEnv) admin(method, path string, body any) response {
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	return e.serve(e.srv.Admin(), req, nil)
}

func (e *fuzzEnv) adminJSON(tb testing.TB, path string, body any) map[string]any {
	tb.Helper()
	r := e.admin(http.MethodPost, path, body)
	var m map[string]any
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &m) != nil {
		tb.Fatalf("POST %s = %d %s, want 201", path, r.status, r.body)
	}
	return m
}

// cookies returns jar updated with the cookies r sets.
func (r response) cookies(jar []*http.Cookie) []*http.Cookie {
	set := (&http.Response{Header: r.header}).Cookies()
	out := slices.DeleteFunc(slices.Clone(jar), func(c *http.Cookie) bool {
		return slices.ContainsFunc(set, func(n *http.Cookie) bool { return n.Name == c.Name })
	})
	for _, c := range set {
		if c.MaxAge >= 0 && c.Value != "" {
			out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	return out
}

// setsCookie reports whether r sets the named cookie.
func (r response) setsCookie(name string) bool {
	set := (&http.Response{Header: r.header}).Cookies()
	return slices.ContainsFunc(set, func(c *http.Cookie) bool {
		return c.Name == name && c.Value != ""
	})
}

// checkOAuthError checks an error answer of the token, introspection or
// revocation endpoint: status, the RFC 6749 §5.2 JSON with two members and a
// known code, no caching, and no secret or input repeated.
func checkOAuthError(t *testing.T, r response, secrets, inputs []string) {
	t.Helper()
	if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
		t.Fatalf("status = %d %s, want 200, 400 or 401", r.status, r.body)
	}
	var body map[string]string
	err := json.Unmarshal(r.body, &body)
	if err != nil || len(body) != 2 || body["error_description"] == "" {
		t.Fatalf("error body %s, want exactly error and error_description", r.body)
	}
	if !slices.Contains(endpointErrors, body["error"]) {
		t.Fatalf("error = %q, want a standard code", body["error"])
	}
	if (r.status == http.StatusUnauthorized) != (body["error"] == "invalid_client") ||
		(r.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "") {
		t.Fatalf("%s answered with %d, WWW-Authenticate %q",
			body["error"], r.status, r.header.Get("WWW-Authenticate"))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}
	for _, s := range secrets {
		if len(s) >= 8 && bytes.Contains(r.body, []byte(s)) {
			t.Fatalf("error body %s holds the secret %q", r.body, s)
		}
	}
	if s := echoed(body["error_description"], inputs); s != "" {
		t.Fatalf("error_description %q repeats the input %q", body["error_description"], s)
	}
}

// echoed returns the first input of at least 8 bytes that s repeats, or
// "". Only inputs with a byte that Veil's fixed descriptions never use
// count: any other may be made of words and parameter names a description
// holds, and an echo of input shows itself with those bytes too.
func echoed(s string, inputs []string) string {
	const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:=()_-"
	for _, in := range inputs {
		if len(in) >= 8 && strings.Trim(in, plain) != "" && strings.Contains(s, in) {
			return in
		}
	}
	return ""
}

// formValues returns every value of form, for echo checks.
func formValues(form url.Values) []string {
	var out []string
	for _, vs := range form {
		out = append(out, vs...)
	}
	return out
}

// basicCredentials splits "id:secret" and form-decodes both (RFC 6749
// §2.3.1), as a second reading beside Veil's.
func basicCredentials(basic string) (id, secret string, ok bool) {
	id, secret, ok = strings.Cut(basic, ":")
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, ok && err1 == nil && err2 == nil
}

// readAccessToken parses an access token Veil issued, encrypted to its own
// key.
func (e *fuzzEnv) readAccessToken(t *testing.T, tok string) *token.Claims {
	t.Helper()
	c, err := token.Parse(e.srv.Keys().Current(), tok)
	if err != nil {
		t.Fatalf("token.Parse(issued token) = %v", err)
	}
	return c
}
