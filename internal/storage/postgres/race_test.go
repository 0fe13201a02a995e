package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// TestTxUseCodeRace redeems one code in two transactions: the second
// UseCode waits for the first transaction, and succeeds only if that one
// rolled back.
func TestTxUseCodeRace(t *testing.T) {
	tests := []struct {
		name    string
		end     func(s *postgres.Store, ctx context.Context) error
		wantErr error
	}{
		{name: "first commits", end: (*postgres.Store).Commit, wantErr: storage.ErrUsed},
		{name: "first rolls back", end: (*postgres.Store).Rollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := pgtest.Migrated(t)
			s := open(t, dsn)
			seed(t, s)

			first, second := begin(t, s), begin(t, s)
			if err := s.UseCode(first, "code-1"); err != nil {
				t.Fatalf("UseCode(code-1) in first transaction = %v, want nil", err)
			}
			done := blocked(t, dsn, func() error { return s.UseCode(second, "code-1") })
			if err := tt.end(s, first); err != nil {
				t.Fatalf("end first transaction = %v, want nil", err)
			}

			if err := <-done; !errors.Is(err, tt.wantErr) {
				t.Errorf("UseCode(code-1) in second transaction = %v, want %v", err, tt.wantErr)
			}
			if err := s.Commit(second); err != nil {
				t.Errorf("Commit(second) = %v, want nil", err)
			}
		})
	}
}

// disableRace is a case of TestDisableRace: create stores something for
// alice, and live reports whether it can still be used.
type disableRace struct {
	name   string
	create func(ctx context.Context, s *postgres.Store) error
	live   func(s *postgres.Store) bool
}

func disableRaces() []disableRace {
	ctx := context.Background()
	soon := time.Now().Add(time.Hour)
	session := &storage.Session{ID: "sess-1", UserID: "u-alice", ExpiresAt: soon}
	code := &storage.Code{Signature: "code-2", RequestID: "req-2", ClientID: "app",
		UserID: "u-alice", ConsentID: "c1", ExpiresAt: soon}
	refresh := &storage.RefreshToken{Signature: "rt-1", RequestID: "req-2", ClientID: "app",
		UserID: "u-alice", ConsentID: "c1", ExpiresAt: soon, Active: true}
	access := &storage.AccessToken{Signature: "at-1", JTI: "jti-1", RequestID: "req-2",
		ClientID: "app", Subject: "u-alice", ConsentID: "c1", ExpiresAt: soon}

	return []disableRace{
		{name: "session",
			create: func(ctx context.Context, s *postgres.Store) error {
				return s.CreateSession(ctx, session)
			},
			live: func(s *postgres.Store) bool {
				_, err := s.Session(ctx, session.ID)
				return err == nil
			}},
		{name: "code",
			create: func(ctx context.Context, s *postgres.Store) error {
				return s.CreateCode(ctx, code)
			},
			live: func(s *postgres.Store) bool {
				c, err := s.Code(ctx, code.Signature)
				return err == nil && !c.Used
			}},
		{name: "refresh token",
			create: func(ctx context.Context, s *postgres.Store) error {
				return s.CreateRefreshToken(ctx, refresh)
			},
			live: func(s *postgres.Store) bool {
				rt, err := s.RefreshToken(ctx, refresh.Signature)
				return err == nil && rt.Active
			}},
		{name: "access token",
			create: func(ctx context.Context, s *postgres.Store) error {
				return s.CreateAccessToken(ctx, access)
			},
			live: func(s *postgres.Store) bool {
				at, err := s.AccessToken(ctx, access.Signature)
				return err == nil && !at.Revoked
			}},
	}
}

// TestDisableRace creates things for a user while another transaction is
// disabling them. Whichever comes second waits for the first, and nothing
// created for the user survives the disabling.
func TestDisableRace(t *testing.T) {
	for _, tt := range disableRaces() {
		t.Run(tt.name+" after disabling began", func(t *testing.T) {
			dsn := pgtest.Migrated(t)
			s := open(t, dsn)
			seed(t, s)

			tx := begin(t, s)
			disable(t, s, tx)
			done := blocked(t, dsn, func() error { return tt.create(context.Background(), s) })
			if err := s.Commit(tx); err != nil {
				t.Fatalf("Commit(disabling) = %v, want nil", err)
			}
			if err := <-done; !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("create %s for a user being disabled = %v, want ErrNotFound", tt.name, err)
			}
		})
		t.Run(tt.name+" before disabling", func(t *testing.T) {
			dsn := pgtest.Migrated(t)
			s := open(t, dsn)
			seed(t, s)

			tx := begin(t, s)
			if err := tt.create(tx, s); err != nil {
				t.Fatalf("create %s = %v, want nil", tt.name, err)
			}
			done := blocked(t, dsn, func() error {
				disable(t, s, context.Background())
				return nil
			})
			if err := s.Commit(tx); err != nil {
				t.Fatalf("Commit(create %s) = %v, want nil", tt.name, err)
			}
			<-done
			if tt.live(s) {
				t.Errorf("%s created just before its user was disabled is still live", tt.name)
			}
		})
	}
}

// disable disables alice, the user seed stores.
func disable(t *testing.T, s *postgres.Store, ctx context.Context) {
	t.Helper()

	u := &storage.User{ID: "u-alice", Username: "alice", Disabled: true}
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Errorf("UpdateUser(disable u-alice) = %v, want nil", err)
	}
}

// blocked starts fn and returns once the database of dsn shows a session
// waiting for a lock; it fails t if fn returns first. The channel yields
// fn's error when it returns.
func blocked(t *testing.T, dsn string, fn func() error) <-chan error {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(context.Background())

	done := make(chan error, 1)
	go func() { done <- fn() }()
	for {
		select {
		case err := <-done:
			t.Fatalf("call returned %v, want it to wait for a lock", err)
		default:
		}

		var waiting int
		if err := conn.QueryRow(ctx, waitingSQL).Scan(&waiting); err != nil {
			t.Fatalf("watch for a lock wait: %v", err)
		}
		if waiting > 0 {
			return done
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const waitingSQL = `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock'`
