package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/veil-auth/veil/internal/audit"
	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/keys"
	"github.com/veil-auth/veil/internal/server"
)

// keysCommand runs `veil keys list|rotate|rewrap` directly against the
// database, with the same configuration as veil serve.
func keysCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) != 1 {
		return errors.New("usage: veil keys list|rotate|rewrap")
	}
	// TODO(#6): validate only what the command uses; Validate asks for the
	// admin token, which `veil keys` never sends.
	cfg, err := config.Load(nil, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Dev() {
		return errors.New("veil keys works on a database: set VEIL_DATABASE_URL (development mode keeps no keys)")
	}
	km, closeStore, err := server.OpenKeys(ctx, cfg, cfg.Logger(stderr))
	if err != nil {
		return err
	}
	defer closeStore()

	// Whoever runs this command holds the database and the master key: an
	// administrator, as the audit log records.
	ctx = audit.WithActor(ctx, audit.ActorAdmin)
	switch args[0] {
	case "list":
	case "rotate":
		if err := km.Rotate(ctx, true); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rotation started: new signing keys are published now and sign once every cache has seen them")
	case "rewrap":
		n, err := km.Rewrap(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d keys sealed again under the first master key; the others are no longer needed\n", n)
	default:
		return fmt.Errorf("unknown keys command %q (want list, rotate or rewrap)", args[0])
	}
	return listKeys(ctx, km, stdout)
}

func listKeys(ctx context.Context, km *keys.Manager, stdout io.Writer) error {
	stored, err := km.Stored(ctx)
	if err != nil {
		return err
	}
	now := km.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tUSE\tALG\tSTATE\tCREATED\tACTIVATES\tRETIRES")
	for _, k := range stored {
		retires := "-"
		if !k.RetiredAt.IsZero() {
			retires = k.RetiredAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Use, k.Algorithm, keys.State(k, now),
			k.CreatedAt.UTC().Format(time.RFC3339), k.ActivatedAt.UTC().Format(time.RFC3339), retires)
	}
	return tw.Flush()
}
