package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

const insertUserSQL = `
INSERT INTO users (id, username, email, password_hash, disabled)
VALUES ($1, $2, $3, $4, $5)
RETURNING created_at, updated_at`

// CreateUser stores u and sets u.CreatedAt and u.UpdatedAt. The unique
// index on lower(username) refuses a username that differs from a taken
// one only in case.
func (s *Store) CreateUser(ctx context.Context, u *storage.User) error {
	if !u.ValidText() {
		return fmt.Errorf("create user: %w", storage.ErrInvalid)
	}

	var created, updated time.Time
	err := s.querier(ctx).QueryRow(ctx, insertUserSQL, u.ID, u.Username, u.Email,
		u.PasswordHash, u.Disabled).Scan(&created, &updated)
	if err != nil {
		return fmt.Errorf("create user: %w", mapError(err))
	}

	u.CreatedAt, u.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

const userColumns = `id, username, email, password_hash, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (*storage.User, error) {
	var u storage.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.Disabled,
		&u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, err
	}

	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

const selectUserSQL = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// User returns the user with the given ID.
func (s *Store) User(ctx context.Context, id string) (*storage.User, error) {
	if !storage.ValidText(id) {
		return nil, fmt.Errorf("get user: %w", storage.ErrNotFound)
	}

	u, err := scanUser(s.querier(ctx).QueryRow(ctx, selectUserSQL, id))
	if err != nil {
		return nil, fmt.Errorf("get user: %w", mapError(err))
	}
	return u, nil
}

// selectUserByUsernameSQL is written as the index users_username_idx is,
// so that the index serves it.
const selectUserByUsernameSQL = `SELECT ` + userColumns + `
FROM users WHERE lower(username) = lower($1)`

// UserByUsername returns the user with the given username, compared without
// regard to case.
func (s *Store) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	if !storage.ValidText(username) {
		return nil, fmt.Errorf("get user by username: %w", storage.ErrNotFound)
	}

	u, err := scanUser(s.querier(ctx).QueryRow(ctx, selectUserByUsernameSQL, username))
	if err != nil {
		return nil, fmt.Errorf("get user by username: %w", mapError(err))
	}
	return u, nil
}

const listUsersSQL = `SELECT ` + userColumns + `
FROM users
WHERE id > $1
ORDER BY id
LIMIT $2`

// ListUsers returns up to limit users whose ID sorts after the given one,
// in ID order.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]*storage.User, error) {
	if !storage.ValidText(after) {
		return nil, fmt.Errorf("list users: %w", storage.ErrInvalid)
	}

	if limit <= 0 {
		return nil, nil
	}

	rows, err := s.querier(ctx).Query(ctx, listUsersSQL, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", mapError(err))
	}
	users, err := pgx.CollectRows(rows,
		func(row pgx.CollectableRow) (*storage.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", mapError(err))
	}
	return users, nil
}

// lockUserSQL reads the stored password hash and locks the user's row
// until the transaction ends, as strongly as the UPDATE after it would:
// the hash UpdateUser compares with is the one it replaces, even if
// another transaction changed it meanwhile.
const lockUserSQL = `SELECT password_hash FROM users WHERE id = $1 FOR NO KEY UPDATE`

// updateUserSQL keeps the stored password hash when $4 is empty. It reads
// it from the row it updates, which is locked: a password set by a
// transaction that committed before the lock was taken is kept, not the
// one the caller saw when it read the user.
const updateUserSQL = `
UPDATE users
SET username = $2, email = $3, password_hash = COALESCE(NULLIF($4, ''), password_hash),
	disabled = $5, updated_at = now()
WHERE id = $1
RETURNING created_at, updated_at`

// endSessionsSQL signs a user out of every browser.
const endSessionsSQL = `DELETE FROM sessions WHERE user_id = $1`

// revokeUserSQL ends everything a user holds: sessions go, and codes and
// tokens are marked spent rather than deleted, so that a replay is still
// recognised as one. Access tokens have no user column: those issued under
// the user's consents are revoked, and so are those whose subject is the
// user's ID.
const revokeUserSQL = `
WITH ended_sessions AS (
	DELETE FROM sessions WHERE user_id = $1
), spent_codes AS (
	UPDATE codes SET used = true WHERE user_id = $1 AND NOT used
), spent_refresh_tokens AS (
	UPDATE refresh_tokens SET active = false WHERE user_id = $1 AND active
)
UPDATE access_tokens SET revoked = true
WHERE (subject = $1 OR consent_id IN (SELECT id FROM consents WHERE user_id = $1))
	AND NOT revoked`

// UpdateUser replaces Username, Email and Disabled, and PasswordHash unless
// it is empty, and sets u.CreatedAt and u.UpdatedAt to the stored values.
// In the same transaction, a new password hash ends the user's sessions,
// and u.Disabled revokes everything the user holds.
//
// The user's row is locked first: from then on a session, code or token
// being created for the user meanwhile (see insertSessionSQL) waits, and
// finds the user disabled, or was created before and is swept here.
func (s *Store) UpdateUser(ctx context.Context, u *storage.User) error {
	if !u.ValidText() {
		return fmt.Errorf("update user: %w", storage.ErrInvalid)
	}

	var created, updated time.Time
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var oldHash string
		if err := tx.QueryRow(ctx, lockUserSQL, u.ID).Scan(&oldHash); err != nil {
			return fmt.Errorf("lock user: %w", mapError(err))
		}
		err := tx.QueryRow(ctx, updateUserSQL, u.ID, u.Username, u.Email,
			u.PasswordHash, u.Disabled).Scan(&created, &updated)
		if err != nil {
			return fmt.Errorf("update user row: %w", mapError(err))
		}

		switch {
		case u.Disabled:
			if _, err := tx.Exec(ctx, revokeUserSQL, u.ID); err != nil {
				return fmt.Errorf("revoke user grants: %w", mapError(err))
			}
		case u.PasswordHash != "" && u.PasswordHash != oldHash:
			if _, err := tx.Exec(ctx, endSessionsSQL, u.ID); err != nil {
				return fmt.Errorf("end user sessions: %w", mapError(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}

	u.CreatedAt, u.UpdatedAt = created.UTC(), updated.UTC()
	return nil
}

// deleteUserSQL deletes the user; the foreign keys delete their sessions,
// consents, codes and refresh tokens, and through the consents the access
// tokens issued under them.
const deleteUserSQL = `DELETE FROM users WHERE id = $1`

// revokeSubjectSQL reaches access tokens of the user that no consent
// names, such as records written before consents existed.
const revokeSubjectSQL = `
UPDATE access_tokens SET revoked = true WHERE subject = $1 AND NOT revoked`

// DeleteUser removes a user with everything they hold, and revokes the
// access tokens whose subject they are, in one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if !storage.ValidText(id) {
		return fmt.Errorf("delete user: %w", storage.ErrNotFound)
	}

	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteUserSQL, id)
		if err != nil {
			return fmt.Errorf("delete user row: %w", mapError(err))
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound
		}

		if _, err := tx.Exec(ctx, revokeSubjectSQL, id); err != nil {
			return fmt.Errorf("revoke access tokens: %w", mapError(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}
