package storagetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// expiring stores and finds items of one kind that DeleteExpired deletes.
type expiring struct {
	kind storage.Expiring
	// create stores an item named id that expires (for a login failure:
	// was recorded) at `at`.
	create func(t *testing.T, id string, at time.Time)
	// stored reports whether the item named id is still stored. No method
	// returns an expired session or authorization request, so for those
	// it stores the item again and reports whether the ID was taken: it
	// may be asked once per item, last.
	stored func(t *testing.T, id string) bool
	// peek is true when stored changes nothing and may be asked any time.
	peek bool
}

// allTime is a window that holds every failure a test records.
const allTime = 100 * 365 * 24 * time.Hour

// expiringKinds returns every kind DeleteExpired knows, over a client
// "app", a user "u-alice" and their consent c. Codes and refresh tokens
// each get a grant of their own, with nothing else in it.
func expiringKinds(s storage.Store, c *storage.Consent) []expiring {
	ctx := context.Background()
	must := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s = %v, want nil", what, err)
		}
	}
	found := func(t *testing.T, what string, err error) bool {
		t.Helper()
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("%s = %v, want nil or ErrNotFound", what, err)
		}
		return err == nil
	}
	taken := func(t *testing.T, what string, err error) bool {
		t.Helper()
		if err != nil && !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("%s = %v, want nil or ErrConflict", what, err)
		}
		return err != nil
	}

	return []expiring{{
		kind: storage.ExpiringAccessTokens, peek: true,
		create: func(t *testing.T, id string, at time.Time) {
			tok := newToken(id, "req-"+id, c.ClientID)
			tok.ExpiresAt = at
			must(t, "CreateAccessToken("+id+")", s.CreateAccessToken(ctx, tok))
		},
		stored: func(t *testing.T, id string) bool {
			_, err := s.AccessToken(ctx, id)
			return found(t, "AccessToken("+id+")", err)
		},
	}, {
		kind: storage.ExpiringRefreshTokens, peek: true,
		create: func(t *testing.T, id string, at time.Time) {
			rt := newRefreshToken(id, "req-"+id, c)
			rt.ExpiresAt = at
			must(t, "CreateRefreshToken("+id+")", s.CreateRefreshToken(ctx, rt))
		},
		stored: func(t *testing.T, id string) bool {
			_, err := s.RefreshToken(ctx, id)
			return found(t, "RefreshToken("+id+")", err)
		},
	}, {
		kind: storage.ExpiringCodes, peek: true,
		create: func(t *testing.T, id string, at time.Time) {
			code := newCode(id, "req-"+id, c)
			code.ExpiresAt = at
			must(t, "CreateCode("+id+")", s.CreateCode(ctx, code))
		},
		stored: func(t *testing.T, id string) bool {
			_, err := s.Code(ctx, id)
			return found(t, "Code("+id+")", err)
		},
	}, {
		kind: storage.ExpiringSessions,
		create: func(t *testing.T, id string, at time.Time) {
			sess := &storage.Session{ID: id, UserID: c.UserID, AuthTime: base, ExpiresAt: at}
			must(t, "CreateSession("+id+")", s.CreateSession(ctx, sess))
		},
		stored: func(t *testing.T, id string) bool {
			sess := &storage.Session{ID: id, UserID: c.UserID, AuthTime: base, ExpiresAt: expired}
			return taken(t, "CreateSession("+id+") again", s.CreateSession(ctx, sess))
		},
	}, {
		kind: storage.ExpiringAuthRequests,
		create: func(t *testing.T, id string, at time.Time) {
			must(t, "CreateAuthRequest("+id+")",
				s.CreateAuthRequest(ctx, newAuthRequest(id, c.ClientID, at)))
		},
		stored: func(t *testing.T, id string) bool {
			return taken(t, "CreateAuthRequest("+id+") again",
				s.CreateAuthRequest(ctx, newAuthRequest(id, c.ClientID, expired)))
		},
	}, {
		kind: storage.ExpiringLoginFailures, peek: true,
		create: func(t *testing.T, id string, at time.Time) {
			_, err := s.RecordLoginFailure(ctx, id, at, time.Minute)
			must(t, "RecordLoginFailure("+id+")", err)
		},
		stored: func(t *testing.T, id string) bool {
			n, err := s.LoginFailures(ctx, id, later(), allTime)
			must(t, "LoginFailures("+id+")", err)
			return n > 0
		},
	}}
}

// testDeleteExpired stores an expired and a live item of every kind, then
// deletes each kind in turn: the expired item of that kind goes, and
// nothing else.
func testDeleteExpired(t *testing.T, s storage.Store) {
	ctx := context.Background()
	kinds := expiringKinds(s, mustConsent(t, s))
	for _, k := range kinds {
		k.create(t, string(k.kind)+"-old", expired)
		k.create(t, string(k.kind)+"-new", later())
	}

	before := time.Now()
	for _, k := range kinds {
		t.Run(string(k.kind), func(t *testing.T) {
			for i, want := range []int{1, 0} {
				n, err := s.DeleteExpired(ctx, k.kind, before, 10, nil)
				if n != want || err != nil {
					t.Errorf("DeleteExpired(%s) #%d = %d, %v, want %d, nil",
						k.kind, i+1, n, err, want)
				}
			}
			old, live := string(k.kind)+"-old", string(k.kind)+"-new"
			if k.stored(t, old) {
				t.Errorf("%s %s is stored after DeleteExpired, want it deleted", k.kind, old)
			}
			if !k.stored(t, live) {
				t.Errorf("%s %s is gone after DeleteExpired, want it kept", k.kind, live)
			}
		})
	}
}

// testDeleteExpiredBatches deletes seven expired items of each kind in
// batches of three: two batches of three, then the last one.
func testDeleteExpiredBatches(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	for _, k := range expiringKinds(s, mustConsent(t, s)) {
		t.Run(string(k.kind), func(t *testing.T) {
			for _, id := range ids {
				k.create(t, string(k.kind)+"-"+id, expired)
			}
			left := func() int {
				n := 0
				for _, id := range ids {
					if k.stored(t, string(k.kind)+"-"+id) {
						n++
					}
				}
				return n
			}

			var batches, remaining []int
			n, err := s.DeleteExpired(ctx, k.kind, time.Now(), 3,
				func(_ context.Context, deleted int) error {
					batches = append(batches, deleted)
					if k.peek {
						remaining = append(remaining, left())
					}
					return nil
				})
			if n != len(ids) || err != nil {
				t.Errorf("DeleteExpired(%s, batch 3) = %d, %v, want %d, nil",
					k.kind, n, err, len(ids))
			}
			if want := []int{3, 3}; !slices.Equal(batches, want) {
				t.Errorf("DeleteExpired(%s, batch 3) batches before the last = %v, want %v",
					k.kind, batches, want)
			}
			if want := []int{4, 1}; k.peek && !slices.Equal(remaining, want) {
				t.Errorf("DeleteExpired(%s, batch 3) left %v after each batch, want %v",
					k.kind, remaining, want)
			}
			if k.peek && left() != 0 {
				t.Errorf("DeleteExpired(%s) left %d expired items, want 0", k.kind, left())
			}
		})
	}
}

// testDeleteExpiredStops checks that DeleteExpired stops when between
// fails or ctx ends, and refuses a bad batch size or kind.
func testDeleteExpiredStops(t *testing.T, s storage.Store) {
	c := mustConsent(t, s)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		code := newCode("code-"+id, "req-"+id, c)
		code.ExpiresAt = expired
		if err := s.CreateCode(context.Background(), code); err != nil {
			t.Fatalf("CreateCode(code-%s) = %v, want nil", id, err)
		}
	}
	errStop := errors.New("stop")
	stop := func(context.Context, int) error { return errStop }
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// Each step runs in order, on what the steps before it left.
	steps := []struct {
		name    string
		ctx     context.Context
		kind    storage.Expiring
		batch   int
		between func(context.Context, int) error
		want    int
		wantErr error
	}{
		{name: "between fails", ctx: context.Background(), kind: storage.ExpiringCodes,
			batch: 2, between: stop, want: 2, wantErr: errStop},
		{name: "context ended", ctx: cancelled, kind: storage.ExpiringCodes, batch: 2,
			wantErr: errAny},
		{name: "batch of zero", ctx: context.Background(), kind: storage.ExpiringCodes,
			wantErr: errAny},
		{name: "unknown kind", ctx: context.Background(), kind: "keys", batch: 2,
			wantErr: errAny},
		{name: "the rest", ctx: context.Background(), kind: storage.ExpiringCodes, batch: 2,
			want: 3},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.DeleteExpired(tt.ctx, tt.kind, time.Now(), tt.batch, tt.between)
			checkErr(t, "DeleteExpired("+string(tt.kind)+")", err, tt.wantErr)
			if n != tt.want {
				t.Errorf("DeleteExpired(%s) deleted %d, want %d", tt.kind, n, tt.want)
			}
		})
	}
}

// grantItems names what testDeleteExpiredGrants issues under one grant.
// Each item is stored expired or live, and a code used, a refresh token
// inactive, an access token revoked, as its flags say.
type grantItems struct {
	request string
	codes   []grantItem
	refresh []grantItem
	access  []grantItem
}

type grantItem struct {
	name string
	// live items expire later; the others have expired.
	live bool
	// spent is a code used, a refresh token inactive, an access token
	// revoked.
	spent bool
	// kept is whether DeleteExpired must keep the item.
	kept bool
}

// testDeleteExpiredGrants checks that a used code and a rotated refresh
// token stay while their grant holds something a replay could revoke,
// even after they expired, and go once it holds nothing.
func testDeleteExpiredGrants(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	grants := []grantItems{
		{request: "ended", // everything expired
			codes:   []grantItem{{name: "ended-code", spent: true}},
			refresh: []grantItem{{name: "ended-rt1", spent: true}, {name: "ended-rt2"}},
			access:  []grantItem{{name: "ended-at"}}},
		{request: "refreshed", // the newest refresh token is live
			codes: []grantItem{{name: "refreshed-code", spent: true, kept: true}},
			refresh: []grantItem{{name: "refreshed-rt1", spent: true, kept: true},
				{name: "refreshed-rt2", live: true, kept: true}}},
		{request: "accessed", // only an access token is live
			codes:   []grantItem{{name: "accessed-code", spent: true, kept: true}},
			refresh: []grantItem{{name: "accessed-rt1", spent: true, kept: true}},
			access:  []grantItem{{name: "accessed-at", live: true, kept: true}}},
		{request: "revoked", // live until its expiry, but revoked
			codes: []grantItem{{name: "revoked-code", spent: true}},
			refresh: []grantItem{{name: "revoked-rt1", spent: true},
				{name: "revoked-rt2", live: true, spent: true, kept: true}},
			access: []grantItem{{name: "revoked-at", live: true, spent: true, kept: true}}},
		{request: "abandoned", // a code never redeemed
			codes: []grantItem{{name: "abandoned-code"}}},
		{request: "pending", // a code still redeemable
			codes: []grantItem{{name: "pending-code", live: true, kept: true}}},
	}
	expiry := func(it grantItem) time.Time {
		if it.live {
			return later()
		}
		return expired
	}
	for _, g := range grants {
		for _, it := range g.codes {
			code := newCode(it.name, g.request, c)
			code.ExpiresAt, code.Used = expiry(it), it.spent
			if err := s.CreateCode(ctx, code); err != nil {
				t.Fatalf("CreateCode(%s) = %v, want nil", it.name, err)
			}
		}
		for _, it := range g.refresh {
			rt := newRefreshToken(it.name, g.request, c)
			rt.ExpiresAt, rt.Active = expiry(it), !it.spent
			if err := s.CreateRefreshToken(ctx, rt); err != nil {
				t.Fatalf("CreateRefreshToken(%s) = %v, want nil", it.name, err)
			}
		}
		for _, it := range g.access {
			at := newUserToken(it.name, g.request, c)
			at.ExpiresAt, at.Revoked = expiry(it), it.spent
			mustCreateToken(t, s, at)
		}
	}

	// In the janitor's order, and with a batch that ends within the rows
	// kept, so that a later batch must look past them.
	before := time.Now()
	wants := map[storage.Expiring]int{
		storage.ExpiringAccessTokens: 1, storage.ExpiringRefreshTokens: 3,
		storage.ExpiringCodes: 3,
	}
	for _, kind := range []storage.Expiring{storage.ExpiringAccessTokens,
		storage.ExpiringRefreshTokens, storage.ExpiringCodes} {
		n, err := s.DeleteExpired(ctx, kind, before, 2, nil)
		if n != wants[kind] || err != nil {
			t.Errorf("DeleteExpired(%s) = %d, %v, want %d, nil", kind, n, err, wants[kind])
		}
	}

	kinds := expiringKinds(s, c)
	stored := map[storage.Expiring]func(*testing.T, string) bool{}
	for _, k := range kinds {
		stored[k.kind] = k.stored
	}
	for _, g := range grants {
		for kind, items := range map[storage.Expiring][]grantItem{
			storage.ExpiringCodes: g.codes, storage.ExpiringRefreshTokens: g.refresh,
			storage.ExpiringAccessTokens: g.access,
		} {
			for _, it := range items {
				if got := stored[kind](t, it.name); got != it.kept {
					t.Errorf("%s %s stored after DeleteExpired = %v, want %v",
						kind, it.name, got, it.kept)
				}
			}
		}
	}
}

// testTrySweepLock checks the lock within one Store: a second caller is
// turned away while fn runs, fn's context works for the Store, fn's error
// comes back, and the lock is free again afterwards.
func testTrySweepLock(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := mustConsent(t, s)
	code := newCode("code-old", "req-old", c)
	code.ExpiresAt = expired
	if err := s.CreateCode(ctx, code); err != nil {
		t.Fatalf("CreateCode(code-old) = %v, want nil", err)
	}

	errDone := errors.New("done")
	ran, err := s.TrySweepLock(ctx, func(ctx context.Context) error {
		again, err := s.TrySweepLock(context.Background(), func(context.Context) error {
			t.Error("TrySweepLock() ran fn while another caller held the lock")
			return nil
		})
		if again || err != nil {
			t.Errorf("TrySweepLock() while held = %v, %v, want false, nil", again, err)
		}

		n, err := s.DeleteExpired(ctx, storage.ExpiringCodes, time.Now(), 10, nil)
		if n != 1 || err != nil {
			t.Errorf("DeleteExpired(codes) under the lock = %d, %v, want 1, nil", n, err)
		}
		return errDone
	})
	if !ran || !errors.Is(err, errDone) {
		t.Errorf("TrySweepLock() = %v, %v, want true and fn's error", ran, err)
	}

	SweepLockExclusive(t, []storage.Store{s})
}

// SweepLockExclusive checks TrySweepLock across the given Stores, which
// must share their data: while a caller on the first holds the lock, every
// caller on any of them is turned away without running fn; once it
// returns, a caller on each in turn gets the lock.
func SweepLockExclusive(t *testing.T, stores []storage.Store) {
	t.Helper()

	ctx := context.Background()
	ran, err := stores[0].TrySweepLock(ctx, func(context.Context) error {
		results := race(2*len(stores), func() error {
			for i := range len(stores) * 4 {
				got, err := stores[i%len(stores)].TrySweepLock(ctx,
					func(context.Context) error { return errors.New("fn ran") })
				if got || err != nil {
					return errors.Join(errors.New("TrySweepLock() while held ran"), err)
				}
			}
			return nil
		})
		return errors.Join(results...)
	})
	if !ran || err != nil {
		t.Errorf("TrySweepLock() on a free lock = %v, %v, want true, nil", ran, err)
	}

	for i, s := range stores {
		ran, err := s.TrySweepLock(ctx, func(context.Context) error { return nil })
		if !ran || err != nil {
			t.Errorf("TrySweepLock() on store %d after release = %v, %v, want true, nil",
				i, ran, err)
		}
	}
}
