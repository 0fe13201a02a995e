package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/veil-auth/veil/internal/endpoint"
)

const testAPI = "https://api.example.test"

// createAPI registers the resource testAPI with the scopes read and write.
func createAPI(t *testing.T, v *adminVeil) resourceView {
	t.Helper()
	var res resourceView
	v.veil("resources", "create", "--json", "--identifier", testAPI, "--name", "Orders API",
		"--scope", "read write").ok(t).json(t, &res)
	v.secret(res.ClientSecret)
	return res
}

// tokenWorks reports whether Veil issues a client_credentials token for
// testAPI to the client with this secret.
func tokenWorks(t *testing.T, v *adminVeil, clientID, secret string) bool {
	t.Helper()
	cc := clientcredentials.Config{
		ClientID: clientID, ClientSecret: secret, TokenURL: v.public + endpoint.PathToken,
		Scopes: []string{"read"}, EndpointParams: url.Values{"resource": {testAPI}},
	}
	_, err := cc.Token(context.Background())
	return err == nil
}

func TestAdminClients(t *testing.T) {
	v := startAdminVeil(t)
	createAPI(t, v)

	// A confidential client, shown as text: the secret is on stdout, once,
	// and works.
	r := v.veil("clients", "create", "--name", "Billing", "--grant-type", "client_credentials",
		"--scope", "read", "--resource", testAPI).ok(t)
	id, secret := r.field(t, "client_id"), r.field(t, "client_secret")
	v.secret(secret)
	r.has(t, "client_name:", "Billing", "client_credentials", "client_secret_basic", testAPI)
	if !strings.Contains(r.stderr, "client_secret is shown this once") {
		t.Errorf("clients create: stderr %q does not say the secret is shown once", r.stderr)
	}
	if !tokenWorks(t, v, id, secret) {
		t.Fatal("the secret clients create printed gets no token")
	}

	// A public client, as JSON: every flag reaches the API.
	var spa clientView
	r = v.veil("clients", "create", "--json", "--name", "SPA", "--auth-method", "none",
		"--redirect-uri", "https://spa.example.test/cb",
		"--redirect-uri", "https://spa.example.test/cb2",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--scope", "read", "--scope", "write", "--resource", testAPI).ok(t)
	r.json(t, &spa)
	want := clientView{ClientID: spa.ClientID, ClientName: "SPA", TokenEndpointAuthMethod: "none",
		RedirectURIs: []string{"https://spa.example.test/cb", "https://spa.example.test/cb2"},
		GrantTypes:   []string{"authorization_code", "refresh_token"}, Scope: "read write",
		Resources: []string{testAPI}, CreatedAt: spa.CreatedAt, UpdatedAt: spa.UpdatedAt}
	if !sameClient(spa, want) || spa.ClientID == "" {
		t.Errorf("clients create --json = %+v, want %+v", spa, want)
	}
	if strings.Contains(r.stderr, "shown this once") {
		t.Errorf("clients create of a public client speaks of a secret: %q", r.stderr)
	}

	// get and list, as text and JSON; no secret is ever read back.
	v.veil("clients", "get", "--", id).ok(t).
		has(t, "client_id:", id, "Billing", "client_credentials")
	var got clientView
	v.veil("clients", "get", "--json", "--", id).ok(t).json(t, &got)
	if got.ClientID != id || got.ClientSecret != "" || got.ClientName != "Billing" {
		t.Errorf("clients get --json = %+v, want client %s without a secret", got, id)
	}
	v.veil("clients", "list").ok(t).has(t, "CLIENT_ID", id, spa.ClientID, "Billing", "SPA")
	var all listing
	v.veil("clients", "list", "--json").ok(t).json(t, &all)
	if len(all.Items) != 2 || all.NextPageToken != "" {
		t.Errorf("clients list --json = %d items, next %q; want 2, none",
			len(all.Items), all.NextPageToken)
	}

	// update changes what its flags name and keeps the rest.
	r = v.veil("clients", "update", "--json", "--name", "SPA v2", "--redirect-uri",
		"https://spa.example.test/new", "--", spa.ClientID).ok(t)
	r.json(t, &got)
	want.ClientName, want.RedirectURIs = "SPA v2", []string{"https://spa.example.test/new"}
	if !sameClient(got, want) {
		t.Errorf("clients update = %+v, want %+v", got, want)
	}
	v.veil("clients", "update", "--scope", "", "--", spa.ClientID).ok(t).
		has(t, "client_name:", "SPA v2")
	v.veil("clients", "get", "--json", "--", spa.ClientID).ok(t).json(t, &got)
	if got.Scope != "" || len(got.RedirectURIs) != 1 {
		t.Errorf("after update --scope '': scope %q, redirect_uris %v; want none, one",
			got.Scope, got.RedirectURIs)
	}
	v.veil("clients", "update", "--grant-type", "password", "--", spa.ClientID).
		fails(t, 1, "HTTP 400")

	// rotate-secret: the new secret works and the old one no longer.
	r = v.veil("clients", "rotate-secret", "--", id).ok(t)
	newSecret := r.field(t, "client_secret")
	v.secret(newSecret)
	if !strings.Contains(r.stderr, "shown this once") {
		t.Errorf("clients rotate-secret: stderr %q does not say the secret is shown once", r.stderr)
	}
	if newSecret == secret || !tokenWorks(t, v, id, newSecret) || tokenWorks(t, v, id, secret) {
		t.Error("after rotate-secret, want the new secret, and only it, to work")
	}
	v.veil("clients", "rotate-secret", "--", spa.ClientID).
		fails(t, 1, "has no secret (invalid_request, HTTP 400)")

	// delete.
	v.veil("clients", "delete", "--", id).ok(t).has(t, "client "+id+" deleted")
	v.veil("clients", "get", "--", id).fails(t, 1, "client not found (not_found, HTTP 404)")
	v.veil("clients", "delete", "--", id).fails(t, 1, "client not found")
	if r := v.veil("clients", "delete", "--json", "--", spa.ClientID).ok(t); r.stdout != "" {
		t.Errorf("clients delete --json printed %q, want nothing", r.stdout)
	}
}

// sameClient compares two clients as the API shows them.
func sameClient(a, b clientView) bool {
	return a.ClientID == b.ClientID && a.ClientName == b.ClientName &&
		a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod && a.Scope == b.Scope &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.GrantTypes, b.GrantTypes) &&
		slices.Equal(a.Resources, b.Resources) && a.ClientSecret == b.ClientSecret
}

// introspectionWorks reports whether the introspection endpoint accepts
// these resource credentials.
func introspectionWorks(t *testing.T, v *adminVeil, clientID, secret string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.public+endpoint.PathIntrospect,
		strings.NewReader("token=not-a-token"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// encryptionKeys writes a JWK Set of one EC public key with the given kid
// and returns the file, and the private key's d, which must not be echoed.
func encryptionKeys(t *testing.T, kid string, private bool) (path, d string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Use: "enc"}
	if private {
		jwk.Key = key
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := json.Marshal(jose.JSONWebKey{Key: key})
	var m map[string]string
	_ = json.Unmarshal(priv, &m)
	return writeFile(t, kid+".json", string(set)), m["d"]
}

func TestAdminResources(t *testing.T) {
	v := startAdminVeil(t)
	keysFile, _ := encryptionKeys(t, "enc-1", false)

	r := v.veil("resources", "create", "--identifier", testAPI, "--name", "Orders",
		"--scope", "read", "--scope", "write", "--encryption-keys", keysFile,
		"--require-encryption", "--signing-alg", "RS256").ok(t)
	id, clientID, secret := r.field(t, "id"), r.field(t, "client_id"), r.field(t, "client_secret")
	v.secret(secret)
	r.has(t, "identifier:", testAPI, "Orders", "read, write", "RS256", "enc-1 (EC, added ")
	if f := r.field(t, "token_encryption_required"); f != "true" {
		t.Errorf("token_encryption_required: %s, want true", f)
	}
	if !strings.Contains(r.stderr, "shown this once") {
		t.Errorf("resources create: stderr %q does not say the secret is shown once", r.stderr)
	}
	if !introspectionWorks(t, v, clientID, secret) {
		t.Fatal("the secret resources create printed does not authenticate at introspection")
	}

	// update keeps what no flag names, the encryption keys above all: a
	// PUT without them would remove them.
	var got resourceView
	v.veil("resources", "update", "--json", "--name", "Orders v2", "--", id).ok(t).json(t, &got)
	if got.Name != "Orders v2" || got.Identifier != testAPI ||
		!slices.Equal(got.Scopes, []string{"read", "write"}) || !got.TokenEncryptionRequired ||
		got.SigningAlgorithm != "RS256" ||
		!strings.Contains(string(got.EncryptionKeys), `"enc-1"`) {
		t.Errorf("resources update --name = %+v, want only the name changed", got)
	}
	v.veil("resources", "update", "--no-encryption-keys", "--", id).fails(t, 1, "HTTP 400")
	v.veil("resources", "update", "--json", "--no-encryption-keys", "--require-encryption=false",
		"--signing-alg", "", "--", id).ok(t).json(t, &got)
	if got.TokenEncryptionRequired || got.SigningAlgorithm != "" ||
		strings.Contains(string(got.EncryptionKeys), "enc-1") {
		t.Errorf("resources update --no-encryption-keys = %+v, "+
			"want no keys, not required, default alg", got)
	}
	v.veil("resources", "get", "--", id).ok(t).has(t, "Orders v2", "(Veil's default)")

	// Bad key files: refused by the CLI, or by the API without echoing a
	// private key.
	v.veil("resources", "update", "--encryption-keys", keysFile, "--no-encryption-keys", "--", id).
		fails(t, 2, "not both")
	notJSON := writeFile(t, "bad.json", "{")
	v.veil("resources", "update", "--encryption-keys", notJSON, "--", id).fails(t, 2, "not JSON")
	privFile, d := encryptionKeys(t, "enc-2", true)
	v.secret(d)
	v.veil("resources", "update", "--encryption-keys", privFile, "--", id).
		fails(t, 1, "private or symmetric key material")

	v.veil("resources", "list").ok(t).
		has(t, "IDENTIFIER", id, testAPI, "Orders v2", "read write", clientID)

	r = v.veil("resources", "rotate-secret", "--", id).ok(t)
	newSecret := r.field(t, "client_secret")
	v.secret(newSecret)
	if !introspectionWorks(t, v, clientID, newSecret) ||
		introspectionWorks(t, v, clientID, secret) {
		t.Error("after rotate-secret, want the new secret, and only it, to work")
	}

	v.veil("resources", "delete", "--", id).ok(t).has(t, "resource "+id+" deleted")
	v.veil("resources", "get", "--", id).fails(t, 1, "resource not found (not_found, HTTP 404)")
}
