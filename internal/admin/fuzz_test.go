package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/token"
)

// The seed corpora live in testdata/fuzz/FuzzPageToken,
// testdata/fuzz/FuzzCreateClient, testdata/fuzz/FuzzCreateUser,
// testdata/fuzz/FuzzResourceIdentifier and testdata/fuzz/FuzzEncryptionKeys.

// FuzzPageToken checks that no page_token other than one Veil made gets
// past the MAC, and that none causes anything but a 400.
func FuzzPageToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, token string) {
		e := newEnv(t, memory.New())
		res := e.do(http.MethodGet, "/admin/clients?page_token="+url.QueryEscape(token), nil)
		if res.status != http.StatusBadRequest {
			t.Fatalf("GET /admin/clients?page_token=%q: status = %d, want 400", token, res.status)
		}
	})
}

// FuzzCreateClient sends arbitrary bodies to the registration endpoint: the
// answer is 201 or a 4xx error, never a server error, and a refused body
// stores nothing.
func FuzzCreateClient(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t, memory.New())
		e.createResource(apiURL, "read", "write")
		before := e.contents()

		res := e.do(http.MethodPost, "/admin/clients", body)
		switch res.status {
		case http.StatusCreated:
			if got := len(e.contents().Clients); got != 1 {
				t.Fatalf("POST %q: 201 but %d clients stored, want 1", body, got)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			res.wantError(t, res.status, errorCode(t, res))
			e.wantUnchanged(before)
		default:
			t.Fatalf("POST %q: status = %d, want 201, 400 or 413; body %s", body, res.status, res.body)
		}
	})
}

// FuzzCreateUser sends arbitrary bodies to POST /admin/users: the answer is
// 201 or a 4xx error, never a server error; a refused body stores nothing;
// and no answer holds the password or its hash.
func FuzzCreateUser(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t, memory.New())
		before := e.contents()

		res := e.do(http.MethodPost, "/admin/users", body)
		switch res.status {
		case http.StatusCreated:
			var got userJSON
			res.want(t, res.status, &got)
			hash := e.storedUser(got.ID).PasswordHash
			if bytes.Contains(res.body, []byte("argon2")) || bytes.Contains(res.body, []byte(hash)) {
				t.Fatalf("POST %q: response holds the password hash: %s", body, res.body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			res.wantError(t, res.status, badRequest)
			e.wantUnchanged(before)
		default:
			t.Fatalf("POST %q: status = %d, want 201, 400 or 413; body %s", body, res.status, res.body)
		}
	})
}

// errorCode returns the error member of an error response, failing unless
// it is one of the registration error codes.
func errorCode(t *testing.T, res response) string {
	t.Helper()
	var got errorBody
	res.want(t, res.status, &got)
	switch got.Error {
	case badMeta, badRedirect, badRequest:
		return got.Error
	}
	t.Fatalf("error = %q, want a registration error code", got.Error)
	return ""
}

// FuzzResourceIdentifier registers arbitrary identifiers: the answer is 201
// or 400, never a server error, and an accepted identifier is in the one
// spelling that Go's URL parser writes back, so that no second spelling of
// the same URI is accepted beside it.
func FuzzResourceIdentifier(f *testing.F) {
	f.Fuzz(func(t *testing.T, ident string) {
		e := newEnv(t, memory.New())
		res := e.do(http.MethodPost, "/admin/resources", resourceBody(ident, "read"))
		switch res.status {
		case http.StatusBadRequest:
			return
		case http.StatusCreated:
		default:
			t.Fatalf("POST identifier %q: status = %d, want 201 or 400; body %s",
				ident, res.status, res.body)
		}

		u, err := url.Parse(ident)
		if err != nil || u.String() != ident {
			t.Fatalf("POST identifier %q: 201, but url.Parse writes it back as %v (err %v)",
				ident, u, err)
		}
		if u.Host != strings.ToLower(u.Host) || u.Port() == "443" || u.Port() == "80" {
			t.Fatalf("POST identifier %q: 201, want 400 (host case or default port)", ident)
		}
	})
}

// FuzzEncryptionKeys registers arbitrary values as a resource's
// encryption_keys: the answer is 201 or 400, never a server error, and an
// accepted set holds at most ten public keys that Veil can encrypt to,
// each with its own kid and no private member, as shown and as stored.
func FuzzEncryptionKeys(f *testing.F) {
	f.Fuzz(func(t *testing.T, keys string) {
		e := newEnv(t, memory.New())
		body := `{"identifier":"` + apiURL + `","name":"API","scopes":["read"],"encryption_keys":` +
			keys + `}`
		res := e.do(http.MethodPost, "/admin/resources", body)
		switch res.status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			res.wantError(t, res.status, badRequest)
			return
		case http.StatusCreated:
		default:
			t.Fatalf("POST encryption_keys %q: status = %d, want 201 or 400; body %s",
				keys, res.status, res.body)
		}

		var got resourceJSON
		res.want(t, res.status, &got)
		stored, err := e.store.Resource(context.Background(), got.ID)
		if err != nil {
			t.Fatalf("Resource(%s) = %v", got.ID, err)
		}
		shown := got.EncryptionKeys.Keys
		if len(shown) > 10 || len(stored.EncryptionKeys) != len(shown) {
			t.Fatalf("POST encryption_keys %q: %d shown, %d stored, want the same, at most 10",
				keys, len(shown), len(stored.EncryptionKeys))
		}
		kids := make(map[string]bool)
		for i, k := range stored.EncryptionKeys {
			var members map[string]any
			if err := json.Unmarshal(k.JWK, &members); err != nil {
				t.Fatalf("stored key %d is not JSON: %v", i, err)
			}
			for _, m := range privateMembers {
				if members[m] != nil || shown[i][m] != nil {
					t.Fatalf("POST encryption_keys %q: key %d keeps private member %q", keys, i, m)
				}
			}
			var parsed jose.JSONWebKey
			if err := parsed.UnmarshalJSON(k.JWK); err != nil {
				t.Fatalf("stored key %d does not parse: %v", i, err)
			}
			if _, err := token.NewResourceEncrypter(&parsed); err != nil || kids[parsed.KeyID] {
				t.Fatalf("POST encryption_keys %q: key %d unusable (%v) or kid repeated",
					keys, i, err)
			}
			kids[parsed.KeyID] = true
		}
	})
}
