package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// The seed corpora live in testdata/fuzz/FuzzCreateResource,
// testdata/fuzz/FuzzUpdate and testdata/fuzz/FuzzAdminAuthorization.

// FuzzCreateResource sends arbitrary bodies to POST /admin/resources: the
// answer is 201 or a 4xx error, never a server error; a refused body stores
// nothing; and an accepted one stores one resource with one set of
// introspection credentials, whose secret is the one shown.
func FuzzCreateResource(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t, memory.New())
		before := e.contents()

		res := e.do(http.MethodPost, "/admin/resources", body)
		switch res.status {
		case http.StatusCreated:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			res.wantError(t, res.status, badRequest)
			e.wantUnchanged(before)
			return
		default:
			t.Fatalf("POST %q: status = %d, want 201, 400 or 413; body %s",
				body, res.status, res.body)
		}

		var got resourceJSON
		res.want(t, res.status, &got)
		after := e.contents()
		if len(after.Resources) != 1 || len(after.Credentials) != 1 || len(after.Clients) != 0 {
			t.Fatalf("POST %q: 201 but %d resources, %d credentials and %d clients stored, "+
				"want 1, 1, 0", body, len(after.Resources), len(after.Credentials),
				len(after.Clients))
		}
		creds := after.Credentials[0]
		secret := wantStrongSecret(t, got.ClientSecret)
		err := e.hasher.Compare(context.Background(), creds.SecretHash, []byte(secret))
		if creds.ID != got.ClientID || err != nil {
			t.Fatalf("POST %q: stored credentials are not the ones shown", body)
		}
		if after.Resources[0].Identifier != got.Identifier {
			t.Fatalf("POST %q: stored identifier %q, shown %q",
				body, after.Resources[0].Identifier, got.Identifier)
		}
	})
}

// FuzzUpdate sends arbitrary bodies to PUT on a client, a resource or a
// user (which one is chosen by the first argument). The answer is 200 or a
// 4xx error, never a server error; a refused body changes nothing; and no
// update shows or changes a client secret, or shows a password or its
// hash.
func FuzzUpdate(f *testing.F) {
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		e := newEnv(t, memory.New())
		rs := e.createResource(apiURL, "read", "write")
		client := e.createClient(clientBody())
		user := e.createUser(userBody())
		path := []string{
			"/admin/clients/" + client.ClientID,
			"/admin/resources/" + rs.ID,
			"/admin/users/" + user.ID,
		}[which%3]
		before := e.contents()
		hashes := [][]byte{before.Clients[0].SecretHash, before.Credentials[0].SecretHash}

		res := e.do(http.MethodPut, path, body)
		switch res.status {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			res.wantError(t, res.status, errorBodyCode(t, res))
			e.wantUnchanged(before)
			return
		default:
			t.Fatalf("PUT %s %q: status = %d, want 200, 400, 409 or 413; body %s",
				path, body, res.status, res.body)
		}

		for _, member := range []string{`"client_secret"`, `"password"`, "argon2"} {
			if bytes.Contains(res.body, []byte(member)) {
				t.Fatalf("PUT %s %q: response holds %s: %s", path, body, member, res.body)
			}
		}
		after := e.contents()
		if !bytes.Equal(after.Clients[0].SecretHash, hashes[0]) ||
			!bytes.Equal(after.Credentials[0].SecretHash, hashes[1]) {
			t.Fatalf("PUT %s %q changed a client secret", path, body)
		}
		if which%3 == 2 {
			stored := e.storedUser(user.ID)
			if bytes.Contains(res.body, []byte(stored.PasswordHash)) {
				t.Fatalf("PUT %s %q: response holds the password hash", path, body)
			}
			var members map[string]json.RawMessage
			_ = json.Unmarshal([]byte(body), &members)
			_, set := members["password"]
			if ok, err := password.Verify(alicePassword, stored.PasswordHash); !ok && !set {
				t.Fatalf("PUT %s %q without a password changed it (%v)", path, body, err)
			}
		}
	})
}

// errorBodyCode returns the error member of an error response, failing
// unless it is an error code of the admin API's requests.
func errorBodyCode(t *testing.T, res response) string {
	t.Helper()
	var got errorBody
	res.want(t, res.status, &got)
	switch got.Error {
	case badMeta, badRedirect, badRequest, "conflict":
		return got.Error
	}
	t.Fatalf("error = %q, want a request error code", got.Error)
	return ""
}

// FuzzAdminAuthorization sends arbitrary Authorization headers to the
// admin API: only a Bearer header with the exact admin token gets
// through, and every other answer is the same 401, whatever was sent.
func FuzzAdminAuthorization(f *testing.F) {
	f.Fuzz(func(t *testing.T, authorization string) {
		e := newEnv(t, memory.New())
		req := newRequest(t, http.MethodGet, "/admin/clients", nil)
		req.Header["Authorization"] = []string{authorization}
		res := e.send(req)

		scheme, tok, _ := strings.Cut(authorization, " ")
		valid := strings.EqualFold(scheme, "Bearer") && tok == adminToken
		switch {
		case valid && res.status != http.StatusOK:
			t.Fatalf("Authorization %q: status = %d, want 200", authorization, res.status)
		case !valid && res.status != http.StatusUnauthorized:
			t.Fatalf("Authorization %q: status = %d, want 401; body %s",
				authorization, res.status, res.body)
		case !valid:
			res.wantError(t, res.status, "invalid_token")
			if len(authorization) >= 8 && bytes.Contains(res.body, []byte(authorization)) {
				t.Fatalf("Authorization %q: 401 body repeats it: %s", authorization, res.body)
			}
		}
		if strings.Contains(e.logs.String(), authorization) && len(authorization) >= 8 {
			t.Fatalf("Authorization %q is in the log:\n%s", authorization, e.logs.String())
		}
	})
}
