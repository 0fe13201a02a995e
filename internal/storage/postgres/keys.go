package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

// keysLockID names the advisory lock InitKeys takes: "veilkeys" in ASCII.
// Every replica uses the same number, so they queue on the same lock.
const keysLockID int64 = 0x7665696c6b657973

const selectKeysSQL = `
SELECT id, use, algorithm, state, sealed, created_at
FROM keys
ORDER BY created_at, id`

// Keys returns every stored key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]*storage.Key, error) {
	keys, err := selectKeys(ctx, s.querier(ctx))
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

func selectKeys(ctx context.Context, q querier) ([]*storage.Key, error) {
	rows, err := q.Query(ctx, selectKeysSQL)
	if err != nil {
		return nil, fmt.Errorf("select keys: %w", mapError(err))
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*storage.Key, error) {
		var k storage.Key
		err := row.Scan(&k.ID, &k.Use, &k.Algorithm, &k.State, &k.Sealed, &k.CreatedAt)
		k.CreatedAt = k.CreatedAt.UTC()
		return &k, err
	})
	if err != nil {
		return nil, fmt.Errorf("select keys: %w", mapError(err))
	}
	return keys, nil
}

// lockKeysSQL takes a transaction-scoped lock: it is released by the
// commit or rollback, so a replica that dies while generating keys cannot
// leave it held.
const lockKeysSQL = `SELECT pg_advisory_xact_lock($1)`

const insertKeySQL = `
INSERT INTO keys (id, use, algorithm, state, sealed, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`

// InitKeys stores the keys generate returns if no key is stored yet, under
// an advisory lock that every replica takes, and returns every stored key.
//
// The lock, not a unique constraint, is what makes the keys exist exactly
// once: two replicas would generate different key IDs, and both inserts
// would succeed. With the lock, the second replica waits, then finds the
// first one's keys and does not call generate.
func (s *Store) InitKeys(
	ctx context.Context, generate func() ([]*storage.Key, error),
) ([]*storage.Key, error) {
	var keys []*storage.Key
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockKeysSQL, keysLockID); err != nil {
			return fmt.Errorf("lock keys: %w", mapError(err))
		}

		var err error
		keys, err = selectKeys(ctx, tx)
		if err != nil || len(keys) > 0 {
			return err
		}

		generated, err := generate()
		if err != nil {
			return fmt.Errorf("generate keys: %w", err)
		}
		for _, k := range generated {
			_, err := tx.Exec(ctx, insertKeySQL,
				k.ID, k.Use, k.Algorithm, k.State, k.Sealed, k.CreatedAt)
			if err != nil {
				return fmt.Errorf("insert key: %w", mapError(err))
			}
		}

		keys, err = selectKeys(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("init keys: %w", err)
	}
	return keys, nil
}
