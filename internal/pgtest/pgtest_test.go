package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDSN(t *testing.T) {
	ctx := context.Background()

	var dsn, name string
	t.Run("inner", func(t *testing.T) {
		dsn = DSN(t)

		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("pgx.Connect(DSN(t)) error: %v", err)
		}
		defer conn.Close(ctx)

		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatalf("SELECT current_database() error: %v", err)
		}
		if !strings.HasPrefix(name, "veil_test_") {
			t.Errorf("current_database() = %q, want prefix veil_test_", name)
		}

		var tables int
		err = conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables)
		if err != nil || tables != 0 {
			t.Errorf("tables in DSN(t) = %d, %v, want 0, nil", tables, err)
		}
	})
	if name == "" {
		t.Skip("inner test did not get a database")
	}

	conn := connect(t, serverURL())
	defer conn.Close(ctx)
	var exists bool
	err := conn.QueryRow(ctx,
		`SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists)
	if err != nil || exists {
		t.Errorf("database %s exists after its test = %v, %v, want false, nil", name, exists, err)
	}
}

func TestMigrated(t *testing.T) {
	ctx := context.Background()
	dsn := Migrated(t)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgx.Connect(Migrated(t)) error: %v", err)
	}
	defer conn.Close(ctx)

	var version int
	err = conn.QueryRow(ctx, `SELECT version FROM schema_migrations`).Scan(&version)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if version < 1 {
		t.Errorf("schema_migrations.version = %d, want at least 1", version)
	}
}
