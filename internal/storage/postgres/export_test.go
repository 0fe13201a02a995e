package postgres

import (
	"context"

	"github.com/veil-auth/veil/internal/storage"
)

// InsertBatch serves ts as one round trip of the access-token inserts, as
// a worker that found them all queued would, and returns each one's error.
func (s *Store) InsertBatch(ctx context.Context, ts []*storage.AccessToken) []error {
	calls := make([]*call[*storage.AccessToken, struct{}], len(ts))
	for i, t := range ts {
		calls[i] = &call[*storage.AccessToken, struct{}]{ctx: ctx, arg: t,
			done: make(chan result[struct{}], 1)}
	}
	s.insertAccessTokens(ctx, calls)

	errs := make([]error, len(calls))
	for i, c := range calls {
		errs[i] = (<-c.done).err
	}
	return errs
}

// SelectBatch serves signatures as one round trip of the access-token
// lookups and returns each one's record and error.
func (s *Store) SelectBatch(ctx context.Context, signatures []string) ([]*storage.AccessToken, []error) {
	calls := make([]*call[string, *storage.AccessToken], len(signatures))
	for i, sig := range signatures {
		calls[i] = &call[string, *storage.AccessToken]{ctx: ctx, arg: sig,
			done: make(chan result[*storage.AccessToken], 1)}
	}
	s.selectAccessTokens(ctx, calls)

	ts, errs := make([]*storage.AccessToken, len(calls)), make([]error, len(calls))
	for i, c := range calls {
		r := <-c.done
		ts[i], errs[i] = r.val, r.err
	}
	return ts, errs
}
