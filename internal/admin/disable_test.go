package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// testUserDisable checks that disabling a user by PUT ends their sessions
// and revokes what was issued to them, keeps their password, and touches no
// other user.
func testUserDisable(t *testing.T, e *env) {
	alice := e.createUser(userBody())
	bob := e.createUser(with(userBody(), "username", "bob"))
	clientID := e.setUpClient()
	e.grant(alice.ID, clientID, apiURL, "alice")
	e.grant(bob.ID, clientID, apiURL, "bob")
	e.session(alice.ID, "alice-session")
	e.session(bob.ID, "bob-session")

	put := map[string]any{"username": "alice", "email": "alice@example.test", "disabled": true}
	var got userJSON
	e.do(http.MethodPut, "/admin/users/"+alice.ID, put).want(t, http.StatusOK, &got)
	if !got.Disabled || !e.storedUser(alice.ID).Disabled || !e.getUser(alice.ID).Disabled {
		t.Errorf("after PUT disabled: response %t, stored %t, want both true",
			got.Disabled, e.storedUser(alice.ID).Disabled)
	}
	e.wantSession("alice-session", false)
	e.wantRevoked("alice", true)
	e.wantSession("bob-session", true)
	e.wantRevoked("bob", false)
	wantPassword(t, e, alice.ID, alicePassword)

	e.do(http.MethodPut, "/admin/users/"+bob.ID, with(put, "username", "bob")).
		want(t, http.StatusOK, &got)
	e.wantSession("bob-session", false)
	e.wantRevoked("bob", true)
}

// testUserEnable checks POST /disable and /enable. Enabling lets the user
// sign in again; what was revoked stays revoked.
func testUserEnable(t *testing.T, e *env) {
	alice := e.createUser(userBody())
	e.grant(alice.ID, e.setUpClient(), apiURL, "alice")

	steps := []struct {
		path string
		want bool
	}{
		{"/enable", false},
		{"/enable", false},
		{"/disable", true},
		{"/disable", true},
		{"/enable", false},
	}
	var got userJSON
	for _, s := range steps {
		e.do(http.MethodPost, "/admin/users/"+alice.ID+s.path, nil).want(t, http.StatusOK, &got)
		if got.Disabled != s.want || e.storedUser(alice.ID).Disabled != s.want {
			t.Errorf("POST %s: disabled = %t, stored %t, want %t", s.path, got.Disabled,
				e.storedUser(alice.ID).Disabled, s.want)
		}
	}
	e.wantRevoked("alice", true)
	wantPassword(t, e, alice.ID, alicePassword)

	// Each change is logged once; asking for the state a user is in
	// changes nothing.
	logs := e.logs.String()
	for msg, want := range map[string]int{`msg="user disabled"`: 1, `msg="user enabled"`: 1} {
		if got := strings.Count(logs, msg+" user_id="+alice.ID); got != want {
			t.Errorf("log has %d lines %s, want %d:\n%s", got, msg, want, logs)
		}
	}

	for _, path := range []string{"/admin/users/unknown/disable", "/admin/users/%00/enable"} {
		e.do(http.MethodPost, path, nil).wantError(t, http.StatusNotFound, "not_found")
	}
}
