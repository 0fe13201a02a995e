// Package postgres is the production storage backend: a storage.Store over
// a pgx connection pool, and the helpers behind `veil migrate` that apply
// the schema in package migrations.
//
// Failures are mapped onto the storage sentinel errors here, at the
// boundary: a unique violation (SQLSTATE 23505) is storage.ErrConflict, a
// foreign key violation (23503, a client or resource that does not exist)
// is storage.ErrNotFound, and a refused or broken connection or a timeout is
// storage.ErrUnavailable. The pgx error stays in the chain for the log.
//
// The connection string holds the database password, so errors built while
// parsing it or connecting never carry it (see redact).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/veil-auth/veil/internal/storage"
)

// Store is a storage.Store backed by PostgreSQL. It is safe for concurrent
// use; create it with New.
type Store struct {
	pool *pgxpool.Pool
}

var _ storage.Store = (*Store)(nil)

// New connects to the database named by dsn, a postgres:// URL or a
// keyword/value connection string, and checks that it answers. The pool
// takes pgxpool's settings from dsn (pool_max_conns defaults to the larger
// of 4 and the number of CPUs). The schema must already be migrated (see
// MigrateUp). New returns storage.ErrUnavailable (wrapped) if the server
// cannot be reached.
func New(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errParseDSN
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
	return &Store{pool: pool}, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", mapError(err))
	}
	return nil
}

// Close closes every connection of the pool.
func (s *Store) Close() {
	s.pool.Close()
}

// querier is what both the pool and a transaction offer, so that one helper
// can run inside or outside a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// inTx runs fn in a transaction and commits it if fn returns nil. Errors
// returned by fn are passed up as they are.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", mapError(err))
	}
	// After a commit Rollback does nothing, so the deferred call only
	// matters on an early return or a panic.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", mapError(err))
	}
	return nil
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
