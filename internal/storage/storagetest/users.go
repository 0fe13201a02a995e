package storagetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

func testCreateUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	taken := mustCreateUser(t, s, newUser("u-taken", "Alice"))

	disabled := newUser("u-disabled", "carol")
	disabled.Disabled = true

	tests := []struct {
		name    string
		user    *storage.User
		wantErr error
		// want is what User(ID) returns afterwards; nil for ErrNotFound.
		// nil with wantErr nil means the created user itself.
		want *storage.User
	}{
		{name: "new", user: newUser("u1", "bob")},
		{name: "disabled", user: disabled},
		{name: "username only", user: &storage.User{ID: "u-bare", Username: "bare"}},
		{name: "ID taken", user: newUser("u-taken", "dave"), wantErr: storage.ErrConflict,
			want: taken},
		{name: "username taken", user: newUser("u2", "Alice"), wantErr: storage.ErrConflict},
		{name: "username taken in another case", user: newUser("u3", "aLICE"),
			wantErr: storage.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := "CreateUser(" + tt.user.ID + ")"
			if !checkErr(t, call, s.CreateUser(ctx, tt.user), tt.wantErr) {
				return
			}

			want := tt.want
			if tt.wantErr == nil {
				want = tt.user
				checkStamps(t, call, want.CreatedAt, want.UpdatedAt, time.Time{})
			}
			wantUser(t, s, tt.user.ID, want)
		})
	}
}

func testUserLookups(t *testing.T, s storage.Store) {
	ctx := context.Background()
	alice := mustCreateUser(t, s, newUser("u-alice", "Alice"))
	bob := mustCreateUser(t, s, newUser("u-bob", "bob"))

	tests := []struct {
		get     func(ctx context.Context, key string) (*storage.User, error)
		fn      string
		key     string
		want    *storage.User
		wantErr error
	}{
		{get: s.User, fn: "User", key: "u-alice", want: alice},
		{get: s.User, fn: "User", key: "Alice", wantErr: storage.ErrNotFound},
		{get: s.User, fn: "User", key: "none", wantErr: storage.ErrNotFound},
		{get: s.UserByUsername, fn: "UserByUsername", key: "Alice", want: alice},
		{get: s.UserByUsername, fn: "UserByUsername", key: "alice", want: alice},
		{get: s.UserByUsername, fn: "UserByUsername", key: "ALICE", want: alice},
		{get: s.UserByUsername, fn: "UserByUsername", key: "BoB", want: bob},
		{get: s.UserByUsername, fn: "UserByUsername", key: "alic", wantErr: storage.ErrNotFound},
		{get: s.UserByUsername, fn: "UserByUsername", key: "u-alice",
			wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		call := tt.fn + "(" + tt.key + ")"
		t.Run(call, func(t *testing.T) {
			got, err := tt.get(ctx, tt.key)
			if !checkErr(t, call, err, tt.wantErr) || err != nil {
				return
			}
			if diff := equal(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

func testListUsers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, id := range pageIDs {
		mustCreateUser(t, s, newUser(id, "user-"+id))
	}

	tests := []struct {
		name  string
		after string
		limit int
		want  []string
	}{
		{name: "first page", limit: 2, want: ids("B _x")},
		{name: "middle page", after: "_x", limit: 2, want: ids("a b1")},
		{name: "last page", after: "b1", limit: 2, want: ids("c")},
		{name: "after the end", after: "c", limit: 2},
		{name: "after a missing ID", after: "a0", limit: 10, want: ids("b1 c")},
		{name: "zero limit", limit: 0},
		{name: "negative limit", limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := fmt.Sprintf("ListUsers(%q, %d)", tt.after, tt.limit)
			got, err := s.ListUsers(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatalf("%s = %v, want nil", call, err)
			}

			var gotIDs []string
			for _, u := range got {
				gotIDs = append(gotIDs, u.ID)
				wantUser(t, s, u.ID, u)
			}
			if diff := equal(tt.want, gotIDs); diff != "" {
				t.Errorf("%s IDs mismatch (-want +got):\n%s", call, diff)
			}
		})
	}
}

func testUpdateUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	orig := mustCreateUser(t, s, newUser("u-alice", "Alice"))
	mustCreateUser(t, s, newUser("u-bob", "bob"))

	// CreatedAt is not mutable: the value passed in must be ignored.
	changed := storage.User{ID: "u-alice", Username: "Alicia", Email: "new@example.com",
		PasswordHash: "$argon2id$new", CreatedAt: base}
	want := changed
	want.CreatedAt = orig.CreatedAt
	recased := want
	recased.Username = "ALICIA"
	taken := recased
	taken.Username = "BOB"

	tests := []struct {
		name    string
		user    storage.User
		wantErr error
		want    *storage.User
	}{
		{name: "replace fields", user: changed, want: &want},
		{name: "own username in another case", user: recased, want: &recased},
		{name: "another user's username", user: taken, wantErr: storage.ErrConflict,
			want: &recased},
		{name: "unknown user", user: *newUser("none", "zed"), wantErr: storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.user
			call := "UpdateUser(" + in.ID + ")"
			if !checkErr(t, call, s.UpdateUser(ctx, &in), tt.wantErr) {
				return
			}

			if tt.wantErr == nil {
				checkStamps(t, call, in.CreatedAt, in.UpdatedAt, orig.CreatedAt)
				tt.want.UpdatedAt = in.UpdatedAt
			}
			wantUser(t, s, in.ID, tt.want)
		})
	}

	t.Run("old username free", func(t *testing.T) {
		_, err := s.UserByUsername(ctx, "alice")
		checkErr(t, "UserByUsername(alice) after rename", err, storage.ErrNotFound)
	})
}

// testUpdateUserKeepsPassword checks that UpdateUser with an empty
// PasswordHash keeps the stored hash as it is when it writes, not as the
// caller read it: a password set between the caller's read and its write
// survives.
func testUpdateUserKeepsPassword(t *testing.T, s storage.Store) {
	ctx := context.Background()
	alice := mustCreateUser(t, s, newUser("u-alice", "alice"))

	// An admin reads alice; meanwhile her password is changed.
	read, err := s.User(ctx, alice.ID)
	if err != nil {
		t.Fatalf("User(%s) = %v, want nil", alice.ID, err)
	}
	changed := *read
	changed.PasswordHash = "$argon2id$changed"
	if err := s.UpdateUser(ctx, &changed); err != nil {
		t.Fatalf("UpdateUser(new password) = %v, want nil", err)
	}

	// The admin writes what they read, with a new email and no hash.
	edit := *read
	edit.Email, edit.PasswordHash = "alice@new.example", ""
	if err := s.UpdateUser(ctx, &edit); err != nil {
		t.Fatalf("UpdateUser(no password) = %v, want nil", err)
	}
	if edit.PasswordHash != "" {
		t.Errorf("UpdateUser(no password) set PasswordHash = %q, want it left empty",
			edit.PasswordHash)
	}
	want := edit
	want.PasswordHash = changed.PasswordHash
	wantUser(t, s, alice.ID, &want)

	t.Run("concurrent", func(t *testing.T) {
		// Writers without a hash race writers of new hashes: whatever the
		// order, the stored hash is one of the new ones.
		var n atomic.Int32
		errs := race(16, func() error {
			u := edit
			if i := n.Add(1); i%2 == 0 {
				u.PasswordHash = fmt.Sprintf("$argon2id$race-%d", i)
			}
			return s.UpdateUser(ctx, &u)
		})
		if got := countErrs(errs, nil); got != len(errs) {
			t.Fatalf("concurrent UpdateUser: %d of %d succeeded, want all: %v",
				got, len(errs), errs)
		}
		got, err := s.User(ctx, alice.ID)
		if err != nil || !strings.HasPrefix(got.PasswordHash, "$argon2id$race-") {
			t.Errorf("User(%s) after the race = %+v, %v, want a hash written by the race",
				alice.ID, got, err)
		}
	})
}

// wantUser checks that User(id) returns want, or ErrNotFound if want is
// nil.
func wantUser(t *testing.T, s storage.Store, id string, want *storage.User) {
	t.Helper()

	got, err := s.User(context.Background(), id)
	if want == nil {
		checkErr(t, "User("+id+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("User(%s) = %v, want nil", id, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("User(%s) mismatch (-want +got):\n%s", id, diff)
	}
}
