package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/veil-auth/veil/internal/storage"
)

// CreateClient stores a copy of c and sets c.CreatedAt and c.UpdatedAt.
func (s *Store) CreateClient(_ context.Context, c *storage.Client) error {
	if !c.ValidText() {
		return fmt.Errorf("create client: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("create client: %w", storage.ErrConflict)
	}
	if err := s.checkResources(c.Resources); err != nil {
		return fmt.Errorf("create client: %w", err)
	}

	c.CreatedAt = s.now()
	c.UpdatedAt = c.CreatedAt
	s.clients[c.ID] = cloneClient(c)
	return nil
}

// checkResources reports ErrNotFound if an identifier names no resource and
// ErrConflict if one is listed twice, as the PostgreSQL schema does.
func (s *Store) checkResources(identifiers []string) error {
	for i, id := range identifiers {
		if s.resourceByIdentifier(id) == nil {
			return fmt.Errorf("find resource %q: %w", id, storage.ErrNotFound)
		}
		if slices.Contains(identifiers[:i], id) {
			return fmt.Errorf("add resource %q twice: %w", id, storage.ErrConflict)
		}
	}
	return nil
}

// Client returns a copy of the client with the given ID.
func (s *Store) Client(_ context.Context, id string) (*storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("get client: %w", storage.ErrNotFound)
	}
	return cloneClient(c), nil
}

// ListClients returns up to limit clients of the given kind whose ID sorts
// after the given one, in ID order.
func (s *Store) ListClients(
	_ context.Context, kind storage.ClientKind, after string, limit int,
) ([]*storage.Client, error) {
	if !storage.ValidText(string(kind), after) {
		return nil, fmt.Errorf("list clients: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	var page []*storage.Client
	for _, c := range s.clients {
		if c.Kind == kind && c.ID > after {
			page = append(page, c)
		}
	}
	slices.SortFunc(page, func(a, b *storage.Client) int {
		return strings.Compare(a.ID, b.ID)
	})

	page = page[:min(len(page), max(limit, 0))]
	for i, c := range page {
		page[i] = cloneClient(c)
	}
	return page, nil
}

// UpdateClient replaces the mutable fields of a client and sets c.CreatedAt
// and c.UpdatedAt to the stored values.
func (s *Store) UpdateClient(_ context.Context, c *storage.Client) error {
	if !c.ValidText() {
		return fmt.Errorf("update client: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	old, ok := s.clients[c.ID]
	if !ok {
		return fmt.Errorf("update client: %w", storage.ErrNotFound)
	}
	if err := s.checkResources(c.Resources); err != nil {
		return fmt.Errorf("update client: %w", err)
	}

	next := cloneClient(c)
	next.Kind = old.Kind
	next.SecretHash = old.SecretHash
	next.CreatedAt = old.CreatedAt
	next.UpdatedAt = s.now()
	s.clients[c.ID] = next

	c.CreatedAt, c.UpdatedAt = next.CreatedAt, next.UpdatedAt
	return nil
}

// SetClientSecret replaces a client's secret hash.
func (s *Store) SetClientSecret(_ context.Context, id string, hash []byte) error {
	if !storage.ValidText(id) {
		return fmt.Errorf("set client secret: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("set client secret: %w", storage.ErrNotFound)
	}
	c.SecretHash = bytes.Clone(hash)
	c.UpdatedAt = s.now()
	return nil
}

// DeleteClient removes a client of KindClient and the records of the access
// tokens issued to it.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, ok := s.clients[id]
	if !ok || c.Kind != storage.KindClient {
		return fmt.Errorf("delete client: %w", storage.ErrNotFound)
	}
	s.deleteClient(id)
	return nil
}

// deleteClient removes a client of any kind together with its pending
// authorization requests, consents, codes and tokens, as the foreign keys
// to clients do in PostgreSQL.
func (s *Store) deleteClient(id string) {
	delete(s.clients, id)
	for rid, r := range s.requests {
		if r.ClientID == id {
			delete(s.requests, rid)
		}
	}
	for cid, c := range s.consents {
		if c.ClientID == id {
			s.deleteConsent(cid)
		}
	}
	for sig, c := range s.codes {
		if c.ClientID == id {
			delete(s.codes, sig)
		}
	}
	for sig, t := range s.refresh {
		if t.ClientID == id {
			delete(s.refresh, sig)
		}
	}
	for sig, t := range s.tokens {
		if t.ClientID == id {
			delete(s.tokens, sig)
			delete(s.jtis, t.JTI)
		}
	}
}
