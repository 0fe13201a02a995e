package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// Keys returns copies of every stored key, oldest first.
func (s *Store) Keys(context.Context) ([]*storage.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.copyKeys(), nil
}

func (s *Store) copyKeys() []*storage.Key {
	keys := make([]*storage.Key, len(s.keys))
	for i, k := range s.keys {
		keys[i] = cloneKey(k)
	}
	slices.SortFunc(keys, func(a, b *storage.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return keys
}

// InitKeys stores the keys generate returns if no key is stored yet. The
// Store's mutex is the lock every caller shares; it is held while generate
// runs, so generate must not call the Store.
func (s *Store) InitKeys(
	_ context.Context, generate func() ([]*storage.Key, error),
) ([]*storage.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if len(s.keys) > 0 {
		return s.copyKeys(), nil
	}

	keys, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate keys: %w", err)
	}
	for i, k := range keys {
		if !k.ValidText() {
			return nil, fmt.Errorf("store key: %w", storage.ErrInvalid)
		}
		if slices.ContainsFunc(keys[:i], func(o *storage.Key) bool { return o.ID == k.ID }) {
			return nil, fmt.Errorf("store key %q: %w", k.ID, storage.ErrConflict)
		}
	}

	for _, k := range keys {
		s.keys = append(s.keys, storedKey(k))
	}
	return s.copyKeys(), nil
}

// UpdateKeys applies the changes fn returns to copies of the stored keys,
// and returns copies of every stored key afterwards. The Store's mutex is
// the lock every caller shares; it is held while fn runs, so fn must not
// call the Store. The changes are checked in full before any is applied,
// since nothing here can be rolled back.
func (s *Store) UpdateKeys(
	_ context.Context, fn func(existing []*storage.Key) (*storage.KeyChanges, error),
) ([]*storage.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	ch, err := fn(s.copyKeys())
	if err != nil {
		return nil, fmt.Errorf("update keys: plan key changes: %w", err)
	}
	if ch.Empty() {
		return s.copyKeys(), nil
	}
	if err := ch.Check(s.keys); err != nil {
		return nil, fmt.Errorf("update keys: %w", err)
	}

	for _, k := range ch.Add {
		s.keys = append(s.keys, storedKey(k))
	}
	for _, k := range s.keys {
		if at, ok := ch.Retire[k.ID]; ok {
			k.RetiredAt = storedTime(at)
		}
		if sealed, ok := ch.Reseal[k.ID]; ok {
			k.Sealed = bytes.Clone(sealed)
		}
	}
	s.keys = slices.DeleteFunc(s.keys, func(k *storage.Key) bool {
		return slices.Contains(ch.Delete, k.ID)
	})
	return s.copyKeys(), nil
}

// storedKey is a copy of k with its dates as PostgreSQL keeps them.
func storedKey(k *storage.Key) *storage.Key {
	cp := cloneKey(k)
	cp.CreatedAt = storedTime(k.CreatedAt)
	cp.ActivatedAt = storedTime(k.ActivatedAt)
	cp.RetiredAt = storedTime(k.RetiredAt)
	return cp
}

// storedTime is t in UTC to the microsecond, as PostgreSQL keeps a
// timestamptz (see now).
func storedTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// CreateAccessToken stores a copy of t. ErrNotFound if no client has
// t.ClientID, or t.ConsentID is set and names no consent or one of a
// disabled user; ErrConflict if the signature or the JTI is taken.
func (s *Store) CreateAccessToken(_ context.Context, t *storage.AccessToken) error {
	if !t.ValidText() {
		return fmt.Errorf("create access token: %w", storage.ErrInvalid)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.clients[t.ClientID]; !ok {
		return fmt.Errorf("create access token: %w", storage.ErrNotFound)
	}
	if c, ok := s.consents[t.ConsentID]; t.ConsentID != "" && (!ok || !s.activeUser(c.UserID)) {
		return fmt.Errorf("create access token: consent: %w", storage.ErrNotFound)
	}
	if r, ok := s.resources[t.ResourceID]; t.ResourceID != "" &&
		(!ok || len(t.Audience) != 1 || t.Audience[0] != r.Identifier) {
		return fmt.Errorf("create access token: resource: %w", storage.ErrNotFound)
	}
	if _, ok := s.tokens[t.Signature]; ok || s.jtis[t.JTI] {
		return fmt.Errorf("create access token: %w", storage.ErrConflict)
	}

	s.tokens[t.Signature] = cloneToken(t)
	s.jtis[t.JTI] = true
	return nil
}

// AccessToken returns a copy of the record with the given signature.
func (s *Store) AccessToken(_ context.Context, signature string) (*storage.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	t, ok := s.tokens[signature]
	if !ok {
		return nil, fmt.Errorf("get access token: %w", storage.ErrNotFound)
	}
	return cloneToken(t), nil
}

// RevokeAccessTokens marks every token of a request ID revoked.
func (s *Store) RevokeAccessTokens(_ context.Context, requestID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, t := range s.tokens {
		if t.RequestID == requestID {
			t.Revoked = true
		}
	}
	return nil
}
