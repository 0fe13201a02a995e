package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/veil-auth/veil/internal/storage"
)

// sweepLockID names the advisory lock TrySweepLock takes: "veilswep" in
// ASCII, distinct from keysLockID.
const sweepLockID int64 = 0x7665696c73776570

// connKey is the context key under which TrySweepLock puts the connection
// that holds the lock.
type connKey struct{}

// TrySweepLock runs fn while this process holds the sweep lock, unless
// another session holds it.
//
// The lock is a session-level advisory lock on a connection taken from
// the pool for the run, and fn's context carries that connection, so that
// the batches run on it too. A transaction-scoped lock would need one
// transaction around the whole run, and a transaction that stays open
// keeps VACUUM from reclaiming the very rows the run deletes; this way
// every batch commits on its own while the lock stays held. If the
// process dies, the server ends the session and the lock with it.
func (s *Store) TrySweepLock(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("take sweep lock: %w", mapError(err))
	}

	var held bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, sweepLockID).Scan(&held)
	switch {
	case err != nil:
		// The server may have granted the lock before the answer was
		// lost.
		discard(ctx, conn)
		return false, fmt.Errorf("take sweep lock: %w", mapError(err))
	case !held:
		conn.Release()
		return false, nil
	}

	defer releaseSweepLock(ctx, conn)
	return true, fn(context.WithValue(ctx, connKey{}, conn))
}

// releaseSweepLock unlocks and returns the connection to the pool. A
// connection whose unlock failed may still hold the lock, so it is
// discarded instead.
func releaseSweepLock(ctx context.Context, conn *pgxpool.Conn) {
	// Unlock even when the caller's context is done: that is how a run
	// usually stops.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()

	var released bool
	err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, sweepLockID).Scan(&released)
	if err != nil || !released {
		discard(ctx, conn)
		return
	}
	conn.Release()
}

// discard closes conn instead of returning it to the pool: the server
// ends its session, and any lock the session holds with it.
func discard(ctx context.Context, conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Hijack().Close(ctx)
}

// sweep deletes one batch of expired items. It reports how many it
// deleted and whether another batch may find more; cur, for the kinds
// that need one, is where the batch starts and is moved past it.
type sweep func(ctx context.Context, q querier, before time.Time, batch int, cur *cursor) (
	deleted int, more bool, err error)

// cursor is the (expires_at, signature) of the last item a batch of codes
// or refresh tokens examined. Items kept for their grant stay in the way
// of every later batch, so each batch starts after the last one examined
// instead of at the oldest.
type cursor struct {
	at  time.Time
	key string
}

var sweeps = map[storage.Expiring]sweep{
	storage.ExpiringAccessTokens:  deleteAll(deleteExpiredAccessTokensSQL),
	storage.ExpiringRefreshTokens: deleteEnded(deleteEndedRefreshTokensSQL),
	storage.ExpiringCodes:         deleteEnded(deleteEndedCodesSQL),
	storage.ExpiringSessions:      deleteAll(deleteExpiredSessionsSQL),
	storage.ExpiringAuthRequests:  deleteAll(deleteExpiredAuthRequestsSQL),
	storage.ExpiringLoginFailures: deleteAll(deleteOldLoginFailuresSQL),
}

// DeleteExpired deletes the items of kind that expired before `before`, a
// batch per statement, as storage.Expiry says.
func (s *Store) DeleteExpired(
	ctx context.Context, kind storage.Expiring, before time.Time, batch int,
	between func(ctx context.Context, deleted int) error,
) (int, error) {
	sw, ok := sweeps[kind]
	switch {
	case !ok:
		return 0, fmt.Errorf("delete expired %q: unknown kind", kind)
	case batch < 1:
		return 0, fmt.Errorf("delete expired %s: batch size %d is less than 1", kind, batch)
	}

	total := 0
	var cur cursor
	for {
		n, more, err := sw(ctx, s.querier(ctx), before, batch, &cur)
		total += n
		if err != nil {
			return total, fmt.Errorf("delete expired %s: %w", kind, mapError(err))
		}
		if !more {
			return total, nil
		}
		if between != nil {
			if err := between(ctx, n); err != nil {
				return total, fmt.Errorf("delete expired %s: %w", kind, err)
			}
		}
	}
}

// The statements of the kinds deleted as soon as they expire. $1 is
// `before`, $2 the batch size. SKIP LOCKED passes over rows a request
// holds, rather than wait for it.
//
// Rows are named by their ctid, which the row lock keeps still until the
// statement ends, so that the delete fetches just those rows whatever the
// plan: with "id IN (...)", a plan prepared for any batch size may scan
// the whole table for every batch. login_failures has no key anyway.
const (
	deleteExpiredAccessTokensSQL = `
DELETE FROM access_tokens WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM access_tokens WHERE expires_at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
))`
	deleteExpiredSessionsSQL = `
DELETE FROM sessions WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM sessions WHERE expires_at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
))`
	deleteExpiredAuthRequestsSQL = `
DELETE FROM auth_requests WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM auth_requests WHERE expires_at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
))`
	deleteOldLoginFailuresSQL = `
DELETE FROM login_failures WHERE ctid = ANY (ARRAY(
	SELECT ctid FROM login_failures WHERE at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED
))`
)

// deleteAll makes the sweep of a kind whose expired items all go: a batch
// that deleted fewer than it could was the last.
func deleteAll(sql string) sweep {
	return func(ctx context.Context, q querier, before time.Time, batch int, _ *cursor) (
		int, bool, error,
	) {
		tag, err := q.Exec(ctx, sql, before, batch)
		if err != nil {
			return 0, false, err
		}
		n := int(tag.RowsAffected())
		return n, n == batch, nil
	}
}

// grantEndedSQL holds for an examined row e when its grant has nothing
// left that a revocation could end (see storage.Expiry): the reason a
// used code or a rotated refresh token is kept until then. $1 is
// `before`: what expires at or after it still counts, which also covers a
// request in flight at the moment of expiry and a replica whose clock is
// a little behind.
const grantEndedSQL = `
NOT EXISTS (
	SELECT FROM refresh_tokens l
	WHERE l.request_id = e.request_id AND l.active AND l.expires_at >= $1
) AND NOT EXISTS (
	SELECT FROM access_tokens a
	WHERE a.request_id = e.request_id AND NOT a.revoked AND a.expires_at >= $1
)`

// The statements of codes and refresh tokens examine up to $2 expired rows
// after the cursor ($3, $4), in (expires_at, signature) order, and delete
// those whose grant has ended. They return the number deleted, the number
// examined and the last row examined, which the next batch starts after;
// no row at all means none was examined. The bound "expires_at >= $3"
// lets the index on expires_at start at the cursor.
var (
	deleteEndedRefreshTokensSQL = deleteEndedSQL("refresh_tokens")
	deleteEndedCodesSQL         = deleteEndedSQL("codes")
)

// deleteEndedSQL returns the statement for table, refresh_tokens or codes,
// whose rows have the same columns for this purpose.
func deleteEndedSQL(table string) string {
	return `
WITH examined AS (
	SELECT signature, request_id, expires_at FROM ` + table + `
	WHERE expires_at < $1 AND expires_at >= $3 AND (expires_at, signature) > ($3, $4)
	ORDER BY expires_at, signature
	LIMIT $2 FOR UPDATE SKIP LOCKED
), deleted AS (
	DELETE FROM ` + table + ` t USING examined e
	WHERE t.signature = e.signature AND ` + grantEndedSQL + `
	RETURNING 1
)
SELECT (SELECT count(*) FROM deleted), (SELECT count(*) FROM examined),
	e.expires_at, e.signature
FROM examined e
ORDER BY e.expires_at DESC, e.signature DESC
LIMIT 1`
}

// deleteEnded makes the sweep of codes or refresh tokens: a batch that
// examined fewer rows than it could was the last.
func deleteEnded(sql string) sweep {
	return func(ctx context.Context, q querier, before time.Time, batch int, cur *cursor) (
		int, bool, error,
	) {
		var deleted, examined int
		err := q.QueryRow(ctx, sql, before, batch, cur.at, cur.key).Scan(&deleted, &examined,
			&cur.at, &cur.key)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		return deleted, examined == batch, nil
	}
}
