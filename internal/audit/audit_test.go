package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/clientip"
	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/reqlog"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a Recorder over a store, with its log and clock.
type fixture struct {
	store storage.Store
	rec   *audit.Recorder
	logs  *bytes.Buffer
	clock *clock
}

func newFixture(t *testing.T, store storage.Store, keys int) *fixture {
	t.Helper()
	f := &fixture{store: store, logs: &bytes.Buffer{}, clock: &clock{now: start}}
	f.rec = audit.New(audit.Config{
		Store: store, Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: f.clock.Now,
		ThrottleInterval: time.Minute, ThrottleKeys: keys,
	})
	return f
}

// inRequest runs fn with the context of a request from addr, as the
// listeners' middleware builds it, and returns the request's ID.
func inRequest(t *testing.T, addr string, fn func(ctx context.Context)) string {
	t.Helper()
	var id string
	h := clientip.Middleware(nil, reqlog.Middleware(slog.New(slog.DiscardHandler), "public",
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id = reqlog.ID(r.Context())
			fn(r.Context())
		})))
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	r.RemoteAddr = addr + ":4000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	return id
}

// events lists every stored event, oldest first.
func (f *fixture) events(t *testing.T) []*storage.AuditEvent {
	t.Helper()
	got, err := f.store.ListAuditEvents(context.Background(), storage.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListAuditEvents() = %v", err)
	}
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	return got
}

var ignoreID = cmpopts.IgnoreFields(storage.AuditEvent{}, "ID")

func TestRecord(t *testing.T) {
	f := newFixture(t, memory.New(), 0)
	reqID := inRequest(t, "198.51.100.7", func(ctx context.Context) {
		f.rec.Record(ctx, audit.Event{Actor: audit.Client("c1"), Action: audit.TokenRevoke,
			Target: audit.Grant("g1"), Details: map[string]string{"b": "2", "a": "1"}})
	})
	f.clock.advance(time.Second)
	f.rec.Record(context.Background(), audit.Event{Actor: audit.ActorSystem,
		Action: audit.KeyRotate, Target: audit.TargetKeys, Outcome: audit.Failure})

	want := []*storage.AuditEvent{
		{Time: start, Actor: "client:c1", Action: "token.revoke", Target: "grant:g1",
			Outcome: "success", RequestID: reqID, Source: "198.51.100.7",
			Details: map[string]string{"a": "1", "b": "2"}},
		{Time: start.Add(time.Second), Actor: "system", Action: "key.rotate", Target: "keys",
			Outcome: "failure"},
	}
	if diff := cmp.Diff(want, f.events(t), ignoreID, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored events mismatch (-want +got):\n%s", diff)
	}

	var line map[string]any
	first, _, _ := strings.Cut(f.logs.String(), "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("log line %q is not JSON: %v", first, err)
	}
	wantLine := map[string]any{"msg": "audit", "action": "token.revoke", "actor": "client:c1",
		"target": "grant:g1", "outcome": "success", "request_id": reqID, "source": "198.51.100.7",
		"details": map[string]any{"a": "1", "b": "2"}}
	if diff := cmp.Diff(wantLine, line, cmpopts.IgnoreMapEntries(func(k string, _ any) bool {
		return k == "time" || k == "level"
	})); diff != "" {
		t.Errorf("log line mismatch (-want +got):\n%s", diff)
	}
}

// failingStore refuses to store audit events.
type failingStore struct {
	storage.Store
}

var errRefused = errors.New("refused")

func (failingStore) CreateAuditEvent(context.Context, *storage.AuditEvent) error {
	return errRefused
}

// TestRecordFailure checks that an event that cannot be stored is still
// in the log, with the failure.
func TestRecordFailure(t *testing.T) {
	f := newFixture(t, failingStore{memory.New()}, 0)
	f.rec.Record(context.Background(), audit.Event{Actor: audit.User("u1"),
		Action: audit.ConsentGrant, Target: audit.User("u1")})

	logs := f.logs.String()
	for _, want := range []string{`"msg":"audit","action":"consent.grant"`,
		`"level":"ERROR","msg":"audit event not stored","action":"consent.grant"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// TestRecordThrottled checks that one event per action, target and
// source is written per interval, and that the next one written counts
// those that were not.
func TestRecordThrottled(t *testing.T) {
	f := newFixture(t, memory.New(), 0)
	fail := func(target, addr string, n int) {
		for range n {
			inRequest(t, addr, func(ctx context.Context) {
				f.rec.RecordThrottled(ctx, audit.Event{Actor: audit.ActorAnonymous,
					Action: audit.ClientAuthFailed, Target: target, Outcome: audit.Failure,
					Details: map[string]string{"reason": "wrong_secret"}})
			})
		}
	}

	fail("client:c1", "192.0.2.1", 5)
	fail("client:c2", "192.0.2.1", 2)
	fail("client:c1", "192.0.2.2", 1)
	f.clock.advance(59 * time.Second)
	fail("client:c1", "192.0.2.1", 3)
	f.clock.advance(time.Second)
	fail("client:c1", "192.0.2.1", 2)
	f.clock.advance(2 * time.Minute)
	fail("client:c1", "192.0.2.1", 1)

	type row struct {
		target, source, suppressed string
		at                         time.Duration
	}
	want := []row{
		{"client:c1", "192.0.2.1", "", 0},
		{"client:c2", "192.0.2.1", "", 0},
		{"client:c1", "192.0.2.2", "", 0},
		{"client:c1", "192.0.2.1", "7", time.Minute},
		{"client:c1", "192.0.2.1", "1", 3 * time.Minute},
	}
	var got []row
	for _, e := range f.events(t) {
		if e.Details["reason"] != "wrong_secret" || e.Outcome != audit.Failure {
			t.Errorf("event %+v lost its details or outcome", e)
		}
		got = append(got, row{e.Target, e.Source, e.Details["suppressed"], e.Time.Sub(start)})
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("throttled events mismatch (-want +got):\n%s", diff)
	}
	if n := strings.Count(f.logs.String(), `"msg":"audit"`); n != len(want) {
		t.Errorf("log has %d audit lines, want one per stored event, %d", n, len(want))
	}
}

// TestRecordThrottledOverflow checks that once the throttle remembers as
// many keys as it may, made-up targets share one interval per action.
func TestRecordThrottledOverflow(t *testing.T) {
	f := newFixture(t, memory.New(), 2)
	for i := range 50 {
		for _, action := range []string{audit.ClientAuthFailed, audit.LoginFailed} {
			f.rec.RecordThrottled(context.Background(), audit.Event{Actor: audit.ActorAnonymous,
				Action: action, Target: audit.Client(strings.Repeat("x", i+1)), Outcome: audit.Failure})
		}
	}
	// Two keys of their own, then one shared key per action.
	if got := len(f.events(t)); got != 4 {
		t.Errorf("%d events stored for 100 made-up targets, want 4", got)
	}

	// Once the intervals end, the keys are forgotten and new ones fit.
	f.clock.advance(time.Minute)
	f.rec.RecordThrottled(context.Background(), audit.Event{Actor: audit.ActorAnonymous,
		Action: audit.LoginFailed, Target: "user:u1", Outcome: audit.Failure})
	events := f.events(t)
	if last := events[len(events)-1]; len(events) != 5 || last.Target != "user:u1" ||
		last.Details["suppressed"] != "" {
		t.Errorf("after the intervals ended, last of %d events = %+v, want user:u1 with no count",
			len(events), last)
	}
}

// TestChange checks, on PostgreSQL, that an admin change and its event
// are kept together or not at all.
func TestChange(t *testing.T) {
	ctx := context.Background()
	store, err := postgres.New(ctx, pgtest.Migrated(t))
	if err != nil {
		t.Fatalf("postgres.New() = %v", err)
	}
	t.Cleanup(store.Close)
	f := newFixture(t, store, 0)
	create := func(id string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return store.CreateUser(ctx, &storage.User{ID: id, Username: id, PasswordHash: "x"})
		}
	}
	event := func(target string) audit.Event {
		return audit.Event{Actor: audit.ActorAdmin, Action: audit.UserCreate, Target: target}
	}

	tests := []struct {
		name     string
		id       string
		event    audit.Event
		fn       func(ctx context.Context) error
		wantErr  error
		wantUser bool
	}{
		{name: "both kept", id: "u1", event: event("user:u1"), fn: create("u1"), wantUser: true},
		{name: "change fails", id: "u2", event: event("user:u2"),
			fn: func(ctx context.Context) error {
				_ = create("u2")(ctx)
				return errRefused
			}, wantErr: errRefused},
		{name: "event cannot be written", id: "u3", event: event("user:\x00"), fn: create("u3"),
			wantErr: storage.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.events(t))
			err := f.rec.Change(ctx, tt.event, tt.fn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Change() = %v, want %v", err, tt.wantErr)
			}

			_, err = store.User(ctx, tt.id)
			if gotUser := err == nil; gotUser != tt.wantUser {
				t.Errorf("user %s stored = %t, want %t", tt.id, gotUser, tt.wantUser)
			}
			wantEvents := before
			if tt.wantUser {
				wantEvents++
			}
			if got := len(f.events(t)); got != wantEvents {
				t.Errorf("%d events stored, want %d", got, wantEvents)
			}
			logged := strings.Contains(f.logs.String(), `"target":"`+tt.event.Target+`"`)
			if logged != tt.wantUser {
				t.Errorf("event logged = %t, want %t (only once committed)", logged, tt.wantUser)
			}
		})
	}
}

func TestActor(t *testing.T) {
	ctx := context.Background()
	if got := audit.ActorFrom(ctx, audit.ActorSystem); got != "system" {
		t.Errorf("ActorFrom(no actor, system) = %q, want system", got)
	}
	if got := audit.ActorFrom(audit.WithActor(ctx, audit.ActorAdmin), audit.ActorSystem); got != "admin" {
		t.Errorf("ActorFrom(WithActor(admin), system) = %q, want admin", got)
	}
}
