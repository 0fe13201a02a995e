package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// setUpClient registers the resources apiURL and apiURL/2 and a client
// that may use both, and returns the client's ID.
func (e *env) setUpClient() string {
	e.t.Helper()
	e.createResource(apiURL, "read", "write")
	e.createResource(apiURL+"/2", "read")
	return e.createClient(with(clientBody(), "resources", []string{apiURL, apiURL + "/2"})).ClientID
}

// grant records, through the store, a consent of a user for a client and
// resource, and a code, a refresh token and an access token issued under
// it, named after name.
func (e *env) grant(userID, clientID, resource, name string) *storage.Consent {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	c := &storage.Consent{ID: secret.NewID(), UserID: userID, ClientID: clientID,
		Resource: resource, Scopes: []string{"offline_access", "read"}, Remember: name != "forget"}
	if err := e.store.SaveConsent(ctx, c); err != nil {
		e.t.Fatalf("SaveConsent() = %v", err)
	}

	err1 := e.store.CreateCode(ctx, &storage.Code{Signature: name + "-code", RequestID: name,
		ClientID: clientID, UserID: userID, ConsentID: c.ID, Request: []byte("{}"),
		ExpiresAt: now.Add(time.Minute)})
	err2 := e.store.CreateAccessToken(ctx, &storage.AccessToken{Signature: name + "-at",
		JTI: name, RequestID: name, ClientID: clientID, Subject: userID,
		Audience: []string{resource}, Scopes: c.Scopes, IssuedAt: now,
		ExpiresAt: now.Add(time.Hour), ConsentID: c.ID})
	err3 := e.store.CreateRefreshToken(ctx, &storage.RefreshToken{Signature: name + "-rt",
		RequestID: name, AccessSignature: name + "-at", ClientID: clientID, UserID: userID,
		ConsentID: c.ID, Request: []byte("{}"), ExpiresAt: now.Add(24 * time.Hour), Active: true})
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			e.t.Fatalf("issue %s under consent: %v", name, err)
		}
	}
	return c
}

// wantRevoked checks whether the code and tokens grant issued as name are
// revoked (or gone), or all still usable.
func (e *env) wantRevoked(name string, want bool) {
	e.t.Helper()
	ctx := context.Background()
	code, err := e.store.Code(ctx, name+"-code")
	codeOff := errors.Is(err, storage.ErrNotFound) || err == nil && code.Used
	at, err := e.store.AccessToken(ctx, name+"-at")
	atOff := errors.Is(err, storage.ErrNotFound) || err == nil && at.Revoked
	rt, err := e.store.RefreshToken(ctx, name+"-rt")
	rtOff := errors.Is(err, storage.ErrNotFound) || err == nil && !rt.Active

	got := []bool{codeOff, atOff, rtOff}
	if diff := cmp.Diff([]bool{want, want, want}, got); diff != "" {
		e.t.Errorf("%s: code, access token, refresh token revoked (-want +got):\n%s", name, diff)
	}
}

// session signs a user in through the store.
func (e *env) session(userID, id string) {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	s := &storage.Session{ID: id, UserID: userID, AuthTime: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.store.CreateSession(context.Background(), s); err != nil {
		e.t.Fatalf("CreateSession() = %v", err)
	}
}

func (e *env) wantSession(id string, want bool) {
	e.t.Helper()
	_, err := e.store.Session(context.Background(), id)
	if got := err == nil; got != want || err != nil && !errors.Is(err, storage.ErrNotFound) {
		e.t.Errorf("Session(%q) = %v, want it to exist: %t", id, err, want)
	}
}

func testConsents(t *testing.T, e *env) {
	u := e.createUser(userBody())
	clientID := e.setUpClient()
	first := e.grant(u.ID, clientID, apiURL, "first")
	second := e.grant(u.ID, clientID, apiURL+"/2", "forget")

	res := e.do(http.MethodGet, "/admin/users/"+u.ID+"/consents", nil)
	var list listJSON[consentJSON]
	res.want(t, http.StatusOK, &list)
	want := []consentJSON{showConsent(t, first, list), showConsent(t, second, list)}
	if diff := cmp.Diff(want, list.Items); diff != "" || list.NextPageToken != "" {
		t.Errorf("GET consents (-want +got):\n%s\nnext_page_token %q", diff, list.NextPageToken)
	}
	wantMembers(t, res.body, "items")

	res = e.do(http.MethodDelete, "/admin/users/"+u.ID+"/consents/"+first.ID, nil)
	res.want(t, http.StatusNoContent, nil)
	if len(res.body) != 0 {
		t.Errorf("DELETE body = %q, want none", res.body)
	}
	e.wantRevoked("first", true)
	e.wantRevoked("forget", false)

	e.do(http.MethodGet, "/admin/users/"+u.ID+"/consents", nil).want(t, http.StatusOK, &list)
	if diff := cmp.Diff(want[1:], list.Items); diff != "" {
		t.Errorf("GET consents after DELETE (-want +got):\n%s", diff)
	}
	e.do(http.MethodDelete, "/admin/users/"+u.ID+"/consents/"+first.ID, nil).
		wantError(t, http.StatusNotFound, "not_found")

	logLine := `msg="consent revoked" user_id=` + u.ID + " consent_id=" + first.ID
	if logs := e.logs.String(); !strings.Contains(logs, logLine) {
		t.Errorf("log lacks %q:\n%s", logLine, logs)
	}

	// Deleting the user takes the remaining consent and its grants along.
	e.do(http.MethodDelete, "/admin/users/"+u.ID, nil).want(t, http.StatusNoContent, nil)
	e.wantRevoked("forget", true)
	if left, err := e.store.ListConsents(context.Background(), u.ID); len(left) != 0 || err != nil {
		t.Errorf("ListConsents(deleted user) = %v, %v, want none", left, err)
	}
}

// showConsent returns the JSON the API should show for c, a consent of the
// client setUpClient registers. The times must be c's, as the store keeps
// them; they are taken from the item of list with c's ID once checked.
func showConsent(t *testing.T, c *storage.Consent, list listJSON[consentJSON]) consentJSON {
	t.Helper()
	want := consentJSON{ID: c.ID, ClientID: c.ClientID, ClientName: "Example App",
		Resource: c.Resource, Scopes: c.Scopes, Remember: c.Remember}
	for _, it := range list.Items {
		if it.ID != c.ID {
			continue
		}
		created, err1 := time.Parse(time.RFC3339Nano, it.CreatedAt)
		updated, err2 := time.Parse(time.RFC3339Nano, it.UpdatedAt)
		if err1 != nil || err2 != nil || created.IsZero() || updated.Before(created) {
			t.Errorf("consent %s times = %q, %q, want RFC 3339 times, created first",
				c.ID, it.CreatedAt, it.UpdatedAt)
		}
		want.CreatedAt, want.UpdatedAt = it.CreatedAt, it.UpdatedAt
	}
	return want
}

// testConsentNotFound checks that a consent is reached only through its
// own user, and that unknown users and consents are 404.
func testConsentNotFound(t *testing.T, e *env) {
	alice := e.createUser(userBody())
	bob := e.createUser(with(userBody(), "username", "bob"))
	clientID := e.setUpClient()
	bobs := e.grant(bob.ID, clientID, apiURL, "bob")
	before := e.contents()

	tests := []struct {
		name, method, path, description string
	}{
		{"another user's consent", http.MethodDelete,
			"/admin/users/" + alice.ID + "/consents/" + bobs.ID, "consent not found"},
		{"unknown consent", http.MethodDelete, "/admin/users/" + bob.ID + "/consents/unknown",
			"consent not found"},
		{"invalid consent id", http.MethodDelete, "/admin/users/" + bob.ID + "/consents/%00",
			"consent not found"},
		{"unknown user", http.MethodDelete, "/admin/users/unknown/consents/" + bobs.ID,
			"user not found"},
		{"unknown user's consents", http.MethodGet, "/admin/users/unknown/consents",
			"user not found"},
		{"invalid user id", http.MethodGet,
			"/admin/users/" + strings.Repeat("u", 129) + "/consents", "user not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.do(tt.method, tt.path, nil).wantError(t, http.StatusNotFound, "not_found")
			if got.Description != tt.description {
				t.Errorf("%s %s: description = %q, want %q", tt.method, tt.path,
					got.Description, tt.description)
			}
		})
	}
	e.wantUnchanged(before)
	e.wantRevoked("bob", false)

	// A user without consents has an empty list, not a null one.
	res := e.do(http.MethodGet, "/admin/users/"+alice.ID+"/consents", nil)
	res.want(t, http.StatusOK, nil)
	if got := strings.TrimSpace(string(res.body)); got != `{"items":[]}` {
		t.Errorf("GET consents of a user without any = %s, want {\"items\":[]}", got)
	}
}
