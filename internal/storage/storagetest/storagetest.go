// Package storagetest is the conformance suite for storage.Store: every
// backend runs Run from its own tests, so that handlers can rely on the
// behaviour storage.Store documents whichever backend is configured.
//
// The suite checks the documented error cases as well as the happy paths,
// that nothing is stored when a write fails, that values passed in or
// returned never alias what the Store holds, and that single-use items
// (codes, refresh tokens, authorization requests) are consumed exactly once
// by concurrent callers. Transactions (BeginTx) are not covered: the memory
// backend has none, and the postgres package tests its own.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/veil-auth/veil/internal/storage"
)

// Run runs the conformance suite. open must return an empty Store and close
// it when t ends; Run calls it once per group of tests, and groups run in
// parallel.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := []struct {
		name string
		test func(t *testing.T, s storage.Store)
	}{
		{"CreateClient", testCreateClient},
		{"UpdateClient", testUpdateClient},
		{"SetClientSecret", testSetClientSecret},
		{"DeleteClient", testDeleteClient},
		{"ListClients", testListClients},
		{"ClientAliasing", testClientAliasing},
		{"CreateResource", testCreateResource},
		{"ResourceLookups", testResourceLookups},
		{"ListResources", testListResources},
		{"UpdateResource", testUpdateResource},
		{"DeleteResource", testDeleteResource},
		{"ResourceGrants", testResourceGrants},
		{"ResourceSettings", testResourceSettings},
		{"ResourceKeysInvalid", testResourceKeysInvalid},
		{"ResourceKeysAliasing", testResourceKeysAliasing},
		{"InitKeys", testInitKeys},
		{"InitKeysFailure", testInitKeysFailure},
		{"InitKeysConcurrent", testInitKeysConcurrent},
		{"UpdateKeys", testUpdateKeys},
		{"UpdateKeysConcurrent", testUpdateKeysConcurrent},
		{"AccessTokens", testAccessTokens},
		{"AccessTokenResource", testAccessTokenResource},
		{"AccessTokenAliasing", testAccessTokenAliasing},
		{"RevokeAccessTokens", testRevokeAccessTokens},
		{"CreateUser", testCreateUser},
		{"UserLookups", testUserLookups},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},
		{"UpdateUserKeepsPassword", testUpdateUserKeepsPassword},
		{"PasswordChange", testPasswordChange},
		{"DisableUser", testDisableUser},
		{"DeleteUser", testDeleteUser},
		{"Sessions", testSessions},
		{"AuthRequests", testAuthRequests},
		{"ConsumeAuthRequestConcurrent", testConsumeAuthRequestConcurrent},
		{"LoginFailures", testLoginFailures},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"SaveConsent", testSaveConsent},
		{"ForgetConsent", testForgetConsent},
		{"ConsentLookups", testConsentLookups},
		{"DeleteConsent", testDeleteConsent},
		{"CreateCode", testCreateCode},
		{"UseCode", testUseCode},
		{"UseCodeConcurrent", testUseCodeConcurrent},
		{"CreateRefreshToken", testCreateRefreshToken},
		{"DeactivateRefreshToken", testDeactivateRefreshToken},
		{"DeactivateRefreshTokenConcurrent", testDeactivateRefreshTokenConcurrent},
		{"RevokeRefreshTokens", testRevokeRefreshTokens},
		{"GrantAliasing", testGrantAliasing},
		{"CreateAuditEvent", testCreateAuditEvent},
		{"ListAuditEvents", testListAuditEvents},
		{"AuditEventInvalid", testAuditEventInvalid},
		{"AuditEventAliasing", testAuditEventAliasing},
		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredBatches", testDeleteExpiredBatches},
		{"DeleteExpiredStops", testDeleteExpiredStops},
		{"DeleteExpiredGrants", testDeleteExpiredGrants},
		{"TrySweepLock", testTrySweepLock},
		{"InvalidText", testInvalidText},
		{"Ping", testPing},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.test(t, open(t))
		})
	}
}

// errAny stands for "some error, whichever" in the want column of a table.
var errAny = errors.New("any error")

// checkErr reports whether err is what want asks for, and fails t if not.
func checkErr(t *testing.T, call string, err, want error) bool {
	t.Helper()

	if (want == errAny && err != nil) || errors.Is(err, want) {
		return true
	}
	t.Errorf("%s = %v, want %v", call, err, want)
	return false
}

// equal compares stored values: backends may return an empty slice for nil.
func equal(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

// base is the time fixtures start from, at microsecond precision as
// PostgreSQL keeps it.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func newClient(id string, resources ...string) *storage.Client {
	return &storage.Client{
		ID:                      id,
		Kind:                    storage.KindClient,
		Name:                    "Client " + id,
		SecretHash:              bytes.Repeat([]byte{0x5a}, 32),
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		RedirectURIs:            []string{"https://app.example/" + id + "/callback"},
		Scopes:                  []string{"openid", "read"},
		TokenEndpointAuthMethod: "client_secret_basic",
		Resources:               resources,
	}
}

func newResource(id, identifier string) (*storage.Resource, *storage.Client) {
	r := &storage.Resource{
		ID:         id,
		Identifier: identifier,
		Name:       "Resource " + id,
		Scopes:     []string{"read", "write"},
	}
	credentials := &storage.Client{
		ID:                      id + "-rs",
		Kind:                    storage.KindResource,
		Name:                    "Resource " + id,
		SecretHash:              bytes.Repeat([]byte{0xa5}, 32),
		TokenEndpointAuthMethod: "client_secret_basic",
	}
	return r, credentials
}

func newToken(signature, requestID, clientID string) *storage.AccessToken {
	return &storage.AccessToken{
		Signature: signature,
		JTI:       "jti-" + signature,
		RequestID: requestID,
		ClientID:  clientID,
		Subject:   "user-1",
		Audience:  []string{"https://api.example"},
		Scopes:    []string{"read"},
		IssuedAt:  base,
		ExpiresAt: base.Add(time.Hour),
	}
}

func mustCreateClient(t *testing.T, s storage.Store, c *storage.Client) *storage.Client {
	t.Helper()

	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient(%s) = %v, want nil", c.ID, err)
	}
	return c
}

// mustCreateResource creates a resource with its credentials client and
// returns both as stored.
func mustCreateResource(
	t *testing.T, s storage.Store, id, identifier string,
) (*storage.Resource, *storage.Client) {
	t.Helper()

	r, credentials := newResource(id, identifier)
	if err := s.CreateResource(context.Background(), r, credentials); err != nil {
		t.Fatalf("CreateResource(%s) = %v, want nil", id, err)
	}
	return r, credentials
}

func mustCreateToken(t *testing.T, s storage.Store, tok *storage.AccessToken) *storage.AccessToken {
	t.Helper()

	if err := s.CreateAccessToken(context.Background(), tok); err != nil {
		t.Fatalf("CreateAccessToken(%s) = %v, want nil", tok.Signature, err)
	}
	return tok
}

// wantClient checks that Client(id) returns want, or ErrNotFound if want is
// nil.
func wantClient(t *testing.T, s storage.Store, id string, want *storage.Client) {
	t.Helper()

	got, err := s.Client(context.Background(), id)
	if want == nil {
		checkErr(t, "Client("+id+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("Client(%s) = %v, want nil", id, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("Client(%s) mismatch (-want +got):\n%s", id, diff)
	}
}

// wantResource checks that Resource(id) returns want, or ErrNotFound if
// want is nil.
func wantResource(t *testing.T, s storage.Store, id string, want *storage.Resource) {
	t.Helper()

	got, err := s.Resource(context.Background(), id)
	if want == nil {
		checkErr(t, "Resource("+id+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("Resource(%s) = %v, want nil", id, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("Resource(%s) mismatch (-want +got):\n%s", id, diff)
	}
}

// wantToken checks that AccessToken(signature) returns want, or ErrNotFound
// if want is nil.
func wantToken(t *testing.T, s storage.Store, signature string, want *storage.AccessToken) {
	t.Helper()

	got, err := s.AccessToken(context.Background(), signature)
	if want == nil {
		checkErr(t, "AccessToken("+signature+")", err, storage.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("AccessToken(%s) = %v, want nil", signature, err)
		return
	}
	if diff := equal(want, got); diff != "" {
		t.Errorf("AccessToken(%s) mismatch (-want +got):\n%s", signature, diff)
	}
}

// checkStamps checks the timestamps a write set on the value passed in:
// CreatedAt is wantCreated (any non-zero time if wantCreated is zero), and
// UpdatedAt is not before it.
func checkStamps(t *testing.T, call string, created, updated, wantCreated time.Time) {
	t.Helper()

	if created.IsZero() || (!wantCreated.IsZero() && !created.Equal(wantCreated)) ||
		updated.Before(created) {
		t.Errorf("%s set CreatedAt, UpdatedAt = %v, %v, want %v, not before CreatedAt",
			call, created, updated, wantCreated)
	}
}

// ids splits a space-separated list of IDs, to keep tables short.
func ids(list string) []string {
	return strings.Fields(list)
}

func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v, want nil", err)
	}
}
