package admin_test

import (
	"context"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// TestPostgres runs the admin API tests on PostgreSQL, one fresh database
// per test, so that "nothing stored on a bad request" is checked against
// the real backend's transactions too.
func TestPostgres(t *testing.T) {
	runAdminTests(t, func(t *testing.T) storage.Store {
		s, err := postgres.New(context.Background(), pgtest.Migrated(t))
		if err != nil {
			t.Fatalf("postgres.New() = %v", err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
