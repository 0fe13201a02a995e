package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// testAuth covers security case 14's first half: without the admin token,
// every request is 401, whatever its path or method, and leaves no trace.
func testAuth(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	before := e.contents()

	headers := []struct {
		name, value string
	}{
		{"none", ""},
		{"wrong token", "Bearer wrong"},
		{"token prefix", "Bearer " + adminToken[:len(adminToken)-1]},
		{"token with suffix", "Bearer " + adminToken + "x"},
		{"empty bearer", "Bearer "},
		{"scheme only", "Bearer"},
		{"basic", "Basic " + adminToken},
		{"no scheme", adminToken},
	}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/admin/resources"},
		{http.MethodPost, "/admin/resources"},
		{http.MethodDelete, "/admin/resources/x"},
		{http.MethodPost, "/admin/clients"},
		{http.MethodPatch, "/admin/clients"},
		{http.MethodGet, "/admin/nothing-here"},
		{http.MethodPost, "/admin/users"},
		{http.MethodGet, "/admin/users/x/consents"},
		{http.MethodPost, "/admin/users/x/disable"},
		{http.MethodDelete, "/admin/users/x/consents/y"},
		{http.MethodGet, "/admin/keys"},
		{http.MethodPost, "/admin/keys/rotate"},
		{http.MethodPut, "/admin/resources/x"},
	}
	for _, h := range headers {
		t.Run(h.name, func(t *testing.T) {
			for _, r := range routes {
				req := newRequest(t, r.method, r.path, resourceBody(apiURL+"/x", "read"))
				if h.value != "" {
					req.Header.Set("Authorization", h.value)
				}
				res := e.send(req)
				res.wantError(t, http.StatusUnauthorized, "invalid_token")
				if got, want := res.header.Get("WWW-Authenticate"), `Bearer realm="veil-admin"`; got != want {
					t.Errorf("%s %s: WWW-Authenticate = %q, want %q", r.method, r.path, got, want)
				}
				golden(t, "unauthorized.json", res.body)
			}
		})
	}
	e.wantUnchanged(before)
	if calls := e.keys.calls(); len(calls) != 0 {
		t.Errorf("unauthenticated requests rotated keys %d times, want none", len(calls))
	}

	req := newRequest(t, http.MethodGet, "/admin/resources", nil)
	req.Header.Set("Authorization", "bearer "+adminToken)
	e.send(req).want(t, http.StatusOK, nil)
}

// TestNoToken checks that an API configured without a token refuses even a
// request with an empty bearer token.
func TestNoToken(t *testing.T) {
	e := newEnv(t, memory.New())
	e.handler = admin.New(admin.Config{Store: e.store, Hasher: e.hasher})
	for _, value := range []string{"", "Bearer ", "Bearer  "} {
		req := newRequest(t, http.MethodGet, "/admin/clients", nil)
		req.Header.Set("Authorization", value)
		e.send(req).wantError(t, http.StatusUnauthorized, "invalid_token")
	}
}

func testRequestShape(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	before := e.contents()

	big := `{"name":"` + strings.Repeat("a", 64<<10) + `"}`
	e.do(http.MethodPost, "/admin/resources", big).
		wantError(t, http.StatusRequestEntityTooLarge, "invalid_request")

	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded",
		"application/json; charset=latin1", "application/jsonx", "application/json; x=y"} {
		req := newRequest(t, http.MethodPost, "/admin/resources", resourceBody(apiURL+"/2", "read"))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		e.send(req).wantError(t, http.StatusUnsupportedMediaType, "invalid_request")
	}
	e.wantUnchanged(before)

	req := newRequest(t, http.MethodPost, "/admin/resources", resourceBody(apiURL+"/2", "read"))
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	e.send(req).want(t, http.StatusCreated, nil)

	methods := []struct{ method, path, allow string }{
		{http.MethodPatch, "/admin/clients", "GET, HEAD, POST"},
		{http.MethodDelete, "/admin/resources", "GET, HEAD, POST"},
		{http.MethodPost, "/admin/clients/x", "DELETE, GET, HEAD, PUT"},
		{http.MethodGet, "/admin/resources/x/secret", "POST"},
		{http.MethodPut, "/admin/clients/x/secret", "POST"},
		{http.MethodPatch, "/admin/users", "GET, HEAD, POST"},
		{http.MethodPost, "/admin/users/x", "DELETE, GET, HEAD, PUT"},
		{http.MethodGet, "/admin/users/x/disable", "POST"},
		{http.MethodDelete, "/admin/users/x/enable", "POST"},
		{http.MethodPost, "/admin/users/x/consents", "GET, HEAD"},
		{http.MethodGet, "/admin/users/x/consents/y", "DELETE"},
		{http.MethodPost, "/admin/keys", "GET, HEAD"},
		{http.MethodGet, "/admin/keys/rotate", "POST"},
		{http.MethodPut, "/admin/keys/rotate", "POST"},
	}
	for _, m := range methods {
		res := e.do(m.method, m.path, nil)
		res.wantError(t, http.StatusMethodNotAllowed, "invalid_request")
		if got := res.header.Get("Allow"); got != m.allow {
			t.Errorf("%s %s: Allow = %q, want %q", m.method, m.path, got, m.allow)
		}
	}
}

func testNotFound(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	before := e.contents()

	ids := []string{"unknown", "%00", "a%2Fb", strings.Repeat("a", 129), "%C3%A9"}
	for _, id := range ids {
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/admin/resources/" + id},
			{http.MethodDelete, "/admin/resources/" + id},
			{http.MethodPost, "/admin/resources/" + id + "/secret"},
			{http.MethodGet, "/admin/clients/" + id},
			{http.MethodDelete, "/admin/clients/" + id},
			{http.MethodPost, "/admin/clients/" + id + "/secret"},
			{http.MethodGet, "/admin/users/" + id},
			{http.MethodDelete, "/admin/users/" + id},
			{http.MethodPost, "/admin/users/" + id + "/disable"},
			{http.MethodPost, "/admin/users/" + id + "/enable"},
			{http.MethodGet, "/admin/users/" + id + "/consents"},
			{http.MethodDelete, "/admin/users/" + id + "/consents/x"},
		} {
			e.do(r.method, r.path, nil).wantError(t, http.StatusNotFound, "not_found")
		}
	}
	e.do(http.MethodPut, "/admin/resources/unknown", resourceBody(apiURL+"/2", "read")).
		wantError(t, http.StatusNotFound, "not_found")
	e.do(http.MethodPut, "/admin/users/unknown", with(userBody(), "disabled", false)).
		wantError(t, http.StatusNotFound, "not_found")

	paths := []string{"/", "/admin", "/admin/", "/admin/clients/", "/admin/keys/", "/admin/keys/x",
		"/admin/clients/x/y", "/admin/users/", "/admin/users/x/consents/", "/admin/users/x/consents/y/z"}
	for _, path := range paths {
		e.do(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "not_found")
	}
	e.wantUnchanged(before)
}
