// Package postgres is the production storage backend: a storage.Store over
// a pgx connection pool, and the helpers behind `veil migrate` that apply
// the schema in package migrations.
//
// Failures are mapped onto the storage sentinel errors here, at the
// boundary: a unique violation (SQLSTATE 23505) is storage.ErrConflict, a
// foreign key violation (23503, a client or resource that does not exist)
// is storage.ErrNotFound, and a refused or broken connection or a timeout is
// storage.ErrUnavailable. So are a serialization failure (40001) and a
// deadlock (40P01): the server gave up on the transaction, which is then
// aborted and must be rolled back, but the same request tried again may
// succeed. The pgx error stays in the chain for the log.
//
// PostgreSQL's text type holds neither a NUL character nor invalid UTF-8,
// and refuses a parameter holding one with SQLSTATE 22021 (or 22P05). So
// that such a string is the caller's mistake rather than a server error,
// every method checks its strings first (storage.ValidText) and answers
// as the storage.Store doc says without a query: ErrInvalid for a write,
// ErrNotFound or nothing for a key. mapError maps 22021 and 22P05 to
// storage.ErrInvalid for any string a check missed.
//
// Every method runs on the transaction that BeginTx put in its context, if
// any, and otherwise on the pool. Transactions run at READ COMMITTED, the
// server's default; the single-use items (codes, refresh tokens,
// authorization requests) are consumed by one statement that rechecks its
// condition on the row's latest version, which is what makes them single-use
// at that level.
//
// CreateAccessToken and AccessToken, the one statement of every token
// request and every introspection, are batched when called outside a
// transaction: a few workers each serve whatever calls are waiting with one
// round trip, and inserts share one commit (see batcher). A caller is
// answered only once its batch has committed.
//
// Expiry (of sessions and authorization requests) is judged by this
// process's clock, against times that callers computed with the same kind
// of clock, rather than by the database server's.
//
// The connection string holds the database password, so errors built while
// parsing it or connecting never carry it (see redact).
//
// Reading an expired row leaves it in place; DeleteExpired, which the
// janitor runs under an advisory lock (TrySweepLock), deletes expired rows
// in batches of its own statements.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/veil-auth/veil/internal/storage"
)

// Store is a storage.Store backed by PostgreSQL. It is safe for concurrent
// use; create it with New.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	// tokenWrites and tokenReads batch the access-token inserts and
	// lookups made outside a transaction, the statements of every token
	// request and every introspection.
	tokenWrites *batcher[*storage.AccessToken, struct{}]
	tokenReads  *batcher[string, *storage.AccessToken]
}

var _ storage.Store = (*Store)(nil)

// DefaultMaxConns is the size of the connection pool when the connection
// string does not set pool_max_conns. Most of a token request's time in
// the database is spent waiting for its commit to reach the disk; with
// more connections than cores, PostgreSQL flushes many commits at once
// instead of queueing requests behind a few connections.
const DefaultMaxConns = 16

// New connects to the database named by dsn, a postgres:// URL or a
// keyword/value connection string, and checks that it answers. The pool
// takes pgxpool's settings from dsn; pool_max_conns defaults to
// DefaultMaxConns. The schema must already be migrated (see
// MigrateUp). New returns storage.ErrUnavailable (wrapped) if the server
// cannot be reached.
func New(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errParseDSN
	}

	if !setsMaxConns(dsn) {
		cfg.MaxConns = DefaultMaxConns
	}
	// Veil's statements are prepared once per connection and are all cheap
	// to plan generically; left to choose, PostgreSQL plans the token
	// insert anew on every execution, because a custom plan can fold its
	// "$11 = '' OR EXISTS (...)" shortcuts away and so looks cheaper.
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	pw := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, redact(fmt.Errorf("create pool: %w", err), pw)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, redact(fmt.Errorf("connect to database: %w", mapError(err)), pw)
	}

	s := &Store{pool: pool, now: time.Now}
	workers := batchWorkers(cfg.MaxConns)
	s.tokenWrites = newBatcher("create access token", workers, s.insertAccessTokens)
	s.tokenReads = newBatcher("get access token", workers, s.selectAccessTokens)
	return s, nil
}

// batchWorkers is how many workers each batcher runs: a quarter of the
// pool, at most four. Each holds a connection only during its round trip,
// and a few round trips in flight at once keep the commits of one batch
// from holding up the next, while leaving most connections to everything
// else.
func batchWorkers(maxConns int32) int {
	return int(max(1, min(4, maxConns/4)))
}

// Stat returns a snapshot of the connection pool's statistics, for the
// metrics.
func (s *Store) Stat() *pgxpool.Stat {
	return s.pool.Stat()
}

// setsMaxConns reports whether dsn, a URL or keyword/value string, sets
// pool_max_conns.
func setsMaxConns(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return u.Query().Has("pool_max_conns")
	}
	for _, field := range strings.Fields(dsn) {
		if k, _, ok := strings.Cut(field, "="); ok && strings.TrimSpace(k) == "pool_max_conns" {
			return true
		}
	}
	return false
}

// Close serves the access-token calls already queued, then closes every
// connection of the pool. Calls made after Close fail with
// storage.ErrUnavailable.
func (s *Store) Close() {
	s.tokenWrites.close()
	s.tokenReads.close()
	s.pool.Close()
}

// mapError adds the storage sentinel error that err stands for, if any.
func mapError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	// Any failure to connect, a refused password included, leaves the
	// database out of reach.
	if r := redactConnect(err); r != nil {
		return r
	}

	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case pgErr.Code == "23503":
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case pgErr.Code == "22021" || pgErr.Code == "22P05":
			// The methods refuse such text before sending it (see
			// storage.ValidText); this catches a string they missed.
			return fmt.Errorf("%w: %w", storage.ErrInvalid, err)
		case pgErr.Code == "40001" || pgErr.Code == "40P01":
			// A serialization failure or a deadlock aborts the transaction,
			// but trying it again may well succeed.
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		case unavailableCode(pgErr.Code):
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}

	if unreachable(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// unavailableCode reports whether a SQLSTATE means the server cannot serve
// now: connection exceptions (class 08), shutdown, startup and too many
// connections.
func unavailableCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53300":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// unreachable reports whether err means the server could not be reached or
// did not answer in time. A context the caller cancelled is not included:
// the caller gave up, the server did not fail.
func unreachable(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}
