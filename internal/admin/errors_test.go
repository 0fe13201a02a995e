package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// failingStore is a store whose reads fail with err, over a real store so
// that the writes a test sets up still work.
type failingStore struct {
	storage.Store
	err error
}

func (f failingStore) Client(context.Context, string) (*storage.Client, error) {
	return nil, f.err
}

func (f failingStore) ListClients(
	context.Context, storage.ClientKind, string, int,
) ([]*storage.Client, error) {
	return nil, f.err
}

func (f failingStore) Resource(context.Context, string) (*storage.Resource, error) {
	return nil, f.err
}

func (f failingStore) ResourceByIdentifier(context.Context, string) (*storage.Resource, error) {
	return nil, f.err
}

func (f failingStore) User(context.Context, string) (*storage.User, error) {
	return nil, f.err
}

func (f failingStore) ListUsers(context.Context, string, int) ([]*storage.User, error) {
	return nil, f.err
}

func (f failingStore) Keys(context.Context) ([]*storage.Key, error) {
	return nil, f.err
}

// goneStore is a store whose resources vanish between the admin API's
// checks and its writes, as when another request deletes one meanwhile.
type goneStore struct {
	storage.Store
}

func (g goneStore) CreateClient(context.Context, *storage.Client) error {
	return fmt.Errorf("create client: %w", storage.ErrNotFound)
}

func (g goneStore) UpdateClient(context.Context, *storage.Client) error {
	return fmt.Errorf("update client: %w", storage.ErrNotFound)
}

func testResourceGone(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	existing := e.createClient(clientBody())
	g := newEnv(t, goneStore{Store: e.store})
	before := e.contents()

	g.do(http.MethodPost, "/admin/clients", clientBody()).
		wantError(t, http.StatusBadRequest, "invalid_client_metadata")
	g.do(http.MethodPut, "/admin/clients/"+existing.ClientID, clientBody()).
		wantError(t, http.StatusBadRequest, "invalid_client_metadata")
	e.wantUnchanged(before)
}

// testStoreErrors checks that storage failures reach the caller only as
// fixed errors, and reach the log once, at error level (security case 13).
func testStoreErrors(t *testing.T, e *env) {
	e.createResource(apiURL, "read")
	const leak = "SELECT secret_hash FROM clients: syntax error"

	tests := []struct {
		name   string
		err    error
		status int
		code   string
		golden string
	}{
		{"unavailable", fmt.Errorf("dial: %s: %w", leak, storage.ErrUnavailable),
			http.StatusServiceUnavailable, "temporarily_unavailable", "unavailable.json"},
		{"internal", errors.New(leak), http.StatusInternalServerError, "server_error", "server_error.json"},
		{"conflict where none is expected", fmt.Errorf("%s: %w", leak, storage.ErrConflict),
			http.StatusInternalServerError, "server_error", "server_error.json"},
	}
	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/admin/clients", nil},
		{http.MethodGet, "/admin/resources/someid", nil},
		{http.MethodGet, "/admin/clients/someid", nil},
		{http.MethodPost, "/admin/clients", clientBody()},
		{http.MethodGet, "/admin/users", nil},
		{http.MethodGet, "/admin/users/someid", nil},
		{http.MethodGet, "/admin/users/someid/consents", nil},
		{http.MethodGet, "/admin/keys", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newEnv(t, failingStore{Store: e.store, err: tt.err})
			for _, r := range routes {
				res := f.do(r.method, r.path, r.body)
				res.wantError(t, tt.status, tt.code)
				golden(t, tt.golden, res.body)
			}

			logs := f.logs.String()
			if n := strings.Count(logs, "level=ERROR"); n != len(routes) {
				t.Errorf("%d error lines logged for %d failed requests, want one each:\n%s",
					n, len(routes), logs)
			}
			if !strings.Contains(logs, "SELECT secret_hash") {
				t.Errorf("log does not hold the cause:\n%s", logs)
			}
		})
	}
}

// testSecretsNeverLogged checks that changes are logged at info with their
// IDs and without any secret.
func testSecretsNeverLogged(t *testing.T, e *env) {
	res := e.createResource(apiURL, "read")
	var rotatedRes resourceJSON
	e.do(http.MethodPost, "/admin/resources/"+res.ID+"/secret", nil).want(t, http.StatusOK, &rotatedRes)
	c := e.createClient(clientBody())
	var rotated clientJSON
	e.do(http.MethodPost, "/admin/clients/"+c.ClientID+"/secret", nil).want(t, http.StatusOK, &rotated)
	e.do(http.MethodDelete, "/admin/clients/"+c.ClientID, nil).want(t, http.StatusNoContent, nil)

	logs := e.logs.String()
	wantNoSecretIn(t, "log", []byte(logs), *res.ClientSecret, *rotatedRes.ClientSecret,
		*c.ClientSecret, *rotated.ClientSecret, adminToken)
	for _, want := range []string{
		`msg="resource created" resource_id=` + res.ID + " client_id=" + res.ClientID,
		`msg="resource secret rotated" resource_id=` + res.ID,
		`msg="client created" client_id=` + c.ClientID,
		`msg="client secret rotated" client_id=` + c.ClientID,
		`msg="client deleted" client_id=` + c.ClientID,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	// Nor is the presented admin token logged when it is wrong.
	req := newRequest(t, http.MethodGet, "/admin/clients", nil)
	req.Header.Set("Authorization", "Bearer wrong-token-zq")
	e.send(req)
	if strings.Contains(e.logs.String(), "wrong-token-zq") {
		t.Error("log holds a presented bearer token")
	}
}

// TestNewPanics checks that a Config without a Store or Hasher, or with
// password parameters out of bounds, is caught at start-up rather than on
// the first request.
func TestNewPanics(t *testing.T) {
	e := newEnv(t, memory.New())
	tests := []struct {
		name string
		cfg  admin.Config
	}{
		{"empty", admin.Config{Token: adminToken}},
		{"no hasher", admin.Config{Store: e.store, Token: adminToken}},
		{"password params", admin.Config{Store: e.store, Hasher: e.hasher, Token: adminToken,
			Password: password.Params{Memory: password.MaxMemory + 1, Time: 1, Threads: 1,
				SaltLen: 16, KeyLen: 32}}},
		{"signing algorithm", admin.Config{Store: e.store, Hasher: e.hasher, Token: adminToken,
			SigningAlgorithms: []string{"ES256", "HS256"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", tt.cfg)
				}
			}()
			admin.New(tt.cfg)
		})
	}
}

// TestDefaultPasswordParams checks that an API configured without password
// parameters hashes with password.Default.
func TestDefaultPasswordParams(t *testing.T) {
	e := newEnv(t, memory.New())
	e.handler = admin.New(admin.Config{Store: e.store, Hasher: e.hasher, Token: adminToken})
	u := e.createUser(userBody())
	hash := e.storedUser(u.ID).PasswordHash
	if password.NeedsRehash(hash, password.Default) {
		t.Errorf("stored hash %q was not made with password.Default", hash)
	}
}
