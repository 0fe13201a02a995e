package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
)

// TestStaleCatalogNeverRecords: a replica that still has a client or a
// resource in its catalog after another replica deleted it issues nothing
// for it. Recording the token checks that both still exist, so no token
// outlives the deletion (a resource registered again under the identifier
// must not be able to read it), and the answer is the one the request
// would have had a moment later: invalid_target, invalid_client.
func TestStaleCatalogNeverRecords(t *testing.T) {
	dsn := pgtest.DSN(t)
	mk := newMasterKey(t)
	a := startVeil(t, dsn, mk)
	b := startVeilAs(t, dsn, mk, a.issuer)

	a.createResource(apiA, "read")
	c := a.createClient("read", apiA)
	b.mustToken(c, apiA) // b now holds the client and the resource
	cc := url.Values{"grant_type": {"client_credentials"}, "resource": {apiA}}

	if r := a.admin(http.MethodDelete, "/admin/resources/"+resourceIDOf(t, a, apiA), nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE resource = %d %s, want 204", r.status, r.body)
	}
	assertOAuthError(t, b.post("/oauth2/token", c.ID, c.Secret, cc), http.StatusBadRequest, "invalid_target")
	const live = `SELECT count(*) FROM access_tokens WHERE NOT revoked`
	if n := countRows(t, dsn, live); n != 0 {
		t.Errorf("%d unrevoked token records after the resource was deleted, want 0", n)
	}

	a.createResource(apiB, "read")
	c2 := a.createClient("read", apiB)
	b.mustToken(c2, apiB)
	if r := a.admin(http.MethodDelete, "/admin/clients/"+c2.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE client = %d %s, want 204", r.status, r.body)
	}
	r := b.post("/oauth2/token", c2.ID, c2.Secret, url.Values{"grant_type": {"client_credentials"}})
	assertOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if n := countRows(t, dsn, live); n != 0 {
		t.Errorf("%d unrevoked token records after the client was deleted, want 0", n)
	}
}

// resourceIDOf returns the ID of the resource registered for identifier.
func resourceIDOf(t *testing.T, in *instance, identifier string) string {
	t.Helper()
	r := in.admin(http.MethodGet, "/admin/resources?limit=200", nil)
	items, _ := r.json(t)["items"].([]any)
	for _, it := range items {
		if m, _ := it.(map[string]any); m["identifier"] == identifier {
			return m["id"].(string)
		}
	}
	t.Fatalf("no resource %s in %s", identifier, r.body)
	return ""
}
