package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

// insertSessionSQL takes the user ID from the user's row, and only if the
// user is not disabled; FOR SHARE holds that row until the transaction
// ends. A concurrent UpdateUser that disables the user has either
// committed, and nothing is inserted, or must wait for this insert and then
// deletes the new session with the others. Without the lock a session
// could be created after the sweep and outlive the user's disabling.
const insertSessionSQL = `
INSERT INTO sessions (id, user_id, auth_time, expires_at)
SELECT $1, id, $3, $4 FROM users WHERE id = $2 AND NOT disabled
FOR SHARE`

// CreateSession stores a session; ErrNotFound if the user is unknown or
// disabled.
func (s *Store) CreateSession(ctx context.Context, sess *storage.Session) error {
	if !sess.ValidText() {
		return fmt.Errorf("create session: %w", storage.ErrInvalid)
	}

	tag, err := s.querier(ctx).Exec(ctx, insertSessionSQL, sess.ID, sess.UserID,
		sess.AuthTime, sess.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create session: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create session: user: %w", storage.ErrNotFound)
	}
	return nil
}

const selectSessionSQL = `
SELECT id, user_id, auth_time, expires_at
FROM sessions
WHERE id = $1 AND expires_at > $2`

// Session returns a session that has not expired.
func (s *Store) Session(ctx context.Context, id string) (*storage.Session, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("get session: %w", storage.ErrNotFound)
	}

	var sess storage.Session
	err := s.querier(ctx).QueryRow(ctx, selectSessionSQL, id, s.now()).Scan(&sess.ID,
		&sess.UserID, &sess.AuthTime, &sess.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("get session: %w", mapError(err))
	}

	sess.AuthTime, sess.ExpiresAt = sess.AuthTime.UTC(), sess.ExpiresAt.UTC()
	return &sess, nil
}

const deleteSessionSQL = `DELETE FROM sessions WHERE id = $1`

// DeleteSession removes a session, if there is one.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if !storage.ValidText(id) {
		return nil
	}

	if _, err := s.querier(ctx).Exec(ctx, deleteSessionSQL, id); err != nil {
		return fmt.Errorf("delete session: %w", mapError(err))
	}
	return nil
}

const insertAuthRequestSQL = `
INSERT INTO auth_requests (id, browser_hash, client_id, query, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)`

// CreateAuthRequest stores a pending authorization request. ErrConflict if
// the ID is taken; ErrNotFound if the client is unknown.
func (s *Store) CreateAuthRequest(ctx context.Context, r *storage.AuthRequest) error {
	if !r.ValidText() {
		return fmt.Errorf("create auth request: %w", storage.ErrInvalid)
	}

	_, err := s.querier(ctx).Exec(ctx, insertAuthRequestSQL, r.ID, r.BrowserHash,
		r.ClientID, r.Query, r.CreatedAt, r.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create auth request: %w", mapError(err))
	}
	return nil
}

const authRequestColumns = `id, browser_hash, client_id, query, created_at, expires_at`

func scanAuthRequest(row pgx.Row) (*storage.AuthRequest, error) {
	var r storage.AuthRequest
	err := row.Scan(&r.ID, &r.BrowserHash, &r.ClientID, &r.Query, &r.CreatedAt, &r.ExpiresAt)
	if err != nil {
		return nil, err
	}

	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

const selectAuthRequestSQL = `SELECT ` + authRequestColumns + `
FROM auth_requests
WHERE id = $1 AND expires_at > $2`

// AuthRequest returns a pending request that has not expired.
func (s *Store) AuthRequest(ctx context.Context, id string) (*storage.AuthRequest, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("get auth request: %w", storage.ErrNotFound)
	}

	r, err := scanAuthRequest(s.querier(ctx).QueryRow(ctx, selectAuthRequestSQL, id, s.now()))
	if err != nil {
		return nil, fmt.Errorf("get auth request: %w", mapError(err))
	}
	return r, nil
}

// consumeAuthRequestSQL finds and deletes the request in one statement, so
// that a request completes at most once: of two concurrent calls, the
// second waits for the first's delete and then finds no row. An expired
// request is left alone and reported as not found.
const consumeAuthRequestSQL = `
DELETE FROM auth_requests
WHERE id = $1 AND expires_at > $2
RETURNING ` + authRequestColumns

// ConsumeAuthRequest deletes a pending request that has not expired and
// returns it.
func (s *Store) ConsumeAuthRequest(ctx context.Context, id string) (*storage.AuthRequest, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("consume auth request: %w", storage.ErrNotFound)
	}

	r, err := scanAuthRequest(s.querier(ctx).QueryRow(ctx, consumeAuthRequestSQL, id, s.now()))
	if err != nil {
		return nil, fmt.Errorf("consume auth request: %w", mapError(err))
	}
	return r, nil
}

// recordLoginFailureSQL forgets the key's failures from before the window,
// records this one and counts, in one statement. The count reads the
// table as it was when the statement began, so this failure is added to it.
const recordLoginFailureSQL = `
WITH forgotten AS (
	DELETE FROM login_failures WHERE key = $1 AND at <= $3
), recorded AS (
	INSERT INTO login_failures (key, at) VALUES ($1, $2)
)
SELECT count(*) + 1 FROM login_failures WHERE key = $1 AND at > $3`

// RecordLoginFailure records a failed sign-in against key at now and
// returns the failures recorded after now - window, this one included.
// Failures recorded by other replicas count as soon as they commit.
func (s *Store) RecordLoginFailure(
	ctx context.Context, key string, now time.Time, window time.Duration,
) (int, error) {
	if !storage.ValidText(key) {
		return 0, fmt.Errorf("record login failure: %w", storage.ErrInvalid)
	}

	var n int
	err := s.querier(ctx).QueryRow(ctx, recordLoginFailureSQL, key, now,
		now.Add(-window)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("record login failure: %w", mapError(err))
	}
	return n, nil
}

const countLoginFailuresSQL = `
SELECT count(*) FROM login_failures WHERE key = $1 AND at > $2`

// LoginFailures returns the failures recorded against key after
// now - window.
func (s *Store) LoginFailures(
	ctx context.Context, key string, now time.Time, window time.Duration,
) (int, error) {
	if !storage.ValidText(key) {
		return 0, nil
	}

	var n int
	err := s.querier(ctx).QueryRow(ctx, countLoginFailuresSQL, key, now.Add(-window)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count login failures: %w", mapError(err))
	}
	return n, nil
}

const clearLoginFailuresSQL = `DELETE FROM login_failures WHERE key = $1`

// ClearLoginFailures forgets the failures recorded against key.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if !storage.ValidText(key) {
		return nil
	}

	if _, err := s.querier(ctx).Exec(ctx, clearLoginFailuresSQL, key); err != nil {
		return fmt.Errorf("clear login failures: %w", mapError(err))
	}
	return nil
}
