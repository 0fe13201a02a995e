package admin_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/veil-auth/veil/internal/storage/memory"
)

// The seed corpora live in testdata/fuzz/FuzzPageToken,
// testdata/fuzz/FuzzCreateClient and testdata/fuzz/FuzzCreateUser.

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
