package postgres

import (
	"context"
	"fmt"

	"github.com/veil-auth/veil/internal/storage"
)

// insertAccessTokenSQL relies on the foreign keys to clients and consents:
// a token for a client or a consent deleted meanwhile is refused (23503)
// rather than recorded active after DeleteClient or DeleteConsent has run.
//
// A token issued under a consent is recorded only while the consent's user
// is not disabled, and FOR SHARE holds that user's row until the
// transaction ends: an UpdateUser that disables the user either finished
// before, and no row is inserted, or waits, and then revokes this token
// with the others.
const insertAccessTokenSQL = `
INSERT INTO access_tokens (signature, jti, request_id, client_id, subject,
	audience, scopes, issued_at, expires_at, revoked, consent_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11::text, '')
WHERE $11::text = '' OR EXISTS (
	SELECT FROM consents c JOIN users u ON u.id = c.user_id
	WHERE c.id = $11::text AND NOT u.disabled
	FOR SHARE OF u
)`

// CreateAccessToken records an issued access token. Outside a transaction
// the insert commits before it returns, so the record is as durable as the
// server's synchronous_commit setting makes a commit.
func (s *Store) CreateAccessToken(ctx context.Context, t *storage.AccessToken) error {
	if !t.ValidText() {
		return fmt.Errorf("create access token: %w", storage.ErrInvalid)
	}

	tag, err := s.querier(ctx).Exec(ctx, insertAccessTokenSQL, t.Signature, t.JTI,
		t.RequestID, t.ClientID, t.Subject, notNil(t.Audience), notNil(t.Scopes),
		t.IssuedAt, t.ExpiresAt, t.Revoked, t.ConsentID)
	if err != nil {
		return fmt.Errorf("create access token: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create access token: consent or user: %w", storage.ErrNotFound)
	}
	return nil
}

const selectAccessTokenSQL = `
SELECT signature, jti, request_id, client_id, subject, audience, scopes,
	issued_at, expires_at, revoked, COALESCE(consent_id, '')
FROM access_tokens
WHERE signature = $1`

// AccessToken returns the record with the given signature.
func (s *Store) AccessToken(ctx context.Context, signature string) (*storage.AccessToken, error) {
	if !storage.ValidText(signature) {
		return nil, fmt.Errorf("get access token: %w", storage.ErrNotFound)
	}

	var t storage.AccessToken
	err := s.querier(ctx).QueryRow(ctx, selectAccessTokenSQL, signature).Scan(&t.Signature,
		&t.JTI, &t.RequestID, &t.ClientID, &t.Subject, &t.Audience, &t.Scopes,
		&t.IssuedAt, &t.ExpiresAt, &t.Revoked, &t.ConsentID)
	if err != nil {
		return nil, fmt.Errorf("get access token: %w", mapError(err))
	}

	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

// revokeAccessTokensSQL skips rows already revoked so that revoking a family
// twice writes nothing.
const revokeAccessTokensSQL = `
UPDATE access_tokens SET revoked = true
WHERE request_id = $1 AND NOT revoked`

// RevokeAccessTokens marks every token of a request ID revoked.
func (s *Store) RevokeAccessTokens(ctx context.Context, requestID string) error {
	if !storage.ValidText(requestID) {
		return nil
	}

	if _, err := s.querier(ctx).Exec(ctx, revokeAccessTokensSQL, requestID); err != nil {
		return fmt.Errorf("revoke access tokens: %w", mapError(err))
	}
	return nil
}
