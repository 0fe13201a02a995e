package provider

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// counting returns a loader that counts its calls and answers a new client
// record each time, so that a test can tell a cached record from a fresh one.
func counting(calls *int) func() (*storage.Client, error) {
	return func() (*storage.Client, error) {
		*calls++
		return &storage.Client{ID: fmt.Sprint("load-", *calls)}, nil
	}
}

func TestCatalogKeepsRecordsForTTL(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newCatalog(5*time.Second, clock.now)
	calls := 0

	first, _ := lookup(c, clientsOf, "a", counting(&calls))
	clock.t = clock.t.Add(4 * time.Second)
	again, _ := lookup(c, clientsOf, "a", counting(&calls))
	if calls != 1 || again != first {
		t.Fatalf("within the TTL: %d loads, same record %v; want 1 load and the cached record", calls, again == first)
	}

	clock.t = clock.t.Add(time.Second)
	later, _ := lookup(c, clientsOf, "a", counting(&calls))
	if calls != 2 || later == first {
		t.Fatalf("at the TTL: %d loads, same record %v; want a second load", calls, later == first)
	}

	other, _ := lookup(c, clientsOf, "b", counting(&calls))
	if calls != 3 || other.ID != "load-3" {
		t.Fatalf("another key: %d loads, got %q; want its own load", calls, other.ID)
	}
}

func TestCatalogForgetDropsEverything(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newCatalog(time.Minute, clock.now)
	calls := 0
	lookup(c, clientsOf, "a", counting(&calls))
	lookup(c, resourcesByID, "https://api", func() (*storage.Resource, error) {
		calls++
		return &storage.Resource{Identifier: "https://api"}, nil
	})

	c.Forget()
	lookup(c, clientsOf, "a", counting(&calls))
	lookup(c, resourcesByID, "https://api", func() (*storage.Resource, error) {
		calls++
		return &storage.Resource{Identifier: "https://api"}, nil
	})
	if calls != 4 {
		t.Fatalf("%d loads; want both records loaded again after Forget", calls)
	}
}

// A load that overlaps a Forget read the database before the change may
// have committed; what it read must not be kept.
func TestCatalogReadOverlappingForgetIsNotKept(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newCatalog(time.Minute, clock.now)
	calls := 0
	stale, err := lookup(c, clientsOf, "a", func() (*storage.Client, error) {
		calls++
		c.Forget() // an admin change lands while this read is in flight
		return &storage.Client{ID: "stale"}, nil
	})
	if err != nil || stale.ID != "stale" {
		t.Fatalf("the overlapping read itself: %v, %v", stale, err)
	}
	fresh, _ := lookup(c, clientsOf, "a", counting(&calls))
	if calls != 2 || fresh.ID == "stale" {
		t.Fatalf("after the overlapping read: %d loads, got %q; want a fresh load", calls, fresh.ID)
	}
}

func TestCatalogKeepsNoErrors(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := newCatalog(time.Minute, clock.now)
	calls := 0
	missing := func() (*storage.Client, error) {
		calls++
		return nil, storage.ErrNotFound
	}
	for range 2 {
		if _, err := lookup(c, clientsOf, "new", missing); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d loads of a missing client; want every lookup to ask again", calls)
	}
	got, _ := lookup(c, clientsOf, "new", counting(&calls))
	if got == nil || calls != 3 {
		t.Fatalf("a client registered after a miss: got %v after %d loads", got, calls)
	}
}

func TestCatalogDisabledAndBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	off := newCatalog(-1, clock.now)
	calls := 0
	lookup(off, clientsOf, "a", counting(&calls))
	lookup(off, clientsOf, "a", counting(&calls))
	if calls != 2 {
		t.Fatalf("with a negative TTL: %d loads, want every lookup to load", calls)
	}

	c := newCatalog(time.Minute, clock.now)
	for i := range catalogLimit + 1 {
		lookup(c, clientsOf, fmt.Sprint(i), counting(&calls))
	}
	if n := len(c.clients); n > catalogLimit {
		t.Fatalf("catalog holds %d clients, limit %d", n, catalogLimit)
	}
}
