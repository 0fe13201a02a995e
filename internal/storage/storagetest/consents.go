package storagetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

const (
	api   = "https://api.example"
	other = "https://other.example"
)

// saveConsentStep is a step of testSaveConsent. want holds what
// SaveConsent sets c to, but the timestamps, and the ID if it has none.
type saveConsentStep struct {
	name    string
	consent *storage.Consent
	merge   bool
	wantErr error
	want    *storage.Consent
}

func saveConsentSteps() []saveConsentStep {
	remembered := func(c *storage.Consent) *storage.Consent { c.Remember = true; return c }
	return []saveConsentStep{
		{name: "new, scopes sorted once each",
			consent: newConsent("c1", "u-alice", "app", api, "write", "read", "read"),
			want:    newConsent("c1", "u-alice", "app", api, "read", "write")},
		// What was allowed once is not remembered with what the user
		// asked to remember.
		{name: "A: remember fewer after allowing once", merge: true,
			consent: remembered(newConsent("c2", "u-alice", "app", api, "read")),
			want:    remembered(newConsent("c1", "u-alice", "app", api, "read"))},
		{name: "remember more after remembering", merge: true,
			consent: remembered(newConsent("c3", "u-alice", "app", api, "admin")),
			want:    remembered(newConsent("c1", "u-alice", "app", api, "admin", "read"))},
		{name: "allow once after remembering", merge: true,
			consent: newConsent("c3", "u-alice", "app", api, "write"),
			want:    remembered(newConsent("c1", "u-alice", "app", api, "admin", "read"))},
		{name: "other resource, remembered",
			consent: remembered(newConsent("c4", "u-alice", "app", other, "read")),
			want:    remembered(newConsent("c4", "u-alice", "app", other, "read"))},
		// What is allowed once is not added to what skips the prompt.
		{name: "B: allow more once after remembering", merge: true,
			consent: newConsent("c5", "u-alice", "app", other, "read", "write"),
			want:    remembered(newConsent("c4", "u-alice", "app", other, "read"))},
		{name: "other client", consent: newConsent("c6", "u-alice", "web", api, "read"),
			want: newConsent("c6", "u-alice", "web", api, "read")},
		{name: "allow more once after allowing once", merge: true,
			consent: newConsent("c7", "u-alice", "web", api, "write", "admin"),
			want:    newConsent("c6", "u-alice", "web", api, "admin", "read", "write")},
		{name: "ID taken", consent: newConsent("c1", "u-bob", "app", api, "read"),
			wantErr: storage.ErrConflict},
		{name: "ID chosen by the backend", consent: newConsent("", "u-bob", "app", api),
			want: newConsent("", "u-bob", "app", api)},
		{name: "another ID chosen", consent: newConsent("", "u-bob", "app", other),
			want: newConsent("", "u-bob", "app", other)},
		{name: "unknown user", consent: newConsent("c8", "none", "app", api),
			wantErr: storage.ErrNotFound},
		{name: "unknown client", consent: newConsent("c9", "u-alice", "none", api),
			wantErr: storage.ErrNotFound},
	}
}

func testSaveConsent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	mustCreateClient(t, s, newClient("web"))
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	mustCreateUser(t, s, newUser("u-bob", "bob"))

	// created holds when each consent was first saved, which the merges
	// into it must keep.
	created := make(map[string]time.Time)

	// Each step runs in order, on what the steps before it saved.
	steps := saveConsentSteps()
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.consent
			call := "SaveConsent(" + c.ID + ")"
			before := listAll(t, s)
			if !checkErr(t, call, s.SaveConsent(ctx, c), tt.wantErr) {
				return
			}
			if tt.wantErr != nil {
				if diff := equal(before, listAll(t, s)); diff != "" {
					t.Errorf("%s changed what is stored (-before +after):\n%s", call, diff)
				}
				return
			}

			var wantCreated time.Time
			if tt.merge {
				wantCreated = created[tt.want.ID]
			}
			checkSaved(t, s, call, c, tt.want, wantCreated)
			if !tt.merge {
				created[c.ID] = c.CreatedAt
			}
		})
	}
}

// testForgetConsent checks that ForgetConsent clears Remember and nothing
// else, and that there being nothing to forget is not an error.
func testForgetConsent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	g := mustGrant(t, s, "c1", "u-alice", "app", api)
	remembered := newConsent("c1", "u-alice", "app", api, "read")
	remembered.Remember = true
	mustSaveConsent(t, s, remembered)
	mustSaveConsent(t, s, newConsent("c2", "u-alice", "app", other, "read"))

	tests := []struct {
		name                   string
		user, client, resource string
		// wantForgotten means Remember goes from true to false and
		// UpdatedAt moves on; otherwise nothing changes.
		wantForgotten bool
	}{
		{name: "remembered", user: "u-alice", client: "app", resource: api, wantForgotten: true},
		{name: "again", user: "u-alice", client: "app", resource: api},
		{name: "not remembered", user: "u-alice", client: "app", resource: other},
		{name: "unknown resource", user: "u-alice", client: "app",
			resource: "https://none.example"},
		{name: "unknown client", user: "u-alice", client: "none", resource: api},
		{name: "unknown user", user: "none", client: "app", resource: api},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := "ForgetConsent(" + tt.user + ", " + tt.client + ", " + tt.resource + ")"
			before, errBefore := s.Consent(ctx, tt.user, tt.client, tt.resource)
			if err := s.ForgetConsent(ctx, tt.user, tt.client, tt.resource); err != nil {
				t.Fatalf("%s = %v, want nil", call, err)
			}

			got, err := s.Consent(ctx, tt.user, tt.client, tt.resource)
			if errBefore != nil {
				checkErr(t, "Consent() after "+call, err, storage.ErrNotFound)
				return
			}
			if err != nil {
				t.Fatalf("Consent() after %s = %v, want nil", call, err)
			}
			want := *before
			if tt.wantForgotten {
				if !before.Remember || got.UpdatedAt.Before(before.UpdatedAt) {
					t.Errorf("%s: Remember was %t, UpdatedAt went from %v to %v, want true and on",
						call, before.Remember, before.UpdatedAt, got.UpdatedAt)
				}
				want.Remember, want.UpdatedAt = false, got.UpdatedAt
			}
			if diff := equal(&want, got); diff != "" {
				t.Errorf("Consent() after %s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}

	t.Run("grant stays", func(t *testing.T) {
		if got := live(t, s, g); got != allLive {
			t.Errorf("grant under forgotten consent = %+v, want all live", got)
		}
	})
	t.Run("remember again", func(t *testing.T) {
		// The consent is no longer remembered: remembering now remembers
		// only the new scopes.
		c := newConsent("", "u-alice", "app", api, "write")
		c.Remember = true
		mustSaveConsent(t, s, c)
		if !c.Remember || !slices.Equal(c.Scopes, []string{"write"}) {
			t.Errorf("SaveConsent(remember write) after ForgetConsent = %v, %t, want [write], true",
				c.Scopes, c.Remember)
		}
	})
}

// checkSaved checks what SaveConsent set c to, and that Consent returns
// the same: want but the timestamps (and the ID, if want has none), and a
// CreatedAt of wantCreated (any, if zero).
func checkSaved(
	t *testing.T, s storage.Store, call string, c, want *storage.Consent, wantCreated time.Time,
) {
	t.Helper()

	checkStamps(t, call, c.CreatedAt, c.UpdatedAt, wantCreated)
	if want.ID == "" {
		checkNewID(t, call, c.ID, listAll(t, s))
		want.ID = c.ID
	}
	want.CreatedAt, want.UpdatedAt = c.CreatedAt, c.UpdatedAt
	if diff := equal(want, c); diff != "" {
		t.Errorf("%s set c to (-want +got):\n%s", call, diff)
	}
	wantConsent(t, s, c.UserID, c.ClientID, c.Resource, want)
}

// checkNewID checks that a consent ID chosen by the backend is set and
// names one consent only.
func checkNewID(t *testing.T, call, id string, all []*storage.Consent) {
	t.Helper()

	n := 0
	for _, c := range all {
		if c.ID == id {
			n++
		}
	}
	if id == "" || n != 1 {
		t.Errorf("%s chose ID %q, held by %d consents, want a new ID", call, id, n)
	}
}

// listAll returns every consent of the users testSaveConsent creates.
func listAll(t *testing.T, s storage.Store) []*storage.Consent {
	t.Helper()

	var all []*storage.Consent
	for _, id := range []string{"u-alice", "u-bob"} {
		list, err := s.ListConsents(context.Background(), id)
		if err != nil {
			t.Fatalf("ListConsents(%s) = %v, want nil", id, err)
		}
		all = append(all, list...)
	}
	return all
}

func testConsentLookups(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	mustCreateClient(t, s, newClient("web"))
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	mustCreateUser(t, s, newUser("u-bob", "bob"))
	mustSaveConsent(t, s, newConsent("c1", "u-alice", "app", api, "read"))
	c2 := mustSaveConsent(t, s, newConsent("c2", "u-alice", "web", api, "read"))
	c3 := mustSaveConsent(t, s, newConsent("c3", "u-alice", "app", other, "read"))
	b1 := mustSaveConsent(t, s, newConsent("b1", "u-bob", "app", api))
	// A later merge changes c1's UpdatedAt, not its place among the oldest.
	c1 := mustSaveConsent(t, s, newConsent("c9", "u-alice", "app", api, "write"))

	lookups := []struct {
		user, client, resource string
		want                   *storage.Consent
	}{
		{user: "u-alice", client: "app", resource: api, want: c1},
		{user: "u-alice", client: "web", resource: api, want: c2},
		{user: "u-alice", client: "app", resource: other, want: c3},
		{user: "u-bob", client: "app", resource: api, want: b1},
		{user: "u-bob", client: "web", resource: api},
		{user: "u-alice", client: "app", resource: "https://API.example"},
		{user: "none", client: "app", resource: api},
	}
	for _, tt := range lookups {
		t.Run("Consent("+tt.user+", "+tt.client+", "+tt.resource+")", func(t *testing.T) {
			wantConsent(t, s, tt.user, tt.client, tt.resource, tt.want)
		})
	}

	lists := []struct {
		user string
		want []*storage.Consent
	}{
		{user: "u-alice", want: []*storage.Consent{c1, c2, c3}},
		{user: "u-bob", want: []*storage.Consent{b1}},
		{user: "none"},
	}
	for _, tt := range lists {
		t.Run("ListConsents("+tt.user+")", func(t *testing.T) {
			got, err := s.ListConsents(ctx, tt.user)
			if err != nil {
				t.Fatalf("ListConsents(%s) = %v, want nil", tt.user, err)
			}
			if diff := equal(tt.want, got); diff != "" {
				t.Errorf("ListConsents(%s) mismatch (-want +got):\n%s", tt.user, diff)
			}
		})
	}
}

// wantConsent checks that Consent returns want, or ErrNotFound if want is
// nil.
func wantConsent(
	t *testing.T, s storage.Store, user, client, resource string, want *storage.Consent,
) {
	t.Helper()

	call := "Consent(" + user + ", " + client + ", " + resource + ")"
	got, err := s.Consent(context.Background(), user, client, resource)
	if want == nil {
		checkErr(t, call, err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("%s = %v, want nil", call, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

func testDeleteConsent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	mustCreateUser(t, s, newUser("u-bob", "bob"))
	gone := mustGrant(t, s, "c-api", "u-alice", "app", api)
	kept := mustGrant(t, s, "c-other", "u-alice", "app", other)
	bobs := mustGrant(t, s, "c-bob", "u-bob", "app", api)
	machine := mustCreateToken(t, s, newToken("at-machine", "req-machine", "app"))

	tests := []struct {
		name      string
		user      string
		consentID string
		wantErr   error
	}{
		{name: "another user's consent", user: "u-bob", consentID: "c-api",
			wantErr: storage.ErrNotFound},
		{name: "unknown consent", user: "u-alice", consentID: "none", wantErr: storage.ErrNotFound},
		{name: "own consent", user: "u-alice", consentID: "c-api"},
		{name: "again", user: "u-alice", consentID: "c-api", wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DeleteConsent(ctx, tt.user, tt.consentID)
			checkErr(t, "DeleteConsent("+tt.user+", "+tt.consentID+")", err, tt.wantErr)
		})
	}

	t.Run("revoked", func(t *testing.T) {
		wantConsent(t, s, "u-alice", "app", api, nil)
		if got := live(t, s, gone); got != (liveness{}) {
			t.Errorf("grant under deleted consent = %+v, want nothing live", got)
		}
	})
	t.Run("others untouched", func(t *testing.T) {
		for _, g := range []grant{kept, bobs} {
			if got := live(t, s, g); got != allLive {
				t.Errorf("grant %s = %+v, want all live", g.consent.ID, got)
			}
		}
		wantToken(t, s, machine.Signature, machine)
	})

	// A token exchange that read the consent just before it was withdrawn
	// must not be able to issue anything under it.
	checkIssueRefused(t, s, gone.consent, "under deleted consent")
}
