package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/veil-auth/veil/internal/config"
	"github.com/veil-auth/veil/internal/loadgen"
)

const benchUsage = `usage: veil bench [flags]

Drives load against a running Veil and reports requests per second,
latency and errors by kind. It registers a client and a resource server
per worker through the admin API, and deletes them at the end (with the
token records they own) unless -keep is given. The admin token is read
from VEIL_ADMIN_TOKEN or VEIL_ADMIN_TOKEN_FILE, never from the command line.

Only loopback IP literals are accepted as targets without -allow-remote.

flags:
`

// benchCommand runs `veil bench`.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("veil bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var cfg loadgen.Config
	var mode, caFile string
	var asJSON bool
	fs.StringVar(&cfg.PublicURL, "url", "http://127.0.0.1:8080", "Veil's public `URL`")
	fs.StringVar(&cfg.AdminURL, "admin-url", "http://127.0.0.1:8081", "Veil's admin `URL`")
	fs.StringVar(&mode, "mode", string(loadgen.ModeToken), "client_credentials, introspect or mix")
	fs.IntVar(&cfg.Concurrency, "c", 64, "concurrent workers, each with its own client and connection")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "measured `duration`")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured warm-up `duration` before it")
	fs.Float64Var(&cfg.IntrospectShare, "introspect-share", 0.5, "fraction of introspections in mix mode")
	fs.IntVar(&cfg.PoolSize, "pool", 16, "tokens each worker obtains first and introspects in turn")
	fs.DurationVar(&cfg.Interval, "every", 0, "print a progress line to stderr every `interval` (0: none)")
	fs.BoolVar(&asJSON, "json", false, "print the result as JSON")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the registered clients and resources")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not a loopback IP literal")
	fs.StringVar(&caFile, "ca-file", "", "PEM `file` of the CA certificates an https Veil is checked against")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	token, err := config.LoadAdminToken(getenv)
	if err != nil {
		return err
	}
	cfg.AdminToken, cfg.Mode = token, loadgen.Mode(mode)
	if caFile != "" {
		if cfg.TLS, err = trustFile(caFile); err != nil {
			return err
		}
	}
	cfg.Progress = func(p loadgen.Progress) { fmt.Fprintln(stderr, progressLine(p)) }

	res, err := loadgen.Run(ctx, cfg)
	if res != nil {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return errors.Join(err, fmt.Errorf("write the result: %w", jerr))
			}
		} else {
			writeResult(stdout, res, cfg.Warmup)
		}
	}
	return err
}

// trustFile returns a TLS configuration trusting the CA certificates in
// a PEM file.
func trustFile(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the CA file holds no PEM certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// progressLine formats a progress report.
func progressLine(p loadgen.Progress) string {
	phase := "measure"
	if p.Warmup {
		phase = "warm-up"
	}
	line := fmt.Sprintf("%6.1fs %-7s %8.0f req/s  errors %d", p.Elapsed.Seconds(), phase, p.RPS, p.Errors)
	return line + serverLine(p.Server)
}

// serverLine formats what the server's metrics said, if anything.
func serverLine(s *loadgen.ServerStats) string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	if s.Goroutines >= 0 {
		fmt.Fprintf(&b, "  goroutines %d", s.Goroutines)
	}
	if s.RSSBytes >= 0 {
		fmt.Fprintf(&b, "  rss %.1f MiB", float64(s.RSSBytes)/(1<<20))
	}
	return b.String()
}

// writeResult prints a result for people.
func writeResult(w io.Writer, r *loadgen.Result, warmup time.Duration) {
	fmt.Fprintf(w, "mode %s, %d workers, %.1fs measured after %s of warm-up\n",
		r.Mode, r.Concurrency, r.Seconds, warmup)
	writeCounts(w, "total", r.Counts)
	if len(r.Operations) > 1 {
		for _, name := range slices.Sorted(maps.Keys(r.Operations)) {
			writeCounts(w, name, r.Operations[name])
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "errors by kind:")
		for _, kind := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(w, "  %-40s %d\n", kind, r.Errors[kind])
		}
	}
	if s := serverLine(r.Server); s != "" {
		fmt.Fprintf(w, "server at the end:%s\n", s)
	}
}

func writeCounts(w io.Writer, name string, c loadgen.Counts) {
	l := c.Latency
	fmt.Fprintf(w, "%-18s %9d requests %9.1f/s  %d errors   latency ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		name, c.Requests, c.RPS, c.Failures, l.P50, l.P90, l.P99, l.Max)
}
