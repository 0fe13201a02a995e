package janitor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/memory"
)

// fixture is what fill stored: the items a run must delete, counted by
// kind, and lookups of those it must keep.
type fixture struct {
	deleted map[storage.Expiring]int
	kept    map[string]func(ctx context.Context) error
}

// fill stores, for a janitor whose clock reads now, an item of every kind
// that a run must delete and items it must keep: live ones, ones within
// Grace of their expiry, a failed sign-in younger than LoginFailureAge,
// and a rotated refresh token and used code of a grant that is still live.
func fill(t *testing.T, s storage.Store, now time.Time) fixture {
	t.Helper()
	ctx := context.Background()
	old, recent, live := now.Add(-2*janitor.Grace), now.Add(-janitor.Grace/2), now.Add(time.Hour)

	c := &storage.Consent{UserID: "u1", ClientID: "app", Resource: "https://api.example",
		Scopes: []string{"read"}}
	err := errors.Join(
		s.CreateClient(ctx, &storage.Client{ID: "app", Kind: storage.KindClient,
			TokenEndpointAuthMethod: "none"}),
		s.CreateUser(ctx, &storage.User{ID: "u1", Username: "alice"}),
	)
	if err == nil {
		err = s.SaveConsent(ctx, c)
	}
	token := func(sig, req string, exp time.Time) *storage.AccessToken {
		return &storage.AccessToken{Signature: sig, JTI: "jti-" + sig, RequestID: req,
			ClientID: "app", IssuedAt: now.Add(-time.Hour), ExpiresAt: exp}
	}
	refresh := func(sig, req string, exp time.Time, active bool) *storage.RefreshToken {
		return &storage.RefreshToken{Signature: sig, RequestID: req, ClientID: "app",
			UserID: "u1", ConsentID: c.ID, ExpiresAt: exp, Active: active}
	}
	code := func(sig, req string, exp time.Time, used bool) *storage.Code {
		return &storage.Code{Signature: sig, RequestID: req, ClientID: "app", UserID: "u1",
			ConsentID: c.ID, ExpiresAt: exp, Used: used}
	}
	session := func(id string, exp time.Time) *storage.Session {
		return &storage.Session{ID: id, UserID: "u1", AuthTime: now.Add(-time.Hour), ExpiresAt: exp}
	}
	request := func(id string, exp time.Time) *storage.AuthRequest {
		return &storage.AuthRequest{ID: id, BrowserHash: "b", ClientID: "app", Query: "q",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}
	}
	failure := func(key string, at time.Time) error {
		_, err := s.RecordLoginFailure(ctx, key, at, time.Minute)
		return err
	}
	if err == nil {
		err = errors.Join(
			s.CreateAccessToken(ctx, token("at-old", "req-at-old", old)),
			s.CreateAccessToken(ctx, token("at-recent", "req-at-recent", recent)),
			s.CreateAccessToken(ctx, token("at-live", "req-at-live", live)),
			s.CreateRefreshToken(ctx, refresh("rt-old", "req-rt-old", old, true)),
			s.CreateRefreshToken(ctx, refresh("rt-rotated", "req-kept", old, false)),
			s.CreateRefreshToken(ctx, refresh("rt-current", "req-kept", live, true)),
			s.CreateCode(ctx, code("code-old", "req-code-old", old, false)),
			s.CreateCode(ctx, code("code-used", "req-kept", old, true)),
			s.CreateSession(ctx, session("s-old", old)),
			s.CreateSession(ctx, session("s-live", live)),
			s.CreateAuthRequest(ctx, request("ar-old", old)),
			s.CreateAuthRequest(ctx, request("ar-live", live)),
			failure("failed-long-ago", now.Add(-2*janitor.DefaultLoginFailureAge)),
			failure("failed-lately", now.Add(-janitor.DefaultLoginFailureAge/2)),
		)
	}
	if err != nil {
		t.Fatalf("store the fixture: %v", err)
	}

	return fixture{
		deleted: map[storage.Expiring]int{
			storage.ExpiringAccessTokens: 1, storage.ExpiringRefreshTokens: 1,
			storage.ExpiringCodes: 1, storage.ExpiringSessions: 1,
			storage.ExpiringAuthRequests: 1, storage.ExpiringLoginFailures: 1,
		},
		kept: map[string]func(ctx context.Context) error{
			"access token at-recent": func(ctx context.Context) error {
				_, err := s.AccessToken(ctx, "at-recent")
				return err
			},
			"access token at-live": func(ctx context.Context) error {
				_, err := s.AccessToken(ctx, "at-live")
				return err
			},
			"refresh token rt-rotated": func(ctx context.Context) error {
				_, err := s.RefreshToken(ctx, "rt-rotated")
				return err
			},
			"refresh token rt-current": func(ctx context.Context) error {
				_, err := s.RefreshToken(ctx, "rt-current")
				return err
			},
			"code code-used": func(ctx context.Context) error {
				_, err := s.Code(ctx, "code-used")
				return err
			},
			"session s-live": func(ctx context.Context) error {
				_, err := s.Session(ctx, "s-live")
				return err
			},
			"auth request ar-live": func(ctx context.Context) error {
				_, err := s.AuthRequest(ctx, "ar-live")
				return err
			},
			"failure failed-lately": func(ctx context.Context) error {
				n, err := s.LoginFailures(ctx, "failed-lately", now, janitor.DefaultLoginFailureAge)
				if err == nil && n != 1 {
					err = fmt.Errorf("%d failures counted, want 1", n)
				}
				return err
			},
		},
	}
}

// checkKept checks that every item f says a run keeps is still stored.
func (f fixture) checkKept(t *testing.T) {
	t.Helper()
	for name, lookup := range f.kept {
		if err := lookup(context.Background()); err != nil {
			t.Errorf("%s after the run: %v, want it kept", name, err)
		}
	}
}

// none is a Report's Deleted when nothing was deleted.
func none() map[storage.Expiring]int {
	m := map[storage.Expiring]int{}
	for _, k := range janitor.Kinds() {
		m[k] = 0
	}
	return m
}

// logTo returns a logger writing JSON lines at debug level into b.
func logTo(b *strings.Builder) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestRunOnce(t *testing.T) {
	s := memory.New()
	now := time.Now()
	f := fill(t, s, now)
	var logs strings.Builder
	var reports []janitor.Report
	j := janitor.New(s, janitor.Config{
		Now: func() time.Time { return now }, Logger: logTo(&logs),
		OnRun: func(r janitor.Report) { reports = append(reports, r) },
	})

	r := j.RunOnce(context.Background())
	if r.Skipped || r.Err != nil || !r.Started.Equal(now) {
		t.Errorf("RunOnce() = Skipped %v, Err %v, Started %v, want false, nil, %v",
			r.Skipped, r.Err, r.Started, now)
	}
	if diff := cmp.Diff(f.deleted, r.Deleted); diff != "" {
		t.Errorf("RunOnce() deleted (-want +got):\n%s", diff)
	}
	f.checkKept(t)
	line := `"level":"INFO","msg":"janitor deleted expired items","access_tokens":1,` +
		`"refresh_tokens":1,"codes":1,"sessions":1,"auth_requests":1,"login_failures":1`
	if !strings.Contains(logs.String(), line) {
		t.Errorf("log after a run that deleted = %s, want a line with %s", logs.String(), line)
	}

	logs.Reset()
	again := j.RunOnce(context.Background())
	if diff := cmp.Diff(none(), again.Deleted); diff != "" || again.Err != nil {
		t.Errorf("second RunOnce() = %v, deleted (-want +got):\n%s", again.Err, diff)
	}
	if strings.Contains(logs.String(), `"level":"INFO"`) {
		t.Errorf("log of a run that deleted nothing = %s, want no info line", logs.String())
	}
	if len(reports) != 2 || reports[0].Total() != 6 || reports[1].Total() != 0 {
		t.Errorf("OnRun got %+v, want the two reports", reports)
	}
}

func TestRunOnceSkipsWhileLocked(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	f := fill(t, s, time.Now())
	var logs strings.Builder
	j := janitor.New(s, janitor.Config{Logger: logTo(&logs)})

	var r janitor.Report
	held, err := s.TrySweepLock(ctx, func(context.Context) error {
		r = j.RunOnce(ctx)
		return nil
	})
	if !held || err != nil {
		t.Fatalf("TrySweepLock() = %v, %v, want true, nil", held, err)
	}
	if diff := cmp.Diff(none(), r.Deleted); !r.Skipped || r.Err != nil || diff != "" {
		t.Errorf("RunOnce() while locked = Skipped %v, Err %v, deleted (-want +got):\n%s",
			r.Skipped, r.Err, diff)
	}
	if !strings.Contains(logs.String(), "another process holds the sweep lock") {
		t.Errorf("log of a skipped run = %s, want it to say why", logs.String())
	}

	if r := j.RunOnce(ctx); r.Skipped || r.Total() != 6 {
		t.Errorf("RunOnce() after the lock was released = Skipped %v, %d deleted, want false, 6",
			r.Skipped, r.Total())
	}
	f.checkKept(t)
}

// failing fails DeleteExpired for one kind, as a database refusing one
// statement would.
type failing struct {
	storage.Store
	kind storage.Expiring
}

func (f failing) DeleteExpired(ctx context.Context, kind storage.Expiring, before time.Time,
	batch int, between func(context.Context, int) error,
) (int, error) {
	if kind == f.kind {
		return 0, fmt.Errorf("delete expired %s: %w", kind, storage.ErrUnavailable)
	}
	return f.Store.DeleteExpired(ctx, kind, before, batch, between)
}

func TestRunOnceGoesOnAfterAFailure(t *testing.T) {
	s := memory.New()
	f := fill(t, s, time.Now())
	var logs strings.Builder
	j := janitor.New(failing{s, storage.ExpiringRefreshTokens}, janitor.Config{Logger: logTo(&logs)})

	r := j.RunOnce(context.Background())
	if !errors.Is(r.Err, storage.ErrUnavailable) || r.Skipped {
		t.Errorf("RunOnce() with refresh tokens failing = Err %v, Skipped %v, want "+
			"ErrUnavailable, false", r.Err, r.Skipped)
	}
	want := f.deleted
	want[storage.ExpiringRefreshTokens] = 0
	if diff := cmp.Diff(want, r.Deleted); diff != "" {
		t.Errorf("RunOnce() with refresh tokens failing deleted (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"janitor run failed"`) {
		t.Errorf("log of a failed run = %s, want a warning", logs.String())
	}
}

// pausing tells when DeleteExpired first pauses between two batches.
type pausing struct {
	storage.Store
	once   sync.Once
	paused chan struct{}
}

func (p *pausing) DeleteExpired(ctx context.Context, kind storage.Expiring, before time.Time,
	batch int, between func(context.Context, int) error,
) (int, error) {
	return p.Store.DeleteExpired(ctx, kind, before, batch, func(ctx context.Context, n int) error {
		p.once.Do(func() { close(p.paused) })
		return between(ctx, n)
	})
}

// TestRunOnceStopsWithContext ends a run during its pause between two
// batches, as shutting Veil down does: the run ends at once, reports
// what it deleted and sweeps no further kind.
func TestRunOnceStopsWithContext(t *testing.T) {
	s := memory.New()
	fill(t, s, time.Now())
	p := &pausing{Store: s, paused: make(chan struct{})}
	j := janitor.New(p, janitor.Config{BatchSize: 1, Pause: time.Hour})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan janitor.Report)
	go func() { done <- j.RunOnce(ctx) }()
	<-p.paused
	cancel()
	r := <-done

	want := none()
	want[storage.ExpiringAccessTokens] = 1
	if diff := cmp.Diff(want, r.Deleted); !errors.Is(r.Err, context.Canceled) || diff != "" {
		t.Errorf("RunOnce() cancelled in its first pause = %v, deleted (-want +got):\n%s",
			r.Err, diff)
	}
}

// TestRun checks that Run runs at once, runs again after the interval,
// and returns when its context ends.
func TestRun(t *testing.T) {
	reports := make(chan janitor.Report)
	j := janitor.New(memory.New(), janitor.Config{OnRun: func(r janitor.Report) { reports <- r }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); j.Run(ctx, 10*time.Millisecond) }()

	for i := range 3 {
		if r := <-reports; r.Err != nil || r.Skipped {
			t.Errorf("run %d = Err %v, Skipped %v, want nil, false", i+1, r.Err, r.Skipped)
		}
	}
	cancel()
	for {
		select {
		case <-reports: // a run that began before the cancel
		case <-done:
			return
		}
	}
}
