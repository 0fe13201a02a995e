package memory

import (
	"context"
	"fmt"

	"github.com/veil-auth/veil/internal/storage"
)

// checkGrant reports ErrNotFound, as the PostgreSQL foreign keys do, if a
// code or refresh token would name an unknown client, user or consent, or
// a disabled user.
func (s *Store) checkGrant(clientID, userID, consentID string) error {
	if !s.activeUser(userID) {
		return fmt.Errorf("user: %w", storage.ErrNotFound)
	}
	if _, ok := s.clients[clientID]; !ok {
		return fmt.Errorf("client: %w", storage.ErrNotFound)
	}
	if _, ok := s.consents[consentID]; !ok {
		return fmt.Errorf("consent: %w", storage.ErrNotFound)
	}
	return nil
}

// CreateCode stores a copy of c. ErrConflict if the signature is taken;
// ErrNotFound if the client, the user or the consent is unknown, or the
// user is disabled.
func (s *Store) CreateCode(_ context.Context, c *storage.Code) error {
	if !c.ValidText() {
		return fmt.Errorf("create code: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.checkGrant(c.ClientID, c.UserID, c.ConsentID); err != nil {
		return fmt.Errorf("create code: %w", err)
	}
	if _, ok := s.codes[c.Signature]; ok {
		return fmt.Errorf("create code: %w", storage.ErrConflict)
	}

	s.codes[c.Signature] = cloneCode(c)
	return nil
}

// Code returns a copy of a code, used or not, expired or not.
func (s *Store) Code(_ context.Context, signature string) (*storage.Code, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.codes[signature]
	if !ok {
		return nil, fmt.Errorf("get code: %w", storage.ErrNotFound)
	}
	return cloneCode(c), nil
}

// UseCode marks a code used: ErrUsed if it already was, ErrNotFound if it
// is unknown. The mutex makes checking and marking one step, so that a
// code is redeemed at most once (RFC 6749 §4.1.2).
func (s *Store) UseCode(_ context.Context, signature string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.codes[signature]
	switch {
	case !ok:
		return fmt.Errorf("use code: %w", storage.ErrNotFound)
	case c.Used:
		return fmt.Errorf("use code: %w", storage.ErrUsed)
	}
	c.Used = true
	return nil
}

// CreateRefreshToken stores a copy of t. ErrConflict if the signature is
// taken; ErrNotFound if the client, the user or the consent is unknown, or
// the user is disabled.
func (s *Store) CreateRefreshToken(_ context.Context, t *storage.RefreshToken) error {
	if !t.ValidText() {
		return fmt.Errorf("create refresh token: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if err := s.checkGrant(t.ClientID, t.UserID, t.ConsentID); err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	if _, ok := s.refresh[t.Signature]; ok {
		return fmt.Errorf("create refresh token: %w", storage.ErrConflict)
	}

	s.refresh[t.Signature] = cloneRefreshToken(t)
	return nil
}

// RefreshToken returns a copy of a refresh token, active or not, expired or
// not.
func (s *Store) RefreshToken(_ context.Context, signature string) (*storage.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	t, ok := s.refresh[signature]
	if !ok {
		return nil, fmt.Errorf("get refresh token: %w", storage.ErrNotFound)
	}
	return cloneRefreshToken(t), nil
}

// DeactivateRefreshToken marks one refresh token inactive: ErrUsed if it
// already was, ErrNotFound if it is unknown. As in UseCode, the mutex makes
// it one step, so that a token is rotated at most once.
func (s *Store) DeactivateRefreshToken(_ context.Context, signature string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	t, ok := s.refresh[signature]
	switch {
	case !ok:
		return fmt.Errorf("deactivate refresh token: %w", storage.ErrNotFound)
	case !t.Active:
		return fmt.Errorf("deactivate refresh token: %w", storage.ErrUsed)
	}
	t.Active = false
	return nil
}

// RevokeRefreshTokens marks every refresh token of a request ID inactive.
func (s *Store) RevokeRefreshTokens(_ context.Context, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, t := range s.refresh {
		if t.RequestID == requestID {
			t.Active = false
		}
	}
	return nil
}
