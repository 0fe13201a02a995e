// Package loadgen drives load against a running Veil over HTTP, for
// `veil bench`: it measures what a deployment answers, where the
// benchmarks of the other packages measure what one request costs.
//
// A run registers, through the admin API, one resource server and one
// client for each worker, so that no credential carries more than one
// worker's share of the load (Veil may limit the rate of each client).
// Each worker then sends requests one after another over its own
// kept-alive connection, for a warm-up that is not counted and then for the
// measured duration, and records each answer's latency and outcome. At the
// end the registrations are deleted, with the token records they own.
//
// It targets only the two URLs it is given, follows no redirect, and
// refuses any host but a loopback IP literal unless told otherwise: load is
// for one's own server.
package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Mode is what a run asks Veil for.
type Mode string

// The modes of a run.
const (
	// ModeToken requests client credentials tokens.
	ModeToken Mode = "client_credentials"
	// ModeIntrospect introspects tokens obtained before the run, as the
	// resource server they were issued for.
	ModeIntrospect Mode = "introspect"
	// ModeMix does both, in the proportion Config.IntrospectShare sets,
	// introspecting tokens obtained during the run as well.
	ModeMix Mode = "mix"
)

// Config configures a run. The zero value of each optional field means its
// default.
type Config struct {
	// PublicURL is the base URL of Veil's OAuth endpoints, such as
	// http://127.0.0.1:8080. Required.
	PublicURL string
	// AdminURL is the base URL of Veil's admin listener. Required.
	AdminURL string
	// AdminToken is the admin API's bearer token. Required.
	AdminToken string
	// AllowRemote lets the URLs name a host that is not a loopback IP
	// literal. Default false: a mistyped URL must not send load to
	// someone else's server.
	AllowRemote bool
	// TLS configures connections to https URLs; nil means Go's defaults
	// (the system's roots).
	TLS *tls.Config

	// Mode is what to request. Default ModeToken.
	Mode Mode
	// Concurrency is the number of workers, each with a client, a
	// resource and a connection of its own. Default 64.
	Concurrency int
	// Duration is how long the measured part of the run lasts. Default
	// 10 seconds.
	Duration time.Duration
	// Warmup is how long the run goes before measuring starts, to let
	// connections, pools and caches fill. Default none.
	Warmup time.Duration
	// IntrospectShare is the fraction of the requests of a ModeMix run
	// that are introspections. Default 0.5.
	IntrospectShare float64
	// PoolSize is the number of tokens each worker obtains before a
	// ModeIntrospect or ModeMix run, and introspects in turn. They must
	// outlive the run: a ModeIntrospect run longer than Veil's token
	// lifetime counts its expired tokens as errors. Default 16.
	PoolSize int
	// Timeout bounds each request. Default 10 seconds, far above Veil's
	// own one-second bound, so that a timeout means a hang.
	Timeout time.Duration
	// Keep leaves the resources and clients registered after the run.
	// Default false: they are deleted, and the token records with them.
	Keep bool

	// Interval is how often Progress is called during the run. Default
	// none.
	Interval time.Duration
	// Progress receives a Progress every Interval.
	Progress func(Progress)

	// tokenSeen, when set, sees every access token obtained; tests use it
	// to check the tokens themselves. It must be safe for concurrent use.
	tokenSeen func(string)
}

// Progress is a report made during a run.
type Progress struct {
	// Elapsed is the time since the workers started.
	Elapsed time.Duration
	// Warmup is true until measuring starts.
	Warmup bool
	// RPS is the rate of answers since the previous report.
	RPS float64
	// Errors counts the failed requests so far, warm-up included.
	Errors int64
	// Server is what Veil's /metrics said, if it has them.
	Server *ServerStats
}

// ErrAdmin means the admin API refused or failed a registration; the
// message says how, and the run did not start.
var ErrAdmin = errors.New("loadgen: admin API")

// withDefaults returns c with every unset field at its default.
//
// TODO(#7): zero Concurrency and Duration given explicitly (`-c 0`,
// `-d 0`) should be refused rather than read as unset.
func (c *Config) withDefaults() Config {
	d := *c
	if d.Mode == "" {
		d.Mode = ModeToken
	}
	if d.Concurrency == 0 {
		d.Concurrency = 64
	}
	if d.Duration == 0 {
		d.Duration = 10 * time.Second
	}
	if d.IntrospectShare == 0 {
		d.IntrospectShare = 0.5
	}
	if d.PoolSize == 0 {
		d.PoolSize = 16
	}
	if d.Timeout == 0 {
		d.Timeout = 10 * time.Second
	}
	return d
}

// validate reports every problem with c at once.
func (c *Config) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for name, raw := range map[string]string{"public URL": c.PublicURL, "admin URL": c.AdminURL} {
		if err := checkTarget(raw, c.AllowRemote); err != nil {
			add("%s: %w", name, err)
		}
	}
	if c.AdminToken == "" {
		add("the admin token is required")
	}
	switch c.Mode {
	case ModeToken, ModeIntrospect, ModeMix:
	default:
		add("mode %q: want %s, %s or %s", c.Mode, ModeToken, ModeIntrospect, ModeMix)
	}
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		add("concurrency must be between 1 and 4096")
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Timeout < 0 || c.Interval < 0 {
		add("durations must not be negative")
	}
	if c.IntrospectShare < 0 || c.IntrospectShare > 1 {
		add("the introspection share must be between 0 and 1")
	}
	if c.PoolSize < 1 || c.PoolSize > 10000 {
		add("the token pool must hold between 1 and 10000 tokens")
	}
	return errors.Join(errs...)
}

// checkTarget accepts an http or https URL without query or user info
// whose host is a loopback IP literal, or any host when remote is true.
// A name such as localhost is not taken on trust: it is whatever the
// resolver says.
func checkTarget(raw string, remote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("want an http or https URL with a host and no query")
	}
	if remote {
		return nil
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return errors.New("the host is not a loopback IP literal (such as 127.0.0.1 or [::1]); " +
			"allow others explicitly to load a remote server")
	}
	return nil
}

// Run registers the run's clients, drives the load, and deletes what it
// registered. It returns the result of the measured part. A run whose
// clean-up failed returns its result with the error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("invalid load configuration: %w", err)
	}
	r := newRunner(&c)
	defer r.client.CloseIdleConnections()

	ids, err := r.register(ctx)
	if err != nil {
		return nil, errors.Join(err, r.cleanUp(ctx, ids))
	}
	res, err := r.drive(ctx, ids)
	if err != nil {
		return nil, errors.Join(err, r.cleanUp(ctx, ids))
	}
	return res, r.cleanUp(ctx, ids)
}

// runner holds what the steps of one run share.
type runner struct {
	cfg    *Config
	client *http.Client
	public string // the token endpoint's base, without a trailing slash
	admin  string
}

func newRunner(c *Config) *runner {
	// No Proxy: a proxy named by the environment would carry the load
	// somewhere else first.
	tr := &http.Transport{
		TLSClientConfig:     c.TLS,
		MaxIdleConns:        c.Concurrency + 8,
		MaxIdleConnsPerHost: c.Concurrency + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &runner{
		cfg: c,
		client: &http.Client{
			Transport: tr,
			Timeout:   c.Timeout,
			// A redirect would lead away from the URL given.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		public: trimSlash(c.PublicURL),
		admin:  trimSlash(c.AdminURL),
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// drive runs the workers through the warm-up and the measured duration,
// and collects their counts.
func (r *runner) drive(ctx context.Context, ids []*identity) (*Result, error) {
	workers := make([]*worker, len(ids))
	for i, id := range ids {
		workers[i] = newWorker(r, id, int64(i))
	}
	if r.cfg.Mode != ModeToken {
		if err := r.fillPools(ctx, workers); err != nil {
			return nil, err
		}
	}

	m := r.probeMetrics(ctx)
	start := time.Now()
	from := start.Add(r.cfg.Warmup)
	until := from.Add(r.cfg.Duration)
	var live liveCounts
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, from, until, &live) })
	}
	stopProgress := r.progress(ctx, m, start, from, &live)
	wg.Wait()
	ended := time.Now()
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run interrupted: %w", err)
	}

	res := collect(r.cfg, workers, ended.Sub(from))
	if m != nil {
		res.Server = m.read(ctx)
	}
	return res, nil
}
