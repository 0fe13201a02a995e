package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// resourceJSON and clientJSON are the response shapes, decoded strictly
// enough that a renamed member fails the tests.
type resourceJSON struct {
	ID                      string            `json:"id"`
	Identifier              string            `json:"identifier"`
	Name                    string            `json:"name"`
	Scopes                  []string          `json:"scopes"`
	EncryptionKeys          jwksJSON          `json:"encryption_keys"`
	EncryptionKeysAddedAt   map[string]string `json:"encryption_keys_added_at"`
	TokenEncryptionRequired bool              `json:"token_encryption_required"`
	SigningAlgorithm        string            `json:"access_token_signing_alg"`
	ClientID                string            `json:"client_id"`
	ClientSecret            *string           `json:"client_secret"`
	CreatedAt               string            `json:"created_at"`
	UpdatedAt               string            `json:"updated_at"`
}

// jwksJSON is a JWK Set, each key left as its members.
type jwksJSON struct {
	Keys []map[string]any `json:"keys"`
}

type clientJSON struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            *string  `json:"client_secret"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at"`
	ClientName              string   `json:"client_name"`
	GrantTypes              []string `json:"grant_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Resources               []string `json:"resources"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
}

type userJSON struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Disabled  bool   `json:"disabled"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type consentJSON struct {
	ID         string   `json:"id"`
	ClientID   string   `json:"client_id"`
	ClientName string   `json:"client_name"`
	Resource   string   `json:"resource"`
	Scopes     []string `json:"scopes"`
	Remember   bool     `json:"remember"`
	CreatedAt  string   `json:"created_at"`
	UpdatedAt  string   `json:"updated_at"`
}

type listJSON[T any] struct {
	Items         []T    `json:"items"`
	NextPageToken string `json:"next_page_token"`
}

const apiURL = "https://api.example.test"

func resourceBody(identifier string, scopes ...string) map[string]any {
	return map[string]any{"identifier": identifier, "name": "Example API", "scopes": scopes}
}

func (e *env) createResource(identifier string, scopes ...string) resourceJSON {
	e.t.Helper()
	var got resourceJSON
	e.do(http.MethodPost, "/admin/resources", resourceBody(identifier, scopes...)).
		want(e.t, http.StatusCreated, &got)
	return got
}

// clientBody returns a valid confidential client registration using the
// resource apiURL, which must exist.
func clientBody() map[string]any {
	return map[string]any{
		"client_name":                "Example App",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"redirect_uris":              []string{"https://c.example/cb", "http://127.0.0.1/cb"},
		"scope":                      "read offline_access",
		"token_endpoint_auth_method": "client_secret_basic",
		"resources":                  []string{apiURL},
	}
}

func (e *env) createClient(body map[string]any) clientJSON {
	e.t.Helper()
	var got clientJSON
	e.do(http.MethodPost, "/admin/clients", body).want(e.t, http.StatusCreated, &got)
	return got
}

// alicePassword is the password of userBody's user.
const alicePassword = "correct horse battery staple"

// userBody returns a valid user registration.
func userBody() map[string]any {
	return map[string]any{
		"username": "alice",
		"password": alicePassword,
		"email":    "alice@example.test",
	}
}

func (e *env) createUser(body map[string]any) userJSON {
	e.t.Helper()
	var got userJSON
	e.do(http.MethodPost, "/admin/users", body).want(e.t, http.StatusCreated, &got)
	return got
}

// storedUser returns the user as the store holds it, hash included.
func (e *env) storedUser(id string) *storage.User {
	e.t.Helper()
	u, err := e.store.User(context.Background(), id)
	if err != nil {
		e.t.Fatalf("User(%q) = %v", id, err)
	}
	return u
}

// with returns a copy of body with the given members set, or removed when
// the value is nil.
func with(body map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// wantStrongSecret checks that a secret was returned and is at least 256
// random bits, base64url-encoded.
func wantStrongSecret(t *testing.T, s *string) string {
	t.Helper()
	if s == nil {
		t.Fatal("client_secret missing, want one")
	}
	raw, err := base64.RawURLEncoding.DecodeString(*s)
	if err != nil || len(raw) < 32 {
		t.Fatalf("client_secret decodes to %d bytes (err %v), want at least 32", len(raw), err)
	}
	return *s
}

// goldenValue is golden for a value to be encoded as JSON.
func goldenValue(t *testing.T, name string, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	golden(t, name, body)
}

// golden compares got, a JSON body, with testdata/name after replacing the
// values of the members in redact, which change on every run.
func golden(t *testing.T, name string, got []byte, redact ...string) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", got, err)
	}
	for _, k := range redact {
		if _, ok := v[k]; ok {
			v[k] = "<" + k + ">"
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode %s: %v", name, err)
	}
	norm := buf.Bytes()

	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, norm, 0o644); err != nil {
			t.Fatalf("write golden file: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(norm)); diff != "" {
		t.Errorf("body differs from %s (-want +got):\n%s", path, diff)
	}
}

// wantNoSecretIn fails if any secret appears in s.
func wantNoSecretIn(t *testing.T, what string, s []byte, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && bytes.Contains(s, []byte(sec)) {
			t.Errorf("%s holds a client secret", what)
		}
	}
}
