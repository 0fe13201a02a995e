package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// TestPoolSize: the pool has DefaultMaxConns connections unless the
// connection string sets pool_max_conns, which migrations, talking to
// PostgreSQL directly, must not pass on (PostgreSQL refuses parameters it
// does not know).
func TestPoolSize(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	withPool, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := withPool.Query()
	q.Set("pool_max_conns", "3")
	withPool.RawQuery = q.Encode()

	if err := postgres.MigrateUp(ctx, withPool.String()); err != nil {
		t.Fatalf("MigrateUp with pool_max_conns in the URL: %v", err)
	}
	// A parameter that merely contains the name sets nothing.
	named, _ := url.Parse(dsn)
	nq := named.Query()
	nq.Set("application_name", "my_pool_max_conns")
	named.RawQuery = nq.Encode()
	for _, tt := range []struct {
		dsn  string
		want int32
	}{
		{dsn, postgres.DefaultMaxConns},
		{withPool.String(), 3},
		{named.String(), postgres.DefaultMaxConns},
	} {
		s, err := postgres.New(ctx, tt.dsn)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got := s.Stat().MaxConns(); got != tt.want {
			t.Errorf("pool of %s has %d connections at most, want %d", tt.dsn, got, tt.want)
		}
		s.Close()
	}
}
