package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/veil-auth/veil/internal/storage"
)

func testAccessTokens(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	stored := mustCreateToken(t, s, newToken("sig-1", "req-1", "app"))

	revoked := newToken("sig-revoked", "req-2", "app")
	revoked.Revoked = true
	bare := &storage.AccessToken{Signature: "sig-bare", JTI: "jti-bare", RequestID: "req-3",
		ClientID: "app", IssuedAt: base, ExpiresAt: base}
	sameJTI := newToken("sig-2", "req-1", "app")
	sameJTI.JTI = stored.JTI
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	consent := mustSaveConsent(t, s, newConsent("c1", "u-alice", "app", api, "read"))
	lost := newUserToken("sig-lost", "req-5", consent)
	lost.ConsentID = "none"

	tests := []struct {
		name    string
		token   *storage.AccessToken
		wantErr error
		// want is what AccessToken(Signature) returns afterwards; nil for
		// ErrNotFound. nil with wantErr nil means the token itself.
		want *storage.AccessToken
	}{
		{name: "new", token: newToken("sig-new", "req-1", "app")},
		{name: "revoked", token: revoked},
		{name: "no slices", token: bare},
		{name: "signature taken", token: newToken("sig-1", "req-9", "app"),
			wantErr: storage.ErrConflict, want: stored},
		{name: "JTI taken", token: sameJTI, wantErr: storage.ErrConflict},
		{name: "unknown client", token: newToken("sig-3", "req-1", "none"), wantErr: storage.ErrNotFound},
		{name: "under a consent", token: newUserToken("sig-consent", "req-4", consent)},
		{name: "unknown consent", token: lost, wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateAccessToken(ctx, tt.token)
			if !checkErr(t, "CreateAccessToken("+tt.token.Signature+")", err, tt.wantErr) {
				return
			}

			want := tt.want
			if tt.wantErr == nil {
				want = tt.token
			}
			wantToken(t, s, tt.token.Signature, want)
		})
	}
}

// testAccessTokenAliasing changes the slices of a token passed in and of
// one returned, and checks that the stored record does not change.
func testAccessTokenAliasing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	in := mustCreateToken(t, s, newToken("sig-1", "req-1", "app"))

	in.Audience[0] = "https://evil.example"
	got, err := s.AccessToken(ctx, "sig-1")
	if err != nil {
		t.Fatalf("AccessToken(sig-1) = %v, want nil", err)
	}
	got.Scopes[0] = "admin"
	got.Audience[0] = "https://evil.example"

	wantToken(t, s, "sig-1", newToken("sig-1", "req-1", "app"))
}

func testRevokeAccessTokens(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	mustCreateToken(t, s, newToken("a1", "req-a", "app"))
	mustCreateToken(t, s, newToken("a2", "req-a", "app"))
	mustCreateToken(t, s, newToken("b1", "req-b", "app"))

	tests := []struct {
		name      string
		requestID string
		// wantRevoked is the Revoked flag of a1, a2 and b1 afterwards.
		wantRevoked map[string]bool
	}{
		{name: "no such family", requestID: "req-none",
			wantRevoked: map[string]bool{"a1": false, "a2": false, "b1": false}},
		{name: "one family", requestID: "req-a",
			wantRevoked: map[string]bool{"a1": true, "a2": true, "b1": false}},
		{name: "same family again", requestID: "req-a",
			wantRevoked: map[string]bool{"a1": true, "a2": true, "b1": false}},
		{name: "other family", requestID: "req-b",
			wantRevoked: map[string]bool{"a1": true, "a2": true, "b1": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RevokeAccessTokens(ctx, tt.requestID); err != nil {
				t.Fatalf("RevokeAccessTokens(%s) = %v, want nil", tt.requestID, err)
			}

			got := make(map[string]bool)
			for sig := range tt.wantRevoked {
				tok, err := s.AccessToken(ctx, sig)
				if err != nil {
					t.Fatalf("AccessToken(%s) = %v, want nil", sig, err)
				}
				got[sig] = tok.Revoked
			}
			if diff := equal(tt.wantRevoked, got); diff != "" {
				t.Errorf("Revoked after RevokeAccessTokens(%s) (-want +got):\n%s",
					tt.requestID, diff)
			}
		})
	}
}

// testAccessTokenResource: a token naming its resource is recorded only
// while that resource exists under the token's audience.
func testAccessTokenResource(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustCreateClient(t, s, newClient("app"))
	r, credentials := newResource("res-1", "https://api.example")
	if err := s.CreateResource(ctx, r, credentials); err != nil {
		t.Fatalf("CreateResource = %v", err)
	}

	ok := newToken("sig-ok", "req-1", "app")
	ok.ResourceID = r.ID
	if err := s.CreateAccessToken(ctx, ok); err != nil {
		t.Errorf("CreateAccessToken for an existing resource = %v, want nil", err)
	}
	other := newToken("sig-other", "req-2", "app")
	other.ResourceID, other.Audience = r.ID, []string{"https://elsewhere.example"}
	if err := s.CreateAccessToken(ctx, other); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateAccessToken for another identifier = %v, want ErrNotFound", err)
	}

	if err := s.DeleteResource(ctx, r.ID); err != nil {
		t.Fatalf("DeleteResource = %v", err)
	}
	gone := newToken("sig-gone", "req-3", "app")
	gone.ResourceID = r.ID
	if err := s.CreateAccessToken(ctx, gone); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateAccessToken for a deleted resource = %v, want ErrNotFound", err)
	}
	for _, sig := range []string{"sig-other", "sig-gone"} {
		if _, err := s.AccessToken(ctx, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("AccessToken(%s) = %v, want ErrNotFound: nothing recorded", sig, err)
		}
	}
}
