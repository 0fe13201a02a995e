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

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := config.Load(args, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	if cfg.GCPercent > 0 {
		debug.SetGCPercent(cfg.GCPercent)
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
