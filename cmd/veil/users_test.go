package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// withStdin runs fn with os.Stdin reading content from a file, not a
// terminal.
func withStdin(t *testing.T, content string, fn func()) {
	t.Helper()
	f, err := os.Open(writeFile(t, "stdin", content))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	fn()
}

// passwordIs reports whether the user's stored password is pw.
func passwordIs(t *testing.T, store storage.Store, id, pw string) bool {
	t.Helper()
	u, err := store.User(context.Background(), id)
	if err != nil {
		t.Fatalf("read user %s: %v", id, err)
	}
	ok, err := password.Verify(pw, u.PasswordHash)
	if err != nil {
		t.Fatalf("verify password: %v", err)
	}
	return ok
}

func TestAdminUsers(t *testing.T) {
	dsn := pgtest.DSN(t)
	v := startAdminVeilWith(t, dsn, nil)
	store, err := postgres.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	const (
		alicePW = "correct horse battery staple"
		bobPW   = "another long password"
		newPW   = "a brand new passphrase"
	)
	for _, pw := range []string{alicePW, bobPW, newPW} {
		v.secret(pw)
	}

	// Passwords come from a file or stdin, without the final line break,
	// and never from a terminal the test does not have.
	r := v.veil("users", "create", "--username", "alice", "--email", "alice@example.test",
		"--password-file", writeFile(t, "pw", alicePW+"\n")).ok(t)
	alice := r.field(t, "id")
	r.has(t, "username:", "alice", "alice@example.test")
	if r.field(t, "disabled") != "false" || !passwordIs(t, store, alice, alicePW) {
		t.Errorf("users create: disabled %s, or the password stored is not the file's",
			r.field(t, "disabled"))
	}
	var bob userView
	withStdin(t, bobPW+"\r\n", func() {
		v.veil("users", "create", "--json", "--username", "bob", "--password-stdin").ok(t).
			json(t, &bob)
	})
	if bob.Username != "bob" || bob.Email != "" || bob.Disabled ||
		!passwordIs(t, store, bob.ID, bobPW) {
		t.Errorf("users create --password-stdin = %+v, or the password stored is not stdin's", bob)
	}
	withStdin(t, "", func() {
		v.veil("users", "create", "--username", "carol").
			fails(t, 2, "no terminal to ask for the password on")
	})
	v.veil("users", "create", "--username", "carol", "--password-stdin", "--password-file", "x").
		fails(t, 2, "give one of --password-stdin, --password-file and --password-prompt")
	short := writeFile(t, "short", "short")
	v.veil("users", "create", "--username", "carol", "--password-file", short).
		fails(t, 1, "password must be at least")
	v.veil("users", "create", "--username", "alice", "--password-file", writeFile(t, "pw2", newPW)).
		fails(t, 1, "a user with this username already exists (conflict, HTTP 409)")

	v.veil("users", "get", "--", alice).ok(t).has(t, "id:", alice, "alice@example.test")
	v.veil("users", "list").ok(t).has(t, "USERNAME", alice, "alice", bob.ID, "bob", "enabled")

	// update keeps the password unless one is given, and the disabled
	// flag always.
	if r := v.veil("users", "disable", "--", alice).ok(t); r.field(t, "disabled") != "true" {
		t.Errorf("users disable: disabled %s, want true", r.field(t, "disabled"))
	}
	v.veil("users", "list").ok(t).has(t, "disabled")
	var got userView
	v.veil("users", "update", "--json", "--email", "alice@new.example.test", "--", alice).ok(t).
		json(t, &got)
	if got.Email != "alice@new.example.test" || got.Username != "alice" || !got.Disabled ||
		!passwordIs(t, store, alice, alicePW) {
		t.Errorf("users update --email = %+v, want only the email changed", got)
	}
	v.veil("users", "update", "--password-file", writeFile(t, "new", newPW), "--", alice).ok(t)
	if !passwordIs(t, store, alice, newPW) {
		t.Error("users update --password-file did not set the password")
	}
	v.veil("users", "enable", "--json", "--", alice).ok(t).json(t, &got)
	if got.Disabled {
		t.Error("users enable left the user disabled")
	}

	// Consents: listed with the client's name, and revoked.
	consent := saveConsent(t, v, store, alice)
	v.veil("users", "consents", "--", alice).ok(t).
		has(t, "CLIENT_NAME", consent.ID, "Billing", testAPI, "read")
	var consents listing
	v.veil("users", "consents", "--json", "--", alice).ok(t).json(t, &consents)
	if len(consents.Items) != 1 || !strings.Contains(string(consents.Items[0]), consent.ID) {
		t.Errorf("users consents --json = %d items, want the one consent", len(consents.Items))
	}
	v.veil("users", "revoke-consent", "--", alice, consent.ID).ok(t).
		has(t, "consent "+consent.ID+" deleted")
	v.veil("users", "revoke-consent", "--", alice, consent.ID).fails(t, 1, "consent not found")
	v.veil("users", "consents", "--json", "--", alice).ok(t).json(t, &consents)
	if len(consents.Items) != 0 {
		t.Errorf("after revoke-consent, %d consents left", len(consents.Items))
	}

	v.veil("users", "delete", "--", bob.ID).ok(t).has(t, "user "+bob.ID+" deleted")
	v.veil("users", "get", "--", bob.ID).fails(t, 1, "user not found (not_found, HTTP 404)")
}

// saveConsent stores a consent of the user to a client of testAPI, as the
// consent page would.
func saveConsent(t *testing.T, v *adminVeil, store storage.Store, userID string) *storage.Consent {
	t.Helper()
	createAPI(t, v)
	r := v.veil("clients", "create", "--name", "Billing",
		"--redirect-uri", "https://app.example.test/cb", "--scope", "read",
		"--resource", testAPI).ok(t)
	v.secret(r.field(t, "client_secret"))
	c := &storage.Consent{UserID: userID, ClientID: r.field(t, "client_id"), Resource: testAPI,
		Scopes: []string{"read"}, Remember: true}
	if err := store.SaveConsent(context.Background(), c); err != nil {
		t.Fatalf("SaveConsent() = %v", err)
	}
	return c
}

// TestAdminPagination checks that listings follow the API's pages: all of
// them by default, or up to --limit, with the token to go on from.
func TestAdminPagination(t *testing.T) {
	v := startAdminVeil(t)
	createAPI(t, v)
	var ids []string
	for i := range 5 {
		var c clientView
		v.veil("clients", "create", "--json", "--auth-method", "none",
			"--name", fmt.Sprintf("app %d", i), "--redirect-uri", "https://app.example.test/cb",
			"--resource", testAPI).ok(t).json(t, &c)
		ids = append(ids, c.ClientID)
	}
	slices.Sort(ids)
	idsOf := func(l listing) []string {
		var out []string
		for _, raw := range l.Items {
			var c clientView
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c.ClientID)
		}
		return out
	}

	var all listing
	v.veil("clients", "list", "--json", "--page-size", "2").ok(t).json(t, &all)
	if got := idsOf(all); !slices.Equal(sorted(got), ids) || all.NextPageToken != "" {
		t.Errorf("list --page-size 2 = %v, next %q; want %v, none", got, all.NextPageToken, ids)
	}
	r := v.veil("clients", "list", "--page-size", "2").ok(t)
	r.has(t, ids...)
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n"); n != 5 {
		t.Errorf("list --page-size 2 shows %d rows, want 5:\n%s", n, r.stdout)
	}

	// --limit stops part way, and --page-token goes on from there.
	var first, rest listing
	v.veil("clients", "list", "--json", "--limit", "3", "--page-size", "2").ok(t).json(t, &first)
	if len(first.Items) != 3 || first.NextPageToken == "" {
		t.Fatalf("list --limit 3 = %d items, next %q; want 3 and a token",
			len(first.Items), first.NextPageToken)
	}
	token := first.NextPageToken
	v.veil("clients", "list", "--json", "--page-token", first.NextPageToken).ok(t).json(t, &rest)
	got := append(idsOf(first), idsOf(rest)...)
	if !slices.Equal(got, idsOf(all)) || rest.NextPageToken != "" {
		t.Errorf("list --limit 3, then the rest = %v, next %q; want %v",
			got, rest.NextPageToken, idsOf(all))
	}
	r = v.veil("clients", "list", "--limit", "3").ok(t)
	n := strings.Count(strings.TrimSpace(r.stdout), "\n")
	if n != 3 || !strings.Contains(r.stderr, "--page-token ") {
		t.Errorf("list --limit 3 shows %d rows, stderr %q; want 3, and how to go on", n, r.stderr)
	}
	var whole listing
	v.veil("clients", "list", "--json", "--limit", "10").ok(t).json(t, &whole)
	if len(whole.Items) != 5 || whole.NextPageToken != "" {
		t.Errorf("list --limit 10 = %d items, next %q; want 5, none",
			len(whole.Items), whole.NextPageToken)
	}
	v.veil("clients", "list", "--page-token", "forged").
		fails(t, 1, "page_token is not valid (invalid_request, HTTP 400)")
	// A page token of one listing is refused by another.
	v.veil("users", "list", "--page-token", token).fails(t, 1, "page_token is not valid")
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
