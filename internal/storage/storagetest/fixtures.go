package storagetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/storage"
)

// later is an hour from now, at microsecond precision: backends judge
// expiry by the clock, so what must not have expired yet expires then.
func later() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond).Add(time.Hour)
}

// expired is in the past: fixtures that must have expired expire then.
var expired = base.Add(10 * time.Minute)

func newUser(id, username string) *storage.User {
	return &storage.User{
		ID:           id,
		Username:     username,
		Email:        id + "@example.com",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
	}
}

func mustCreateUser(t *testing.T, s storage.Store, u *storage.User) *storage.User {
	t.Helper()

	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s) = %v, want nil", u.ID, err)
	}
	return u
}

func newConsent(id, userID, clientID, resource string, scopes ...string) *storage.Consent {
	return &storage.Consent{ID: id, UserID: userID, ClientID: clientID, Resource: resource,
		Scopes: scopes}
}

func mustSaveConsent(t *testing.T, s storage.Store, c *storage.Consent) *storage.Consent {
	t.Helper()

	if err := s.SaveConsent(context.Background(), c); err != nil {
		t.Fatalf("SaveConsent(%s) = %v, want nil", c.ID, err)
	}
	return c
}

// newCode returns a code issued under consent c.
func newCode(signature, requestID string, c *storage.Consent) *storage.Code {
	return &storage.Code{Signature: signature, RequestID: requestID, ClientID: c.ClientID,
		UserID: c.UserID, ConsentID: c.ID, Request: []byte(`{"scope":"read"}`),
		ExpiresAt: later()}
}

// newRefreshToken returns a refresh token issued under consent c.
func newRefreshToken(signature, requestID string, c *storage.Consent) *storage.RefreshToken {
	return &storage.RefreshToken{Signature: signature, RequestID: requestID,
		AccessSignature: "at-" + signature, ClientID: c.ClientID, UserID: c.UserID,
		ConsentID: c.ID, Request: []byte(`{"grant_type":"refresh_token"}`),
		ExpiresAt: later(), Active: true}
}

// newUserToken returns an access token issued under consent c.
func newUserToken(signature, requestID string, c *storage.Consent) *storage.AccessToken {
	tok := newToken(signature, requestID, c.ClientID)
	tok.Subject, tok.ConsentID = c.UserID, c.ID
	return tok
}

// grant is what one authorization leaves: a consent, and a code, a refresh
// token and an access token issued under it with one request ID.
type grant struct {
	consent *storage.Consent
	code    *storage.Code
	refresh *storage.RefreshToken
	access  *storage.AccessToken
}

// mustGrant stores a grant of userID to clientID for resource; name is the
// consent's ID and prefixes every other identifier.
func mustGrant(t *testing.T, s storage.Store, name, userID, clientID, resource string) grant {
	t.Helper()

	ctx := context.Background()
	c := mustSaveConsent(t, s, newConsent(name, userID, clientID, resource, "read"))
	g := grant{
		consent: c,
		code:    newCode(name+"-code", name+"-req", c),
		refresh: newRefreshToken(name+"-rt", name+"-req", c),
		access:  newUserToken(name+"-at", name+"-req", c),
	}
	err := errors.Join(s.CreateCode(ctx, g.code), s.CreateRefreshToken(ctx, g.refresh),
		s.CreateAccessToken(ctx, g.access))
	if err != nil {
		t.Fatalf("issue grant %s: %v", name, err)
	}
	return g
}

// liveness says which items of a grant could still be used: the code not
// used, the refresh token active, the access token not revoked. An item
// that is gone is not live.
type liveness struct {
	Code, Refresh, Access bool
}

var allLive = liveness{Code: true, Refresh: true, Access: true}

func live(t *testing.T, s storage.Store, g grant) liveness {
	t.Helper()

	ctx := context.Background()
	code, err1 := s.Code(ctx, g.code.Signature)
	refresh, err2 := s.RefreshToken(ctx, g.refresh.Signature)
	access, err3 := s.AccessToken(ctx, g.access.Signature)
	for _, err := range []error{err1, err2, err3} {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("look up grant %s: %v", g.consent.ID, err)
		}
	}
	return liveness{
		Code:    err1 == nil && !code.Used,
		Refresh: err2 == nil && refresh.Active,
		Access:  err3 == nil && !access.Revoked,
	}
}

// checkIssueRefused checks that nothing can be issued under consent c:
// CreateCode, CreateRefreshToken and CreateAccessToken return ErrNotFound.
// why names the reason, for failure messages.
func checkIssueRefused(t *testing.T, s storage.Store, c *storage.Consent, why string) {
	t.Helper()

	ctx := context.Background()
	calls := []struct {
		name string
		call func() error
	}{
		{name: "CreateCode", call: func() error {
			return s.CreateCode(ctx, newCode(c.ID+"-late-code", c.ID+"-late-req", c))
		}},
		{name: "CreateRefreshToken", call: func() error {
			return s.CreateRefreshToken(ctx, newRefreshToken(c.ID+"-late-rt", c.ID+"-late-req", c))
		}},
		{name: "CreateAccessToken", call: func() error {
			return s.CreateAccessToken(ctx, newUserToken(c.ID+"-late-at", c.ID+"-late-req", c))
		}},
	}
	for _, tt := range calls {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			checkErr(t, tt.name+"("+why+")", tt.call(), storage.ErrNotFound)
		})
	}
}

// race calls fn from n goroutines released at once and returns each error.
func race(n int, fn func() error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// countErrs counts the errors that are nil (want nil) or are want.
func countErrs(errs []error, want error) int {
	n := 0
	for _, err := range errs {
		if (want == nil && err == nil) || (want != nil && errors.Is(err, want)) {
			n++
		}
	}
	return n
}
