package storagetest

import (
	"context"
	"testing"

	"github.com/veil-auth/veil/internal/storage"
)

// holdings is what testDisableUser and testDeleteUser give two users,
// alice and bob: a session and a grant each, and for alice an access token
// whose subject she is but that no consent names (loose), and one issued
// under her consent with another subject (stray).
type holdings struct {
	alice, bob           *storage.User
	aliceGrant, bobGrant grant
	loose, stray         *storage.AccessToken
}

func mustHold(t *testing.T, s storage.Store) holdings {
	t.Helper()

	mustCreateClient(t, s, newClient("app"))
	h := holdings{
		alice: mustCreateUser(t, s, newUser("u-alice", "Alice")),
		bob:   mustCreateUser(t, s, newUser("u-bob", "bob")),
	}
	for _, u := range []*storage.User{h.alice, h.bob} {
		sess := &storage.Session{ID: "sess-" + u.ID, UserID: u.ID, AuthTime: base,
			ExpiresAt: later()}
		if err := s.CreateSession(context.Background(), sess); err != nil {
			t.Fatalf("CreateSession(%s) = %v, want nil", sess.ID, err)
		}
	}
	h.aliceGrant = mustGrant(t, s, "c-alice", "u-alice", "app", "https://api.example")
	h.bobGrant = mustGrant(t, s, "c-bob", "u-bob", "app", "https://api.example")
	h.loose = newToken("at-loose", "req-loose", "app")
	h.loose.Subject = "u-alice"
	mustCreateToken(t, s, h.loose)
	h.stray = newUserToken("at-stray", "req-stray", h.aliceGrant.consent)
	h.stray.Subject = "someone-else"
	mustCreateToken(t, s, h.stray)
	return h
}

// checkSessions checks which of the holdings' sessions Session finds.
func checkSessions(t *testing.T, s storage.Store, alice, bob bool) {
	t.Helper()

	for id, want := range map[string]bool{"sess-u-alice": alice, "sess-u-bob": bob} {
		_, err := s.Session(context.Background(), id)
		if got := err == nil; got != want {
			t.Errorf("Session(%s) = %v, want found %v", id, err, want)
		}
	}
}

func testDisableUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	h := mustHold(t, s)

	disabled := *h.alice
	disabled.Disabled = true
	if err := s.UpdateUser(ctx, &disabled); err != nil {
		t.Fatalf("UpdateUser(disable u-alice) = %v, want nil", err)
	}

	t.Run("revoked", func(t *testing.T) {
		checkSessions(t, s, false, true)
		if got := live(t, s, h.aliceGrant); got != (liveness{}) {
			t.Errorf("alice's grant after disabling = %+v, want nothing live", got)
		}
		if got := live(t, s, h.bobGrant); got != allLive {
			t.Errorf("bob's grant after disabling alice = %+v, want all live", got)
		}
		for _, tok := range []*storage.AccessToken{h.loose, h.stray} {
			got, err := s.AccessToken(ctx, tok.Signature)
			if err != nil || !got.Revoked {
				t.Errorf("AccessToken(%s) = %+v, %v, want revoked", tok.Signature, got, err)
			}
		}
	})

	// A handler that looked the user up just before the disabling must not
	// be able to sign them in or issue anything afterwards.
	t.Run("refused/CreateSession", func(t *testing.T) {
		err := s.CreateSession(ctx, &storage.Session{ID: "sess-late", UserID: "u-alice",
			AuthTime: base, ExpiresAt: later()})
		checkErr(t, "CreateSession(for disabled user)", err, storage.ErrNotFound)
	})
	checkIssueRefused(t, s, h.aliceGrant.consent, "for disabled user")

	t.Run("enabled again", func(t *testing.T) {
		enabled := *h.alice
		if err := s.UpdateUser(ctx, &enabled); err != nil {
			t.Fatalf("UpdateUser(enable u-alice) = %v, want nil", err)
		}
		if got := live(t, s, h.aliceGrant); got != (liveness{}) {
			t.Errorf("alice's grant after enabling again = %+v, want nothing live", got)
		}
		err := s.CreateSession(ctx, &storage.Session{ID: "sess-new", UserID: "u-alice",
			AuthTime: base, ExpiresAt: later()})
		checkErr(t, "CreateSession(after enabling again)", err, nil)
	})
}

func testDeleteUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	h := mustHold(t, s)

	tests := []struct {
		name    string
		id      string
		wantErr error
	}{
		{name: "user", id: "u-alice"},
		{name: "again", id: "u-alice", wantErr: storage.ErrNotFound},
		{name: "unknown", id: "none", wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, "DeleteUser("+tt.id+")", s.DeleteUser(ctx, tt.id), tt.wantErr)
			wantUser(t, s, tt.id, nil)
		})
	}

	t.Run("everything of theirs gone", func(t *testing.T) {
		checkSessions(t, s, false, true)
		_, err := s.Consent(ctx, "u-alice", "app", "https://api.example")
		checkErr(t, "Consent(u-alice)", err, storage.ErrNotFound)
		if got, err := s.ListConsents(ctx, "u-alice"); err != nil || len(got) != 0 {
			t.Errorf("ListConsents(u-alice) = %d consents, %v, want 0, nil", len(got), err)
		}
		if got := live(t, s, h.aliceGrant); got != (liveness{}) {
			t.Errorf("alice's grant after deleting her = %+v, want nothing live", got)
		}
		for _, tok := range []*storage.AccessToken{h.loose, h.stray} {
			got, err := s.AccessToken(ctx, tok.Signature)
			if err == nil && !got.Revoked {
				t.Errorf("AccessToken(%s).Revoked = false, want true or ErrNotFound",
					tok.Signature)
			}
		}
	})
	t.Run("others untouched", func(t *testing.T) {
		wantUser(t, s, "u-bob", h.bob)
		if got := live(t, s, h.bobGrant); got != allLive {
			t.Errorf("bob's grant after deleting alice = %+v, want all live", got)
		}
	})
	t.Run("username free again", func(t *testing.T) {
		mustCreateUser(t, s, newUser("u-alice-2", "ALICE"))
	})
}

// testPasswordChange checks that UpdateUser with a new password hash signs
// the user out of every browser, and leaves everything else they hold.
func testPasswordChange(t *testing.T, s storage.Store) {
	ctx := context.Background()
	h := mustHold(t, s)

	tests := []struct {
		name string
		hash string
		// signIn creates alice's session again before the update.
		signIn           bool
		wantAliceSession bool
	}{
		{name: "no hash", wantAliceSession: true},
		{name: "same hash", hash: h.alice.PasswordHash, wantAliceSession: true},
		{name: "new hash", hash: "$argon2id$changed"},
		{name: "signed in after the change, same hash", hash: "$argon2id$changed", signIn: true,
			wantAliceSession: true},
		{name: "another new hash", hash: "$argon2id$changed-again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.signIn {
				err := s.CreateSession(ctx, &storage.Session{ID: "sess-u-alice",
					UserID: "u-alice", AuthTime: base, ExpiresAt: later()})
				if err != nil {
					t.Fatalf("CreateSession(sess-u-alice) = %v, want nil", err)
				}
			}

			u := *h.alice
			u.Email, u.PasswordHash = tt.name+"@example.com", tt.hash
			if err := s.UpdateUser(ctx, &u); err != nil {
				t.Fatalf("UpdateUser(%s) = %v, want nil", tt.name, err)
			}
			checkSessions(t, s, tt.wantAliceSession, true)
		})
	}

	t.Run("grants stay", func(t *testing.T) {
		for _, g := range []grant{h.aliceGrant, h.bobGrant} {
			if got := live(t, s, g); got != allLive {
				t.Errorf("grant %s after password change = %+v, want all live", g.consent.ID, got)
			}
		}
		for _, tok := range []*storage.AccessToken{h.loose, h.stray} {
			wantToken(t, s, tok.Signature, tok)
		}
	})
}
