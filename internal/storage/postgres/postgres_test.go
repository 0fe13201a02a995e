package postgres_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
	"github.com/veil-auth/veil/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, pgtest.Migrated(t))
	})
}

// TestInitKeysReplicas stands for replicas starting at once: two Stores,
// so two pools, on one database.
func TestInitKeysReplicas(t *testing.T) {
	dsn := pgtest.Migrated(t)
	stores := []storage.Store{open(t, dsn), open(t, dsn)}

	storagetest.InitKeysConcurrently(t, stores, 8)
}

// TestUpdateKeysReplicas stands for replicas rotating keys at once: two
// Stores on one database, eight callers each.
func TestUpdateKeysReplicas(t *testing.T) {
	dsn := pgtest.Migrated(t)
	stores := []storage.Store{open(t, dsn), open(t, dsn)}

	storagetest.UpdateKeysConcurrently(t, stores, 16, 5)
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)

	tests := []struct {
		name        string
		migrate     func(ctx context.Context, dsn string) error
		wantVersion uint
	}{
		{name: "up", migrate: postgres.MigrateUp, wantVersion: 6},
		{name: "up again", migrate: postgres.MigrateUp, wantVersion: 6},
		{name: "down one", migrate: postgres.MigrateDown, wantVersion: 5},
		{name: "down to 4", migrate: postgres.MigrateDown, wantVersion: 4},
		{name: "down to 3", migrate: postgres.MigrateDown, wantVersion: 3},
		{name: "down to 2", migrate: postgres.MigrateDown, wantVersion: 2},
		{name: "down to 1", migrate: postgres.MigrateDown, wantVersion: 1},
		{name: "up from 1", migrate: postgres.MigrateUp, wantVersion: 6},
		{name: "down to 5", migrate: postgres.MigrateDown, wantVersion: 5},
		{name: "down to 4 again", migrate: postgres.MigrateDown, wantVersion: 4},
		{name: "down to 3 again", migrate: postgres.MigrateDown, wantVersion: 3},
		{name: "down to 2 again", migrate: postgres.MigrateDown, wantVersion: 2},
		{name: "down to 1 again", migrate: postgres.MigrateDown, wantVersion: 1},
		{name: "down to 0", migrate: postgres.MigrateDown, wantVersion: 0},
		{name: "down with nothing applied", migrate: postgres.MigrateDown, wantVersion: 0},
		{name: "up after down", migrate: postgres.MigrateUp, wantVersion: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.migrate(ctx, dsn); err != nil {
				t.Fatalf("%s = %v, want nil", tt.name, err)
			}

			version, dirty, err := postgres.MigrationStatus(ctx, dsn)
			if version != tt.wantVersion || dirty || err != nil {
				t.Errorf("MigrationStatus() = %d, %v, %v, want %d, false, nil",
					version, dirty, err, tt.wantVersion)
			}
		})
	}

	// The schema works after the round trips.
	s := open(t, dsn)
	if _, err := s.InitKeys(ctx, func() ([]*storage.Key, error) { return nil, nil }); err != nil {
		t.Errorf("InitKeys() after migrate up, down, up = %v, want nil", err)
	}
	app := &storage.Client{ID: "app", Kind: storage.KindClient, TokenEndpointAuthMethod: "none"}
	err := errors.Join(
		s.CreateClient(ctx, app),
		s.CreateUser(ctx, &storage.User{ID: "u1", Username: "alice"}),
		s.SaveConsent(ctx, &storage.Consent{ID: "c1", UserID: "u1", ClientID: "app"}),
		s.CreateAccessToken(ctx, &storage.AccessToken{Signature: "at", JTI: "jti",
			ClientID: "app", ConsentID: "c1"}),
		s.DeleteConsent(ctx, "u1", "c1"),
	)
	if err != nil {
		t.Errorf("grant and withdraw consent after migrate up, down, up = %v, want nil", err)
	}
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()

	s, err := postgres.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("New(test database) = %v, want nil", err)
	}
	t.Cleanup(s.Close)
	return s
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// shortContext bounds a call that is expected to fail.
func shortContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}
