package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// CreateSession stores a copy of sess. ErrConflict if the ID is taken;
// ErrNotFound if the user is unknown or disabled.
func (s *Store) CreateSession(_ context.Context, sess *storage.Session) error {
	if !sess.ValidText() {
		return fmt.Errorf("create session: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if !s.activeUser(sess.UserID) {
		return fmt.Errorf("create session: user: %w", storage.ErrNotFound)
	}
	if _, ok := s.sessions[sess.ID]; ok {
		return fmt.Errorf("create session: %w", storage.ErrConflict)
	}

	cp := *sess
	s.sessions[sess.ID] = &cp
	return nil
}

// Session returns a copy of a session that has not expired.
func (s *Store) Session(_ context.Context, id string) (*storage.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	sess, ok := s.sessions[id]
	if !ok || !sess.ExpiresAt.After(s.now()) {
		return nil, fmt.Errorf("get session: %w", storage.ErrNotFound)
	}
	cp := *sess
	return &cp, nil
}

// DeleteSession removes a session, if there is one.
func (s *Store) DeleteSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	delete(s.sessions, id)
	return nil
}

// CreateAuthRequest stores a copy of r. ErrConflict if the ID is taken;
// ErrNotFound if the client is unknown.
func (s *Store) CreateAuthRequest(_ context.Context, r *storage.AuthRequest) error {
	if !r.ValidText() {
		return fmt.Errorf("create auth request: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.requests[r.ID]; ok {
		return fmt.Errorf("create auth request: %w", storage.ErrConflict)
	}
	if _, ok := s.clients[r.ClientID]; !ok {
		return fmt.Errorf("create auth request: client: %w", storage.ErrNotFound)
	}

	cp := *r
	s.requests[r.ID] = &cp
	return nil
}

// AuthRequest returns a copy of a pending request that has not expired.
func (s *Store) AuthRequest(_ context.Context, id string) (*storage.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.requests[id]
	if !ok || !r.ExpiresAt.After(s.now()) {
		return nil, fmt.Errorf("get auth request: %w", storage.ErrNotFound)
	}
	cp := *r
	return &cp, nil
}

// ConsumeAuthRequest deletes a pending request that has not expired and
// returns it. The mutex makes finding and deleting one step.
func (s *Store) ConsumeAuthRequest(_ context.Context, id string) (*storage.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.requests[id]
	if !ok || !r.ExpiresAt.After(s.now()) {
		return nil, fmt.Errorf("consume auth request: %w", storage.ErrNotFound)
	}
	delete(s.requests, id)
	return r, nil
}

// RecordLoginFailure records a failed sign-in against key at now and
// returns the failures recorded after now - window, this one included.
func (s *Store) RecordLoginFailure(
	_ context.Context, key string, now time.Time, window time.Duration,
) (int, error) {
	if !storage.ValidText(key) {
		return 0, fmt.Errorf("record login failure: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	since := now.Add(-window)
	kept := slices.DeleteFunc(s.failures[key], func(at time.Time) bool {
		return !at.After(since)
	})
	s.failures[key] = append(kept, now)
	return len(kept) + 1, nil
}

// LoginFailures returns the failures recorded against key after
// now - window.
func (s *Store) LoginFailures(
	_ context.Context, key string, now time.Time, window time.Duration,
) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	since := now.Add(-window)
	n := 0
	for _, at := range s.failures[key] {
		if at.After(since) {
			n++
		}
	}
	return n, nil
}

// ClearLoginFailures forgets the failures recorded against key.
func (s *Store) ClearLoginFailures(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	delete(s.failures, key)
	return nil
}
