// Package memory is the in-memory storage backend used in development mode.
// Everything it holds is lost when the process exits, so it suits a single
// replica on a developer's machine and the tests of other packages, never
// production.
//
// The Store deep-copies every value on the way in and on the way out: a
// caller that changes a slice it passed in or got back cannot change what
// the Store holds, exactly as with a database. Deleting a client, a user or
// a consent removes what depends on it, as the foreign keys of the
// PostgreSQL schema do; and strings PostgreSQL cannot hold (a NUL
// character, invalid UTF-8) are refused as that backend refuses them, so
// that development mode fails where production would.
//
// BUG: BeginTx returns its context unchanged: every write applies at once,
// Commit does nothing and Rollback undoes nothing. A handler that relies on
// a rollback to undo a half-done exchange leaves its first writes behind.
package memory

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// Store is an in-memory storage.Store. One mutex guards all its state; the
// zero value is not usable, call New.
type Store struct {
	now func() time.Time

	mu        sync.Mutex
	clients   map[string]*storage.Client
	resources map[string]*storage.Resource
	keys      []*storage.Key
	tokens    map[string]*storage.AccessToken
	jtis      map[string]bool

	users    map[string]*storage.User
	sessions map[string]*storage.Session
	requests map[string]*storage.AuthRequest
	failures map[string][]time.Time
	consents map[string]*storage.Consent
	codes    map[string]*storage.Code
	refresh  map[string]*storage.RefreshToken

	// audit holds the audit log in the order written; an event's ID is
	// its index plus one.
	audit []*storage.AuditEvent
	// sweeping is the lock of TrySweepLock, apart from mu so that the
	// Store serves requests while a sweep runs.
	sweeping sync.Mutex
}

var _ storage.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		now:       now,
		clients:   make(map[string]*storage.Client),
		resources: make(map[string]*storage.Resource),
		tokens:    make(map[string]*storage.AccessToken),
		jtis:      make(map[string]bool),
		users:     make(map[string]*storage.User),
		sessions:  make(map[string]*storage.Session),
		requests:  make(map[string]*storage.AuthRequest),
		failures:  make(map[string][]time.Time),
		consents:  make(map[string]*storage.Consent),
		codes:     make(map[string]*storage.Code),
		refresh:   make(map[string]*storage.RefreshToken),
	}
}

// now is the Store's clock. Timestamps are kept in UTC at microsecond
// precision, as PostgreSQL keeps them, so both backends return the same
// values.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Ping always succeeds.
func (s *Store) Ping(context.Context) error {
	return nil
}

// Close does nothing; the Store stays usable.
func (s *Store) Close() {}

// BeginTx returns ctx: the Store has no transactions (see the package doc).
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	return ctx, nil
}

// Commit does nothing: every write was applied when it was made.
func (s *Store) Commit(context.Context) error {
	return nil
}

// Rollback does nothing, and in particular undoes nothing.
func (s *Store) Rollback(context.Context) error {
	return nil
}

func cloneClient(c *storage.Client) *storage.Client {
	cp := *c
	cp.SecretHash = bytes.Clone(c.SecretHash)
	cp.GrantTypes = slices.Clone(c.GrantTypes)
	cp.RedirectURIs = slices.Clone(c.RedirectURIs)
	cp.Scopes = slices.Clone(c.Scopes)
	cp.Resources = slices.Clone(c.Resources)
	return &cp
}

func cloneResource(r *storage.Resource) *storage.Resource {
	cp := *r
	cp.Scopes = slices.Clone(r.Scopes)
	cp.EncryptionKeys = slices.Clone(r.EncryptionKeys)
	for i, k := range cp.EncryptionKeys {
		cp.EncryptionKeys[i].JWK = bytes.Clone(k.JWK)
	}
	return &cp
}

func cloneKey(k *storage.Key) *storage.Key {
	cp := *k
	cp.Sealed = bytes.Clone(k.Sealed)
	return &cp
}

func cloneToken(t *storage.AccessToken) *storage.AccessToken {
	cp := *t
	cp.Audience = slices.Clone(t.Audience)
	cp.Scopes = slices.Clone(t.Scopes)
	return &cp
}

func cloneConsent(c *storage.Consent) *storage.Consent {
	cp := *c
	cp.Scopes = slices.Clone(c.Scopes)
	return &cp
}

func cloneCode(c *storage.Code) *storage.Code {
	cp := *c
	cp.Request = bytes.Clone(c.Request)
	return &cp
}

func cloneRefreshToken(t *storage.RefreshToken) *storage.RefreshToken {
	cp := *t
	cp.Request = bytes.Clone(t.Request)
	return &cp
}
