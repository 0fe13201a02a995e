package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// TrySweepLock runs fn unless another call is running one: a Store serves
// one process, so a mutex is the whole lock.
func (s *Store) TrySweepLock(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	if !s.sweeping.TryLock() {
		return false, nil
	}
	defer s.sweeping.Unlock()
	return true, fn(ctx)
}

// DeleteExpired deletes the items of kind that expired before `before`, as
// storage.Expiry says. Each batch holds the Store's mutex only while it
// deletes, so requests go on between batches.
func (s *Store) DeleteExpired(
	ctx context.Context, kind storage.Expiring, before time.Time, batch int,
	between func(ctx context.Context, deleted int) error,
) (int, error) {
	sweep, ok := map[storage.Expiring]func(time.Time, int) int{
		storage.ExpiringAccessTokens:  s.sweepAccessTokens,
		storage.ExpiringRefreshTokens: s.sweepRefreshTokens,
		storage.ExpiringCodes:         s.sweepCodes,
		storage.ExpiringSessions:      s.sweepSessions,
		storage.ExpiringAuthRequests:  s.sweepAuthRequests,
		storage.ExpiringLoginFailures: s.sweepLoginFailures,
	}[kind]
	switch {
	case !ok:
		return 0, fmt.Errorf("delete expired %q: unknown kind", kind)
	case batch < 1:
		return 0, fmt.Errorf("delete expired %s: batch size %d is less than 1", kind, batch)
	}

	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("delete expired %s: %w", kind, err)
		}
		n := sweep(before, batch)
		total += n
		if n < batch {
			return total, nil
		}
		if between != nil {
			if err := between(ctx, n); err != nil {
				return total, fmt.Errorf("delete expired %s: %w", kind, err)
			}
		}
	}
}

// deleteUpTo deletes from m up to limit items for which gone holds, and
// returns how many.
func deleteUpTo[V any](m map[string]V, limit int, gone func(V) bool) int {
	n := 0
	for k, v := range m {
		if n == limit {
			break
		}
		if gone(v) {
			delete(m, k)
			n++
		}
	}
	return n
}

func (s *Store) sweepAccessTokens(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return deleteUpTo(s.tokens, limit, func(t *storage.AccessToken) bool {
		if t.ExpiresAt.Before(before) {
			delete(s.jtis, t.JTI)
			return true
		}
		return false
	})
}

func (s *Store) sweepSessions(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return deleteUpTo(s.sessions, limit, func(sess *storage.Session) bool {
		return sess.ExpiresAt.Before(before)
	})
}

func (s *Store) sweepAuthRequests(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	return deleteUpTo(s.requests, limit, func(r *storage.AuthRequest) bool {
		return r.ExpiresAt.Before(before)
	})
}

// sweepLoginFailures counts each failure as an item, as the PostgreSQL
// backend's rows are, and drops a key with none left.
func (s *Store) sweepLoginFailures(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	n := 0
	for key, failures := range s.failures {
		kept := failures[:0]
		for _, at := range failures {
			if n < limit && at.Before(before) {
				n++
				continue
			}
			kept = append(kept, at)
		}
		if len(kept) == 0 {
			delete(s.failures, key)
		} else {
			s.failures[key] = kept
		}
	}
	return n
}

func (s *Store) sweepCodes(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	live := s.liveGrants(before)
	return deleteUpTo(s.codes, limit, func(c *storage.Code) bool {
		return c.ExpiresAt.Before(before) && !live[c.RequestID]
	})
}

func (s *Store) sweepRefreshTokens(before time.Time, limit int) int {
	s.mu.Lock()
	defer s.mu.Unlock()

	live := s.liveGrants(before)
	return deleteUpTo(s.refresh, limit, func(t *storage.RefreshToken) bool {
		return t.ExpiresAt.Before(before) && !live[t.RequestID]
	})
}

// liveGrants returns the request IDs of the grants that hold something a
// revocation could still end (see storage.Expiry): an active refresh token
// or an access token not revoked, expiring at or after before.
func (s *Store) liveGrants(before time.Time) map[string]bool {
	live := make(map[string]bool)
	for _, t := range s.refresh {
		if t.Active && !t.ExpiresAt.Before(before) {
			live[t.RequestID] = true
		}
	}
	for _, t := range s.tokens {
		if !t.Revoked && !t.ExpiresAt.Before(before) {
			live[t.RequestID] = true
		}
	}
	return live
}
