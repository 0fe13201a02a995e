package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/veil-auth/veil/migrations"
)

// ErrSchemaMismatch means the database's schema is not the one this build
// was written for: migrations are missing (or the schema is gone), the
// database is ahead of the build, or a migration failed half way.
var ErrSchemaMismatch = errors.New("postgres: schema is not the version this build expects")

// SchemaVersion is the migration version this build's code expects: the
// highest of the embedded migrations.
var SchemaVersion = latestMigration()

// latestMigration returns the highest version among the embedded
// migrations, whose names start with the version.
func latestMigration() uint {
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		panic(fmt.Sprintf("list embedded migrations: %v", err))
	}
	var latest uint
	for _, name := range names {
		digits, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseUint(digits, 10, 32)
		if err != nil {
			panic(fmt.Sprintf("embedded migration %q has no version number", name))
		}
		latest = max(latest, uint(v))
	}
	return latest
}

// CheckSchema reports, as ErrSchemaMismatch, whether the database named by
// dsn is not at SchemaVersion or is dirty. The commands that change data
// outside `veil serve` call it instead of migrating, so that a newer
// binary run from cron does not migrate a live database under the
// replicas serving it.
func CheckSchema(ctx context.Context, dsn string) error {
	version, dirty, err := MigrationStatus(ctx, dsn)
	if err != nil {
		return err
	}
	return schemaError(version, dirty)
}

// schemaError returns nil if version is SchemaVersion and clean, else an
// ErrSchemaMismatch that says which way the database is off.
func schemaError(version uint, dirty bool) error {
	switch {
	case dirty:
		return fmt.Errorf("%w: migration %d failed half way (see 'veil migrate status')",
			ErrSchemaMismatch, version)
	case version < SchemaVersion:
		return fmt.Errorf("%w: the database is at version %d, this build needs %d; run 'veil migrate up'",
			ErrSchemaMismatch, version, SchemaVersion)
	case version > SchemaVersion:
		return fmt.Errorf("%w: the database is at version %d, newer than this build's %d; use the veil binary that migrated it",
			ErrSchemaMismatch, version, SchemaVersion)
	}
	return nil
}

// querySchema reads the migration state golang-migrate keeps. A missing
// table or row means no migration is applied: the database was dropped
// and created again, say, under a running replica.
const querySchema = `SELECT version, dirty FROM schema_migrations LIMIT 1`

// Ping reports whether the database answers and holds the schema this
// build expects (ErrSchemaMismatch if not). It costs one small query, as
// a bare ping would.
func (s *Store) Ping(ctx context.Context) error {
	var (
		version int64
		dirty   bool
	)
	err := s.pool.QueryRow(ctx, querySchema).Scan(&version, &dirty)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows),
		errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return schemaError(0, false)
	case err != nil:
		return fmt.Errorf("read schema version: %w", mapError(err))
	}
	return schemaError(uint(version), dirty)
}
