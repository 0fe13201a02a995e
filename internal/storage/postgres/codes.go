package postgres

import (
	"context"
	"fmt"

	"github.com/veil-auth/veil/internal/storage"
)

// insertCodeSQL, like insertSessionSQL, stores nothing for a disabled user
// and holds the user's row FOR SHARE, so that no code issued while the user
// is being disabled escapes the revocation.
const insertCodeSQL = `
INSERT INTO codes (signature, request_id, client_id, user_id, consent_id, request,
	expires_at, used)
SELECT $1, $2, $3, id, $5, $6, $7, $8 FROM users WHERE id = $4 AND NOT disabled
FOR SHARE`

// CreateCode stores an authorization code. ErrConflict if the signature is
// taken; ErrNotFound if the client, the user or the consent is unknown, or
// the user is disabled.
func (s *Store) CreateCode(ctx context.Context, c *storage.Code) error {
	if !c.ValidText() {
		return fmt.Errorf("create code: %w", storage.ErrInvalid)
	}

	tag, err := s.querier(ctx).Exec(ctx, insertCodeSQL, c.Signature, c.RequestID,
		c.ClientID, c.UserID, c.ConsentID, notNilBytes(c.Request), c.ExpiresAt, c.Used)
	if err != nil {
		return fmt.Errorf("create code: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create code: user: %w", storage.ErrNotFound)
	}
	return nil
}

const selectCodeSQL = `
SELECT signature, request_id, client_id, user_id, consent_id, request, expires_at, used
FROM codes
WHERE signature = $1`

// Code returns a code, used or not, expired or not.
func (s *Store) Code(ctx context.Context, signature string) (*storage.Code, error) {
	if !storage.ValidText(signature) {
		return nil, fmt.Errorf("get code: %w", storage.ErrNotFound)
	}

	var c storage.Code
	err := s.querier(ctx).QueryRow(ctx, selectCodeSQL, signature).Scan(&c.Signature,
		&c.RequestID, &c.ClientID, &c.UserID, &c.ConsentID, &c.Request, &c.ExpiresAt, &c.Used)
	if err != nil {
		return nil, fmt.Errorf("get code: %w", mapError(err))
	}

	c.ExpiresAt = c.ExpiresAt.UTC()
	return &c, nil
}

// useCodeSQL redeems a code in one statement, because a code must be
// redeemed at most once (RFC 6749 §4.1.2, and §10.5 on replay): two
// requests that read "not used" and then each wrote "used" would both
// obtain tokens. Under READ COMMITTED the UPDATE of a row that a concurrent
// transaction is changing waits for it, then rechecks "NOT used" on the
// row's new version, so exactly one redemption updates a row. The second
// query tells a used code (ErrUsed) from an unknown one (ErrNotFound).
const useCodeSQL = `
WITH redeemed AS (
	UPDATE codes SET used = true
	WHERE signature = $1 AND NOT used
	RETURNING signature
)
SELECT EXISTS (SELECT FROM redeemed), EXISTS (SELECT FROM codes WHERE signature = $1)`

// UseCode marks a code used: ErrUsed if it already was, ErrNotFound if it
// is unknown.
func (s *Store) UseCode(ctx context.Context, signature string) error {
	if !storage.ValidText(signature) {
		return fmt.Errorf("use code: %w", storage.ErrNotFound)
	}

	var redeemed, exists bool
	err := s.querier(ctx).QueryRow(ctx, useCodeSQL, signature).Scan(&redeemed, &exists)
	return singleUse("use code", redeemed, exists, err)
}

// insertRefreshTokenSQL guards against a disabled user as insertCodeSQL
// does.
const insertRefreshTokenSQL = `
INSERT INTO refresh_tokens (signature, request_id, access_signature, client_id,
	user_id, consent_id, request, expires_at, active)
SELECT $1, $2, $3, $4, id, $6, $7, $8, $9 FROM users WHERE id = $5 AND NOT disabled
FOR SHARE`

// CreateRefreshToken stores a refresh token. ErrConflict if the signature
// is taken; ErrNotFound if the client, the user or the consent is unknown,
// or the user is disabled.
func (s *Store) CreateRefreshToken(ctx context.Context, t *storage.RefreshToken) error {
	if !t.ValidText() {
		return fmt.Errorf("create refresh token: %w", storage.ErrInvalid)
	}

	tag, err := s.querier(ctx).Exec(ctx, insertRefreshTokenSQL, t.Signature, t.RequestID,
		t.AccessSignature, t.ClientID, t.UserID, t.ConsentID, notNilBytes(t.Request),
		t.ExpiresAt, t.Active)
	if err != nil {
		return fmt.Errorf("create refresh token: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create refresh token: user: %w", storage.ErrNotFound)
	}
	return nil
}

const selectRefreshTokenSQL = `
SELECT signature, request_id, access_signature, client_id, user_id, consent_id,
	request, expires_at, active
FROM refresh_tokens
WHERE signature = $1`

// RefreshToken returns a refresh token, active or not, expired or not.
func (s *Store) RefreshToken(ctx context.Context, signature string) (*storage.RefreshToken, error) {
	if !storage.ValidText(signature) {
		return nil, fmt.Errorf("get refresh token: %w", storage.ErrNotFound)
	}

	var t storage.RefreshToken
	err := s.querier(ctx).QueryRow(ctx, selectRefreshTokenSQL, signature).Scan(&t.Signature,
		&t.RequestID, &t.AccessSignature, &t.ClientID, &t.UserID, &t.ConsentID, &t.Request,
		&t.ExpiresAt, &t.Active)
	if err != nil {
		return nil, fmt.Errorf("get refresh token: %w", mapError(err))
	}

	t.ExpiresAt = t.ExpiresAt.UTC()
	return &t, nil
}

// deactivateRefreshTokenSQL rotates a refresh token in one statement, for
// the reason useCodeSQL redeems a code in one: of two concurrent refreshes
// with the same token, exactly one may obtain new tokens (RFC 6819
// §5.2.2.3, refresh token rotation); the other gets ErrUsed, which the
// caller treats as a replay.
const deactivateRefreshTokenSQL = `
WITH rotated AS (
	UPDATE refresh_tokens SET active = false
	WHERE signature = $1 AND active
	RETURNING signature
)
SELECT EXISTS (SELECT FROM rotated), EXISTS (SELECT FROM refresh_tokens WHERE signature = $1)`

// DeactivateRefreshToken marks one refresh token inactive: ErrUsed if it
// already was, ErrNotFound if it is unknown.
func (s *Store) DeactivateRefreshToken(ctx context.Context, signature string) error {
	if !storage.ValidText(signature) {
		return fmt.Errorf("deactivate refresh token: %w", storage.ErrNotFound)
	}

	var rotated, exists bool
	row := s.querier(ctx).QueryRow(ctx, deactivateRefreshTokenSQL, signature)
	err := row.Scan(&rotated, &exists)
	return singleUse("deactivate refresh token", rotated, exists, err)
}

// revokeRefreshTokensSQL skips tokens already inactive, as
// revokeAccessTokensSQL does.
const revokeRefreshTokensSQL = `
UPDATE refresh_tokens SET active = false
WHERE request_id = $1 AND active`

// RevokeRefreshTokens marks every refresh token of a request ID inactive.
func (s *Store) RevokeRefreshTokens(ctx context.Context, requestID string) error {
	if !storage.ValidText(requestID) {
		return nil
	}

	if _, err := s.querier(ctx).Exec(ctx, revokeRefreshTokensSQL, requestID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", mapError(err))
	}
	return nil
}

// singleUse turns the outcome of consuming a single-use item into an
// error: nil if this call consumed it, ErrUsed if it exists but was spent
// already, ErrNotFound if it does not exist.
func singleUse(op string, consumed, exists bool, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", op, mapError(err))
	case consumed:
		return nil
	case exists:
		return fmt.Errorf("%s: %w", op, storage.ErrUsed)
	}
	return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
}

// notNilBytes returns b, or an empty slice if b is nil, for the NOT NULL
// bytea columns (see notNil).
func notNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
