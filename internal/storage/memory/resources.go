package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/veil-auth/veil/internal/storage"
)

// CreateResource stores copies of r and its credentials client, or neither.
// It sets r.ClientID to credentials.ID, r.EncryptionKeys to the keys as
// stored, and the timestamps of both.
func (s *Store) CreateResource(
	_ context.Context, r *storage.Resource, credentials *storage.Client,
) error {
	if credentials.Kind != storage.KindResource {
		return errors.New("create resource: credentials client is not of KindResource")
	}
	if !r.ValidText() || !credentials.ValidText() {
		return fmt.Errorf("create resource: %w", storage.ErrInvalid)
	}
	keys, err := storage.CanonicalKeys(r.EncryptionKeys)
	if err != nil {
		return fmt.Errorf("create resource: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.clients[credentials.ID]; ok {
		return fmt.Errorf("create resource client: %w", storage.ErrConflict)
	}
	if err := s.checkResources(credentials.Resources); err != nil {
		return fmt.Errorf("create resource client: %w", err)
	}
	if _, ok := s.resources[r.ID]; ok {
		return fmt.Errorf("create resource: %w", storage.ErrConflict)
	}
	if s.resourceByIdentifier(r.Identifier) != nil {
		return fmt.Errorf("create resource: %w", storage.ErrConflict)
	}

	t := s.now()
	credentials.CreatedAt, credentials.UpdatedAt = t, t
	r.ClientID, r.CreatedAt, r.UpdatedAt = credentials.ID, t, t
	r.EncryptionKeys = keys
	s.clients[credentials.ID] = cloneClient(credentials)
	s.resources[r.ID] = cloneResource(r)
	return nil
}

// Resource returns a copy of the resource with the given ID.
func (s *Store) Resource(_ context.Context, id string) (*storage.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.resources[id]
	if !ok {
		return nil, fmt.Errorf("get resource: %w", storage.ErrNotFound)
	}
	return cloneResource(r), nil
}

// ResourceByIdentifier returns a copy of the resource with the given
// identifier.
func (s *Store) ResourceByIdentifier(
	_ context.Context, identifier string,
) (*storage.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	r := s.resourceByIdentifier(identifier)
	if r == nil {
		return nil, fmt.Errorf("get resource by identifier: %w", storage.ErrNotFound)
	}
	return cloneResource(r), nil
}

func (s *Store) resourceByIdentifier(identifier string) *storage.Resource {
	for _, r := range s.resources {
		if r.Identifier == identifier {
			return r
		}
	}
	return nil
}

// ResourceByClient returns a copy of the resource whose credentials client
// has the given ID.
func (s *Store) ResourceByClient(_ context.Context, clientID string) (*storage.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, r := range s.resources {
		if r.ClientID == clientID {
			return cloneResource(r), nil
		}
	}
	return nil, fmt.Errorf("get resource by client: %w", storage.ErrNotFound)
}

// ListResources returns up to limit resources whose ID sorts after the given
// one, in ID order.
func (s *Store) ListResources(
	_ context.Context, after string, limit int,
) ([]*storage.Resource, error) {
	if !storage.ValidText(after) {
		return nil, fmt.Errorf("list resources: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	var page []*storage.Resource
	for _, r := range s.resources {
		if r.ID > after {
			page = append(page, r)
		}
	}
	slices.SortFunc(page, func(a, b *storage.Resource) int {
		return strings.Compare(a.ID, b.ID)
	})

	page = page[:min(len(page), max(limit, 0))]
	for i, r := range page {
		page[i] = cloneResource(r)
	}
	return page, nil
}

// UpdateResource replaces every field but ID, ClientID and CreatedAt, and
// sets r.ClientID, r.EncryptionKeys and the timestamps to the stored
// values. A new identifier replaces the old one in every client's
// Resources, and ends the grants made for the old one.
func (s *Store) UpdateResource(_ context.Context, r *storage.Resource) error {
	if !r.ValidText() {
		return fmt.Errorf("update resource: %w", storage.ErrInvalid)
	}
	keys, err := storage.CanonicalKeys(r.EncryptionKeys)
	if err != nil {
		return fmt.Errorf("update resource: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	old, ok := s.resources[r.ID]
	if !ok {
		return fmt.Errorf("update resource: %w", storage.ErrNotFound)
	}
	if other := s.resourceByIdentifier(r.Identifier); other != nil && other.ID != r.ID {
		return fmt.Errorf("update resource: %w", storage.ErrConflict)
	}

	if old.Identifier != r.Identifier {
		for _, c := range s.clients {
			if i := slices.Index(c.Resources, old.Identifier); i >= 0 {
				c.Resources[i] = r.Identifier
			}
		}
		s.endGrants(old.Identifier)
	}

	next := cloneResource(r)
	next.ClientID, next.CreatedAt, next.UpdatedAt = old.ClientID, old.CreatedAt, s.now()
	next.EncryptionKeys = keys
	s.resources[r.ID] = cloneResource(next)
	r.ClientID, r.CreatedAt, r.UpdatedAt = next.ClientID, next.CreatedAt, next.UpdatedAt
	r.EncryptionKeys = keys
	return nil
}

// DeleteResource removes a resource, its credentials client, its identifier
// from every client's Resources, and the grants made for its identifier.
func (s *Store) DeleteResource(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	r, ok := s.resources[id]
	if !ok {
		return fmt.Errorf("delete resource: %w", storage.ErrNotFound)
	}

	for _, c := range s.clients {
		c.Resources = slices.DeleteFunc(c.Resources, func(ident string) bool {
			return ident == r.Identifier
		})
	}
	s.endGrants(r.Identifier)
	delete(s.resources, id)
	s.deleteClient(r.ClientID)
	return nil
}

// endGrants ends what was granted for a resource identifier that no
// resource has any more: access tokens whose audience holds it are
// revoked, and consents for it are deleted with everything issued under
// them, as the PostgreSQL backend does.
func (s *Store) endGrants(identifier string) {
	for _, t := range s.tokens {
		if slices.Contains(t.Audience, identifier) {
			t.Revoked = true
		}
	}
	for id, c := range s.consents {
		if c.Resource == identifier {
			s.deleteConsent(id)
		}
	}
}
