package admin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

func testResourceLifecycle(t *testing.T, e *env) {
	res := e.do(http.MethodPost, "/admin/resources", resourceBody(apiURL, "read", "write"))
	golden(t, "resource_created.json", res.body, "id", "client_id", "client_secret",
		"created_at", "updated_at")
	var created resourceJSON
	res.want(t, http.StatusCreated, &created)
	if got, want := res.header.Get("Location"), "/admin/resources/"+created.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	var got resourceJSON
	e.do(http.MethodGet, "/admin/resources/"+created.ID, nil).want(t, http.StatusOK, &got)
	wantShown := created
	wantShown.ClientSecret = nil
	if diff := cmp.Diff(wantShown, got); diff != "" {
		t.Errorf("GET resource (-want +got):\n%s", diff)
	}

	put := with(resourceBody("https://api2.example.test", "read"), "name", "Renamed")
	e.do(http.MethodPut, "/admin/resources/"+created.ID, put).want(t, http.StatusOK, &got)
	want := resourceJSON{
		ID: created.ID, Identifier: "https://api2.example.test", Name: "Renamed",
		Scopes: []string{"read"}, ClientID: created.ClientID,
		EncryptionKeys:        jwksJSON{Keys: []map[string]any{}},
		EncryptionKeysAddedAt: map[string]string{},
		CreatedAt:             created.CreatedAt, UpdatedAt: got.UpdatedAt,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT resource (-want +got):\n%s", diff)
	}

	var list listJSON[resourceJSON]
	e.do(http.MethodGet, "/admin/resources", nil).want(t, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].ID != created.ID || list.NextPageToken != "" {
		t.Errorf("GET /admin/resources = %+v, want just the resource and no next page", list)
	}

	res = e.do(http.MethodDelete, "/admin/resources/"+created.ID, nil)
	res.want(t, http.StatusNoContent, nil)
	if len(res.body) != 0 {
		t.Errorf("DELETE body = %q, want none", res.body)
	}
	e.do(http.MethodGet, "/admin/resources/"+created.ID, nil).wantError(t, http.StatusNotFound, "not_found")
	if c := e.contents(); len(c.Resources) != 0 || len(c.Credentials) != 0 {
		t.Errorf("after DELETE the store holds %+v, want no resource and no credentials", c)
	}
}

// testResourceValidation has one row per rule; every refused request must
// leave the store as it was. Bad values hold "zq" so that a description
// echoing them is caught.
func testResourceValidation(t *testing.T, e *env) {
	existing := e.createResource(apiURL, "read")
	long := "https://api.example.test/" + strings.Repeat("a", 2000)
	tests := []struct {
		name string
		body any
	}{
		{"identifier missing", with(resourceBody("", "read"), "identifier", nil)},
		{"identifier relative", resourceBody("/zq", "read")},
		{"identifier not a URI", resourceBody("zq zq", "read")},
		{"identifier urn", resourceBody("urn:zq:api", "read")},
		{"identifier http remote", resourceBody("http://zq.example/api", "read")},
		{"identifier http localhost", resourceBody("http://localhost/zq", "read")},
		{"identifier ftp", resourceBody("ftp://zq.example/", "read")},
		{"identifier fragment", resourceBody("https://zq.example/api#x", "read")},
		{"identifier empty fragment", resourceBody("https://zq.example/api#", "read")},
		{"identifier query", resourceBody("https://zq.example/api?x=1", "read")},
		{"identifier userinfo", resourceBody("https://zq@api.example/", "read")},
		{"identifier no host", resourceBody("https:///zq", "read")},
		{"identifier too long", resourceBody(long, "read")},
		{"identifier NUL", resourceBody("https://zq.example.test/\x00", "read")},
		{"identifier uppercase scheme", resourceBody("HTTPS://zq.example.test", "read")},
		{"identifier uppercase host", resourceBody("https://ZQ.EXAMPLE.TEST", "read")},
		{"identifier default port", resourceBody("https://zq.example.test:443", "read")},
		{"identifier http default port", resourceBody("http://127.0.0.1:80/zq", "read")},
		{"identifier empty port", resourceBody("https://zq.test:/", "read")},
		{"identifier port zero", resourceBody("https://zq.test:0/", "read")},
		{"identifier port too big", resourceBody("https://zq.test:99999/", "read")},
		{"identifier port leading zero", resourceBody("https://zq.test:0443/", "read")},
		{"identifier host trailing dot", resourceBody("https://zq.example.test./", "read")},
		{"identifier ipv6 long form", resourceBody("https://[2001:db8:0:0:0:0:0:1]/zq", "read")},
		{"identifier ipv6 zone", resourceBody("https://[fe80::1%25zq]/", "read")},
		{"identifier ipv4 leading zero", resourceBody("https://010.0.0.1/zq", "read")},
		{"identifier ipv4 as integer", resourceBody("https://2130706433/zq", "read")},
		{"identifier encoded unreserved", resourceBody("https://zq.example.test/%7Eapi", "read")},
		{"identifier encoded dot", resourceBody("https://zq.example.test/%2E/api", "read")},
		{"identifier lowercase escape", resourceBody("https://zq.example.test/a%2fb", "read")},
		{"identifier dot segment", resourceBody("https://zq.example.test/./api", "read")},
		{"identifier dot-dot segment", resourceBody("https://zq.example.test/a/../api", "read")},
		{"identifier trailing dot segment", resourceBody("https://zq.example.test/api/.", "read")},
		{"name too long", with(resourceBody(apiURL+"/2", "read"), "name", strings.Repeat("n", 201))},
		{"name control", with(resourceBody(apiURL+"/2", "read"), "name", "zq\x07")},
		{"name NUL", with(resourceBody(apiURL+"/2", "read"), "name", "zq\x00")},
		{"name line separator", with(resourceBody(apiURL+"/2", "read"), "name", "zq\u2028zq")},
		{"name paragraph separator", with(resourceBody(apiURL+"/2", "read"), "name", "zq\u2029")},
		{"name no-break space", with(resourceBody(apiURL+"/2", "read"), "name", "zq\u00a0zq")},
		{"name ideographic space", with(resourceBody(apiURL+"/2", "read"), "name", "zq\u3000zq")},
		{"scopes missing", with(resourceBody(apiURL+"/2"), "scopes", nil)},
		{"scopes empty", resourceBody(apiURL + "/2")},
		{"scope with space", resourceBody(apiURL+"/2", "zq zq")},
		{"scope with quote", resourceBody(apiURL+"/2", `zq"`)},
		{"scope with backslash", resourceBody(apiURL+"/2", `zq\`)},
		{"scope empty", resourceBody(apiURL+"/2", "")},
		{"scope non-ascii", resourceBody(apiURL+"/2", "zqé")},
		{"scope repeated", resourceBody(apiURL+"/2", "zq", "zq")},
		{"too many scopes", resourceBody(apiURL+"/2", manyScopes(101)...)},
		{"unknown member", with(resourceBody(apiURL+"/2", "read"), "client_secret", "zq")},
		{"wrong type", with(resourceBody(apiURL+"/2", "read"), "scopes", "read")},
	}
	reasons := make(map[string]string)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{
				{http.MethodPost, "/admin/resources"},
				{http.MethodPut, "/admin/resources/" + existing.ID},
			} {
				before := e.contents()
				got := e.do(route.method, route.path, tt.body).
					wantError(t, http.StatusBadRequest, "invalid_request")
				if strings.Contains(got.Description, "zq") {
					t.Errorf("%s: description %q repeats the input", route.method, got.Description)
				}
				e.wantUnchanged(before)
				reasons[tt.name] = got.Error + ": " + got.Description
			}
		})
	}
	// The golden file shows that each row fails for the rule it names.
	goldenValue(t, "resource_validation.json", reasons)
}

func manyScopes(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "s" + strings.Repeat("x", i)
	}
	return s
}

func testResourceConflict(t *testing.T, e *env) {
	first := e.createResource(apiURL, "read")
	other := e.createResource("https://other.example.test", "read")
	before := e.contents()

	e.do(http.MethodPost, "/admin/resources", resourceBody(apiURL, "write")).
		wantError(t, http.StatusConflict, "conflict")
	e.do(http.MethodPut, "/admin/resources/"+other.ID, resourceBody(apiURL, "write")).
		wantError(t, http.StatusConflict, "conflict")
	e.wantUnchanged(before)

	// Keeping one's own identifier is no conflict.
	e.do(http.MethodPut, "/admin/resources/"+first.ID, resourceBody(apiURL, "write")).
		want(t, http.StatusOK, nil)

	// Of concurrent registrations of one identifier, exactly one wins.
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			body := resourceBody(apiURL+"/race", "read")
			statuses[i] = e.do(http.MethodPost, "/admin/resources", body).status
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	want := append([]int{http.StatusCreated}, slices.Repeat([]int{http.StatusConflict}, 9)...)
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("concurrent POST statuses (-want +got):\n%s", diff)
	}
}

func testResourceSecret(t *testing.T, e *env) {
	ctx := context.Background()
	created := e.createResource(apiURL, "read")
	oldSecret := wantStrongSecret(t, created.ClientSecret)

	creds, err := e.store.Client(ctx, created.ClientID)
	if err != nil {
		t.Fatalf("Client(credentials) = %v", err)
	}
	if err := e.hasher.Compare(ctx, creds.SecretHash, []byte(oldSecret)); err != nil {
		t.Errorf("Compare(stored hash, returned secret) = %v, want nil", err)
	}
	if len(creds.GrantTypes) != 0 || creds.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Errorf("credentials = %+v, want no grant types and client_secret_basic", creds)
	}

	var rotated resourceJSON
	e.do(http.MethodPost, "/admin/resources/"+created.ID+"/secret", nil).
		want(t, http.StatusOK, &rotated)
	newSecret := wantStrongSecret(t, rotated.ClientSecret)
	if newSecret == oldSecret || rotated.ClientID != created.ClientID {
		t.Fatalf("rotation returned the same secret or another client_id")
	}

	creds, err = e.store.Client(ctx, created.ClientID)
	if err != nil {
		t.Fatalf("Client(credentials) = %v", err)
	}
	err = e.hasher.Compare(ctx, creds.SecretHash, []byte(oldSecret))
	if !errors.Is(err, secret.ErrMismatch) {
		t.Errorf("Compare(hash, old secret) = %v, want %v", err, secret.ErrMismatch)
	}
	if err := e.hasher.Compare(ctx, creds.SecretHash, []byte(newSecret)); err != nil {
		t.Errorf("Compare(hash, new secret) = %v, want nil", err)
	}

	for _, path := range []string{"/admin/resources", "/admin/resources/" + created.ID} {
		res := e.do(http.MethodGet, path, nil)
		wantNoSecretIn(t, "GET "+path, res.body, oldSecret, newSecret)
		if strings.Contains(string(res.body), "client_secret") {
			t.Errorf("GET %s holds a client_secret member", path)
		}
	}
}

// testResourceIdentifierForms checks the canonical spellings that are
// accepted, and that identifiers differing by a trailing slash are two
// resources: RFC 8707 compares indicators as strings.
func testResourceIdentifierForms(t *testing.T, e *env) {
	accepted := []string{
		"https://a.example.test",
		"https://a.example.test/",
		"https://a.example.test:8443/api",
		"https://a.example.test/api/v1/",
		"https://a.example.test/a%2Fb",
		"https://a.example.test/..api/.well",
		"https://192.0.2.1/api",
		"https://[2001:db8::1]/api",
		"http://127.0.0.1:8080/api",
		"http://[::1]/api",
	}
	for _, ident := range accepted {
		t.Run(ident, func(t *testing.T) {
			got := e.createResource(ident, "read")
			if got.Identifier != ident {
				t.Errorf("POST identifier %q stored %q, want it unchanged", ident, got.Identifier)
			}
		})
	}
	if got := len(e.contents().Resources); got != len(accepted) {
		t.Errorf("store holds %d resources, want %d, one per identifier", got, len(accepted))
	}

	// A name may hold plain spaces, and letters of any script.
	e.do(http.MethodPost, "/admin/resources",
		with(resourceBody("https://b.example.test", "read"), "name", "Ünïcode API 名前")).
		want(t, http.StatusCreated, nil)
}

// testResourceGrantsEnd checks that deleting a resource, or changing its
// identifier, revokes the tokens issued for it, so that a resource
// registered later under the same identifier cannot introspect them as
// active.
func testResourceGrantsEnd(t *testing.T, e *env) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(id, ident string) response
	}{
		{name: "delete", change: func(id, _ string) response {
			return e.do(http.MethodDelete, "/admin/resources/"+id, nil)
		}},
		{name: "new identifier", change: func(id, ident string) response {
			return e.do(http.MethodPut, "/admin/resources/"+id,
				resourceBody(ident+"/moved", "read"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ident := "https://" + strings.ReplaceAll(tt.name, " ", "-") + ".example.test"
			res := e.createResource(ident, "read")
			client := e.createClient(with(machine(), "resources", []string{ident}))
			now := time.Now()
			tok := &storage.AccessToken{Signature: "sig-" + res.ID, JTI: "jti-" + res.ID,
				RequestID: "req-" + res.ID, ClientID: client.ClientID, Audience: []string{ident},
				Scopes: []string{"read"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := e.store.CreateAccessToken(ctx, tok); err != nil {
				t.Fatalf("CreateAccessToken() = %v", err)
			}

			if res := tt.change(res.ID, ident); res.status >= 300 {
				t.Fatalf("%s resource: status %d, body %s", tt.name, res.status, res.body)
			}
			e.createResource(ident, "read")
			got, err := e.store.AccessToken(ctx, tok.Signature)
			if err != nil || !got.Revoked {
				t.Errorf("AccessToken(token for %s) = %+v, %v, want revoked", ident, got, err)
			}
		})
	}
}
