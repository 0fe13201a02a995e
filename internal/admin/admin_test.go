package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/admin"
	"github.com/veil-auth/veil/internal/password"
	"github.com/veil-auth/veil/internal/secret"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
)

const adminToken = "admin-token-for-tests-0123456789abcdef"

// testPasswords are cheap argon2id parameters, so that the tests do not
// spend most of their time hashing.
var testPasswords = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestMemory(t *testing.T) {
	runAdminTests(t, func(*testing.T) storage.Store { return memory.New() })
}

// runAdminTests runs every admin API test against stores made by newStore,
// one fresh store per test. A PostgreSQL run passes a constructor that
// returns a store on an empty database.
func runAdminTests(t *testing.T, newStore func(*testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"ResourceLifecycle", testResourceLifecycle},
		{"ResourceValidation", testResourceValidation},
		{"ResourceConflict", testResourceConflict},
		{"ResourceSecret", testResourceSecret},
		{"ResourceIdentifierForms", testResourceIdentifierForms},
		{"ResourceGrantsEnd", testResourceGrantsEnd},
		{"ClientLifecycle", testClientLifecycle},
		{"ClientValidation", testClientValidation},
		{"ClientUpdateRules", testClientUpdateRules},
		{"ClientSecret", testClientSecret},
		{"PublicClient", testPublicClient},
		{"CredentialsHidden", testCredentialsHidden},
		{"NotFound", testNotFound},
		{"Auth", testAuth},
		{"RequestShape", testRequestShape},
		{"Pagination", testPagination},
		{"PageTokenTampered", testPageTokenTampered},
		{"PageLimit", testPageLimit},
		{"StoreErrors", testStoreErrors},
		{"ResourceGone", testResourceGone},
		{"SecretsNeverLogged", testSecretsNeverLogged},
		{"UserLifecycle", testUserLifecycle},
		{"UserAccepted", testUserAccepted},
		{"UserValidation", testUserValidation},
		{"UserConflict", testUserConflict},
		{"UserPassword", testUserPassword},
		{"UserPasswordConcurrent", testUserPasswordConcurrent},
		{"UserDisable", testUserDisable},
		{"UserEnable", testUserEnable},
		{"PasswordNeverShown", testPasswordNeverShown},
		{"Consents", testConsents},
		{"ConsentNotFound", testConsentNotFound},
		{"EncryptionKeys", testEncryptionKeys},
		{"EncryptionKeysValidation", testEncryptionKeysValidation},
		{"EncryptionKeysAddedAt", testEncryptionKeysAddedAt},
		{"SigningAlgorithm", testSigningAlgorithm},
		{"KeyList", testKeyList},
		{"KeyRotate", testKeyRotate},
		{"KeyRotateFails", testKeyRotateFails},
		{"KeyManager", testKeyManager},
		{"AuditChanges", testAuditChanges},
		{"AuditFilters", testAuditFilters},
		{"AuditPages", testAuditPages},
		{"AuditBadFilters", testAuditBadFilters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newEnv(t, newStore(t)))
		})
	}
}

// env is one admin API over one store, with its log captured, a clock
// that moves only when told to, and a fake key manager.
type env struct {
	t       *testing.T
	store   storage.Store
	hasher  *secret.Hasher
	handler http.Handler
	logs    *syncBuffer
	log     *slog.Logger
	clock   *fakeClock
	keys    *fakeKeys
}

func newEnv(t *testing.T, store storage.Store) *env {
	t.Helper()
	hasher, err := secret.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatalf("secret.NewHasher() = %v", err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := &env{t: t, store: store, hasher: hasher, logs: logs, log: logger, clock: clock,
		keys: &fakeKeys{clock: clock}}
	e.handler = admin.New(admin.Config{
		Store: store, Hasher: hasher, Token: adminToken, Logger: logger, Password: testPasswords,
		Keys: e.keys, Now: clock.Now,
	})
	return e
}

// fakeClock is a clock that stands still until advanced.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// response is what the API answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends an authenticated request. body is sent as is if it is a string,
// as JSON otherwise, or not at all if nil. Every response must forbid
// caching, whatever it is.
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	req := newRequest(e.t, method, path, body)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}

	if got := res.header.Get("Cache-Control"); got != "no-store" {
		e.t.Errorf("%s %s: Cache-Control = %q, want no-store", req.Method, req.URL, got)
	}
	ct := res.header.Get("Content-Type")
	if res.status != http.StatusNoContent && ct != "application/json" {
		e.t.Errorf("%s %s: Content-Type = %q, want application/json", req.Method, req.URL, ct)
	}
	return res
}

func newRequest(t *testing.T, method, path string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("json.Marshal(%v) = %v", b, err)
		}
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// want checks a response's status and decodes its body into v, if v is
// not nil.
func (r response) want(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v", r.body, err)
		}
	}
}

// wantError checks that a response is the given error.
func (r response) wantError(t *testing.T, status int, code string) errorBody {
	t.Helper()
	var got errorBody
	r.want(t, status, &got)
	if got.Error != code || got.Description == "" {
		t.Fatalf("error = %q (%q), want %q with a description", got.Error, got.Description, code)
	}
	return got
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// contents is everything the store holds that the admin API writes.
type contents struct {
	Clients, Credentials []*storage.Client
	Resources            []*storage.Resource
	Users                []*storage.User
	// Consents holds each user's consents, by user ID.
	Consents map[string][]*storage.Consent
	// Audit is the audit log: a refused request records nothing.
	Audit []*storage.AuditEvent
}

func (e *env) contents() contents {
	e.t.Helper()
	ctx := context.Background()
	clients, err1 := e.store.ListClients(ctx, storage.KindClient, "", 10000)
	creds, err2 := e.store.ListClients(ctx, storage.KindResource, "", 10000)
	resources, err3 := e.store.ListResources(ctx, "", 10000)
	users, err4 := e.store.ListUsers(ctx, "", 10000)
	events, err5 := e.store.ListAuditEvents(ctx, storage.AuditFilter{Limit: 10000})
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			e.t.Fatalf("list store contents: %v", err)
		}
	}

	c := contents{Clients: clients, Credentials: creds, Resources: resources, Users: users,
		Consents: make(map[string][]*storage.Consent), Audit: events}
	for _, u := range users {
		consents, err := e.store.ListConsents(ctx, u.ID)
		if err != nil {
			e.t.Fatalf("ListConsents(%q) = %v", u.ID, err)
		}
		c.Consents[u.ID] = consents
	}
	return c
}

// wantUnchanged fails if the store no longer holds before.
func (e *env) wantUnchanged(before contents) {
	e.t.Helper()
	if diff := cmp.Diff(before, e.contents()); diff != "" {
		e.t.Errorf("store changed by a refused request (-before +after):\n%s", diff)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
