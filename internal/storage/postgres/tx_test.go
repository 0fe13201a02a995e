package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// seed stores a client app, a user alice, her consent c1 and a code issued
// under it.
func seed(t *testing.T, s *postgres.Store) {
	t.Helper()

	ctx := context.Background()
	err := errors.Join(
		s.CreateClient(ctx, &storage.Client{ID: "app", Kind: storage.KindClient,
			TokenEndpointAuthMethod: "none"}),
		s.CreateUser(ctx, &storage.User{ID: "u-alice", Username: "alice"}),
		s.SaveConsent(ctx, &storage.Consent{ID: "c1", UserID: "u-alice", ClientID: "app",
			Resource: "https://api.example"}),
		s.CreateCode(ctx, &storage.Code{Signature: "code-1", RequestID: "req-1",
			ClientID: "app", UserID: "u-alice", ConsentID: "c1",
			ExpiresAt: time.Now().Add(time.Hour)}),
	)
	if err != nil {
		t.Fatalf("seed test database: %v", err)
	}
}

// begin starts a transaction on s and rolls it back when t ends.
func begin(t *testing.T, s *postgres.Store) context.Context {
	t.Helper()

	ctx, err := s.BeginTx(context.Background())
	if err != nil {
		t.Fatalf("BeginTx() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = s.Rollback(ctx) })
	return ctx
}

func TestTxEnd(t *testing.T) {
	tests := []struct {
		name string
		end  func(s *postgres.Store, ctx context.Context) error
		// wantStored is whether the transaction's writes are visible
		// afterwards.
		wantStored bool
	}{
		{name: "Rollback", end: (*postgres.Store).Rollback},
		{name: "Commit", end: (*postgres.Store).Commit, wantStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, pgtest.Migrated(t))
			seed(t, s)
			tx := begin(t, s)

			// A write, a single-use step and a multi-step method.
			err := errors.Join(
				s.CreateUser(tx, &storage.User{ID: "u-bob", Username: "bob"}),
				s.UseCode(tx, "code-1"),
				s.DeleteUser(tx, "u-alice"),
			)
			if err != nil {
				t.Fatalf("writes in transaction = %v, want nil", err)
			}
			if _, err := s.User(tx, "u-bob"); err != nil {
				t.Errorf("User(u-bob) in its transaction = %v, want nil", err)
			}
			_, err = s.User(context.Background(), "u-bob")
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("User(u-bob) outside its transaction = %v, want ErrNotFound", err)
			}

			if err := tt.end(s, tx); err != nil {
				t.Fatalf("%s() = %v, want nil", tt.name, err)
			}
			if err := s.Rollback(tx); err != nil {
				t.Errorf("Rollback() after %s() = %v, want nil", tt.name, err)
			}
			checkStored(t, s, tt.wantStored)
		})
	}
}

// checkStored checks whether TestTxEnd's writes are visible: bob created,
// alice and her code gone.
func checkStored(t *testing.T, s *postgres.Store, want bool) {
	t.Helper()

	ctx := context.Background()
	_, bobErr := s.User(ctx, "u-bob")
	_, aliceErr := s.User(ctx, "u-alice")
	code, codeErr := s.Code(ctx, "code-1")
	got := map[string]bool{
		"bob created":  bobErr == nil,
		"alice gone":   errors.Is(aliceErr, storage.ErrNotFound),
		"code settled": errors.Is(codeErr, storage.ErrNotFound) || (codeErr == nil && code.Used),
	}
	for what, g := range got {
		if g != want {
			t.Errorf("%s after the transaction ended = %v, want %v", what, g, want)
		}
	}
}

func TestTxMisuse(t *testing.T) {
	s := open(t, pgtest.Migrated(t))
	committed := begin(t, s)
	if err := s.Commit(committed); err != nil {
		t.Fatalf("Commit() = %v, want nil", err)
	}

	tests := []struct {
		name string
		call func() error
	}{
		{name: "Commit without transaction", call: func() error {
			return s.Commit(context.Background())
		}},
		{name: "Rollback without transaction", call: func() error {
			return s.Rollback(context.Background())
		}},
		{name: "Commit twice", call: func() error { return s.Commit(committed) }},
		{name: "write after Commit", call: func() error {
			return s.CreateUser(committed, &storage.User{ID: "u1", Username: "u1"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Errorf("%s = nil, want an error", tt.name)
			}
		})
	}
}

// TestTxNested checks that a failing multi-step method and a nested
// BeginTx each undo only their own writes, and leave the outer transaction
// usable.
func TestTxNested(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.Migrated(t))
	outer := begin(t, s)

	bad := &storage.Client{ID: "bad", Kind: storage.KindClient, TokenEndpointAuthMethod: "none",
		Resources: []string{"https://none.example"}}
	if err := s.CreateClient(outer, bad); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("CreateClient(unknown resource) in transaction = %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(outer, &storage.User{ID: "u-outer", Username: "outer"}); err != nil {
		t.Fatalf("CreateUser() after a failed CreateClient = %v, want nil", err)
	}

	inner, err := s.BeginTx(outer)
	if err != nil {
		t.Fatalf("BeginTx(in transaction) = %v, want nil", err)
	}
	if err := s.CreateUser(inner, &storage.User{ID: "u-inner", Username: "inner"}); err != nil {
		t.Fatalf("CreateUser() in nested transaction = %v, want nil", err)
	}
	if err := s.Rollback(inner); err != nil {
		t.Fatalf("Rollback(nested) = %v, want nil", err)
	}
	if err := s.Commit(outer); err != nil {
		t.Fatalf("Commit(outer) = %v, want nil", err)
	}

	for id, wantErr := range map[string]error{"u-outer": nil, "u-inner": storage.ErrNotFound} {
		if _, err := s.User(ctx, id); !errors.Is(err, wantErr) {
			t.Errorf("User(%s) = %v, want %v", id, err, wantErr)
		}
	}
	if _, err := s.Client(ctx, "bad"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Client(bad) = %v, want ErrNotFound", err)
	}
}
