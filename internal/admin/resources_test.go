package admin_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/secret"
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
		CreatedAt: created.CreatedAt, UpdatedAt: got.UpdatedAt,
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
		{"name too long", with(resourceBody(apiURL+"/2", "read"), "name", strings.Repeat("n", 201))},
		{"name control", with(resourceBody(apiURL+"/2", "read"), "name", "zq\x07")},
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
