package server_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestRestartKeepsEverything stops Veil and starts it again on the same
// database and master key: clients, keys and tokens survive.
func TestRestartKeepsEverything(t *testing.T) {
	dsn, mk := pgtest.DSN(t), newMasterKey(t)
	const issuer = "https://veil.example.test"
	first := startVeilAs(t, dsn, mk, issuer)
	rs := first.createResource(apiA, "read")
	c := first.createClient("read", apiA)
	tok := first.mustToken(c, apiA)
	jwks := string(first.get("/.well-known/jwks.json").body)
	first.stop()

	second := startVeilAs(t, dsn, mk, issuer)
	if got := string(second.get("/.well-known/jwks.json").body); got != jwks {
		t.Errorf("JWKS after restart = %s, want %s", got, jwks)
	}
	if got := second.introspect(rs, tok).json(t); got["active"] != true {
		t.Errorf("introspect after restart = %v, want active", got)
	}
	second.readToken(t, tok)
	second.mustToken(c, apiA)
}

// TestRestartWithWrongMasterKeyFails checks that Veil refuses to start
// rather than run with keys it cannot open.
func TestRestartWithWrongMasterKeyFails(t *testing.T) {
	dsn := pgtest.DSN(t)
	startVeil(t, dsn, newMasterKey(t)).stop()

	_, err := newServer(t, dsn, newMasterKey(t))
	if err == nil {
		t.Fatal("server.New() with another master key succeeded, want an error")
	}
}

// TestReplicasShareKeysAndState starts two replicas on one new database at
// the same moment: they create one set of keys between them, and a token
// issued by one is known to, and revocable through, the other.
func TestReplicasShareKeysAndState(t *testing.T) {
	dsn, mk := pgtest.Migrated(t), newMasterKey(t)
	var a, b *instance
	var wg sync.WaitGroup
	wg.Add(2)
	const issuer = "https://veil.example.test"
	go func() { defer wg.Done(); a = startVeilAs(t, dsn, mk, issuer) }()
	go func() { defer wg.Done(); b = startVeilAs(t, dsn, mk, issuer) }()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	ja, jb := string(a.get("/.well-known/jwks.json").body), string(b.get("/.well-known/jwks.json").body)
	if ja != jb {
		t.Fatalf("replicas publish different JWKS:\n%s\n%s", ja, jb)
	}

	rs := a.createResource(apiA, "read")
	c := b.createClient("read", apiA)
	tok := a.mustToken(c, apiA)
	if got := b.introspect(rs, tok).json(t); got["active"] != true {
		t.Fatalf("token from A introspected on B = %v, want active", got)
	}
	b.readToken(t, tok)

	if r := b.post("/oauth2/revoke", c.ID, c.Secret, url.Values{"token": {tok}}); r.status != http.StatusOK {
		t.Fatalf("revoke on B = %d %s", r.status, r.body)
	}
	assertInactive(t, a.introspect(rs, tok))
}
