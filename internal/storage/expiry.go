package storage

import (
	"context"
	"time"
)

// Expiring names a kind of stored item that stops being of use at some
// time and is then deleted by the janitor (package janitor), which calls
// DeleteExpired with one kind at a time. Its value is a lower-case name fit
// for a log attribute or a metric label.
type Expiring string

// The kinds of item DeleteExpired deletes.
const (
	// ExpiringAccessTokens are access token records (AccessToken). One
	// that has expired is inactive whether its record exists or not.
	ExpiringAccessTokens Expiring = "access_tokens"
	// ExpiringRefreshTokens are refresh tokens (RefreshToken), rotated or
	// not; see DeleteExpired for how long they are kept.
	ExpiringRefreshTokens Expiring = "refresh_tokens"
	// ExpiringCodes are authorization codes (Code), used or not; see
	// DeleteExpired for how long they are kept.
	ExpiringCodes Expiring = "codes"
	// ExpiringSessions are browser sessions (Session).
	ExpiringSessions Expiring = "sessions"
	// ExpiringAuthRequests are pending authorization requests
	// (AuthRequest) that were never completed.
	ExpiringAuthRequests Expiring = "auth_requests"
	// ExpiringLoginFailures are failed sign-ins (RecordLoginFailure) of
	// keys that were not seen again to forget them.
	ExpiringLoginFailures Expiring = "login_failures"
)

// Expiry deletes what can no longer be used, in bounded batches, and lets
// one caller among all replicas do so at a time.
type Expiry interface {
	// DeleteExpired deletes the items of kind that expired before
	// `before` (for ExpiringLoginFailures: that were recorded before it)
	// and returns how many it deleted. It works in batches of at most
	// batch items, each one statement that commits on its own (outside a
	// caller's transaction), and calls between, if not nil, after every
	// batch that another follows, with the number that batch deleted; an
	// error from between, or from ctx, stops it, and it returns what it
	// deleted so far with the error. A batch of less than 1 is an error.
	//
	// A used code and a rotated refresh token are evidence kept on
	// purpose: presented again, they reveal that someone else holds them,
	// and the whole grant is revoked (RFC 6749 §4.1.2, RFC 9700
	// §4.14.2), even once they have expired. So a code or a refresh token
	// is deleted only when, besides having expired itself, its grant (its
	// RequestID) holds nothing a revocation could still end: no active
	// refresh token and no access token that is not revoked, of those
	// expiring at or after `before`. Until then every code and refresh
	// token of a grant is kept, however often it was refreshed.
	//
	// An item that another transaction has locked is skipped, to be
	// deleted by a later call, so that DeleteExpired never waits for a
	// request in flight.
	DeleteExpired(ctx context.Context, kind Expiring, before time.Time, batch int,
		between func(ctx context.Context, deleted int) error) (int, error)
	// TrySweepLock runs fn while holding the sweep lock, if no other
	// caller, in this process or another sharing the backend, holds it;
	// it does not wait for one that does. It reports whether fn ran, with
	// fn's error or its own: false and nil mean another caller holds the
	// lock. The lock is held until fn returns, and never outlives the
	// process that took it.
	//
	// Store methods called with the context fn receives may share one
	// connection with the lock, so fn must not call them from several
	// goroutines at once.
	TrySweepLock(ctx context.Context, fn func(ctx context.Context) error) (bool, error)
}
