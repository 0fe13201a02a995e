package provider

import (
	"context"
	"sync"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// catalogLimit bounds the records a catalog holds per kind. Past it, a new
// record empties that kind's map first: a crude bound, reached only by a
// deployment with that many clients in one cache lifetime, and harmless
// there (the next requests read the database again).
const catalogLimit = 10000

// catalog keeps the client and resource records that every token and
// introspection request reads, for a short time, so that the hot path makes
// one database round trip (the token record) instead of three.
//
// What it keeps may be stale by at most its TTL on other replicas; on this
// one, Forget (called after every admin change) drops everything at once.
// A read that began before a Forget never fills the cache afterwards, so a
// change made here is seen here by the next request.
//
// Records are shared between requests and must not be modified.
//
// TODO(#7): other replicas' changes could reach the catalog at once through
// LISTEN/NOTIFY instead of after the TTL.
type catalog struct {
	ttl time.Duration
	now func() time.Time

	mu         sync.Mutex
	generation uint64
	clients    map[string]cached[*storage.Client]
	byID       map[string]cached[*storage.Resource]
	byClient   map[string]cached[*storage.Resource]
}

type cached[T any] struct {
	value   T
	expires time.Time
}

func newCatalog(ttl time.Duration, now func() time.Time) *catalog {
	c := &catalog{ttl: ttl, now: now}
	c.reset()
	return c
}

func (c *catalog) reset() {
	c.clients = make(map[string]cached[*storage.Client])
	c.byID = make(map[string]cached[*storage.Resource])
	c.byClient = make(map[string]cached[*storage.Resource])
}

// Forget drops every record and makes reads in flight forget theirs.
func (c *catalog) Forget() {
	c.mu.Lock()
	c.generation++
	c.reset()
	c.mu.Unlock()
}

// lookup returns m[key] from the cache, or loads it and keeps it when no
// Forget happened meanwhile. Errors, not-found included, are never kept:
// a client registered a moment ago must work at once.
func lookup[T any](c *catalog, m func(*catalog) map[string]cached[T], key string, load func() (T, error)) (T, error) {
	if c.ttl <= 0 {
		return load()
	}
	now := c.now()
	c.mu.Lock()
	e, ok := m(c)[key]
	gen := c.generation
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.value, nil
	}

	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.generation == gen {
		kind := m(c)
		if len(kind) >= catalogLimit {
			clear(kind)
		}
		kind[key] = cached[T]{value: v, expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return v, nil
}

func clientsOf(c *catalog) map[string]cached[*storage.Client]       { return c.clients }
func resourcesByID(c *catalog) map[string]cached[*storage.Resource] { return c.byID }
func resourcesByClient(c *catalog) map[string]cached[*storage.Resource] {
	return c.byClient
}

// client loads a client by ID.
func (p *Provider) client(ctx context.Context, id string) (*storage.Client, error) {
	return lookup(p.catalog, clientsOf, id, func() (*storage.Client, error) {
		return p.store.Client(ctx, id)
	})
}

// resourceByIdentifier loads a resource by its identifier.
func (p *Provider) resourceByIdentifier(ctx context.Context, identifier string) (*storage.Resource, error) {
	return lookup(p.catalog, resourcesByID, identifier, func() (*storage.Resource, error) {
		return p.store.ResourceByIdentifier(ctx, identifier)
	})
}

// resourceByClient loads the resource whose credentials a client ID is.
func (p *Provider) resourceByClient(ctx context.Context, clientID string) (*storage.Resource, error) {
	return lookup(p.catalog, resourcesByClient, clientID, func() (*storage.Resource, error) {
		return p.store.ResourceByClient(ctx, clientID)
	})
}

// Forget drops the cached client and resource records, so that the next
// request reads them again. Call it after every change to clients or
// resources made by this process.
func (p *Provider) Forget() { p.catalog.Forget() }
