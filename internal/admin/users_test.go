package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/storage"
)

func testUserLifecycle(t *testing.T, e *env) {
	res := e.do(http.MethodPost, "/admin/users", userBody())
	golden(t, "user_created.json", res.body, "id", "created_at", "updated_at")
	var created userJSON
	res.want(t, http.StatusCreated, &created)
	if got, want := res.header.Get("Location"), "/admin/users/"+created.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}

	res = e.do(http.MethodGet, "/admin/users/"+created.ID, nil)
	var got userJSON
	res.want(t, http.StatusOK, &got)
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GET user (-want +got):\n%s", diff)
	}
	wantMembers(t, res.body, "created_at", "disabled", "email", "id", "updated_at", "username")

	put := map[string]any{"username": "alice.smith", "email": "", "disabled": false}
	e.do(http.MethodPut, "/admin/users/"+created.ID, put).want(t, http.StatusOK, &got)
	want := userJSON{ID: created.ID, Username: "alice.smith", CreatedAt: created.CreatedAt,
		UpdatedAt: got.UpdatedAt}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PUT user (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.getUser(created.ID)); diff != "" {
		t.Errorf("GET user after PUT (-want +got):\n%s", diff)
	}

	var list listJSON[userJSON]
	e.do(http.MethodGet, "/admin/users", nil).want(t, http.StatusOK, &list)
	if diff := cmp.Diff([]userJSON{want}, list.Items); diff != "" || list.NextPageToken != "" {
		t.Errorf("GET /admin/users (-want +got):\n%s\nnext_page_token %q", diff, list.NextPageToken)
	}

	res = e.do(http.MethodDelete, "/admin/users/"+created.ID, nil)
	res.want(t, http.StatusNoContent, nil)
	if len(res.body) != 0 {
		t.Errorf("DELETE body = %q, want none", res.body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		e.do(method, "/admin/users/"+created.ID, nil).wantError(t, http.StatusNotFound, "not_found")
	}
	if c := e.contents(); len(c.Users) != 0 {
		t.Errorf("after DELETE the store holds %d users, want none", len(c.Users))
	}
}

func (e *env) getUser(id string) userJSON {
	e.t.Helper()
	var got userJSON
	e.do(http.MethodGet, "/admin/users/"+id, nil).want(e.t, http.StatusOK, &got)
	return got
}

// wantMembers fails unless the JSON object in body has exactly the given
// members, so that no new member (a password hash, say) slips in.
func wantMembers(t *testing.T, body []byte, want ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", body, err)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members of %s (-want +got):\n%s", body, diff)
	}
}

// testUserAccepted checks values at the edges of each rule that must be
// stored exactly as given.
func testUserAccepted(t *testing.T, e *env) {
	tests := []struct {
		name, username, email, password string
	}{
		{"one character", "a", "", "12345678"},
		{"64 characters", strings.Repeat("u", 64), "", alicePassword},
		{"64 characters multi-byte", strings.Repeat("ü", 64), "", alicePassword},
		{"unicode", "Zoë_名前-1", "zoë@例え.example", alicePassword},
		{"email as username", "bob@example.test", "bob@example.test", alicePassword},
		{"plus address", "carol", "carol.smith+veil@mail.example.co.uk", alicePassword},
		{"short email", "dave", "d@e", alicePassword},
		{"email 254 bytes", "erin", strings.Repeat("e", 64) + "@" + strings.Repeat("d", 189),
			alicePassword},
		{"eight cjk characters", "frank", "", "密码密码密码密码"},
		{"password with spaces", "grace", "", " pass word "},
		{"password 1024 bytes", "heidi", "", strings.Repeat("p", 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.createUser(map[string]any{
				"username": tt.username, "email": tt.email, "password": tt.password,
			})
			want := userJSON{ID: got.ID, Username: tt.username, Email: tt.email,
				CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("POST /admin/users (-want +got):\n%s", diff)
			}
			wantPassword(t, e, got.ID, tt.password)
		})
	}
}

// wantPassword fails unless the stored hash of a user verifies pw and was
// made with the API's parameters.
func wantPassword(t *testing.T, e *env, id, pw string) {
	t.Helper()
	hash := e.storedUser(id).PasswordHash
	if ok, err := password.Verify(pw, hash); !ok || err != nil {
		t.Errorf("Verify(password, stored hash) = %t, %v, want true, nil", ok, err)
	}
	if password.NeedsRehash(hash, testPasswords) {
		t.Errorf("stored hash %q was not made with the configured parameters", hash)
	}
}

func testUserConflict(t *testing.T, e *env) {
	alice := e.createUser(userBody())
	bob := e.createUser(with(userBody(), "username", "bob"))
	before := e.contents()

	for _, name := range []string{"alice", "ALICE", "Alice"} {
		e.do(http.MethodPost, "/admin/users", with(userBody(), "username", name)).
			wantError(t, http.StatusConflict, "conflict")
	}
	put := map[string]any{"username": "aLiCe", "disabled": false}
	e.do(http.MethodPut, "/admin/users/"+bob.ID, put).wantError(t, http.StatusConflict, "conflict")
	e.wantUnchanged(before)

	// A user may change the case of their own username.
	e.do(http.MethodPut, "/admin/users/"+alice.ID, put).want(t, http.StatusOK, nil)
	if got := e.getUser(alice.ID).Username; got != "aLiCe" {
		t.Errorf("username after PUT = %q, want %q", got, "aLiCe")
	}

	// Of concurrent registrations of one username, exactly one wins.
	statuses := make([]int, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			body := with(userBody(), "username", "race")
			statuses[i] = e.do(http.MethodPost, "/admin/users", body).status
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	want := append([]int{http.StatusCreated}, slices.Repeat([]int{http.StatusConflict}, 9)...)
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("concurrent POST statuses (-want +got):\n%s", diff)
	}
}

// testUserPassword checks that PUT re-hashes a new password and keeps the
// old hash, untouched, when no password is given.
func testUserPassword(t *testing.T, e *env) {
	u := e.createUser(userBody())
	wantPassword(t, e, u.ID, alicePassword)
	first := e.storedUser(u.ID).PasswordHash

	put := map[string]any{"username": "alice", "email": "a@example.test", "disabled": false}
	path := "/admin/users/" + u.ID
	e.do(http.MethodPut, path, put).want(t, http.StatusOK, nil)
	if got := e.storedUser(u.ID).PasswordHash; got != first {
		t.Errorf("PUT without password changed the hash from %q to %q", first, got)
	}
	e.do(http.MethodPut, path, rowBody(put, []any{"password", "null"})).want(t, http.StatusOK, nil)
	if got := e.storedUser(u.ID).PasswordHash; got != first {
		t.Errorf("PUT with password null changed the hash from %q to %q", first, got)
	}

	const second = "a whole new passphrase"
	e.do(http.MethodPut, path, with(put, "password", second)).want(t, http.StatusOK, nil)
	wantPassword(t, e, u.ID, second)
	if ok, _ := password.Verify(alicePassword, e.storedUser(u.ID).PasswordHash); ok {
		t.Error("the old password still verifies after PUT set a new one")
	}

	// The same password set again gets a new salt.
	hash := e.storedUser(u.ID).PasswordHash
	e.do(http.MethodPut, path, with(put, "password", second)).want(t, http.StatusOK, nil)
	if got := e.storedUser(u.ID).PasswordHash; got == hash {
		t.Error("setting the same password again stored the same hash, want a fresh salt")
	}
}

// racingStore sets a user's password hash right after the admin API reads
// the user, as another request would between the API's read and its write.
type racingStore struct {
	storage.Store
	hash string
}

func (r racingStore) User(ctx context.Context, id string) (*storage.User, error) {
	u, err := r.Store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	changed := *u
	changed.PasswordHash = r.hash
	if err := r.Store.UpdateUser(ctx, &changed); err != nil {
		return nil, err
	}
	return u, nil
}

// testUserPasswordConcurrent checks that a change to a user that sets no
// password keeps a password set after the API read the user: it must not
// write back the hash it read.
func testUserPasswordConcurrent(t *testing.T, e *env) {
	u := e.createUser(userBody())
	const concurrent = "set by another request"
	hash, err := password.Hash(concurrent, testPasswords)
	if err != nil {
		t.Fatalf("password.Hash() = %v", err)
	}
	racing := newEnv(t, racingStore{Store: e.store, hash: hash})

	requests := []struct {
		name, method, path string
		body               any
	}{
		{name: "PUT without password", method: http.MethodPut, path: "/admin/users/" + u.ID,
			body: map[string]any{"username": "alice", "email": "", "disabled": false}},
		{name: "disable", method: http.MethodPost, path: "/admin/users/" + u.ID + "/disable"},
		{name: "enable", method: http.MethodPost, path: "/admin/users/" + u.ID + "/enable"},
	}
	for _, tt := range requests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from the original password, so that each request has a
			// change to lose.
			e.do(http.MethodPut, "/admin/users/"+u.ID, map[string]any{"username": "alice",
				"password": alicePassword, "disabled": tt.name == "enable"}).
				want(t, http.StatusOK, nil)

			racing.do(tt.method, tt.path, tt.body).want(t, http.StatusOK, nil)
			if got := e.storedUser(u.ID).PasswordHash; got != hash {
				t.Errorf("%s: stored hash %q, want the concurrently set %q", tt.name, got, hash)
			}
			wantPassword(t, e, u.ID, concurrent)
		})
	}
}
