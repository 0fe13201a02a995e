package storagetest

import (
	"context"
	"testing"

	"github.com/veil-auth/veil/internal/storage"
)

// mustConsent stores a client app, a user alice and her consent c1 to it.
func mustConsent(t *testing.T, s storage.Store) *storage.Consent {
	t.Helper()

	mustCreateClient(t, s, newClient("app"))
	mustCreateUser(t, s, newUser("u-alice", "alice"))
	return mustSaveConsent(t, s, newConsent("c1", "u-alice", "app", api, "read"))
}

func testCreateCode(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	stored := newCode("code-1", "req-1", c)
	if err := s.CreateCode(ctx, stored); err != nil {
		t.Fatalf("CreateCode(code-1) = %v, want nil", err)
	}

	code := func(signature string, edit func(*storage.Code)) *storage.Code {
		in := newCode(signature, "req-"+signature, c)
		edit(in)
		return in
	}
	tests := []struct {
		name    string
		code    *storage.Code
		wantErr error
		// want is what Code(Signature) returns afterwards; nil for
		// ErrNotFound. nil with wantErr nil means the code itself.
		want *storage.Code
	}{
		{name: "used", code: code("code-used", func(in *storage.Code) { in.Used = true })},
		{name: "no request", code: code("code-bare", func(in *storage.Code) { in.Request = nil })},
		{name: "signature taken", code: code("code-1", func(*storage.Code) {}),
			wantErr: storage.ErrConflict, want: stored},
		{name: "unknown consent", wantErr: storage.ErrNotFound,
			code: code("code-2", func(in *storage.Code) { in.ConsentID = "none" })},
		{name: "unknown client", wantErr: storage.ErrNotFound,
			code: code("code-3", func(in *storage.Code) { in.ClientID = "none" })},
		{name: "unknown user", wantErr: storage.ErrNotFound,
			code: code("code-4", func(in *storage.Code) { in.UserID = "none" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CreateCode(ctx, tt.code)
			if !checkErr(t, "CreateCode("+tt.code.Signature+")", err, tt.wantErr) {
				return
			}

			want := tt.want
			if tt.wantErr == nil {
				want = tt.code
			}
			wantCode(t, s, tt.code.Signature, want)
		})
	}
}

func testUseCode(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	code := newCode("code-1", "req-1", c)
	used := newCode("code-used", "req-2", c)
	used.Used = true
	for _, in := range []*storage.Code{code, used} {
		if err := s.CreateCode(ctx, in); err != nil {
			t.Fatalf("CreateCode(%s) = %v, want nil", in.Signature, err)
		}
	}

	// Each step runs in order: the first redeems code-1.
	steps := []struct {
		name      string
		signature string
		wantErr   error
	}{
		{name: "unused", signature: "code-1"},
		{name: "again", signature: "code-1", wantErr: storage.ErrUsed},
		{name: "created used", signature: "code-used", wantErr: storage.ErrUsed},
		{name: "unknown", signature: "none", wantErr: storage.ErrNotFound},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, "UseCode("+tt.signature+")", s.UseCode(ctx, tt.signature), tt.wantErr)
		})
	}

	want := *code
	want.Used = true
	wantCode(t, s, "code-1", &want)
}

// testUseCodeConcurrent redeems one code from 20 goroutines at once:
// exactly one may succeed (RFC 6749 §4.1.2).
func testUseCodeConcurrent(t *testing.T, s storage.Store) {
	c := mustConsent(t, s)
	if err := s.CreateCode(context.Background(), newCode("code-1", "req-1", c)); err != nil {
		t.Fatalf("CreateCode(code-1) = %v, want nil", err)
	}

	const n = 20
	errs := race(n, func() error { return s.UseCode(context.Background(), "code-1") })
	if ok, used := countErrs(errs, nil), countErrs(errs, storage.ErrUsed); ok != 1 || used != n-1 {
		t.Errorf("%d concurrent UseCode(code-1) = %d nil, %d ErrUsed, want 1, %d (errors: %v)",
			n, ok, used, n-1, errs)
	}
}

// wantCode checks that Code(signature) returns want, or ErrNotFound if
// want is nil.
func wantCode(t *testing.T, s storage.Store, signature string, want *storage.Code) {
	t.Helper()

	got, err := s.Code(context.Background(), signature)
	if want == nil {
		checkErr(t, "Code("+signature+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("Code(%s) = %v, want nil", signature, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("Code(%s) mismatch (-want +got):\n%s", signature, diff)
	}
}

// testGrantAliasing changes the slices of values passed in and returned,
// and checks that what is stored does not change with them.
func testGrantAliasing(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	code := newCode("code-1", "req-1", c)
	rt := newRefreshToken("rt-1", "req-1", c)
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode(code-1) = %v, want nil", err)
	}
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatalf("CreateRefreshToken(rt-1) = %v, want nil", err)
	}
	wantC, wantCode1, wantRT := *c, *newCode("code-1", "req-1", c), *rt
	wantC.Scopes, wantRT.Request = []string{"read"}, []byte(string(rt.Request))
	wantCode1.ExpiresAt = code.ExpiresAt

	c.Scopes[0], code.Request[0], rt.Request[0] = "admin", 'X', 'X'
	gotC, err1 := s.Consent(ctx, "u-alice", "app", api)
	gotCode, err2 := s.Code(ctx, "code-1")
	gotRT, err3 := s.RefreshToken(ctx, "rt-1")
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("look up grant = %v, %v, %v, want nil", err1, err2, err3)
	}
	gotC.Scopes[0], gotCode.Request[0], gotRT.Request[0] = "admin", 'X', 'X'

	wantConsent(t, s, "u-alice", "app", api, &wantC)
	wantCode(t, s, "code-1", &wantCode1)
	wantRefreshToken(t, s, "rt-1", &wantRT)
}
