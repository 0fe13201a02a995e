package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/storage/postgres"
)

func migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || len(args) > 2 || (args[0] == "force") != (len(args) == 2) {
		return errors.New("usage: veil migrate up|down|status|force VERSION")
	}
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		return err
	}
	if err := cfg.ValidateDatabase(); err != nil {
		return err
	}
	dsn := cfg.DatabaseURL
	switch args[0] {
	case "up":
		if err := postgres.MigrateUp(ctx, dsn); err != nil {
			return firstLine(err)
		}
	case "down":
		if err := postgres.MigrateDown(ctx, dsn); err != nil {
			return firstLine(err)
		}
	case "force":
		v, err := strconv.ParseUint(args[1], 10, 31)
		if err != nil {
			return fmt.Errorf("force needs a migration version number, not %q", args[1])
		}
		if err := postgres.MigrateForce(ctx, dsn, int(v)); err != nil {
			return firstLine(err)
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
		state = "dirty: a migration failed half way; repair the schema by hand, then run 'veil migrate force VERSION' with the version it is now at"
	}
	fmt.Fprintf(stdout, "schema version %d (%s)\n", version, state)
	return nil
}

// firstLine shortens a migration error to its first line: golang-migrate
// appends the whole SQL of a failed migration, which buries the message.
func firstLine(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return errors.New(msg)
}
