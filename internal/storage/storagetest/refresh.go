package storagetest

import (
	"context"
	"testing"

	"github.com/veil-auth/veil/internal/storage"
)

func testCreateRefreshToken(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	stored := newRefreshToken("rt-1", "req-1", c)
	if err := s.CreateRefreshToken(ctx, stored); err != nil {
		t.Fatalf("CreateRefreshToken(rt-1) = %v, want nil", err)
	}

	token := func(signature string, edit func(*storage.RefreshToken)) *storage.RefreshToken {
		in := newRefreshToken(signature, "req-"+signature, c)
		edit(in)
		return in
	}
	tests := []struct {
		name    string
		token   *storage.RefreshToken
		wantErr error
		// want is as in testCreateCode.
		want *storage.RefreshToken
	}{
		{name: "inactive", token: token("rt-inactive", func(in *storage.RefreshToken) {
			in.Active = false
		})},
		{name: "no request", token: token("rt-bare", func(in *storage.RefreshToken) {
			in.Request, in.AccessSignature = nil, ""
		})},
		{name: "signature taken", token: token("rt-1", func(*storage.RefreshToken) {}),
			wantErr: storage.ErrConflict, want: stored},
		{name: "unknown consent", token: token("rt-2", func(in *storage.RefreshToken) {
			in.ConsentID = "none"
		}), wantErr: storage.ErrNotFound},
		{name: "unknown client", token: token("rt-3", func(in *storage.RefreshToken) {
			in.ClientID = "none"
		}), wantErr: storage.ErrNotFound},
		{name: "unknown user", token: token("rt-4", func(in *storage.RefreshToken) {
			in.UserID = "none"
		}), wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateRefreshToken(ctx, tt.token)
			if !checkErr(t, "CreateRefreshToken("+tt.token.Signature+")", err, tt.wantErr) {
				return
			}

			want := tt.want
			if tt.wantErr == nil {
				want = tt.token
			}
			wantRefreshToken(t, s, tt.token.Signature, want)
		})
	}
}

func testDeactivateRefreshToken(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	active := newRefreshToken("rt-1", "req-1", c)
	inactive := newRefreshToken("rt-inactive", "req-2", c)
	inactive.Active = false
	for _, in := range []*storage.RefreshToken{active, inactive} {
		if err := s.CreateRefreshToken(ctx, in); err != nil {
			t.Fatalf("CreateRefreshToken(%s) = %v, want nil", in.Signature, err)
		}
	}

	// Each step runs in order: the first rotates rt-1.
	steps := []struct {
		name      string
		signature string
		wantErr   error
	}{
		{name: "active", signature: "rt-1"},
		{name: "again", signature: "rt-1", wantErr: storage.ErrUsed},
		{name: "created inactive", signature: "rt-inactive", wantErr: storage.ErrUsed},
		{name: "unknown", signature: "none", wantErr: storage.ErrNotFound},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DeactivateRefreshToken(ctx, tt.signature)
			checkErr(t, "DeactivateRefreshToken("+tt.signature+")", err, tt.wantErr)
		})
	}

	want := *active
	want.Active = false
	wantRefreshToken(t, s, "rt-1", &want)
}

// testDeactivateRefreshTokenConcurrent rotates one refresh token from 20
// goroutines at once: exactly one may succeed.
func testDeactivateRefreshTokenConcurrent(t *testing.T, s storage.Store) {
	c := mustConsent(t, s)
	err := s.CreateRefreshToken(context.Background(), newRefreshToken("rt-1", "req-1", c))
	if err != nil {
		t.Fatalf("CreateRefreshToken(rt-1) = %v, want nil", err)
	}

	const n = 20
	errs := race(n, func() error { return s.DeactivateRefreshToken(context.Background(), "rt-1") })
	if ok, used := countErrs(errs, nil), countErrs(errs, storage.ErrUsed); ok != 1 || used != n-1 {
		t.Errorf("%d concurrent DeactivateRefreshToken(rt-1) = %d nil, %d ErrUsed, want 1, %d "+
			"(errors: %v)", n, ok, used, n-1, errs)
	}
}

func testRevokeRefreshTokens(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	for _, in := range []*storage.RefreshToken{newRefreshToken("a1", "req-a", c),
		newRefreshToken("a2", "req-a", c), newRefreshToken("b1", "req-b", c)} {
		if err := s.CreateRefreshToken(ctx, in); err != nil {
			t.Fatalf("CreateRefreshToken(%s) = %v, want nil", in.Signature, err)
		}
	}

	tests := []struct {
		name      string
		requestID string
		// wantActive is the Active flag of a1, a2 and b1 afterwards.
		wantActive map[string]bool
	}{
		{name: "no such family", requestID: "req-none",
			wantActive: map[string]bool{"a1": true, "a2": true, "b1": true}},
		{name: "one family", requestID: "req-a",
			wantActive: map[string]bool{"a1": false, "a2": false, "b1": true}},
		{name: "same family again", requestID: "req-a",
			wantActive: map[string]bool{"a1": false, "a2": false, "b1": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.RevokeRefreshTokens(ctx, tt.requestID); err != nil {
				t.Fatalf("RevokeRefreshTokens(%s) = %v, want nil", tt.requestID, err)
			}

			got := make(map[string]bool)
			for sig := range tt.wantActive {
				rt, err := s.RefreshToken(ctx, sig)
				if err != nil {
					t.Fatalf("RefreshToken(%s) = %v, want nil", sig, err)
				}
				got[sig] = rt.Active
			}
			if diff := equal(tt.wantActive, got); diff != "" {
				t.Errorf("Active after RevokeRefreshTokens(%s) (-want +got):\n%s",
					tt.requestID, diff)
			}
		})
	}
}

// wantRefreshToken checks that RefreshToken(signature) returns want, or
// ErrNotFound if want is nil.
func wantRefreshToken(t *testing.T, s storage.Store, signature string, want *storage.RefreshToken) {
	t.Helper()

	got, err := s.RefreshToken(context.Background(), signature)
	if want == nil {
		checkErr(t, "RefreshToken("+signature+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("RefreshToken(%s) = %v, want nil", signature, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("RefreshToken(%s) mismatch (-want +got):\n%s", signature, diff)
	}
}
