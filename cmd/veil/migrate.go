package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

func migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) != 1 {
		return errors.New("usage: veil migrate up|down|status")
	}
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		return err
	}
	if cfg.Dev() {
		return errors.New("migrate needs VEIL_DATABASE_URL or VEIL_DATABASE_URL_FILE")
	}
	dsn := cfg.DatabaseURL
	switch args[0] {
	case "up":
		if err := postgres.MigrateUp(ctx, dsn); err != nil {
			return err
		}
	case "down":
		if err := postgres.MigrateDown(ctx, dsn); err != nil {
			return err
		}
	case "status":
	default:
		return fmt.Errorf("unknown migrate command %q (want up, down or status)", args[0])
	}

	version, dirty, err := postgres.MigrationStatus(ctx, dsn)
	if err != nil {
		return err
	}
	state := "clean"
	if dirty {
		state = "dirty: a migration failed half way; fix the schema by hand, then force the version"
	}
	fmt.Fprintf(stdout, "schema version %d (%s)\n", version, state)
	return nil
}
