package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// errNoTx reports Commit or Rollback called with a context that BeginTx did
// not return.
var errNoTx = errors.New("no transaction in context")

// txKey is the context key under which BeginTx puts its pgx.Tx.
type txKey struct{}

// querier is what the pool and a transaction both offer, so that one method
// runs inside or outside a transaction. Begin on a transaction starts a
// savepoint.
type querier interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier returns the transaction that ctx carries, else the connection
// TrySweepLock holds for it, else the pool.
func (s *Store) querier(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(pgx.Tx); ok {
		return tx
	}
	if conn, ok := ctx.Value(connKey{}).(*pgxpool.Conn); ok {
		return conn
	}
	return s.pool
}

// BeginTx starts a transaction and returns a context carrying it: every
// method called with that context runs in it. If ctx already carries a
// transaction, the new one is a savepoint within it, whose Commit releases
// the savepoint and whose Rollback undoes only what was done since.
//
// The transaction holds a connection of the pool until Commit or Rollback,
// and like a connection it must not be used by two goroutines at once. A
// statement that fails in it aborts it: every later statement fails until
// Rollback. Methods that write several rows (CreateClient, UpdateUser and
// the like) run in a savepoint of their own, so their failure does not.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.querier(ctx).Begin(ctx)
	if err != nil {
		return ctx, fmt.Errorf("begin transaction: %w", mapError(err))
	}
	return context.WithValue(ctx, txKey{}, tx), nil
}

// Commit commits the transaction ctx carries. It is an error if ctx
// carries none, or if it was already committed or rolled back.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return fmt.Errorf("commit transaction: %w", errNoTx)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", mapError(err))
	}
	return nil
}

// Rollback aborts the transaction ctx carries. Rolling back a transaction
// already committed or rolled back does nothing, so that callers may defer
// it; it is an error if ctx carries none.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	if !ok {
		return fmt.Errorf("roll back transaction: %w", errNoTx)
	}

	// If ctx is already cancelled, pgx closes the connection instead, which
	// aborts the transaction just as well; the error still says so.
	err := tx.Rollback(ctx)
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("roll back transaction: %w", mapError(err))
	}
	return nil
}

// inTx runs fn in a transaction and commits it if fn returns nil. Errors
// returned by fn are passed up as they are. Within a caller's transaction
// (see BeginTx) it runs fn in a savepoint, so that a failure undoes fn's
// writes only and leaves the caller's transaction usable.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.querier(ctx).Begin(ctx)
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
