package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/ratelimit"
)

// noSuchID has the shape of an ID Veil issues and names nothing.
const noSuchID = "AAAAAAAAAAAAAAAAAAAAAA"

// TestOpenAPIConformance drives every operation of the document against a
// real Veil on PostgreSQL, with its main error answers, and checks each
// request and answer against the document (see specChecker). It fails if
// an operation is never exercised.
func TestOpenAPIConformance(t *testing.T) {
	in := startVeil(t, pgtest.DSN(t), newMasterKey(t))
	s := newSpecChecker(t, in)

	s.discovery()
	s.health(http.StatusOK)
	s.resources()
	cs := s.clients()
	userID := s.users()
	s.tokens(cs)
	s.authorizationCode(cs.web)
	s.pageErrors(cs.web)
	s.consents(userID)
	s.keys()
	s.audit()
	s.metrics()
	s.outage()
	s.requireExercised()
}

// fields returns the JSON members of an answer that must be a JSON object.
func (s *specChecker) fields(r response) map[string]any {
	s.t.Helper()
	return r.json(s.t)
}

// discovery covers the metadata, the JWKS, the CORS preflights and the
// stylesheet.
func (s *specChecker) discovery() {
	pub := s.in.base
	s.run(s.request(http.MethodGet, pub, "/.well-known/oauth-authorization-server").
		with("Origin", "https://spa.example.test").want(http.StatusOK))
	s.run(s.request(http.MethodGet, pub, "/.well-known/jwks.json").want(http.StatusOK))
	for _, path := range []string{"/oauth2/token", "/oauth2/revoke",
		"/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		s.run(s.request(http.MethodOptions, pub, path).
			with("Origin", "https://spa.example.test").
			with("Access-Control-Request-Method", http.MethodPost).want(http.StatusNoContent))
	}
	s.run(s.request(http.MethodGet, pub, "/static/veil.css").want(http.StatusOK))
	s.run(s.request(http.MethodGet, pub, "/static/missing.css").want(http.StatusNotFound).breaks())
}

// health probes both listeners, expecting status from the readiness probe.
func (s *specChecker) health(ready int) {
	for _, base := range []string{s.in.base, s.in.adminURL} {
		s.run(s.request(http.MethodGet, base, "/health/live").want(http.StatusOK))
		s.run(s.request(http.MethodGet, base, "/health/ready").want(ready))
	}
}

// resources registers apiA, which the other steps use, and goes through
// every resource operation on a second resource.
func (s *specChecker) resources() {
	reg := map[string]any{"identifier": apiA, "name": "API A", "scopes": []string{"read", "write"}}
	s.run(s.admin(http.MethodPost, "/admin/resources", reg).want(http.StatusCreated))
	s.run(s.admin(http.MethodPost, "/admin/resources", reg).want(http.StatusConflict))
	b := s.fields(s.run(s.admin(http.MethodPost, "/admin/resources",
		map[string]any{"identifier": apiB, "scopes": []string{"read"}}).want(http.StatusCreated)))
	bPath := "/admin/resources/" + b["id"].(string)

	s.run(s.admin(http.MethodPost, "/admin/resources", map[string]any{
		"identifier": "http://api.example.test", "scopes": []string{"read"},
	}).want(http.StatusBadRequest))
	s.run(s.admin(http.MethodPost, "/admin/resources", map[string]any{
		"identifier": "https://c.example.test", "scopes": []string{"read"}, "owner": "me",
	}).want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodPost, "/admin/resources", map[string]any{
		"identifier": "https://c.example.test", "scopes": []string{"read"},
		"name": strings.Repeat("n", 70<<10),
	}).want(http.StatusRequestEntityTooLarge).breaks())
	s.run(s.admin(http.MethodPost, "/admin/resources", nil).
		with("Content-Type", "text/plain").want(http.StatusUnsupportedMediaType).breaks())
	s.run(s.admin(http.MethodPost, "/admin/resources", reg).
		with("Authorization", "").want(http.StatusUnauthorized).breaks())
	s.run(s.admin(http.MethodGet, "/admin/resources", nil).
		with("Authorization", "Bearer not-the-token").want(http.StatusUnauthorized))

	s.pages("/admin/resources")
	s.run(s.admin(http.MethodGet, bPath, nil).want(http.StatusOK))
	s.run(s.admin(http.MethodGet, "/admin/resources/"+noSuchID, nil).want(http.StatusNotFound))
	s.run(s.admin(http.MethodGet, "/admin/resources/no*such*id", nil).
		want(http.StatusNotFound).breaks())

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	keys := []any{publicJWK(s.t, rsaKey(s.t), "rs-rsa"), publicJWK(s.t, ecKey, "rs-ec")}
	replace := map[string]any{
		"identifier": apiB, "name": "API B", "scopes": []string{"read", "write"},
		"encryption_keys": map[string]any{"keys": keys}, "token_encryption_required": true,
		"access_token_signing_alg": "ES256",
	}
	s.run(s.admin(http.MethodPut, bPath, replace).want(http.StatusOK))
	s.run(s.admin(http.MethodPut, "/admin/resources/"+noSuchID, replace).want(http.StatusNotFound))
	taken := map[string]any{"identifier": apiA, "scopes": []string{"read"}}
	s.run(s.admin(http.MethodPut, bPath, taken).
		want(http.StatusConflict))
	private := publicJWK(s.t, ecKey, "rs-ec")
	private["d"] = "c2VjcmV0"
	replace["encryption_keys"] = map[string]any{"keys": []any{private}}
	s.run(s.admin(http.MethodPut, bPath, replace).want(http.StatusBadRequest).breaks())

	s.run(s.admin(http.MethodPost, bPath+"/secret", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodPost, "/admin/resources/"+noSuchID+"/secret", nil).
		want(http.StatusNotFound))
	s.run(s.admin(http.MethodDelete, bPath, nil).want(http.StatusNoContent))
	s.run(s.admin(http.MethodDelete, bPath, nil).want(http.StatusNotFound))
}

// pages lists a collection one item at a time, following next_page_token
// to the end, and checks the listing's own errors.
func (s *specChecker) pages(path string) {
	query := url.Values{"limit": {"1"}}
	for n := 0; ; n++ {
		ex := s.admin(http.MethodGet, path+"?"+query.Encode(), nil)
		page := s.fields(s.run(ex.want(http.StatusOK)))
		next, _ := page["next_page_token"].(string)
		if next == "" {
			if n == 0 {
				s.t.Errorf("GET %s?limit=1 has no next page; the test needs two items", path)
			}
			break
		}
		query.Set("page_token", next)
	}
	s.run(s.admin(http.MethodGet, path+"?limit=0", nil).want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodGet, path+"?page_token=AAAA", nil).want(http.StatusBadRequest))
}

// specClients are the clients the token and authorization steps use.
type specClients struct {
	basic, post, web, spa credentials
}

// clients registers the clients the later steps use and goes through
// every client operation.
func (s *specChecker) clients() specClients {
	create := func(body map[string]any, status int) map[string]any {
		s.t.Helper()
		return s.fields(s.run(s.admin(http.MethodPost, "/admin/clients", body).want(status)))
	}
	creds := func(m map[string]any) credentials {
		secret, _ := m["client_secret"].(string)
		return credentials{ID: m["client_id"].(string), Secret: secret}
	}
	machine := func(method string) map[string]any {
		return map[string]any{"client_name": "Job", "grant_types": []string{"client_credentials"},
			"scope": "read write", "token_endpoint_auth_method": method,
			"resources": []string{apiA}}
	}
	web := map[string]any{"client_name": "Web",
		"grant_types":   []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{webRedirect}, "scope": "read offline_access",
		"resources": []string{apiA}}
	spa := map[string]any{"client_name": "SPA", "redirect_uris": []string{loopRedirect},
		"scope": "read", "token_endpoint_auth_method": "none", "resources": []string{apiA}}
	a := specClients{
		basic: creds(create(machine("client_secret_basic"), http.StatusCreated)),
		post:  creds(create(machine("client_secret_post"), http.StatusCreated)),
		web:   creds(create(web, http.StatusCreated)),
		spa:   creds(create(spa, http.StatusCreated)),
	}

	create(map[string]any{"scope": "admin", "grant_types": []string{"client_credentials"},
		"resources": []string{apiA}}, http.StatusBadRequest)
	create(map[string]any{"resources": []string{apiA}}, http.StatusBadRequest)
	s.run(s.admin(http.MethodPost, "/admin/clients", map[string]any{
		"grant_types": []string{"password"}, "resources": []string{apiA},
	}).want(http.StatusBadRequest).breaks())

	s.pages("/admin/clients")
	spaPath := "/admin/clients/" + a.spa.ID
	s.run(s.admin(http.MethodGet, spaPath, nil).want(http.StatusOK))
	s.run(s.admin(http.MethodGet, "/admin/clients/"+noSuchID, nil).want(http.StatusNotFound))
	spa["client_name"] = "Single-page app"
	s.run(s.admin(http.MethodPut, spaPath, spa).want(http.StatusOK))
	spa["token_endpoint_auth_method"] = "client_secret_basic"
	s.run(s.admin(http.MethodPut, spaPath, spa).want(http.StatusBadRequest))
	s.run(s.admin(http.MethodPut, "/admin/clients/"+noSuchID, spa).want(http.StatusNotFound))
	s.run(s.admin(http.MethodPost, spaPath+"/secret", nil).want(http.StatusBadRequest))

	spare := creds(create(machine("client_secret_basic"), http.StatusCreated))
	sparePath := "/admin/clients/" + spare.ID
	s.run(s.admin(http.MethodPost, sparePath+"/secret", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodDelete, sparePath, nil).want(http.StatusNoContent))
	s.run(s.admin(http.MethodDelete, sparePath, nil).want(http.StatusNotFound))
	s.run(s.admin(http.MethodPost, sparePath+"/secret", nil).want(http.StatusNotFound))
	return a
}

// users creates the user the authorization step signs in as, goes through
// every user operation on a second one, and returns the first one's ID.
func (s *specChecker) users() string {
	alice := map[string]any{"username": userName, "password": userPassword}
	created := s.run(s.admin(http.MethodPost, "/admin/users", alice).want(http.StatusCreated))
	id := s.fields(created)["id"].(string)
	s.run(s.admin(http.MethodPost, "/admin/users", alice).want(http.StatusConflict))
	s.run(s.admin(http.MethodPost, "/admin/users",
		map[string]any{"username": "carol", "password": "short"}).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodPost, "/admin/users", map[string]any{
		"username": "carol", "password": userPassword, "role": "admin",
	}).want(http.StatusBadRequest).breaks())
	bob := s.fields(s.run(s.admin(http.MethodPost, "/admin/users", map[string]any{
		"username": "bob", "password": userPassword, "email": "bob@example.test",
	}).want(http.StatusCreated)))
	bobPath := "/admin/users/" + bob["id"].(string)

	s.pages("/admin/users")
	s.run(s.admin(http.MethodGet, bobPath, nil).want(http.StatusOK))
	s.run(s.admin(http.MethodGet, "/admin/users/"+noSuchID, nil).want(http.StatusNotFound))
	s.run(s.admin(http.MethodPut, bobPath, map[string]any{
		"username": "robert", "email": "", "disabled": false, "password": "a new long password",
	}).want(http.StatusOK))
	s.run(s.admin(http.MethodPut, bobPath, map[string]any{"username": "robert"}).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodPut, bobPath, map[string]any{"username": userName, "disabled": false}).
		want(http.StatusConflict))
	s.run(s.admin(http.MethodPut, "/admin/users/"+noSuchID,
		map[string]any{"username": "x", "disabled": true}).want(http.StatusNotFound))

	s.run(s.admin(http.MethodPost, bobPath+"/disable", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodPost, bobPath+"/enable", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodPost, "/admin/users/"+noSuchID+"/disable", nil).
		want(http.StatusNotFound))
	s.run(s.admin(http.MethodPost, "/admin/users/"+noSuchID+"/enable", nil).
		want(http.StatusNotFound))
	s.run(s.admin(http.MethodDelete, bobPath, nil).want(http.StatusNoContent))
	s.run(s.admin(http.MethodDelete, bobPath, nil).want(http.StatusNotFound))
	return id
}

// tokens covers the client credentials grant, introspection and
// revocation, with their errors.
func (s *specChecker) tokens(a specClients) {
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": {apiA}}
	tok := s.fields(s.run(s.form("/oauth2/token", cc).basic(a.basic).
		with("Origin", "https://spa.example.test").want(http.StatusOK)))["access_token"].(string)
	post := url.Values{"grant_type": {"client_credentials"},
		"client_id": {a.post.ID}, "client_secret": {a.post.Secret}}
	s.run(s.form("/oauth2/token", post).want(http.StatusOK))

	s.run(s.form("/oauth2/token", url.Values{"scope": {"read"}}).basic(a.basic).
		want(http.StatusBadRequest).breaks())
	s.run(s.form("/oauth2/token", url.Values{"grant_type": {"password"}}).basic(a.basic).
		want(http.StatusBadRequest).breaks())
	s.run(s.form("/oauth2/token", cc).basic(credentials{ID: a.basic.ID, Secret: "wrong"}).
		want(http.StatusUnauthorized))
	s.run(s.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"scope": {"delete"}}).
		basic(a.basic).want(http.StatusBadRequest))
	s.run(s.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"resource": {"https://elsewhere.example.test"}}).basic(a.basic).want(http.StatusBadRequest))

	rs := s.resourceCredentials()
	s.run(s.form("/oauth2/introspect", url.Values{"token": {tok}}).basic(rs).want(http.StatusOK))
	s.run(s.form("/oauth2/introspect", url.Values{"token": {"not-a-token"}}).basic(rs).
		want(http.StatusOK))
	hintOnly := url.Values{"token_type_hint": {"access_token"}}
	s.run(s.form("/oauth2/introspect", hintOnly).basic(rs).want(http.StatusBadRequest).breaks())
	s.run(s.form("/oauth2/introspect", url.Values{"token": {tok}}).want(http.StatusUnauthorized))
	s.run(s.form("/oauth2/introspect", url.Values{"token": {tok}, "client_id": {a.spa.ID}}).
		want(http.StatusUnauthorized))

	s.run(s.form("/oauth2/revoke", url.Values{"token": {tok}}).basic(a.post).
		want(http.StatusUnauthorized))
	s.run(s.form("/oauth2/revoke", url.Values{"token": {tok}, "client_id": {a.post.ID},
		"client_secret": {a.post.Secret}}).want(http.StatusBadRequest))
	s.run(s.form("/oauth2/revoke", hintOnly).basic(a.basic).want(http.StatusBadRequest).breaks())
	s.run(s.form("/oauth2/revoke", url.Values{"token": {tok}}).want(http.StatusUnauthorized))
	s.run(s.form("/oauth2/revoke", url.Values{"token": {tok}}).basic(a.basic).
		with("Origin", "https://spa.example.test").want(http.StatusOK))
	s.run(s.form("/oauth2/introspect", url.Values{"token": {tok}}).basic(rs).want(http.StatusOK))
}

// resourceCredentials rotates apiA's introspection secret and returns its
// credentials.
func (s *specChecker) resourceCredentials() credentials {
	list := s.fields(s.run(s.admin(http.MethodGet, "/admin/resources", nil).want(http.StatusOK)))
	for _, item := range list["items"].([]any) {
		res := item.(map[string]any)
		if res["identifier"] == apiA {
			m := s.fields(s.run(s.admin(http.MethodPost,
				"/admin/resources/"+res["id"].(string)+"/secret", nil).want(http.StatusOK)))
			return credentials{ID: m["client_id"].(string), Secret: m["client_secret"].(string)}
		}
	}
	s.t.Fatalf("no resource %s", apiA)
	return credentials{}
}

// authorizationCode runs the browser side of the flow through the pages,
// then the code and refresh token grants, with their errors.
func (s *specChecker) authorizationCode(web credentials) {
	b := s.in.newBrowser()
	verifier := oauth2.GenerateVerifier()
	q := authorizeQuery(web, verifier)
	get := func(path string) *exchange { return s.request(http.MethodGet, s.in.base, path).by(b.c) }
	post := func(path string, form url.Values) *exchange { return s.form(path, form).by(b.c) }

	start := get("/oauth2/authorize?" + q.Encode())
	loc := s.run(start.want(http.StatusSeeOther)).header.Get("Location")
	bad := url.Values{"client_id": {noSuchID}}
	s.run(get("/oauth2/authorize?" + merge(q, bad).Encode()).want(http.StatusBadRequest))
	s.run(get("/oauth2/authorize?" + merge(q, url.Values{"code_challenge": {""}}).Encode()).
		want(http.StatusSeeOther).breaks())

	form := formFields(s.t, s.run(get(loc).want(http.StatusOK)))
	s.run(get("/login?request=" + noSuchID).want(http.StatusBadRequest))
	form.Set("username", userName)
	form.Set("password", "not the password")
	retry := s.run(post("/login", form).want(http.StatusSeeOther)).header.Get("Location")
	s.run(get(retry).want(http.StatusOK))
	form.Set("password", userPassword)
	loc = s.run(post("/login", form).want(http.StatusSeeOther)).header.Get("Location")

	form = formFields(s.t, s.run(get(loc).want(http.StatusOK)))
	form.Set("decision", "maybe")
	s.run(post("/consent", form).want(http.StatusBadRequest).breaks())
	form.Set("decision", "allow")
	form.Set("remember", "yes")
	allowed := s.run(post("/consent", form).want(http.StatusSeeOther))
	back, err := url.Parse(allowed.header.Get("Location"))
	if err != nil {
		s.t.Fatal(err)
	}
	code := codeFrom(s.t, back, webRedirect, "state-0123", s.in.issuer)

	redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {verifier}}
	tok := s.fields(s.run(s.form("/oauth2/token", redeem).basic(web).want(http.StatusOK)))
	refresh, _ := tok["refresh_token"].(string)
	renew := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	s.run(s.form("/oauth2/token", renew).basic(web).want(http.StatusOK))
	// A spent refresh token, then a spent code: each revokes what came of it.
	s.run(s.form("/oauth2/token", renew).basic(web).want(http.StatusBadRequest))
	s.run(s.form("/oauth2/token", redeem).basic(web).want(http.StatusBadRequest))
}

// authorizeQuery is a valid authorization request of web for apiA.
func authorizeQuery(web credentials, verifier string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {web.ID}, "redirect_uri": {webRedirect},
		"scope": {"read offline_access"}, "state": {"state-0123"}, "resource": {apiA},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
}

// pageErrors covers the pages' answers to a browser that has not signed
// in, to a request started in another browser, and to an unknown request.
func (s *specChecker) pageErrors(web credentials) {
	b, other := s.in.newBrowser(), s.in.newBrowser()
	get := func(c *http.Client, path string) *exchange {
		return s.request(http.MethodGet, s.in.base, path).by(c)
	}
	q := authorizeQuery(web, oauth2.GenerateVerifier())
	start := get(b.c, "/oauth2/authorize?"+q.Encode())
	login := s.run(start.want(http.StatusSeeOther)).header.Get("Location")
	request := strings.TrimPrefix(login, "/login?request=")

	s.run(get(b.c, "/consent?request="+request).want(http.StatusSeeOther))
	s.run(get(other.c, "/consent?request="+request).want(http.StatusBadRequest))
	s.run(get(other.c, "/login?request="+request).want(http.StatusBadRequest))
	s.run(s.form("/login", url.Values{
		"request": {noSuchID}, "csrf": {strings.Repeat("A", 43)},
		"username": {userName}, "password": {userPassword},
	}).by(b.c).want(http.StatusBadRequest))
}

// merge returns a copy of q with the values of over in place of its own.
func merge(q, over url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// consents lists and revokes the consent the authorization step gave.
func (s *specChecker) consents(userID string) {
	path := "/admin/users/" + userID + "/consents"
	list := s.fields(s.run(s.admin(http.MethodGet, path, nil).want(http.StatusOK)))
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		s.t.Fatalf("GET %s lists %d consents, want 1", path, len(items))
	}
	one := path + "/" + items[0].(map[string]any)["id"].(string)
	s.run(s.admin(http.MethodDelete, one, nil).want(http.StatusNoContent))
	s.run(s.admin(http.MethodDelete, one, nil).want(http.StatusNotFound))
	s.run(s.admin(http.MethodGet, "/admin/users/"+noSuchID+"/consents", nil).
		want(http.StatusNotFound))
}

// keys lists and rotates Veil's keys.
func (s *specChecker) keys() {
	s.run(s.admin(http.MethodGet, "/admin/keys", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodGet, "/admin/keys?limit=1", nil).want(http.StatusBadRequest))
	s.run(s.admin(http.MethodPost, "/admin/keys/rotate", nil).want(http.StatusOK))
	s.run(s.request(http.MethodGet, s.in.base, "/.well-known/jwks.json").want(http.StatusOK))
}

// audit reads the audit log the earlier steps wrote, filtered and paged.
func (s *specChecker) audit() {
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	s.run(s.admin(http.MethodGet, "/admin/audit", nil).want(http.StatusOK))
	query := url.Values{"outcome": {"success"}, "since": {since}, "limit": {"1"}}
	filtered := s.admin(http.MethodGet, "/admin/audit?"+query.Encode(), nil)
	page := s.fields(s.run(filtered.want(http.StatusOK)))
	if next, _ := page["next_page_token"].(string); next != "" {
		query.Set("page_token", next)
		s.run(s.admin(http.MethodGet, "/admin/audit?"+query.Encode(), nil).want(http.StatusOK))
	}
	s.run(s.admin(http.MethodGet, "/admin/audit?since=yesterday", nil).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodGet, "/admin/audit?outcome=maybe", nil).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodGet, "/admin/audit?action=client.create", nil).want(http.StatusOK))
	s.run(s.admin(http.MethodGet, "/admin/audit?action=client.explode", nil).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodGet, "/admin/audit?actor="+strings.Repeat("a", 257), nil).
		want(http.StatusBadRequest).breaks())
	s.run(s.admin(http.MethodGet, "/admin/audit?target=", nil).
		want(http.StatusBadRequest).breaks())
}

// metrics scrapes the admin listener.
func (s *specChecker) metrics() {
	s.run(s.request(http.MethodGet, s.in.adminURL, "/metrics").want(http.StatusUnauthorized).breaks())
	ok := s.request(http.MethodGet, s.in.adminURL, "/metrics")
	ok.header.Set("Authorization", "Bearer "+testAdminToken)
	s.run(ok.want(http.StatusOK))
}

// outage drops the database under the running Veil: the readiness probes,
// the OAuth endpoints and the admin API answer as documented for it.
func (s *specChecker) outage() {
	dropDatabase(s.t, s.in)
	s.health(http.StatusServiceUnavailable)
	gone := []int{http.StatusServiceUnavailable, http.StatusInternalServerError}
	s.run(s.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}).
		basic(credentials{ID: noSuchID, Secret: "secret"}).want(gone...))
	s.run(s.admin(http.MethodGet, "/admin/users", nil).want(gone...))
}

// TestOpenAPIRateLimited checks the answers of the rate limits, which the
// main conformance test's Veil has turned off, against the document.
func TestOpenAPIRateLimited(t *testing.T) {
	in := startVeilWith(t, pgtest.DSN(t), newMasterKey(t), "", func(c *config.Config) {
		c.TokenClientRateLimit = ratelimit.Limit{Rate: 0.001, Burst: 1}
		c.LoginAddressRateLimit = ratelimit.Limit{Rate: 0.001, Burst: 1}
	})
	in.createResource(apiA, "read")
	c := in.createClient("read", apiA)
	s := newSpecChecker(t, in)

	cc := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}
	s.run(s.form("/oauth2/token", cc).basic(credentials{ID: c.ID, Secret: c.Secret}).want(http.StatusOK))
	s.run(s.form("/oauth2/token", cc).basic(credentials{ID: c.ID, Secret: c.Secret}).want(http.StatusTooManyRequests))

	// The per-address limit is spent before the form is read, so even a
	// form the document refuses uses it up.
	login := url.Values{"username": {"nobody"}}
	s.run(s.form("/login", login).want(http.StatusBadRequest).breaks())
	s.run(s.form("/login", login).want(http.StatusTooManyRequests).breaks())
}
