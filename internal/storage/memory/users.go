package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/veil-auth/veil/internal/storage"
)

// CreateUser stores a copy of u and sets u.CreatedAt and u.UpdatedAt.
func (s *Store) CreateUser(_ context.Context, u *storage.User) error {
	if !u.ValidText() {
		return fmt.Errorf("create user: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("create user: %w", storage.ErrConflict)
	}
	if s.userByUsername(u.Username) != nil {
		return fmt.Errorf("create user: username: %w", storage.ErrConflict)
	}

	u.CreatedAt = s.now()
	u.UpdatedAt = u.CreatedAt
	cp := *u
	s.users[u.ID] = &cp
	return nil
}

// userByUsername finds a user as the PostgreSQL backend does, by
// lower(username) in a UTF-8 database: strings.ToLower maps each letter to
// its lower case as lower() does there.
func (s *Store) userByUsername(username string) *storage.User {
	folded := strings.ToLower(username)
	for _, u := range s.users {
		if strings.ToLower(u.Username) == folded {
			return u
		}
	}
	return nil
}

// User returns a copy of the user with the given ID.
func (s *Store) User(_ context.Context, id string) (*storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	u, ok := s.users[id]
	if !ok {
		return nil, fmt.Errorf("get user: %w", storage.ErrNotFound)
	}
	cp := *u
	return &cp, nil
}

// UserByUsername returns a copy of the user with the given username,
// compared without regard to case.
func (s *Store) UserByUsername(_ context.Context, username string) (*storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	u := s.userByUsername(username)
	if u == nil {
		return nil, fmt.Errorf("get user by username: %w", storage.ErrNotFound)
	}
	cp := *u
	return &cp, nil
}

// ListUsers returns up to limit users whose ID sorts after the given one,
// in ID order.
func (s *Store) ListUsers(_ context.Context, after string, limit int) ([]*storage.User, error) {
	if !storage.ValidText(after) {
		return nil, fmt.Errorf("list users: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	var page []*storage.User
	for _, u := range s.users {
		if u.ID > after {
			cp := *u
			page = append(page, &cp)
		}
	}
	slices.SortFunc(page, func(a, b *storage.User) int {
		return strings.Compare(a.ID, b.ID)
	})
	return page[:min(len(page), max(limit, 0))], nil
}

// UpdateUser replaces Username, Email and Disabled, and PasswordHash
// unless it is empty, and sets u.CreatedAt and u.UpdatedAt to the stored
// values. A new password hash ends the user's sessions, and u.Disabled
// revokes everything the user holds.
func (s *Store) UpdateUser(_ context.Context, u *storage.User) error {
	if !u.ValidText() {
		return fmt.Errorf("update user: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	old, ok := s.users[u.ID]
	if !ok {
		return fmt.Errorf("update user: %w", storage.ErrNotFound)
	}
	if other := s.userByUsername(u.Username); other != nil && other.ID != u.ID {
		return fmt.Errorf("update user: username: %w", storage.ErrConflict)
	}

	next := *u
	next.PasswordHash = cmp.Or(u.PasswordHash, old.PasswordHash)
	next.CreatedAt, next.UpdatedAt = old.CreatedAt, s.now()
	s.users[u.ID] = &next
	switch {
	case u.Disabled:
		s.revokeUser(u.ID)
	case next.PasswordHash != old.PasswordHash:
		s.endSessions(u.ID)
	}

	u.CreatedAt, u.UpdatedAt = next.CreatedAt, next.UpdatedAt
	return nil
}

// endSessions signs a user out of every browser.
func (s *Store) endSessions(id string) {
	for sid, sess := range s.sessions {
		if sess.UserID == id {
			delete(s.sessions, sid)
		}
	}
}

// revokeUser ends a user's sessions and marks their codes and tokens
// spent, as the PostgreSQL backend does when a user is disabled.
func (s *Store) revokeUser(id string) {
	s.endSessions(id)
	for _, c := range s.codes {
		if c.UserID == id {
			c.Used = true
		}
	}
	for _, t := range s.refresh {
		if t.UserID == id {
			t.Active = false
		}
	}
	for _, t := range s.tokens {
		if c, ok := s.consents[t.ConsentID]; t.Subject == id || (ok && c.UserID == id) {
			t.Revoked = true
		}
	}
}

// DeleteUser removes a user with their sessions, consents, codes and
// refresh tokens, deletes the access tokens issued under their consents
// and revokes the others whose subject they are.
func (s *Store) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.users[id]; !ok {
		return fmt.Errorf("delete user: %w", storage.ErrNotFound)
	}

	s.revokeUser(id)
	for cid, c := range s.consents {
		if c.UserID == id {
			s.deleteConsent(cid)
		}
	}
	for sig, c := range s.codes {
		if c.UserID == id {
			delete(s.codes, sig)
		}
	}
	for sig, t := range s.refresh {
		if t.UserID == id {
			delete(s.refresh, sig)
		}
	}
	delete(s.users, id)
	return nil
}

// activeUser reports whether a user exists and is not disabled: the
// PostgreSQL backend stores sessions, codes and refresh tokens only for
// such a user.
func (s *Store) activeUser(id string) bool {
	u, ok := s.users[id]
	return ok && !u.Disabled
}
