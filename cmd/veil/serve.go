package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime/debug"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/server"
)

// serveGCPercent is the garbage collector's GOGC for `veil serve` unless the
// GOGC variable sets one. Veil's live heap is small (tens of MB) and almost
// everything a request allocates dies with it, so at Go's default of 100
// the collector runs very often; at 400 it takes about 7% less CPU per
// token request (BENCHMARKS.md) for a heap that peaks at five times the
// live one instead of twice.
const serveGCPercent = 400

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}

	srv, err := server.New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer srv.Close()

	var lc net.ListenConfig
	pub, err := lc.Listen(ctx, "tcp", cfg.PublicAddr)
	if err != nil {
		return fmt.Errorf("listen on public address: %w", err)
	}
	adm, err := lc.Listen(ctx, "tcp", cfg.AdminAddr)
	if err != nil {
		pub.Close()
		return fmt.Errorf("listen on admin address: %w", err)
	}
	log.Info("veil started", "issuer", cfg.Issuer, "development_mode", cfg.Dev())
	return srv.Serve(ctx, pub, adm)
}
