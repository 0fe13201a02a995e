package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/janitor"
	"github.com/veil-auth/veil/internal/server"
)

// janitorCommand runs `veil janitor`: one run of the janitor against the
// database, as a replica runs it every VEIL_JANITOR_INTERVAL. It needs
// only the database URL.
func janitorCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) != 0 {
		return errors.New("usage: veil janitor")
	}
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		return err
	}
	if err := cfg.ValidateDatabase(); err != nil {
		return err
	}
	j, closeStore, err := server.OpenJanitor(ctx, cfg, cfg.Logger(stderr))
	if err != nil {
		return err
	}
	defer closeStore()

	r := j.RunOnce(ctx)
	if r.Skipped {
		fmt.Fprintln(stdout, "another replica is running the janitor now; nothing was deleted")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tDELETED")
	for _, kind := range janitor.Kinds() {
		fmt.Fprintf(tw, "%s\t%d\n", kind, r.Deleted[kind])
	}
	fmt.Fprintf(tw, "total\t%d\n", r.Total())
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Err != nil {
		return fmt.Errorf("janitor: %w", r.Err)
	}
	return nil
}
