package server_test

import (
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/token"
)

// TestIntrospectionVerifiesStoredTokens: a record that matches a token
// string Veil did not issue (here one written straight into the database
// for an altered copy of a real token) answers inactive, however often it
// is asked about, while the real token stays active on every ask, also
// once its verification is remembered.
func TestIntrospectionVerifiesStoredTokens(t *testing.T) {
	dsn := pgtest.DSN(t)
	in := startVeil(t, dsn, newMasterKey(t))
	rs := in.createResource(apiA, "read")
	c := in.createClient("read", apiA)
	real := in.mustToken(c, apiA)

	// Flip one character of the authentication tag: the same header, so
	// Veil sees a token in its own encryption, which no longer decrypts.
	b := []byte(real)
	last := len(b) - 1
	b[last] = map[bool]byte{true: 'B', false: 'A'}[b[last] == 'A']
	forged := string(b)
	execSQL(t, dsn, `
INSERT INTO access_tokens (signature, jti, request_id, client_id, subject, audience,
	scopes, issued_at, expires_at, revoked)
SELECT '`+token.Signature(forged)+`', 'forged-jti', request_id, client_id, subject, audience,
	scopes, issued_at, expires_at, revoked
FROM access_tokens WHERE signature = '`+token.Signature(real)+`'`)

	for range 3 {
		assertActive(t, in.introspect(rs, real))
		assertInactive(t, in.introspect(rs, forged))
	}
}
