package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/storage"
)

// keysLockID names the advisory lock InitKeys and UpdateKeys take:
// "veilkeys" in ASCII. Every replica uses the same number, so they queue
// on the same lock.
const keysLockID int64 = 0x7665696c6b657973

// selectKeysSQL sorts IDs byte by byte ("C"), as the memory backend does,
// whatever the database's locale: keys.id predates that rule.
const selectKeysSQL = `
SELECT id, use, algorithm, sealed, created_at, activated_at, retired_at
FROM keys
ORDER BY created_at, id COLLATE "C"`

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
		var retired *time.Time
		err := row.Scan(&k.ID, &k.Use, &k.Algorithm, &k.Sealed, &k.CreatedAt,
			&k.ActivatedAt, &retired)
		if retired != nil {
			k.RetiredAt = retired.UTC()
		}
		k.CreatedAt, k.ActivatedAt = k.CreatedAt.UTC(), k.ActivatedAt.UTC()
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

// lockedKeys takes the keys lock in tx and reads every stored key.
func lockedKeys(ctx context.Context, tx pgx.Tx) ([]*storage.Key, error) {
	if _, err := tx.Exec(ctx, lockKeysSQL, keysLockID); err != nil {
		return nil, fmt.Errorf("lock keys: %w", mapError(err))
	}
	return selectKeys(ctx, tx)
}

const insertKeySQL = `
INSERT INTO keys (id, use, algorithm, sealed, created_at, activated_at, retired_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

func insertKey(ctx context.Context, tx pgx.Tx, k *storage.Key) error {
	_, err := tx.Exec(ctx, insertKeySQL, k.ID, k.Use, k.Algorithm, notNilBytes(k.Sealed),
		k.CreatedAt, k.ActivatedAt, nullTime(k.RetiredAt))
	if err != nil {
		return fmt.Errorf("insert key: %w", mapError(err))
	}
	return nil
}

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
		var err error
		keys, err = lockedKeys(ctx, tx)
		if err != nil || len(keys) > 0 {
			return err
		}

		generated, err := generate()
		if err != nil {
			return fmt.Errorf("generate keys: %w", err)
		}
		for _, k := range generated {
			if !k.ValidText() {
				return fmt.Errorf("store key: %w", storage.ErrInvalid)
			}
			if err := insertKey(ctx, tx, k); err != nil {
				return err
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

// UpdateKeys applies the changes fn returns to the keys it is shown, under
// the advisory lock InitKeys takes, in one transaction; it returns every
// stored key afterwards.
//
// The lock serialises rotation steps across replicas: each fn sees the
// keys the step before it left, so two replicas that find a rotation due
// at the same moment do not both add a key. Nothing but InitKeys and
// UpdateKeys writes keys, so the keys read under the lock stay as read
// until the commit.
func (s *Store) UpdateKeys(
	ctx context.Context, fn func(existing []*storage.Key) (*storage.KeyChanges, error),
) ([]*storage.Key, error) {
	var keys []*storage.Key
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		existing, err := lockedKeys(ctx, tx)
		if err != nil {
			return err
		}

		// fn gets its own copies, so that what it does to them cannot
		// change what is returned when it changes nothing.
		ch, err := fn(cloneKeys(existing))
		if err != nil {
			return fmt.Errorf("plan key changes: %w", err)
		}
		if ch.Empty() {
			keys = existing
			return nil
		}

		// The unique index would catch a taken ID too, but only after
		// earlier changes were written; checking first gives both backends
		// the same answer to a change that is wrong in two ways.
		if err := ch.Check(existing); err != nil {
			return err
		}
		if err := applyKeyChanges(ctx, tx, ch); err != nil {
			return err
		}
		keys, err = selectKeys(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update keys: %w", err)
	}
	return keys, nil
}

const (
	retireKeySQL = `UPDATE keys SET retired_at = $2 WHERE id = $1`
	resealKeySQL = `UPDATE keys SET sealed = $2 WHERE id = $1`
	deleteKeySQL = `DELETE FROM keys WHERE id = ANY($1)`
)

// applyKeyChanges writes checked changes: adds, then retirements and
// reseals, then deletions.
func applyKeyChanges(ctx context.Context, tx pgx.Tx, ch *storage.KeyChanges) error {
	for _, k := range ch.Add {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
	}

	for id, at := range ch.Retire {
		if _, err := tx.Exec(ctx, retireKeySQL, id, nullTime(at)); err != nil {
			return fmt.Errorf("retire key %q: %w", id, mapError(err))
		}
	}
	for id, sealed := range ch.Reseal {
		if _, err := tx.Exec(ctx, resealKeySQL, id, notNilBytes(sealed)); err != nil {
			return fmt.Errorf("reseal key %q: %w", id, mapError(err))
		}
	}

	if len(ch.Delete) > 0 {
		if _, err := tx.Exec(ctx, deleteKeySQL, ch.Delete); err != nil {
			return fmt.Errorf("delete keys: %w", mapError(err))
		}
	}
	return nil
}

func cloneKeys(keys []*storage.Key) []*storage.Key {
	out := make([]*storage.Key, len(keys))
	for i, k := range keys {
		cp := *k
		cp.Sealed = slices.Clone(k.Sealed)
		out[i] = &cp
	}
	return out
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
