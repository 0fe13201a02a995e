package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/secret"
)

func testClientLifecycle(t *testing.T, e *env) {
	e.createResource(apiURL, "read", "write")
	res := e.do(http.MethodPost, "/admin/clients", clientBody())
	golden(t, "client_created.json", res.body, "client_id", "client_secret",
		"client_id_issued_at", "created_at", "updated_at")
	var created clientJSON
	res.want(t, http.StatusCreated, &created)
	if got, want := res.header.Get("Location"), "/admin/clients/"+created.ClientID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	var got clientJSON
	e.do(http.MethodGet, "/admin/clients/"+created.ClientID, nil).want(t, http.StatusOK, &got)
	wantShown := created
	wantShown.ClientSecret = nil
	if diff := cmp.Diff(wantShown, got); diff != "" {
		t.Errorf("GET client (-want +got):\n%s", diff)
	}

	put := map[string]any{
		"client_name":                "Batch Job",
		"grant_types":                []string{"client_credentials"},
		"scope":                      "write",
		"token_endpoint_auth_method": "client_secret_post",
		"resources":                  []string{apiURL},
	}
	e.do(http.MethodPut, "/admin/clients/"+created.ClientID, put).want(t, http.StatusOK, &got)
	want := clientJSON{
		ClientID: created.ClientID, ClientIDIssuedAt: created.ClientIDIssuedAt,
		ClientSecretExpiresAt: created.ClientSecretExpiresAt, ClientName: "Batch Job",
		GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{}, Scope: "write",
		TokenEndpointAuthMethod: "client_secret_post", Resources: []string{apiURL},
		CreatedAt: created.CreatedAt, UpdatedAt: got.UpdatedAt,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT client (-want +got):\n%s", diff)
	}

	var list listJSON[clientJSON]
	e.do(http.MethodGet, "/admin/clients", nil).want(t, http.StatusOK, &list)
	if diff := cmp.Diff([]clientJSON{got}, list.Items); diff != "" || list.NextPageToken != "" {
		t.Errorf("GET /admin/clients (-want +got):\n%s\nnext_page_token %q", diff, list.NextPageToken)
	}

	e.do(http.MethodDelete, "/admin/clients/"+created.ClientID, nil).want(t, http.StatusNoContent, nil)
	e.do(http.MethodGet, "/admin/clients/"+created.ClientID, nil).wantError(t, http.StatusNotFound, "not_found")
}

// The error codes of the validation tables.
const (
	badMeta     = "invalid_client_metadata"
	badRedirect = "invalid_redirect_uri"
	badRequest  = "invalid_request"
)

// clientCases has one row per registration rule. Bad values hold "zq" so
// that a description echoing them is caught.
var clientCases = []struct {
	name string
	body any
	code string
}{
	{"client_name too long", with(clientBody(), "client_name", strings.Repeat("n", 201)), badMeta},
	{"client_name control", with(clientBody(), "client_name", "zq\n"), badMeta},
	{"client_name bidi override", with(clientBody(), "client_name", "zq\u202e"), badMeta},
	{"client_name NUL", with(clientBody(), "client_name", "zq\x00"), badMeta},
	{"client_name line separator", with(clientBody(), "client_name", "zq\u2028zq"), badMeta},
	{"client_name paragraph separator", with(clientBody(), "client_name", "zq\u2029"), badMeta},
	{"client_name no-break space", with(clientBody(), "client_name", "zq\u00a0zq"), badMeta},
	{"client_name thin space", with(clientBody(), "client_name", "zq\u2009zq"), badMeta},
	{"grant_types empty", with(clientBody(), "grant_types", []string{}), badMeta},
	{"grant_types password", withGrants("password"), badMeta},
	{"grant_types implicit", withGrants("implicit"), badMeta},
	{"grant_types unknown", withGrants("zq"), badMeta},
	{"grant_types repeated", withGrants("authorization_code", "authorization_code"), badMeta},
	{"grant_types null entry", with(clientBody(), "grant_types", []any{nil}), badMeta},
	{"auth method unknown", with(clientBody(), "token_endpoint_auth_method", "private_key_jwt"), badMeta},
	{"public client_credentials", with(machine(), "token_endpoint_auth_method", "none"), badMeta},
	{"refresh without code", with(machine(), "grant_types",
		[]string{"client_credentials", "refresh_token"}), badMeta},
	{"code without redirect_uris", with(clientBody(), "redirect_uris", nil), badRedirect},
	{"code with empty redirect_uris", with(clientBody(), "redirect_uris", []string{}), badRedirect},
	{"redirect_uris without code", with(machine(), "redirect_uris", []string{"https://c.example/cb"}), badMeta},
	{"redirect javascript", redirectTo("javascript:alert('zq')"), badRedirect},
	{"redirect data", redirectTo("data:text/html,zq"), badRedirect},
	{"redirect file", redirectTo("file:///zq"), badRedirect},
	{"redirect fragment", redirectTo("https://zq.example/cb#x"), badRedirect},
	{"redirect empty fragment", redirectTo("https://zq.example/cb#"), badRedirect},
	{"redirect wildcard", redirectTo("https://*.zq.example/cb"), badRedirect},
	{"redirect http remote", redirectTo("http://zq.example/cb"), badRedirect},
	{"redirect localhost", redirectTo("http://localhost/zq"), badRedirect},
	{"redirect relative", redirectTo("/zq"), badRedirect},
	{"redirect userinfo", redirectTo("https://zq@c.example/cb"), badRedirect},
	{"redirect too long", redirectTo("https://c.example/zq" + strings.Repeat("a", 2000)), badRedirect},
	{"redirect repeated", redirectTo("https://c.example/zq", "https://c.example/zq"), badRedirect},
	{"scope invalid token", with(clientBody(), "scope", `read zq"`), badMeta},
	{"scope double space", with(clientBody(), "scope", "read  write"), badMeta},
	{"scope leading space", with(clientBody(), "scope", " read"), badMeta},
	{"scope repeated", with(clientBody(), "scope", "read read"), badMeta},
	{"scope not offered", with(clientBody(), "scope", "read zq"), badMeta},
	{"scope of another resource", with(clientBody(), "scope", "admin"), badMeta},
	{"offline_access without refresh", withGrants("authorization_code"), badMeta},
	{"resources missing", with(clientBody(), "resources", nil), badMeta},
	{"resources empty", with(clientBody(), "resources", []string{}), badMeta},
	{"resources unknown", with(clientBody(), "resources", []string{"https://zq.example"}), badMeta},
	{"resources empty entry", with(clientBody(), "resources", []string{apiURL, ""}), badMeta},
	{"resources repeated", with(clientBody(), "resources", []string{apiURL, apiURL}), badMeta},
	{"resources NUL", with(clientBody(), "resources", []string{"\x00"}), badMeta},
	{"resources NUL inside", with(clientBody(), "resources", []string{apiURL + "/zq\x00"}), badMeta},
	{"resources non-ascii", with(clientBody(), "resources", []string{apiURL + "/zqé"}), badMeta},
	{"unknown member client_secret", with(clientBody(), "client_secret", "zq"), badRequest},
	{"unknown member client_id", with(clientBody(), "client_id", "zq"), badRequest},
	{"member in another case", with(clientBody(), "client_name", nil, "Client_Name", "zq"), badRequest},
	{"wrong type", with(clientBody(), "scope", []string{"read"}), badRequest},
	{"duplicate member", `{"client_name":"a","client_name":"zq"}`, badRequest},
	{"trailing data", `{"client_name":"zq"} {}`, badRequest},
	{"not an object", `["zq"]`, badRequest},
	{"not JSON", `zq`, badRequest},
	{"empty body", ``, badRequest},
	{"invalid UTF-8", "{\"client_name\":\"zq\xff\"}", badRequest},
}

// testClientValidation sends each of clientCases both as a registration and
// as a replacement of an existing client; neither may change the store.
func testClientValidation(t *testing.T, e *env) {
	e.createResource(apiURL, "read", "write")
	e.createResource("https://other.example.test", "admin")
	existing := e.createClient(clientBody())

	reasons := make(map[string]string)
	for _, tt := range clientCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct{ method, path string }{
				{http.MethodPost, "/admin/clients"},
				{http.MethodPut, "/admin/clients/" + existing.ClientID},
			} {
				before := e.contents()
				got := e.do(route.method, route.path, tt.body).wantError(t, http.StatusBadRequest, tt.code)
				if strings.Contains(got.Description, "zq") {
					t.Errorf("%s: description %q repeats the input", route.method, got.Description)
				}
				e.wantUnchanged(before)
				reasons[tt.name] = got.Error + ": " + got.Description
			}
		})
	}
	// The golden file shows that each row fails for the rule it names.
	goldenValue(t, "client_validation.json", reasons)
}

func redirectTo(uris ...string) map[string]any {
	return with(clientBody(), "redirect_uris", uris)
}

func withGrants(grants ...string) map[string]any {
	return with(clientBody(), "grant_types", grants)
}

// machine returns a valid client_credentials registration.
func machine() map[string]any {
	return with(clientBody(), "grant_types", []string{"client_credentials"},
		"redirect_uris", nil, "scope", "read")
}

func testClientUpdateRules(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	confidential := e.createClient(clientBody())
	public := e.createClient(with(clientBody(), "token_endpoint_auth_method", "none"))
	before := e.contents()

	e.do(http.MethodPut, "/admin/clients/"+confidential.ClientID,
		with(clientBody(), "token_endpoint_auth_method", "none")).
		wantError(t, http.StatusBadRequest, "invalid_client_metadata")
	e.do(http.MethodPut, "/admin/clients/"+public.ClientID, clientBody()).
		wantError(t, http.StatusBadRequest, "invalid_client_metadata")
	e.do(http.MethodPut, "/admin/clients/unknown", clientBody()).
		wantError(t, http.StatusNotFound, "not_found")
	e.wantUnchanged(before)

	// Moving between the two secret methods keeps the secret.
	var got clientJSON
	e.do(http.MethodPut, "/admin/clients/"+confidential.ClientID,
		with(clientBody(), "token_endpoint_auth_method", "client_secret_post")).
		want(t, http.StatusOK, &got)
	c, err := e.store.Client(context.Background(), confidential.ClientID)
	if err != nil {
		t.Fatalf("Client() = %v", err)
	}
	err = e.hasher.Compare(context.Background(), c.SecretHash, []byte(*confidential.ClientSecret))
	if err != nil {
		t.Errorf("Compare(hash, secret) after PUT = %v, want nil", err)
	}
}

func testClientSecret(t *testing.T, e *env) {
	ctx := context.Background()
	e.createResource(apiURL, "read")
	created := e.createClient(clientBody())
	oldSecret := wantStrongSecret(t, created.ClientSecret)
	if created.ClientSecretExpiresAt == nil || *created.ClientSecretExpiresAt != 0 {
		t.Errorf("client_secret_expires_at = %v, want 0", created.ClientSecretExpiresAt)
	}

	var rotated clientJSON
	e.do(http.MethodPost, "/admin/clients/"+created.ClientID+"/secret", nil).want(t, http.StatusOK, &rotated)
	newSecret := wantStrongSecret(t, rotated.ClientSecret)
	if newSecret == oldSecret || rotated.ClientID != created.ClientID {
		t.Fatalf("rotation returned the same secret or another client_id")
	}

	c, err := e.store.Client(ctx, created.ClientID)
	if err != nil {
		t.Fatalf("Client() = %v", err)
	}
	if err := e.hasher.Compare(ctx, c.SecretHash, []byte(oldSecret)); !errors.Is(err, secret.ErrMismatch) {
		t.Errorf("Compare(hash, old secret) = %v, want %v", err, secret.ErrMismatch)
	}
	if err := e.hasher.Compare(ctx, c.SecretHash, []byte(newSecret)); err != nil {
		t.Errorf("Compare(hash, new secret) = %v, want nil", err)
	}

	for _, path := range []string{"/admin/clients", "/admin/clients/" + created.ClientID} {
		res := e.do(http.MethodGet, path, nil)
		wantNoSecretIn(t, "GET "+path, res.body, oldSecret, newSecret)
		if strings.Contains(string(res.body), `"client_secret"`) {
			t.Errorf("GET %s holds a client_secret member", path)
		}
	}
}

func testPublicClient(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	created := e.createClient(with(clientBody(), "token_endpoint_auth_method", "none"))
	if created.ClientSecret != nil {
		t.Errorf("public client registration returned a client_secret")
	}

	c, err := e.store.Client(context.Background(), created.ClientID)
	if err != nil {
		t.Fatalf("Client() = %v", err)
	}
	if c.SecretHash != nil {
		t.Errorf("public client SecretHash = %x, want nil", c.SecretHash)
	}

	before := e.contents()
	e.do(http.MethodPost, "/admin/clients/"+created.ClientID+"/secret", nil).
		wantError(t, http.StatusBadRequest, "invalid_request")
	e.wantUnchanged(before)
}

// testCredentialsHidden checks that a resource server's credentials cannot
// be read or changed as a client.
func testCredentialsHidden(t *testing.T, e *env) {
	res := e.createResource(apiURL, "read")
	before := e.contents()

	var list listJSON[clientJSON]
	e.do(http.MethodGet, "/admin/clients", nil).want(t, http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Errorf("GET /admin/clients = %d items, want none", len(list.Items))
	}

	path := "/admin/clients/" + res.ClientID
	e.do(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "not_found")
	e.do(http.MethodPut, path, clientBody()).wantError(t, http.StatusNotFound, "not_found")
	e.do(http.MethodDelete, path, nil).wantError(t, http.StatusNotFound, "not_found")
	e.do(http.MethodPost, path+"/secret", nil).wantError(t, http.StatusNotFound, "not_found")
	e.wantUnchanged(before)
}
