package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/veil-auth/veil/migrations"
)

// MigrateUp applies every migration not yet applied to the database named
// by dsn. Having nothing to apply is not an error. Replicas may call it at
// the same time: golang-migrate serialises them with an advisory lock.
func MigrateUp(ctx context.Context, dsn string) error {
	return withMigrate(ctx, dsn, "migrate up", func(m *migrate.Migrate) error {
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return err
		}
		return nil
	})
}

// MigrateDown reverts the last applied migration, one step. Having nothing
// to revert is not an error.
func MigrateDown(ctx context.Context, dsn string) error {
	return withMigrate(ctx, dsn, "migrate down", func(m *migrate.Migrate) error {
		if _, _, err := m.Version(); errors.Is(err, migrate.ErrNilVersion) {
			return nil
		}
		return m.Steps(-1)
	})
}

// MigrateForce records version as the applied migration without running
// anything, clearing the dirty flag. It is for after a failed migration was
// repaired by hand.
func MigrateForce(ctx context.Context, dsn string, version int) error {
	return withMigrate(ctx, dsn, "force migration version", func(m *migrate.Migrate) error {
		return m.Force(version)
	})
}

// MigrationStatus returns the version of the last applied migration, 0 if
// none is, and whether it is dirty: a dirty migration failed half-way and
// must be repaired by hand before any other can run.
func MigrationStatus(ctx context.Context, dsn string) (version uint, dirty bool, err error) {
	err = withMigrate(ctx, dsn, "read migration status", func(m *migrate.Migrate) error {
		var err error
		version, dirty, err = m.Version()
		if errors.Is(err, migrate.ErrNilVersion) {
			return nil
		}
		return err
	})
	return version, dirty, err
}

// withMigrate runs fn on a golang-migrate instance over migrations.FS and
// the database named by dsn. The database is handed to golang-migrate as an
// open *sql.DB rather than a URL, so that the connection string, password
// and all, never reaches an error built by golang-migrate.
func withMigrate(ctx context.Context, dsn, op string, fn func(m *migrate.Migrate) error) error {
	// pgxpool's parser takes the pool's own settings (pool_max_conns and
	// the like) out of the connection string, which PostgreSQL would
	// refuse as unknown parameters.
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", op, errParseDSN)
	}
	cfg := pcfg.ConnConfig

	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return redact(fmt.Errorf("%s: connect to database: %w", op, mapError(err)), cfg.Password)
	}

	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		_ = db.Close()
		return redact(fmt.Errorf("%s: open migration driver: %w", op, mapError(err)), cfg.Password)
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		_ = driver.Close()
		return fmt.Errorf("%s: open migrations: %w", op, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		_ = src.Close()
		_ = driver.Close()
		return fmt.Errorf("%s: start migrations: %w", op, err)
	}
	defer m.Close()

	stop := context.AfterFunc(ctx, func() { m.GracefulStop <- true })
	defer stop()

	if err := fn(m); err != nil {
		return redact(fmt.Errorf("%s: %w", op, mapError(err)), cfg.Password)
	}
	return nil
}
