package postgres

import (
	"context"
	"fmt"

	"github.com/veil-auth/veil/internal/storage"
)

// insertAccessTokenSQL relies on the foreign key to clients: a token for a
// client deleted meanwhile is refused (23503) rather than recorded active
// after DeleteClient has run.
const insertAccessTokenSQL = `
INSERT INTO access_tokens (signature, jti, request_id, client_id, subject,
	audience, scopes, issued_at, expires_at, revoked)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// CreateAccessToken records an issued access token. The insert commits
// before it returns, so the record is as durable as the server's
// synchronous_commit setting makes a commit.
func (s *Store) CreateAccessToken(ctx context.Context, t *storage.AccessToken) error {
	_, err := s.pool.Exec(ctx, insertAccessTokenSQL, t.Signature, t.JTI, t.RequestID,
		t.ClientID, t.Subject, notNil(t.Audience), notNil(t.Scopes), t.IssuedAt,
		t.ExpiresAt, t.Revoked)
	if err != nil {
		return fmt.Errorf("create access token: %w", mapError(err))
	}
	return nil
}

const selectAccessTokenSQL = `
SELECT signature, jti, request_id, client_id, subject, audience, scopes,
	issued_at, expires_at, revoked
FROM access_tokens
WHERE signature = $1`

// AccessToken returns the record with the given signature.
func (s *Store) AccessToken(ctx context.Context, signature string) (*storage.AccessToken, error) {
	var t storage.AccessToken
	err := s.pool.QueryRow(ctx, selectAccessTokenSQL, signature).Scan(&t.Signature,
		&t.JTI, &t.RequestID, &t.ClientID, &t.Subject, &t.Audience, &t.Scopes,
		&t.IssuedAt, &t.ExpiresAt, &t.Revoked)
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
	if _, err := s.pool.Exec(ctx, revokeAccessTokensSQL, requestID); err != nil {
		return fmt.Errorf("revoke access tokens: %w", mapError(err))
	}
	return nil
}
