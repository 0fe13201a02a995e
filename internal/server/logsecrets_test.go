package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/pgtest"
)

// secretSet collects every secret a test handles, by name, so that the
// test can look for each in Veil's log.
type secretSet struct {
	t     *testing.T
	names map[string]string
}

// add records a secret. Empty values mean the step that should have
// produced one failed.
func (s *secretSet) add(name, value string) {
	s.t.Helper()
	if value == "" {
		s.t.Fatalf("no %s to record", name)
	}
	s.names[name] = value
}

// needles returns the spellings in which a secret could reach a log: as
// it is, form-encoded, base64 (as in a Basic header), and each part of a
// dotted token (a code's or refresh token's HMAC, a JWE's key, IV,
// ciphertext and tag) long enough to be unique. A JWE's first part is its
// header, which is no secret.
func needles(value string) []string {
	out := []string{
		value, url.QueryEscape(value),
		base64.StdEncoding.EncodeToString([]byte(value)),
		base64.RawURLEncoding.EncodeToString([]byte(value)),
	}
	for i, part := range strings.Split(value, ".") {
		if len(part) >= 16 && !(i == 0 && strings.HasPrefix(value, "eyJ")) {
			out = append(out, part)
		}
	}
	return out
}

// TestLogsHoldNoSecrets runs every flow Veil serves against PostgreSQL,
// with the log at debug level, the way an operator debugging a problem
// would run it: the admin API creating resources, clients and users and
// rotating secrets, client credentials by both secret methods, the
// authorization code flow through the login and consent pages (with a
// failed sign-in and a wrong CSRF token on the way), refresh with
// rotation and reuse, code replay, introspection, revocation, and wrong
// secrets everywhere. It collects every token, code, refresh token, PKCE
// verifier, client secret, password, cookie, CSRF token, the admin token
// and the master key it handled, right or wrong, and fails if any of them
// is in the log or in the audit log (as GET /admin/audit lists it), in
// any of the spellings needles lists.
//
// The harness adds a lighter check to every test (startVeilWith): no log
// may hold the admin token or the master key.
func TestLogsHoldNoSecrets(t *testing.T) {
	masterKey := newMasterKey(t)
	in := startVeil(t, pgtest.DSN(t), masterKey)
	s := &secretSet{t: t, names: map[string]string{}}
	s.add("admin token", testAdminToken)
	s.add("master key", base64.StdEncoding.EncodeToString(masterKey))

	// Admin: resources, clients, users, and secret rotation.
	rs := in.createResource(apiA, "read", "write")
	s.add("resource secret", rs.Secret)
	cc := in.createClient("read write", apiA)
	s.add("client secret", cc.Secret)
	post := in.adminCreated(t, "/admin/clients", map[string]any{
		"client_name": "post client", "grant_types": []string{"client_credentials"},
		"scope":                      "read",
		"token_endpoint_auth_method": "client_secret_post", "resources": []string{apiA},
	})
	s.add("post client secret", post.Secret)
	web := in.createApp(true, "read write offline_access", webRedirect)
	s.add("web app secret", web.creds.Secret)
	spa := in.createApp(false, "read", loopRedirect)
	userID := in.createUser(userName, userPassword)
	s.add("password", userPassword)
	const newPassword = "a second password, changed by the admin"
	if r := in.admin(http.MethodPut, "/admin/users/"+userID, map[string]any{
		"username": userName, "password": newPassword, "disabled": false,
	}); r.status != http.StatusOK {
		t.Fatalf("PUT user = %d %s", r.status, r.body)
	}
	s.add("changed password", newPassword)
	rotated := in.admin(http.MethodPost, "/admin/clients/"+cc.ID+"/secret", nil).json(t)
	s.add("rotated client secret", str(rotated["client_secret"]))
	cc.Secret = str(rotated["client_secret"])
	path := "/admin/resources/" + resourceID(t, in, apiA) + "/secret"
	rotated = in.admin(http.MethodPost, path, nil).json(t)
	s.add("rotated resource secret", str(rotated["client_secret"]))
	rs.Secret = str(rotated["client_secret"])

	// Wrong credentials of every kind.
	wrong := "wrong-secret-" + strings.Repeat("q", 30)
	s.add("wrong secret", wrong)
	in.post("/oauth2/token", cc.ID, wrong, url.Values{"grant_type": {"client_credentials"}})
	in.post("/oauth2/token", "", "", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {post.ID}, "client_secret": {wrong},
	})
	in.introspect(credentials{rs.ID, wrong}, "x")
	// A client that swapped its ID and secret.
	in.post("/oauth2/token", cc.Secret, cc.ID, url.Values{"grant_type": {"client_credentials"}})
	req, _ := http.NewRequest(http.MethodGet, in.adminURL+"/admin/clients", nil)
	req.Header.Set("Authorization", "Bearer "+wrong)
	do(t, req)

	// Client credentials, by both methods.
	at1 := in.mustToken(cc, apiA, "read")
	s.add("client credentials token", at1)
	r := in.post("/oauth2/token", "", "", url.Values{"grant_type": {"client_credentials"},
		"client_id": {post.ID}, "client_secret": {post.Secret}})
	s.add("client_secret_post token", str(r.json(t)["access_token"]))

	// The authorization code flow, by hand so that every value is seen.
	b := in.newBrowser()
	verifier := oauth2.GenerateVerifier()
	s.add("PKCE verifier", verifier)
	loc := b.location(b.get(web.authURL("state-secret-1", verifier, "read", "offline_access")))
	login := formFields(t, b.get(loc))
	s.add("login CSRF token", login.Get("csrf"))
	failed := url.Values{"request": {login.Get("request")}, "csrf": {login.Get("csrf")},
		"username": {userName}, "password": {"a wrong password for alice"}}
	s.add("wrong password", failed.Get("password"))
	b.location(b.postForm("/login", failed))
	b.location(b.postForm("/login", url.Values{"request": {login.Get("request")}, "csrf": {wrong},
		"username": {userName}, "password": {newPassword}}))
	login.Set("username", userName)
	login.Set("password", newPassword)
	loc = b.location(b.postForm("/login", login))
	consent := formFields(t, b.get(loc))
	s.add("consent CSRF token", consent.Get("csrf"))
	consent.Set("decision", "allow")
	u, err := url.Parse(b.location(b.postForm("/consent", consent)))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(in.base)
	for _, c := range b.c.Jar.Cookies(base) {
		s.add("cookie "+c.Name, c.Value)
	}
	code := codeFrom(t, u, webRedirect, "state-secret-1", in.issuer)
	s.add("authorization code", code)

	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	tok := in.post("/oauth2/token", web.creds.ID, web.creds.Secret, exchange).json(t)
	s.add("code access token", str(tok["access_token"]))
	s.add("refresh token", str(tok["refresh_token"]))
	in.post("/oauth2/token", web.creds.ID, web.creds.Secret, exchange) // replay: revokes

	// A second code, for refresh with rotation and reuse.
	verifier2 := oauth2.GenerateVerifier()
	s.add("second PKCE verifier", verifier2)
	authURL := web.authURL("state-secret-2", verifier2, "read", "offline_access")
	u = b.authorize(authURL, userName, newPassword, true)
	code2 := codeFrom(t, u, webRedirect, "state-secret-2", in.issuer)
	s.add("second code", code2)
	tok = in.post("/oauth2/token", web.creds.ID, web.creds.Secret, url.Values{
		"grant_type": {"authorization_code"}, "code": {code2},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier2},
	}).json(t)
	rt1 := str(tok["refresh_token"])
	s.add("second refresh token", rt1)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}
	narrowed := url.Values{"scope": {"read"}}
	for k, v := range refresh {
		narrowed[k] = v
	}
	tok = in.post("/oauth2/token", web.creds.ID, web.creds.Secret, narrowed).json(t)
	s.add("refreshed access token", str(tok["access_token"]))
	s.add("rotated refresh token", str(tok["refresh_token"]))
	in.post("/oauth2/token", web.creds.ID, web.creds.Secret, refresh) // reuse: revokes the family

	// The public client.
	verifier3 := oauth2.GenerateVerifier()
	s.add("public client verifier", verifier3)
	spa.cfg.RedirectURL = "http://127.0.0.1:53124/cb"
	u = b.authorize(spa.authURL("state-secret-3", verifier3, "read"), userName, newPassword, false)
	code3 := codeFrom(t, u, spa.cfg.RedirectURL, "state-secret-3", in.issuer)
	s.add("public client code", code3)
	tok = in.post("/oauth2/token", "", "", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {spa.creds.ID},
		"code": {code3}, "redirect_uri": {spa.cfg.RedirectURL}, "code_verifier": {verifier3},
	}).json(t)
	s.add("public client token", str(tok["access_token"]))

	// Introspection and revocation, by the right and the wrong parties.
	issued := []string{at1, s.names["code access token"], s.names["refreshed access token"]}
	for _, tk := range issued {
		in.introspect(rs, tk)
		in.introspect(cc, tk)
	}
	in.post("/oauth2/revoke", web.creds.ID, web.creds.Secret, url.Values{"token": {at1}})
	in.post("/oauth2/revoke", cc.ID, cc.Secret, url.Values{"token": {at1}})
	in.post("/oauth2/revoke", web.creds.ID, web.creds.Secret, url.Values{
		"token": {s.names["rotated refresh token"]}, "token_type_hint": {"refresh_token"},
	})

	// The audit log, as the admin API lists it, is checked like the log.
	events := in.auditEvents("")
	listing, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) >= 200 {
		t.Fatalf("%d audit events fill the page read; the check would miss some", len(events))
	}

	in.stop()
	logs := in.logs.String()
	for _, want := range []string{
		`"level":"DEBUG"`, `"client_id":"` + cc.ID + `"`, `"msg":"refresh token reused`,
	} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %s; the test would prove nothing:\n%s", want, logs)
		}
	}
	for _, action := range []string{audit.ClientRotateSecret, audit.UserUpdate,
		audit.ClientAuthFailed, audit.LoginFailed, audit.ConsentGrant, audit.CodeReplay,
		audit.RefreshTokenReuse, audit.TokenRevoke} {
		if !strings.Contains(string(listing), `"action":"`+action+`"`) {
			t.Fatalf("audit log lacks %s; the test would prove nothing:\n%s", action, listing)
		}
	}
	for name, value := range s.names {
		for i, n := range needles(value) {
			if strings.Contains(logs, n) {
				t.Errorf("log holds the %s (spelling %d of needles)", name, i)
				break
			}
		}
		for i, n := range needles(value) {
			if strings.Contains(string(listing), n) {
				t.Errorf("audit log holds the %s (spelling %d of needles)", name, i)
				break
			}
		}
	}
}

// adminCreated posts to the admin API, expects 201, and returns the
// credentials in the answer.
func (in *instance) adminCreated(t *testing.T, path string, body any) credentials {
	t.Helper()
	r := in.admin(http.MethodPost, path, body)
	if r.status != http.StatusCreated {
		t.Fatalf("POST %s = %d %s, want 201", path, r.status, r.body)
	}
	m := r.json(t)
	return credentials{ID: str(m["client_id"]), Secret: str(m["client_secret"])}
}

// resourceID returns the admin ID of the resource with identifier.
func resourceID(t *testing.T, in *instance, identifier string) string {
	t.Helper()
	list := in.admin(http.MethodGet, "/admin/resources", nil).json(t)
	items, _ := list["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m["identifier"] == identifier {
			return str(m["id"])
		}
	}
	t.Fatalf("no resource %s in %v", identifier, list)
	return ""
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
