package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
)

// SaveConsent stores a copy of c, or merges it into the consent the user
// already gave the client for the resource. Either way it sets c's ID,
// Scopes, Remember and timestamps to the stored values.
func (s *Store) SaveConsent(_ context.Context, c *storage.Consent) error {
	if !c.ValidText() {
		return fmt.Errorf("save consent: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.users[c.UserID]; !ok {
		return fmt.Errorf("save consent: user: %w", storage.ErrNotFound)
	}
	if _, ok := s.clients[c.ClientID]; !ok {
		return fmt.Errorf("save consent: client: %w", storage.ErrNotFound)
	}

	if old := s.consentFor(c.UserID, c.ClientID, c.Resource); old != nil {
		merge(old, c)
		old.UpdatedAt = s.now()
		*c = *cloneConsent(old)
		return nil
	}
	if _, ok := s.consents[c.ID]; ok {
		return fmt.Errorf("save consent: %w", storage.ErrConflict)
	}

	c.ID = cmp.Or(c.ID, secret.NewID())
	c.Scopes = scopeSet(c.Scopes)
	c.CreatedAt = s.now()
	c.UpdatedAt = c.CreatedAt
	s.consents[c.ID] = cloneConsent(c)
	return nil
}

// merge merges a decision into a stored consent as Grants.SaveConsent
// says: what is remembered grows only by scopes the user asked to
// remember.
func merge(stored, c *storage.Consent) {
	switch {
	case stored.Remember && !c.Remember:
		// Allowed once: the remembered scopes stay as they are.
	case c.Remember && !stored.Remember:
		stored.Scopes, stored.Remember = scopeSet(c.Scopes), true
	default:
		stored.Scopes = scopeSet(slices.Concat(stored.Scopes, c.Scopes))
	}
}

// scopeSet returns a copy of scopes sorted and without duplicates.
func scopeSet(scopes []string) []string {
	set := slices.Clone(scopes)
	slices.Sort(set)
	return slices.Compact(set)
}

func (s *Store) consentFor(userID, clientID, resource string) *storage.Consent {
	for _, c := range s.consents {
		if c.UserID == userID && c.ClientID == clientID && c.Resource == resource {
			return c
		}
	}
	return nil
}

// ForgetConsent clears Remember of a user's consent for a client and
// resource, if there is one.
func (s *Store) ForgetConsent(_ context.Context, userID, clientID, resource string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if c := s.consentFor(userID, clientID, resource); c != nil && c.Remember {
		c.Remember = false
		c.UpdatedAt = s.now()
	}
	return nil
}

// Consent returns a copy of the consent of a user for a client and
// resource.
func (s *Store) Consent(
	_ context.Context, userID, clientID, resource string,
) (*storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c := s.consentFor(userID, clientID, resource)
	if c == nil {
		return nil, fmt.Errorf("get consent: %w", storage.ErrNotFound)
	}
	return cloneConsent(c), nil
}

// ListConsents returns copies of a user's consents, oldest first, then by
// ID.
func (s *Store) ListConsents(_ context.Context, userID string) ([]*storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	var list []*storage.Consent
	for _, c := range s.consents {
		if c.UserID == userID {
			list = append(list, cloneConsent(c))
		}
	}
	slices.SortFunc(list, func(a, b *storage.Consent) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// DeleteConsent removes one of a user's consents with everything issued
// under it.
func (s *Store) DeleteConsent(_ context.Context, userID, consentID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.consents[consentID]
	if !ok || c.UserID != userID {
		return fmt.Errorf("delete consent: %w", storage.ErrNotFound)
	}
	s.deleteConsent(consentID)
	return nil
}

// deleteConsent removes a consent with the codes, refresh tokens and access
// tokens issued under it, as the foreign keys to consents do in PostgreSQL.
func (s *Store) deleteConsent(id string) {
	delete(s.consents, id)
	for sig, c := range s.codes {
		if c.ConsentID == id {
			delete(s.codes, sig)
		}
	}
	for sig, t := range s.refresh {
		if t.ConsentID == id {
			delete(s.refresh, sig)
		}
	}
	for sig, t := range s.tokens {
		if t.ConsentID == id {
			delete(s.tokens, sig)
			delete(s.jtis, t.JTI)
		}
	}
}
