package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/veil-auth/veil/internal/pgtest"
	"github.com/veil-auth/veil/internal/storage"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

// created is when the keys of TestMigrateKeyDates were made.
var created = time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)

// insertStateKeysSQL stores keys as migration 000003 left the table, with
// a state and, for most, no dates.
const insertStateKeysSQL = `
INSERT INTO keys (id, use, algorithm, state, sealed, created_at, activated_at, retired_at)
VALUES
	('k-active', 'sig', 'ES256', 'active', 'a', $1, NULL, NULL),
	('k-next', 'sig', 'ES256', 'next', 'n', $1, $1::timestamptz + interval '1 day', NULL),
	('k-retired', 'sig', 'ES256', 'retired', 'r', $1, NULL, NULL),
	('k-dated', 'enc', 'A256KW', 'retired', 'd', $1, $1, $1::timestamptz + interval '1 hour')`

// insertOldResourceSQL stores a resource as migration 000003 left the
// table.
const insertOldResourceSQL = `
WITH credentials AS (
	INSERT INTO clients (id, kind, token_endpoint_auth_method)
	VALUES ('r1-rs', 'resource', 'none')
	RETURNING id
)
INSERT INTO resources (id, identifier, client_id)
SELECT 'r1', 'https://one.example', id FROM credentials`

const selectStatesSQL = `SELECT id, state FROM keys`

// TestMigrateKeyDates checks that migration 000004 dates the keys stored
// before it from their state, and gives resources their defaults; and that
// going down derives the state from the dates again.
func TestMigrateKeyDates(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Migrated(t)
	migrateDownTo(t, dsn, 3)
	conn := connect(t, dsn)
	_, err1 := conn.Exec(ctx, insertStateKeysSQL, created)
	_, err2 := conn.Exec(ctx, insertOldResourceSQL)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("store rows at version 3: %v", err)
	}
	before := time.Now()
	if err := postgres.MigrateUp(ctx, dsn); err != nil {
		t.Fatalf("MigrateUp() = %v, want nil", err)
	}
	s := open(t, dsn)

	t.Run("keys dated", func(t *testing.T) {
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatalf("Keys() = %v, want nil", err)
		}
		dates := make(map[string][2]time.Time)
		for _, k := range keys {
			dates[k.ID] = [2]time.Time{k.ActivatedAt, k.RetiredAt}
		}
		retired := dates["k-retired"][1]
		if retired.Before(before.Add(-time.Minute)) || retired.After(time.Now().Add(time.Minute)) {
			t.Errorf("k-retired RetiredAt = %v, want the time of the migration", retired)
		}
		want := map[string][2]time.Time{
			"k-active":  {created, {}},
			"k-next":    {created.Add(24 * time.Hour), {}},
			"k-retired": {created, retired},
			"k-dated":   {created, created.Add(time.Hour)},
		}
		if diff := cmp.Diff(want, dates); diff != "" {
			t.Errorf("ActivatedAt, RetiredAt after migrating (-want +got):\n%s", diff)
		}
	})
	t.Run("resource defaults", func(t *testing.T) {
		r, err := s.Resource(ctx, "r1")
		if err != nil || len(r.EncryptionKeys) != 0 || r.TokenEncryptionRequired ||
			r.SigningAlgorithm != "" {
			t.Errorf("Resource(r1) after migrating = %+v, %v, want no keys, false, \"\"", r, err)
		}
	})

	t.Run("down", func(t *testing.T) {
		_, err := s.UpdateKeys(ctx, func([]*storage.Key) (*storage.KeyChanges, error) {
			return &storage.KeyChanges{Retire: map[string]time.Time{"k-active": {}}}, nil
		})
		if err != nil {
			t.Fatalf("UpdateKeys() = %v, want nil", err)
		}
		migrateDownTo(t, dsn, 3)

		rows, err := conn.Query(ctx, selectStatesSQL)
		if err != nil {
			t.Fatalf("select states: %v", err)
		}
		got := make(map[string]string)
		var id, state string
		_, err = pgx.ForEachRow(rows, []any{&id, &state}, func() error {
			got[id] = state
			return nil
		})
		if err != nil {
			t.Fatalf("read states: %v", err)
		}
		want := map[string]string{"k-active": "active", "k-next": "active",
			"k-retired": "retired", "k-dated": "retired"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("state after migrating down (-want +got):\n%s", diff)
		}
	})
}

// migrateDownTo undoes migrations until the schema is at version, so that
// a test of one migration does not depend on how many came after it.
func migrateDownTo(t *testing.T, dsn string, version uint) {
	t.Helper()
	ctx := context.Background()
	for {
		v, dirty, err := postgres.MigrationStatus(ctx, dsn)
		if err != nil || dirty {
			t.Fatalf("MigrationStatus() = %d, %v, %v, want a clean version", v, dirty, err)
		}
		if v <= version {
			return
		}
		if err := postgres.MigrateDown(ctx, dsn); err != nil {
			t.Fatalf("MigrateDown() from %d = %v, want nil", v, err)
		}
	}
}

// TestUpdateKeysRollback checks that UpdateKeys writes nothing when the
// database refuses a change half-way: here the second key added, whose use
// the table's CHECK refuses (the memory backend has no such check).
func TestUpdateKeysRollback(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.Migrated(t))
	ok := &storage.Key{ID: "ok", Use: storage.UseSignature, Algorithm: "ES256",
		Sealed: []byte("s"), CreatedAt: created, ActivatedAt: created}
	bogus := *ok
	bogus.ID, bogus.Use = "bogus", "bogus"

	_, err := s.UpdateKeys(ctx, func([]*storage.Key) (*storage.KeyChanges, error) {
		return &storage.KeyChanges{Add: []*storage.Key{ok, &bogus}}, nil
	})
	if err == nil {
		t.Fatal("UpdateKeys(bogus use) = nil, want an error")
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 0 {
		t.Errorf("Keys() after failed UpdateKeys = %d keys, %v, want 0, nil", len(keys), err)
	}
}

// connect opens a connection of its own to the database dsn names, closed
// when t ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
