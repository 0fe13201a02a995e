package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
//
// In the same way a token is recorded only while its resource ($12) still
// exists under the identifier of its audience: the issuer may have read the
// resource from a cache that another replica's change has made stale, and
// DeleteResource and a rename (which lock the row FOR UPDATE, then revoke
// the identifier's tokens) must either see this row or prevent it. FOR KEY
// SHARE is the weakest lock that waits for them.
const insertAccessTokenSQL = `
INSERT INTO access_tokens (signature, jti, request_id, client_id, subject,
	audience, scopes, issued_at, expires_at, revoked, consent_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11::text, '')
WHERE ($11::text = '' OR EXISTS (
	SELECT FROM consents c JOIN users u ON u.id = c.user_id
	WHERE c.id = $11::text AND NOT u.disabled
	FOR SHARE OF u
)) AND ($12::text = '' OR EXISTS (
	SELECT FROM resources r
	WHERE r.id = $12::text AND ARRAY[r.identifier] = $6::text[]
	FOR KEY SHARE
))`

// CreateAccessToken records an issued access token. Outside a transaction
// the insert commits before it returns, so the record is as durable as the
// server's synchronous_commit setting makes a commit; there it shares its
// round trip and its commit with the inserts of other callers (see
// insertAccessTokens).
func (s *Store) CreateAccessToken(ctx context.Context, t *storage.AccessToken) error {
	if !t.ValidText() {
		return fmt.Errorf("create access token: %w", storage.ErrInvalid)
	}

	if q := s.querier(ctx); q != s.pool {
		return insertAccessToken(ctx, q, t)
	}
	_, err := s.tokenWrites.do(ctx, t)
	return err
}

// insertAccessToken records t with a statement of its own.
func insertAccessToken(ctx context.Context, q querier, t *storage.AccessToken) error {
	tag, err := q.Exec(ctx, insertAccessTokenSQL, insertAccessTokenArgs(t)...)
	return insertedAccessToken(tag, err)
}

func insertAccessTokenArgs(t *storage.AccessToken) []any {
	return []any{t.Signature, t.JTI, t.RequestID, t.ClientID, t.Subject,
		notNil(t.Audience), notNil(t.Scopes), t.IssuedAt, t.ExpiresAt,
		t.Revoked, t.ConsentID, t.ResourceID}
}

// insertedAccessToken is the error of an insert that ended with tag and
// err.
func insertedAccessToken(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return fmt.Errorf("create access token: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("create access token: consent, user or resource: %w", storage.ErrNotFound)
	}
	return nil
}

// insertAccessTokens is tokenWrites' round trip: one pipeline of inserts,
// each with its own statement so that each gets its own outcome, sent with
// one Sync. PostgreSQL runs the pipeline as one implicit transaction, so
// the batch costs one commit and one WAL flush, and every caller is
// answered only once that commit has returned.
//
// An insert that fails aborts the whole transaction. If the server
// reported the failure as an ERROR, nothing was committed and the backend
// lives on, so every insert is tried again alone: each caller gets the
// answer it would get without batching (a deleted client, a disabled
// user), and the good rows are recorded once. Any other failure (a broken
// connection, a FATAL error, the round trip abandoned) leaves the commit's
// outcome unknown. Trying again could then record a token twice or, worse,
// answer ErrConflict for a token that was recorded; ON CONFLICT DO NOTHING
// would not tell "mine, committed" from "someone else's". So every caller
// gets ErrUnavailable, as a lone insert would on a broken connection; a
// token recorded but never handed out is harmless.
func (s *Store) insertAccessTokens(ctx context.Context, calls []*call[*storage.AccessToken, struct{}]) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(calls))}
	for _, c := range calls {
		b.Queue(insertAccessTokenSQL, insertAccessTokenArgs(c.arg)...)
	}

	tags := make([]pgconn.CommandTag, len(calls))
	br := s.pool.SendBatch(ctx, b)
	var err error
	for i := range calls {
		if tags[i], err = br.Exec(); err != nil {
			break
		}
	}
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}

	switch {
	case err == nil:
		for i, c := range calls {
			c.reply(struct{}{}, insertedAccessToken(tags[i], nil))
		}
	case rolledBack(err):
		for _, c := range calls {
			c.reply(struct{}{}, insertAccessToken(c.ctx, s.pool, c.arg))
		}
	default:
		err = fmt.Errorf("create access token: %w", unknownOutcome(err))
		for _, c := range calls {
			c.reply(struct{}{}, err)
		}
	}
}

// rolledBack reports whether err is the server's report of an ERROR, after
// which the implicit transaction it ended is rolled back and the
// connection stays usable.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Severity == "ERROR"
}

const selectAccessTokenSQL = `
SELECT signature, jti, request_id, client_id, subject, audience, scopes,
	issued_at, expires_at, revoked, COALESCE(consent_id, '')
FROM access_tokens
WHERE signature = $1`

// AccessToken returns the record with the given signature. Outside a
// transaction the lookup shares its round trip with those of other callers
// (see selectAccessTokens).
func (s *Store) AccessToken(ctx context.Context, signature string) (*storage.AccessToken, error) {
	if !storage.ValidText(signature) {
		return nil, fmt.Errorf("get access token: %w", storage.ErrNotFound)
	}
	if q := s.querier(ctx); q != s.pool {
		return selectAccessToken(ctx, q, signature)
	}
	return s.tokenReads.do(ctx, signature)
}

// selectAccessToken looks up one record with a statement of its own.
func selectAccessToken(ctx context.Context, q querier, signature string) (*storage.AccessToken, error) {
	var t storage.AccessToken
	err := q.QueryRow(ctx, selectAccessTokenSQL, signature).Scan(&t.Signature,
		&t.JTI, &t.RequestID, &t.ClientID, &t.Subject, &t.Audience, &t.Scopes,
		&t.IssuedAt, &t.ExpiresAt, &t.Revoked, &t.ConsentID)
	if err != nil {
		return nil, fmt.Errorf("get access token: %w", mapError(err))
	}

	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	return &t, nil
}

const selectAccessTokensSQL = `
SELECT signature, jti, request_id, client_id, subject, audience, scopes,
	issued_at, expires_at, revoked, COALESCE(consent_id, '')
FROM access_tokens
WHERE signature = ANY($1)`

// selectAccessTokens is tokenReads' round trip: one statement for every
// signature asked for.
func (s *Store) selectAccessTokens(ctx context.Context, calls []*call[string, *storage.AccessToken]) {
	signatures := make([]string, len(calls))
	for i, c := range calls {
		signatures[i] = c.arg
	}

	found, err := scanAccessTokens(s.pool.Query(ctx, selectAccessTokensSQL, signatures))
	if err != nil {
		err = fmt.Errorf("get access token: %w", mapError(err))
		for _, c := range calls {
			c.reply(nil, err)
		}
		return
	}

	// Callers asking for the same signature each get a record of their
	// own, which they may change.
	for _, c := range calls {
		f, ok := found[c.arg]
		switch {
		case !ok:
			c.reply(nil, fmt.Errorf("get access token: %w", storage.ErrNotFound))
		case f.given:
			c.reply(cloneAccessToken(f.t), nil)
		default:
			found[c.arg] = foundToken{t: f.t, given: true}
			c.reply(f.t, nil)
		}
	}
}

// foundToken is a record that selectAccessTokens read, and whether a
// caller has it already.
type foundToken struct {
	t     *storage.AccessToken
	given bool
}

// scanAccessTokens reads the rows of selectAccessTokensSQL by signature.
func scanAccessTokens(rows pgx.Rows, err error) (map[string]foundToken, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	found := make(map[string]foundToken)
	for rows.Next() {
		var t storage.AccessToken
		err := rows.Scan(&t.Signature, &t.JTI, &t.RequestID, &t.ClientID, &t.Subject,
			&t.Audience, &t.Scopes, &t.IssuedAt, &t.ExpiresAt, &t.Revoked, &t.ConsentID)
		if err != nil {
			return nil, err
		}
		t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
		found[t.Signature] = foundToken{t: &t}
	}
	return found, rows.Err()
}

// cloneAccessToken returns a copy of t that shares no slice with it.
func cloneAccessToken(t *storage.AccessToken) *storage.AccessToken {
	c := *t
	c.Audience, c.Scopes = slices.Clone(t.Audience), slices.Clone(t.Scopes)
	return &c
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
